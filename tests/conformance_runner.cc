// Runs the ONNX conformance cases of Debian's libonnx-testdata through Ferry's engine and compares every
// output with the stored expected tensors: |got - want| <= 1e-5 + 1e-3 * |want| for floats, exact otherwise.
//
// A case the loader refuses is SKIPPED (with the loader's reason); a case it accepts must PASS: a wrong answer,
// a run-time error or a crash is a FAILURE. Each case runs in a forked child, so a crash fails that case
// instead of ending the run. Prints one line per case and closes with "N passed, M failed, K skipped".
//
// With --device sim (tests/fakes/sim_device.h) every node the simulated device runs is placed there, with the
// CPU as fallback: all ops (`sim`), or about half of them (`sim-split`, by op name), which splits models between the
// two and inserts copies. The summary then counts the steps that ran on the device, and the run fails when none
// did (or, split, when no copy was made): a device that silently ran nothing would prove nothing.
//
// usage: ferry_conformance [--data DIR] [--filter SUBSTR] [--must-pass FILE] [--write-passing FILE]
//                          [--threads T] [--device sim|sim-split] [--no-fork] [--quiet]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph/model.h"
#include "graph/onnx_loader.h"
#include "graph/session.h"
#include "tests/fakes/sim_device.h"

namespace fs = std::filesystem;
using namespace ferry;

namespace {

enum class Verdict { kPass, kFail, kSkip };

// The preferred device (--device); nullptr: the CPU only.
const Device* g_device = nullptr;

struct Outcome {
  Verdict verdict;
  std::string reason;
};

std::vector<fs::path> SortedPb(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".pb") {
      files.emplace_back(std::atoi(name.c_str() + prefix.size()), e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<fs::path> out;
  for (auto& f : files) out.push_back(f.second);
  return out;
}

template <typename T>
bool CompareFloat(const Tensor& got, const Tensor& want, std::string* why) {
  const T* g = got.as<T>();
  const T* w = want.as<T>();
  for (int64_t i = 0; i < want.numel(); ++i) {
    double gv = g[i], wv = w[i];
    if (std::isnan(wv) && std::isnan(gv)) continue;
    if (std::isinf(wv) && gv == wv) continue;
    if (!(std::fabs(gv - wv) <= 1e-5 + 1e-3 * std::fabs(wv))) {
      *why = "element " + std::to_string(i) + ": got " + std::to_string(gv) + ", want " + std::to_string(wv);
      return false;
    }
  }
  return true;
}

// The suite stores bfloat16 tensors with data type uint16 (numpy has no bfloat16): same bits.
float Bf16ToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bool Compare(const Tensor& got, const Tensor& want, std::string* why) {
  if (got.dtype() == DataType::kBFloat16 && want.dtype() == DataType::kUInt16 && got.shape() == want.shape()) {
    for (int64_t i = 0; i < want.numel(); ++i) {
      float g = Bf16ToFloat(got.as<uint16_t>()[i]), w = Bf16ToFloat(want.as<uint16_t>()[i]);
      if (std::isnan(g) && std::isnan(w)) continue;
      // One bfloat16 ulp: the suite's data was made by truncation, a kernel may round to nearest.
      if (!(std::fabs(g - w) <= 1e-5 + 1e-2 * std::fabs(w)) && g != w) {
        *why = "element " + std::to_string(i) + ": got " + std::to_string(g) + ", want " + std::to_string(w);
        return false;
      }
    }
    return true;
  }
  if (got.dtype() != want.dtype()) {
    *why = std::string("type ") + std::string(DataTypeName(got.dtype())) + ", want " +
           std::string(DataTypeName(want.dtype()));
    return false;
  }
  if (got.shape() != want.shape()) {
    *why = "shape " + ShapeToString(got.shape()) + ", want " + ShapeToString(want.shape());
    return false;
  }
  switch (want.dtype()) {
    case DataType::kFloat:
      return CompareFloat<float>(got, want, why);
    case DataType::kDouble:
      return CompareFloat<double>(got, want, why);
    default:
      if (want.nbytes() && std::memcmp(got.data(), want.data(), want.nbytes()) != 0) {
        for (int64_t i = 0; i < want.numel(); ++i) {
          if (ElementAsInt64(got.view(), i) != ElementAsInt64(want.view(), i)) {
            *why = "element " + std::to_string(i) + ": got " + std::to_string(ElementAsInt64(got.view(), i)) +
                   ", want " + std::to_string(ElementAsInt64(want.view(), i));
            return false;
          }
        }
        *why = "bytes differ";
        return false;
      }
      return true;
  }
}

Outcome RunCase(const fs::path& dir, int threads) {
  ModelOptions model_options;
  if (g_device) model_options.devices = {g_device};
  auto model = Model::Load((dir / "model.onnx").string(), model_options);
  if (!model.ok()) return {Verdict::kSkip, model.status().message()};
  const auto& sig = (*model)->inputs();
  Session session(*model, SessionOptions{threads, false, model_options.devices});
  int64_t device_steps = 0, kernel_steps = 0, copies = 0;
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Verdict::kSkip, "no test data sets"};
  for (const fs::path& set : sets) {
    std::map<std::string, Tensor> named;
    std::vector<Tensor> ordered;
    bool by_name = true;
    for (const fs::path& f : SortedPb(set, "input_")) {
      std::string name;
      auto t = ReadTensorProtoFile(f.string(), &name);
      if (!t.ok()) return {Verdict::kSkip, "test input is not a plain tensor: " + t.status().message()};
      bool known = false;
      for (const auto& s : sig) known = known || s.name == name;
      if (!known) by_name = false;
      named[name] = *t;
      ordered.push_back(*t);
    }
    for (size_t i = 0; i < ordered.size() && i < sig.size(); ++i) {
      // bfloat16 inputs stored as uint16 (see Bf16ToFloat): reinterpret the bits.
      auto fix = [&](Tensor& t, DataType want) {
        if (t.dtype() == DataType::kUInt16 && want == DataType::kBFloat16) {
          t = Tensor::FromBytes(DataType::kBFloat16, t.shape(), t.data(), t.nbytes()).value();
        }
      };
      for (const auto& s : sig) {
        if (named.count(s.name)) fix(named[s.name], s.dtype);
      }
      fix(ordered[i], sig[i].dtype);
    }
    std::vector<Tensor> inputs;
    if (by_name && named.size() == sig.size()) {
      for (const auto& s : sig) inputs.push_back(named[s.name]);
    } else if (ordered.size() == sig.size()) {
      inputs = ordered;
    } else {
      return {Verdict::kSkip, "test inputs do not match the model's inputs"};
    }
    std::vector<Tensor> wants;
    for (const fs::path& f : SortedPb(set, "output_")) {
      auto t = ReadTensorProtoFile(f.string(), nullptr);
      if (!t.ok()) return {Verdict::kSkip, "expected output is not a plain tensor: " + t.status().message()};
      wants.push_back(*t);
    }
    // A few cases' data contradict their own model's declared inputs (onnxruntime refuses them too).
    std::vector<TensorView> views;
    for (const Tensor& t : inputs) views.push_back(t.view());
    Status sig_ok = (*model)->CheckInputs(views);
    if (!sig_ok.ok())
      return {Verdict::kSkip, "test data does not match the model's declared inputs: " + sig_ok.message()};
    auto got = session.Run(inputs);
    if (!got.ok()) return {Verdict::kFail, set.filename().string() + ": " + got.status().message()};
    if (auto plan = session.PlanFor(views); plan.ok()) {
      for (const PlanStep& step : (*plan)->steps) {
        if (step.kind != PlanStep::Kind::kKernel) continue;
        ++kernel_steps;
        if (step.location != kHostLocation) ++device_steps;
      }
      copies += (*plan)->copies;
    }
    if (got->size() != wants.size()) {
      return {Verdict::kFail, "got " + std::to_string(got->size()) + " outputs, want " + std::to_string(wants.size())};
    }
    for (size_t i = 0; i < wants.size(); ++i) {
      std::string why;
      if (!Compare((*got)[i], wants[i], &why)) {
        return {Verdict::kFail, set.filename().string() + " output " + (*model)->outputs()[i].name + ": " + why};
      }
    }
  }
  return {Verdict::kPass, fmt::format("{} {} {}", device_steps, kernel_steps, copies)};
}

// Runs a case in a child process; a crash or a hang becomes a failure.
Outcome RunIsolated(const fs::path& dir, int threads) {
  int fds[2];
  if (pipe(fds) != 0) return RunCase(dir, threads);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(120);
    Outcome o = RunCase(dir, threads);
    std::string msg = std::to_string(static_cast<int>(o.verdict)) + " " + o.reason;
    ssize_t n = write(fds[1], msg.data(), msg.size());
    (void)n;
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return {Verdict::kFail, "crashed with signal " + std::to_string(WTERMSIG(status))};
  if (msg.empty()) return {Verdict::kFail, "the case process died without a verdict"};
  size_t sp = msg.find(' ');
  return {static_cast<Verdict>(std::atoi(msg.substr(0, sp).c_str())),
          sp == std::string::npos ? "" : msg.substr(sp + 1)};
}

// Groups skip reasons: the text before the first quote-free detail, shortened.
std::string ReasonKey(const std::string& reason) {
  std::string r = reason;
  size_t p = r.find("): ");
  if (p != std::string::npos) r = r.substr(p + 3);
  if (r.size() > 90) r = r.substr(0, 90) + "...";
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = "/usr/share/libonnx-testdata/data", filter, must_pass, write_passing;
  int threads = 1;
  bool fork_cases = true, quiet = false;
  std::string device;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--data")
      data = next();
    else if (a == "--filter")
      filter = next();
    else if (a == "--must-pass")
      must_pass = next();
    else if (a == "--write-passing")
      write_passing = next();
    else if (a == "--threads")
      threads = std::atoi(next().c_str());
    else if (a == "--device")
      device = next();
    else if (a == "--no-fork")
      fork_cases = false;
    else if (a == "--quiet")
      quiet = true;
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  if (device == "sim") {
    g_device = testing::RegisterSimDevice(testing::SimDeviceOptions{});
  } else if (device == "sim-split") {
    testing::SimDeviceOptions o;
    o.runs_op = testing::SimSplitOps;
    o.delay_us = 20;  // a host read that does not wait for the stream then reads poison
    g_device = testing::RegisterSimDevice(o);
  } else if (!device.empty()) {
    std::cerr << "unknown device " << device << " (sim, sim-split)\n";
    return 2;
  }
  std::vector<std::string> cases;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    fs::path dir = fs::path(data) / suite;
    if (!fs::is_directory(dir)) {
      std::cerr << "missing conformance data: " << dir << " (apt-get install libonnx-testdata)\n";
      return 1;
    }
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!fs::exists(e.path() / "model.onnx")) continue;
      std::string name = std::string(suite) + "/" + e.path().filename().string();
      if (filter.empty() || name.find(filter) != std::string::npos) cases.push_back(name);
    }
  }
  std::sort(cases.begin(), cases.end());
  int passed = 0, failed = 0, skipped = 0;
  std::set<std::string> passing;
  int64_t device_steps = 0, kernel_steps = 0, copies = 0;
  std::map<std::string, int> skip_reasons;
  std::vector<std::string> failures;
  for (const std::string& c : cases) {
    fs::path dir = fs::path(data) / c;
    Outcome o = fork_cases ? RunIsolated(dir, threads) : RunCase(dir, threads);
    switch (o.verdict) {
      case Verdict::kPass:
        ++passed;
        passing.insert(c);
        if (long long d = 0, k = 0, n = 0; std::sscanf(o.reason.c_str(), "%lld %lld %lld", &d, &k, &n) == 3) {
          device_steps += d;
          kernel_steps += k;
          copies += n;
        }
        if (!quiet) std::printf("PASS %s\n", c.c_str());
        break;
      case Verdict::kFail:
        ++failed;
        failures.push_back(c + ": " + o.reason);
        std::printf("FAIL %s: %s\n", c.c_str(), o.reason.c_str());
        break;
      case Verdict::kSkip:
        ++skipped;
        ++skip_reasons[ReasonKey(o.reason)];
        if (!quiet) std::printf("SKIP %s: %s\n", c.c_str(), o.reason.c_str());
        break;
    }
    std::fflush(stdout);
  }
  std::printf("\nskipped, by reason:\n");
  std::vector<std::pair<int, std::string>> reasons;
  for (auto& [r, n] : skip_reasons) reasons.emplace_back(n, r);
  std::sort(reasons.rbegin(), reasons.rend());
  for (auto& [n, r] : reasons) std::printf("  %4d  %s\n", n, r.c_str());
  int status = failed ? 1 : 0;
  if (!must_pass.empty()) {
    std::ifstream f(must_pass);
    std::string line;
    int missing = 0;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (!filter.empty() && line.find(filter) == std::string::npos) continue;
      if (!passing.count(line)) {
        std::printf("REGRESSION %s is in %s but did not pass\n", line.c_str(), must_pass.c_str());
        ++missing;
      }
    }
    if (missing) status = 1;
  }
  if (!write_passing.empty()) {
    std::ofstream f(write_passing);
    f << "# Conformance cases that must pass (regenerate with ferry_conformance --write-passing)\n";
    for (const auto& c : passing) f << c << "\n";
  }
  if (!failures.empty()) {
    std::printf("\nfailures:\n");
    for (const auto& f : failures) std::printf("  %s\n", f.c_str());
  }
  std::printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (g_device) {
    std::printf("%s ran %lld of %lld kernel steps of the passing cases; %lld copies between devices\n",
                std::string(g_device->id()).c_str(), static_cast<long long>(device_steps),
                static_cast<long long>(kernel_steps), static_cast<long long>(copies));
    if (device_steps == 0 || (device == "sim-split" && copies == 0)) {
      std::printf("FAILED: the device did not take part\n");
      status = 1;
    }
  }
  return status;
}
