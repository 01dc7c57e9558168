// Requests that declare more values than they carry: the codecs refuse them before the declared tensor is
// allocated. Each case runs in a child whose address space is limited to what the process already uses plus
// 192 MiB, where allocating the declared tensor (320 MB or 400 MB) would fail with "out of memory" instead of the
// message about the values, and where zero-filling it unlimited would have taken that memory for real.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "protocol/kserve_codec.h"
#include "protocol/tfserving_codec.h"
#include "test_util.h"

namespace ferry::protocol {
namespace {

uint64_t VirtualBytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  }
  return 0;
}

void LimitAddressSpace() {
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = VirtualBytes() + (192ull << 20);
  setrlimit(RLIMIT_AS, &limit);
}

// Exits 0 when `status` is an error whose message contains `want`.
[[noreturn]] void ExitWith(const Status& status, const std::string& want) {
  std::fprintf(stderr, "%s\n", status.ok() ? "decoded" : status.message().c_str());
  std::exit(!status.ok() && status.message().find(want) != std::string::npos ? 0 : 1);
}

[[noreturn]] void DecodeKsUnderLimit(const std::string& body, const std::string& want) {
  LimitAddressSpace();
  ExitWith(DecodeKsInferRequest(body, std::nullopt).status(), want);
}

[[noreturn]] void DecodeTfsUnderLimit(const std::string& body, const std::string& want) {
  LimitAddressSpace();
  ExitWith(DecodeTfsPredictRequest(body, {testing::Spec("x", DataType::kFloat, {-1, -1})}).status(), want);
}

TEST(DecodeBounds, KServeShapeLargerThanItsDataAllocatesNothing) {
  // 20 million zeros (40 MB of text) under a shape of 40 million FP64 values (320 MB).
  std::string data;
  data.reserve(40000002);
  data += '[';
  for (int i = 0; i < 20000000; ++i) data += i ? ",0" : "0";
  data += ']';
  const std::string body =
      R"({"inputs": [{"name": "x", "datatype": "FP64", "shape": [40000000], "data": )" + data + "}]}";
  EXPECT_EXIT(DecodeKsUnderLimit(body, "needs 40000000 elements but 'data' holds 20000000"),
              ::testing::ExitedWithCode(0), "");
}

TEST(DecodeBounds, TfServingShapeFromFirstElementsIsBoundedByTheBody) {
  // The shape comes from the first element of each list: [1001, 100000] (400 MB of float), while the body holds
  // 100,000 values.
  std::string body = R"({"inputs": {"x": [[)";
  for (int i = 0; i < 100000; ++i) body += i ? ",0" : "0";
  body += "]";
  for (int i = 0; i < 1000; ++i) body += ",[]";
  body += "]}}";
  EXPECT_EXIT(DecodeTfsUnderLimit(body, "shape [1001, 100000] needs 100100000 values, more than a request of"),
              ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace ferry::protocol
