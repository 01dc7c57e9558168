// Throughput of the protocol codecs against a plain nlohmann DOM parse, on a 224x224x3 float image (issue 4:
// at least 3x the DOM parse). MB/s is request (or response) bytes per second. After the table, prints each
// codec's ratio to its baseline.
//
//   build-codec/bench/ferry_codec_bench [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "protocol/kserve_codec.h"
#include "protocol/tfserving_codec.h"

namespace ferry::protocol {
namespace {

constexpr int kH = 224, kW = 224, kC = 3;

// Realistic pixel values: uniform in [0, 1) with six decimals ("0.123456"), as a client's normalised image.
std::vector<std::string> PixelTexts() {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  std::vector<std::string> out(kH * kW * kC);
  char buf[32];
  for (std::string& s : out) {
    std::snprintf(buf, sizeof(buf), "%.6f", dist(rng));
    s = buf;
  }
  return out;
}

// {"instances": [ [[[r,g,b],...224]...224] ]}
const std::string& TfsRowBody() {
  static const std::string body = [] {
    std::vector<std::string> px = PixelTexts();
    std::string s = "{\"instances\": [[";
    size_t k = 0;
    for (int y = 0; y < kH; ++y) {
      s += y ? ",[" : "[";
      for (int x = 0; x < kW; ++x) {
        s += x ? ",[" : "[";
        for (int c = 0; c < kC; ++c) s += (c ? "," : "") + px[k++];
        s += "]";
      }
      s += "]";
    }
    return s + "]]}";
  }();
  return body;
}

// The KServe JSON equivalent, with flat "data".
const std::string& KsJsonBody() {
  static const std::string body = [] {
    std::vector<std::string> px = PixelTexts();
    std::string s = R"({"inputs":[{"name":"input","shape":[1,224,224,3],"datatype":"FP32","data":[)";
    for (size_t k = 0; k < px.size(); ++k) s += (k ? "," : "") + px[k];
    return s + "]}]}";
  }();
  return body;
}

// The same image with the binary tensor extension; the JSON header is padded to a multiple of 64 bytes (as a
// client that wants zero copies can do) so the tensor is aligned in the body.
struct BinaryBody {
  std::shared_ptr<const std::string> body;
  std::string header_length;
};
const BinaryBody& KsBinaryBody() {
  static const BinaryBody b = [] {
    std::string json =
        R"({"inputs":[{"name":"input","shape":[1,224,224,3],"datatype":"FP32","parameters":{"binary_data_size":)" +
        std::to_string(kH * kW * kC * 4) + "}}]}";
    json.append((64 - json.size() % 64) % 64, ' ');
    std::vector<float> px(kH * kW * kC);
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(0.0f, 1.0f);
    for (float& v : px) v = dist(rng);
    std::string body = json;
    body.append(reinterpret_cast<const char*>(px.data()), px.size() * sizeof(float));
    return BinaryBody{std::make_shared<const std::string>(std::move(body)), std::to_string(json.size())};
  }();
  return b;
}

const std::vector<TensorSpec>& ImageSpec() {
  static const std::vector<TensorSpec> spec = {{"input", DataType::kFloat, {-1, kH, kW, kC}, true}};
  return spec;
}

void BM_NlohmannDomParse_TfsRow(benchmark::State& state) {
  const std::string& body = TfsRowBody();
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(body));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_NlohmannDomParse_TfsRow)->Unit(benchmark::kMillisecond);

void BM_TfsRowDecode(benchmark::State& state) {
  const std::string& body = TfsRowBody();
  for (auto _ : state) {
    Result<TfsPredictBody> parsed = TfsPredictBody::Parse(body);
    if (!parsed.ok()) return state.SkipWithError(parsed.status().message().c_str());
    auto inputs = parsed->DecodeInputs(ImageSpec());
    if (!inputs.ok()) return state.SkipWithError(inputs.status().message().c_str());
    benchmark::DoNotOptimize(inputs->begin()->second.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_TfsRowDecode)->Unit(benchmark::kMillisecond);

void BM_NlohmannDomParse_KsJson(benchmark::State& state) {
  const std::string& body = KsJsonBody();
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::parse(body));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_NlohmannDomParse_KsJson)->Unit(benchmark::kMillisecond);

void BM_KsJsonDecode(benchmark::State& state) {
  const std::string& body = KsJsonBody();
  for (auto _ : state) {
    auto r = DecodeKsInferRequest(body, std::nullopt);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    benchmark::DoNotOptimize(r->inputs[0].tensor.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_KsJsonDecode)->Unit(benchmark::kMillisecond);

// Binary extension: the string_view overload copies the tensor out of the body once; the shared_ptr overload
// aliases it (no copy; MB/s is then only the JSON header's cost spread over the body).
void BM_KsBinaryDecodeCopy(benchmark::State& state) {
  const BinaryBody& b = KsBinaryBody();
  for (auto _ : state) {
    auto r = DecodeKsInferRequest(std::string_view(*b.body), b.header_length);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    benchmark::DoNotOptimize(r->inputs[0].tensor.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(b.body->size()));
}
BENCHMARK(BM_KsBinaryDecodeCopy)->Unit(benchmark::kMicrosecond);

void BM_KsBinaryDecodeAlias(benchmark::State& state) {
  const BinaryBody& b = KsBinaryBody();
  for (auto _ : state) {
    auto r = DecodeKsInferRequest(b.body, b.header_length);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    if (r->inputs[0].tensor.data() != b.body->data() + std::stoul(b.header_length)) {
      return state.SkipWithError("the binary input was copied, not aliased");
    }
    benchmark::DoNotOptimize(r->inputs[0].tensor.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(b.body->size()));
}
BENCHMARK(BM_KsBinaryDecodeAlias)->Unit(benchmark::kMicrosecond);

// Encode of a [1, 1000] float output (a classifier's logits). Bytes are the response's.
Tensor Logits() {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> v(1000);
  for (float& x : v) x = dist(rng);
  return Tensor::FromVector<float>({1, 1000}, v);
}

void BM_NlohmannDomEncode_1x1000(benchmark::State& state) {
  const Tensor t = Logits();
  size_t bytes = 0;
  for (auto _ : state) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t i = 0; i < t.numel(); ++i) row.push_back(t.as<float>()[i]);
    nlohmann::json j = {{"predictions", nlohmann::json::array({std::move(row)})}};
    std::string s = j.dump();
    bytes = s.size();
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_NlohmannDomEncode_1x1000)->Unit(benchmark::kMicrosecond);

void BM_TfsEncode_1x1000(benchmark::State& state) {
  const std::map<std::string, Tensor> outputs = {{"logits", Logits()}};
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = EncodeTfsPredictResponse(TfsFormat::kRow, outputs);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    bytes = r->size();
    benchmark::DoNotOptimize(r->data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_TfsEncode_1x1000)->Unit(benchmark::kMicrosecond);

void BM_KsEncode_1x1000(benchmark::State& state) {
  KsInferResponse response;
  response.model_name = "resnet";
  response.model_version = "1";
  response.outputs.push_back({"logits", Logits(), false});
  size_t bytes = 0;
  for (auto _ : state) {
    auto r = EncodeKsInferResponse(response);
    if (!r.ok()) return state.SkipWithError(r.status().message().c_str());
    bytes = r->body.size();
    benchmark::DoNotOptimize(r->body.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_KsEncode_1x1000)->Unit(benchmark::kMicrosecond);

// Prints the table as usual and remembers each benchmark's bytes/s (the median when repeated).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool aggregate = run.run_type == Run::RT_Aggregate;
      if (aggregate && run.aggregate_name != "median") continue;
      auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      const std::string name = run.run_name.function_name;
      if (aggregate || !medians_.count(name)) rate_[name] = it->second.value;
      if (aggregate) medians_.insert(name);
    }
  }
  void PrintRatios() const {
    std::printf("\nThroughput (MB/s, 1 MB = 1e6 bytes) and ratio to the nlohmann DOM baseline:\n");
    Line("TF Serving row decode (224x224x3 float)", "BM_TfsRowDecode", "BM_NlohmannDomParse_TfsRow");
    Line("KServe JSON decode (224x224x3 float)", "BM_KsJsonDecode", "BM_NlohmannDomParse_KsJson");
    Line("TF Serving encode [1,1000] float", "BM_TfsEncode_1x1000", "BM_NlohmannDomEncode_1x1000");
    Line("KServe encode [1,1000] float", "BM_KsEncode_1x1000", "BM_NlohmannDomEncode_1x1000");
    Line("KServe binary decode, aliased vs copied", "BM_KsBinaryDecodeAlias", "BM_KsBinaryDecodeCopy");
  }

 private:
  void Line(const char* what, const std::string& ours, const std::string& base) const {
    auto a = rate_.find(ours), b = rate_.find(base);
    if (a == rate_.end() || b == rate_.end()) return;
    std::printf("  %-42s %10.1f MB/s vs %8.1f MB/s  = %6.2fx\n", what, a->second / 1e6, b->second / 1e6,
                a->second / b->second);
  }
  std::map<std::string, double> rate_;
  std::set<std::string> medians_;
};

}  // namespace
}  // namespace ferry::protocol

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("bodies: TF Serving row %zu bytes, KServe JSON %zu bytes, KServe binary %zu bytes\n",
              ferry::protocol::TfsRowBody().size(), ferry::protocol::KsJsonBody().size(),
              ferry::protocol::KsBinaryBody().body->size());
  ferry::protocol::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
