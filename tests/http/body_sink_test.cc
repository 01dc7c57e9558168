// BodySink and MemoryBudget: limits checked before memory or disk is taken, the budget given back when the last
// holder of a body lets go, spool files created fresh and removed when not handed on.
#include "http/body_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "zlib_util.h"

namespace ferry::http {
namespace {

TEST(MemoryBudget, AcquiresOnlyWhatFits) {
  MemoryBudget budget(100);
  EXPECT_TRUE(budget.TryAcquire(60));
  EXPECT_FALSE(budget.TryAcquire(41));
  EXPECT_TRUE(budget.TryAcquire(40));
  EXPECT_FALSE(budget.TryAcquire(1));
  EXPECT_FALSE(budget.TryAcquire(UINT64_MAX));  // no wrap-around
  budget.Release(60);
  EXPECT_EQ(budget.used(), 40u);
  EXPECT_TRUE(budget.TryAcquire(60));
}

TEST(BodySink, DeclaredLengthIsChargedUpFrontAndReturnedWithTheRequest) {
  auto shared = std::make_shared<MemoryBudget>(1000);
  MemoryBudget& budget = *shared;
  BodySinkOptions o;
  o.max_bytes = 1000;
  o.content_length = 600;
  o.budget = shared;
  auto sink = BodySink::Create(o);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(budget.used(), 600u);
  // A second body of the same size does not fit: Unavailable (503) before any byte is read.
  EXPECT_EQ(BodySink::Create(o).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE((*sink)->Write(std::string(600, 'a').data(), 600).ok());
  ASSERT_TRUE((*sink)->Finish().ok());
  HttpRequest request;
  (*sink)->MoveInto(request);
  sink->reset();
  EXPECT_EQ(request.body, std::string(600, 'a'));
  EXPECT_EQ(budget.used(), 600u);  // the request still holds it
  HttpRequest copy = request;
  request = HttpRequest{};
  EXPECT_EQ(budget.used(), 600u);
  copy = HttpRequest{};
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BodySink, UndeclaredBodiesGrowWithinTheBudgetAndTheLimit) {
  auto shared = std::make_shared<MemoryBudget>(200 * 1024);
  MemoryBudget& budget = *shared;
  BodySinkOptions o;
  o.max_bytes = 150 * 1024;
  o.budget = shared;
  auto sink = BodySink::Create(o);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(budget.used(), 0u);
  std::string piece(10 * 1024, 'x');
  for (int i = 0; i < 15; ++i) ASSERT_TRUE((*sink)->Write(piece.data(), piece.size()).ok()) << i;
  EXPECT_LE(budget.used(), 150u * 1024);
  EXPECT_EQ((*sink)->Write("y", 1).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ((*sink)->Write("y", 1).code(), StatusCode::kResourceExhausted);  // sticky
  sink->reset();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BodySink, DecodedSizeCountsAgainstTheLimit) {
  auto shared = std::make_shared<MemoryBudget>(1 << 30);
  MemoryBudget& budget = *shared;
  BodySinkOptions o;
  o.max_bytes = 1 << 20;
  o.coding = ContentCoding::kGzip;
  o.budget = shared;
  const std::string bomb = testing::ZlibCompress(std::string(32 << 20, '\0'), 31);
  o.content_length = bomb.size();
  auto sink = BodySink::Create(o);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ((*sink)->Write(bomb.data(), bomb.size()).code(), StatusCode::kResourceExhausted);
  EXPECT_LE(budget.used(), 1u << 20);

  o.max_bytes = 64 << 20;
  const std::string text(3 << 20, 'q');
  const std::string gz = testing::ZlibCompress(text, 31);
  o.content_length = gz.size();
  auto ok = BodySink::Create(o);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE((*ok)->Write(gz.data(), gz.size()).ok());
  ASSERT_TRUE((*ok)->Finish().ok());
  HttpRequest request;
  (*ok)->MoveInto(request);
  EXPECT_TRUE(request.body == text);
}

TEST(BodySink, SpoolsToAFreshFileAndCleansUp) {
  const std::string dir = ::testing::TempDir() + "/ferry-sink-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  BodySinkOptions o;
  o.max_bytes = 1 << 20;
  o.spool_dir = dir;
  {
    auto abandoned = BodySink::Create(o);
    ASSERT_TRUE(abandoned.ok());
    ASSERT_TRUE((*abandoned)->Write("partial", 7).ok());
    EXPECT_FALSE(std::filesystem::is_empty(dir));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "an unfinished spool file is removed";
  auto sink = BodySink::Create(o);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write("model bytes", 11).ok());
  ASSERT_TRUE((*sink)->Finish().ok());
  HttpRequest request;
  (*sink)->MoveInto(request);
  sink->reset();
  ASSERT_NE(request.body_file, nullptr);
  EXPECT_EQ(request.body_file->size(), 11u);
  EXPECT_TRUE(request.body.empty());
  const std::string path = request.body_file->path();
  EXPECT_EQ(std::filesystem::path(path).parent_path(), dir);
  EXPECT_EQ(std::filesystem::path(path).filename().string().rfind(".ferry-body-", 0), 0u);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "model bytes");
  request = HttpRequest{};
  EXPECT_FALSE(std::filesystem::exists(path));
  o.spool_dir = dir + "/missing";
  EXPECT_EQ(BodySink::Create(o).status().code(), StatusCode::kInternal);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry::http
