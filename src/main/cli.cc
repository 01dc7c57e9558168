#include "main/cli.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "backends/device_registry.h"
#include "graph/model.h"
#include "graph/session.h"
#include "main/tensor_json.h"

namespace ferry {
namespace {

std::string DimsToString(const TensorSignature& s) {
  if (!s.has_shape) return "(unknown shape)";
  std::string out = "[";
  for (size_t i = 0; i < s.shape.size(); ++i) {
    if (i) out += ", ";
    const Dim& d = s.shape[i];
    out += d.fixed() ? std::to_string(d.value) : (d.param.empty() ? "?" : d.param);
  }
  return out + "]";
}

std::string Bytes(size_t b) {
  char buf[64];
  if (b >= (1u << 20))
    std::snprintf(buf, sizeof buf, "%zu bytes (%.1f MiB)", b, b / 1048576.0);
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%zu bytes (%.1f KiB)", b, b / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%zu bytes", b);
  return buf;
}

// Finds `--name value` in args; returns false if absent. Sets *bad on a flag with no value.
bool Flag(const std::vector<std::string>& args, const std::string& name, std::string* value, bool* bad) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      if (i + 1 >= args.size()) {
        *bad = true;
        return false;
      }
      *value = args[i + 1];
      return true;
    }
    if (args[i].rfind(name + "=", 0) == 0) {
      *value = args[i].substr(name.size() + 1);
      return true;
    }
  }
  return false;
}

bool ParseInt(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  try {
    size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos != s.size() || v < lo || v > hi) return false;
    *out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string PlanLine(const Model& model, int64_t batch) {
  for (bool k : model.value_keyed_inputs())
    if (k) return "n/a (shapes depend on input values)";
  bool batched = false;
  for (const auto& s : model.inputs())
    if (s.has_shape && !s.shape.empty() && !s.shape[0].fixed()) batched = true;
  if (!batched && batch != 1) return "n/a (the model has no symbolic batch dimension)";
  std::vector<Shape> shapes = model.ShapesForBatch(batch);
  std::vector<TensorView> views;
  for (size_t i = 0; i < shapes.size(); ++i) views.push_back(TensorView{model.inputs()[i].dtype, shapes[i], nullptr});
  auto plan = model.BuildPlan(views);
  if (!plan.ok()) return "n/a (" + plan.status().message() + ")";
  const ArenaPlan& host = (*plan)->host();
  return "peak " + Bytes(host.arena_bytes) + ", sum of intermediates " + Bytes(host.intermediate_bytes) + ", outputs " +
         Bytes((*plan)->output_bytes) + ", kernel scratch " + Bytes(host.scratch_bytes) + ", " +
         std::to_string((*plan)->steps.size() - (*plan)->copies) + " steps";
}

std::string ValueName(const Model& model, const Plan& plan, int v) {
  const Graph& g = model.graph();
  return v >= 0 && static_cast<size_t>(v) < g.values.size() ? g.values[v].name : fmt::format("#{}", v);
}

// Where each node of the plan for `batch` runs on `device`, the copies between devices, and bytes per location.
int PrintPlacement(const Model& model, const Device& device, int64_t batch) {
  for (bool k : model.value_keyed_inputs())
    if (k) {
      std::cout << "placement: n/a (shapes depend on input values)\n";
      return 0;
    }
  std::vector<Shape> shapes = model.ShapesForBatch(batch);
  std::vector<TensorView> views;
  for (size_t i = 0; i < shapes.size(); ++i) views.push_back(TensorView{model.inputs()[i].dtype, shapes[i], nullptr});
  auto built = model.BuildPlan(views, PlanOptions{1, {&device}});
  if (!built.ok()) {
    std::cerr << "error: planning batch " << batch << " on " << device.id() << ": " << built.status().message() << "\n";
    return 1;
  }
  const Plan& plan = **built;
  const Graph& g = model.graph();
  std::cout << "device: " << device.id() << " (" << device.name() << "), batch " << batch << "\n";
  std::cout << "placement (" << plan.steps.size() - plan.copies << " steps, " << plan.folded_nodes
            << " nodes computed while planning):\n";
  std::map<Location, int> per_location;
  for (const PlanStep& step : plan.steps) {
    const std::string where(DeviceRegistry::Global().Get(step.location)->id());
    if (step.kind == PlanStep::Kind::kKernel) {
      ++per_location[step.location];
      std::cout << "  " << where << "  " << g.Describe(g.nodes[step.node]) << "\n";
    } else {
      const ValueSlot& to = plan.slots[step.outputs[0]];
      const std::string dst(DeviceRegistry::Global().Get(to.location)->id());
      std::cout << "  copy  \"" << ValueName(model, plan, step.inputs[0]) << "\" -> " << dst << " ("
                << Bytes(static_cast<size_t>(NumElements(to.shape)) * DataTypeSize(to.dtype)) << ")\n";
    }
  }
  std::cout << "copies: " << plan.copies << "\n";
  std::cout << "bytes per location:\n";
  size_t staging = 0;
  for (const auto& v : views) staging += v.nbytes();
  for (const auto& [location, arena] : plan.arenas) {
    const Device* d = DeviceRegistry::Global().Get(location);
    std::cout << "  " << d->id() << ": " << per_location[location] << " steps, weights "
              << Bytes(location == kHostLocation ? model.weight_bytes() : plan.weight_bytes(location)) << ", arena "
              << Bytes(arena.arena_bytes) << ", scratch " << Bytes(arena.scratch_bytes);
    if (location == kHostLocation)
      std::cout << ", staging " << Bytes(staging) << ", outputs " << Bytes(plan.output_bytes);
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int InspectCommand(const std::vector<std::string>& args) {
  const char* usage =
      "usage: ferryd inspect MODEL.onnx [--device D] [--batch N]\n"
      "  --device D: where each node runs when D (e.g. cpu, cuda:0) is preferred, the copies, bytes per device\n";
  std::string path, device_id, batch_s = "1";
  bool bad = false;
  Flag(args, "--device", &device_id, &bad);
  Flag(args, "--batch", &batch_s, &bad);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--device" || a == "--batch") {
      ++i;
    } else if (a.rfind("--device=", 0) == 0 || a.rfind("--batch=", 0) == 0) {
    } else if (a.rfind("--", 0) == 0 || !path.empty()) {
      bad = true;
    } else {
      path = a;
    }
  }
  int64_t batch = 1;
  if (bad || path.empty() || !ParseInt(batch_s, 1, 1 << 20, &batch)) {
    std::cerr << usage;
    return 2;
  }
  const Device* device = nullptr;
  if (!device_id.empty()) {
    device = DeviceRegistry::Global().Find(device_id);
    if (device == nullptr) {
      std::string known;
      for (const Device* d : DeviceRegistry::Global().All())
        known += std::string(known.empty() ? "" : ", ") + std::string(d->id());
      std::cerr << "error: no device \"" << device_id << "\" (this server has: " << known << ")\n";
      return 2;
    }
  }
  ModelOptions options;
  if (device) options.devices = {device};
  auto model = Model::Load(path, options);
  if (!model.ok()) {
    std::cerr << "error: " << path << ": " << model.status().message() << "\n";
    return 1;
  }
  const Model& m = **model;
  std::cout << "model: " << path << "\n";
  if (!m.info().producer_name.empty()) {
    std::cout << "producer: " << m.info().producer_name << " " << m.info().producer_version << "\n";
  }
  std::cout << "ir_version: " << m.info().ir_version << "\n";
  std::cout << "opset: " << m.opset() << "\n";
  std::cout << "inputs:\n";
  for (const auto& s : m.inputs())
    std::cout << "  " << s.name << ": " << DataTypeName(s.dtype) << " " << DimsToString(s) << "\n";
  std::cout << "outputs:\n";
  for (const auto& s : m.outputs())
    std::cout << "  " << s.name << ": " << DataTypeName(s.dtype) << " " << DimsToString(s) << "\n";
  std::cout << "ops (" << m.ops().size() << "):";
  for (const auto& op : m.ops()) std::cout << " " << op;
  std::cout << "\n";
  std::cout << "weights: " << Bytes(m.weight_bytes()) << "\n";
  std::cout << "nodes after optimization: " << m.graph().nodes.size() << " (" << m.optimizer_stats().folded_nodes
            << " folded, " << m.optimizer_stats().fused_nodes << " fused)\n";
  std::cout << "activations at batch 1: " << PlanLine(m, 1) << "\n";
  std::cout << "activations at batch 64: " << PlanLine(m, 64) << "\n";
  if (device) return PrintPlacement(m, *device, batch);
  return 0;
}

int RunCommand(const std::vector<std::string>& args) {
  const char* usage =
      "usage: ferryd run --model MODEL.onnx --inputs IN.json [--repeat N] [--threads T] [--profile]\n"
      "  IN.json: {\"<input>\": {\"shape\": [..], \"data\": [..]}, ...}; outputs go to stdout in the same form.\n";
  bool bad = false;
  std::string model_path, inputs_path, repeat_s = "0", threads_s = "1";
  Flag(args, "--model", &model_path, &bad);
  Flag(args, "--inputs", &inputs_path, &bad);
  Flag(args, "--repeat", &repeat_s, &bad);
  Flag(args, "--threads", &threads_s, &bad);
  bool profile = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool known = false;
    if (a == "--profile") {
      profile = true;
      continue;
    }
    for (const char* f : {"--model", "--inputs", "--repeat", "--threads"}) {
      if (a == f) {
        known = true;
        ++i;
      } else if (a.rfind(std::string(f) + "=", 0) == 0) {
        known = true;
      }
    }
    if (!known) {
      std::cerr << "unknown argument: " << a << "\n" << usage;
      return 2;
    }
  }
  int64_t repeat = 0, threads = 1;
  if (bad || model_path.empty() || inputs_path.empty() || !ParseInt(repeat_s, 0, 1000000, &repeat) ||
      !ParseInt(threads_s, 1, 1024, &threads)) {
    std::cerr << usage;
    return 2;
  }
  auto model = Model::Load(model_path);
  if (!model.ok()) {
    std::cerr << "error: " << model_path << ": " << model.status().message() << "\n";
    return 1;
  }
  nlohmann::json in;
  {
    std::ifstream f(inputs_path);
    if (!f) {
      std::cerr << "error: cannot read " << inputs_path << "\n";
      return 1;
    }
    in = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (in.is_discarded() || !in.is_object()) {
      std::cerr << "error: " << inputs_path << " is not a JSON object\n";
      return 1;
    }
  }
  std::map<std::string, Tensor> inputs;
  for (auto it = in.begin(); it != in.end(); ++it) {
    DataType dtype = DataType::kUndefined;
    for (const auto& s : (*model)->inputs())
      if (s.name == it.key()) dtype = s.dtype;
    if (dtype == DataType::kUndefined) {
      std::cerr << "error: the model has no input \"" << it.key() << "\"\n";
      return 1;
    }
    auto t = TensorFromJson(it.value(), dtype, "input \"" + it.key() + "\"");
    if (!t.ok()) {
      std::cerr << "error: " << t.status().message() << "\n";
      return 1;
    }
    inputs[it.key()] = std::move(*t);
  }
  Session session(*model, SessionOptions{static_cast<int>(threads), profile, {}});
  auto outputs = session.Run(inputs);
  if (!outputs.ok()) {
    std::cerr << "error: " << outputs.status().message() << "\n";
    return 1;
  }
  if (repeat > 0) {
    std::vector<double> ms;
    for (int64_t r = 0; r < repeat; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      auto o = session.Run(inputs);
      auto t1 = std::chrono::steady_clock::now();
      if (!o.ok()) {
        std::cerr << "error: " << o.status().message() << "\n";
        return 1;
      }
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    std::fprintf(stderr, "latency_ms median=%.3f min=%.3f\n", median, ms.front());
  }
  if (profile) {
    // Per op type, over every run (the first included), largest first.
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (const auto& [op, p] : session.profile()) {
      rows.emplace_back(p.total_ms, op);
      total += p.total_ms;
    }
    std::sort(rows.rbegin(), rows.rend());
    for (const auto& [ms, op] : rows) {
      const OpProfile& p = session.profile().at(op);
      std::fprintf(stderr, "profile %-24s calls=%-6lld total_ms=%-10.3f share=%.1f%%\n", op.c_str(),
                   static_cast<long long>(p.calls), ms, total > 0 ? 100.0 * ms / total : 0.0);
    }
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, t] : *outputs) out[name] = TensorToJson(t);
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace ferry
