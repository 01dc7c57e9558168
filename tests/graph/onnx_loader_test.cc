// Loading real ONNX bytes: what is accepted, and that every refusal names its culprit.
#include "graph/onnx_loader.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "graph/model.h"
#include "graph/session.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

onnx::ValueInfoProto FloatInfo(const std::string& name, std::vector<int64_t> dims) {
  onnx::ValueInfoProto vi;
  vi.set_name(name);
  auto* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (d < 0)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
  }
  return vi;
}

// y = Relu(x + w), x: [batch, 3], w: [3] initializer.
onnx::ModelProto AddReluModel(int opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("add_relu");
  *g->add_input() = FloatInfo("x", {-1, 3});
  *g->add_output() = FloatInfo("y", {-1, 3});
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);
  for (float v : {1.f, -2.f, 3.f}) w->add_float_data(v);
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("add");
  add->add_input("x");
  add->add_input("w");
  add->add_output("s");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->set_name("relu");
  relu->add_input("s");
  relu->add_output("y");
  return m;
}

std::string Bytes(const onnx::ModelProto& m) { return m.SerializeAsString(); }

TEST(OnnxLoaderTest, LoadsAndRunsAValidModel) {
  OnnxModelInfo info;
  auto graph = LoadOnnxModelFromBytes(Bytes(AddReluModel()), "", &info);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ(graph->opset, 13);
  EXPECT_EQ(graph->nodes.size(), 2u);
  auto model = Model::FromGraph(std::move(*graph), info);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Session session(*model, SessionOptions{});
  // Hand-computed: relu([0.5, 1, -4] + [1, -2, 3]) = [1.5, 0, 0]; relu([-1, 3, 0] + w) = [0, 1, 3].
  Tensor x = Tensor::FromVector<float>({2, 3}, {0.5f, 1.f, -4.f, -1.f, 3.f, 0.f});
  auto out = session.Run(std::vector<Tensor>{x});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].shape(), (Shape{2, 3}));
  const float want[] = {1.5f, 0.f, 0.f, 0.f, 1.f, 3.f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ((*out)[0].as<float>()[i], want[i]);
}

TEST(OnnxLoaderTest, RefusesGarbage) {
  auto g = LoadOnnxModelFromBytes("this is not a protobuf", "", nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("not a valid ONNX model"), std::string::npos);
}

TEST(OnnxLoaderTest, RefusesUnsupportedOpsetNamingIt) {
  auto g = LoadOnnxModelFromBytes(Bytes(AddReluModel(5)), "", nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("opset 5"), std::string::npos) << g.status().message();
}

TEST(OnnxLoaderTest, RefusesUnknownOpNamingNodeAndOp) {
  onnx::ModelProto m = AddReluModel();
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(1);
  n->set_op_type("FancyOp");
  n->set_domain("com.example");
  auto* op = m.add_opset_import();
  op->set_domain("com.example");
  op->set_version(1);
  OnnxModelInfo info;
  auto g = LoadOnnxModelFromBytes(Bytes(m), "", &info);
  ASSERT_TRUE(g.ok()) << g.status().ToString();  // the checker allows unknown domains
  auto model = Model::FromGraph(std::move(*g), info);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("\"relu\""), std::string::npos) << model.status().message();
  EXPECT_NE(model.status().message().find("FancyOp"), std::string::npos) << model.status().message();
}

// A stride of 0 passes the ONNX checker, and ONNX 1.12's shape inference then divides by it (SIGFPE: the process
// died). Found by tests/fuzz/onnx_loader_fuzzer. The ONNX spec gives Conv and the pools positive strides.
TEST(OnnxLoaderTest, RefusesAZeroStrideBeforeShapeInference) {
  for (const char* op : {"Conv", "MaxPool", "AveragePool", "LpPool"}) {
    onnx::ModelProto m = AddReluModel();
    auto* g = m.mutable_graph();
    g->clear_node();
    g->clear_input();
    g->clear_output();
    *g->add_input() = FloatInfo("x", {1, 3, 4, 4});
    onnx::ValueInfoProto y = FloatInfo("y", {1, 3, 4, 4});
    for (int d = 2; d < 4; ++d)
      y.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(d)->set_dim_param("s");
    *g->add_output() = y;
    auto* node = g->add_node();
    node->set_op_type(op);
    node->add_input("x");
    if (std::string(op) == "Conv") {
      auto* w = g->add_initializer();  // 3 output channels, 3 input channels, 1x1
      w->set_name("k");
      w->set_data_type(onnx::TensorProto::FLOAT);
      for (int64_t d : {3, 3, 1, 1}) w->add_dims(d);
      for (int i = 0; i < 9; ++i) w->add_float_data(1.f);
      node->add_input("k");
    } else {
      auto* kernel = node->add_attribute();
      kernel->set_name("kernel_shape");
      kernel->set_type(onnx::AttributeProto::INTS);
      kernel->add_ints(1);
      kernel->add_ints(1);
    }
    node->add_output("y");
    auto* strides = node->add_attribute();
    strides->set_name("strides");
    strides->set_type(onnx::AttributeProto::INTS);
    strides->add_ints(1);
    strides->add_ints(0);
    auto r = LoadOnnxModelFromBytes(Bytes(m), "", nullptr);
    ASSERT_FALSE(r.ok()) << op;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << op;
    EXPECT_NE(r.status().message().find(std::string("node #0 (") + op + "): strides has value 0; must be >= 1"),
              std::string::npos)
        << r.status().message();
  }
}

TEST(OnnxLoaderTest, CheckerRejectsAMissingInput) {
  onnx::ModelProto m = AddReluModel();
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  auto g = LoadOnnxModelFromBytes(Bytes(m), "", nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("nowhere"), std::string::npos) << g.status().message();
}

TEST(OnnxLoaderTest, ShapeMismatchIsRefusedAtLoad) {
  onnx::ModelProto m = AddReluModel();
  // w becomes [4]: Add of [batch, 3] and [4] cannot broadcast.
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_dims(0, 4);
  w->add_float_data(5.f);
  OnnxModelInfo info;
  auto g = LoadOnnxModelFromBytes(Bytes(m), "", &info);
  if (!g.ok()) return;  // ONNX shape inference may already refuse it
  auto model = Model::FromGraph(std::move(*g), info);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("\"add\""), std::string::npos) << model.status().message();
}

// In a death-test child: limits the address space to 1 GiB, loads `bytes`, exits 0 when the load fails with a
// message containing `want`.
[[noreturn]] void LoadUnderMemoryLimitAndExpect(const std::string& bytes, const std::string& want) {
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = 1ull << 30;
  setrlimit(RLIMIT_AS, &limit);
  auto g = LoadOnnxModelFromBytes(bytes, "", nullptr);
  std::fprintf(stderr, "%s\n", g.ok() ? "loaded" : g.status().message().c_str());
  std::exit(!g.ok() && g.status().message().find(want) != std::string::npos ? 0 : 1);
}

// A few bytes of model that declare gigabytes: the sizes are compared before anything is allocated. Run in a
// child with a 1 GiB address-space limit, where allocating the declared 4 GiB would fail (or, unlimited, take and
// zero 4 GiB) before the mismatch is seen.
TEST(OnnxLoaderTest, DeclaredSizesAreCheckedBeforeAllocating) {
  for (bool raw : {true, false}) {
    onnx::ModelProto m = AddReluModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->set_dims(0, int64_t{1} << 30);
    if (raw) {
      w->clear_float_data();
      w->set_raw_data(std::string(12, '\0'));
    }
    const std::string bytes = Bytes(m);
    ASSERT_LT(bytes.size(), 200u);
    const std::string want = raw ? "raw_data has 12 bytes, its shape [1073741824] needs 4294967296"
                                 : "has 3 values, its shape [1073741824] needs 1073741824";
    EXPECT_EXIT(LoadUnderMemoryLimitAndExpect(bytes, want), ::testing::ExitedWithCode(0), "")
        << (raw ? "raw_data" : "float_data");
  }
}

TEST(OnnxLoaderTest, WrongInputIsAnErrorNotACrash) {
  OnnxModelInfo info;
  auto model = Model::FromGraph(LoadOnnxModelFromBytes(Bytes(AddReluModel()), "", &info).value(), info);
  ASSERT_TRUE(model.ok());
  Session session(*model, SessionOptions{});
  auto bad_shape = session.Run(std::vector<Tensor>{Tensor::FromVector<float>({2, 4}, std::vector<float>(8))});
  ASSERT_FALSE(bad_shape.ok());
  EXPECT_NE(bad_shape.status().message().find("dimension 1 = 3"), std::string::npos) << bad_shape.status().message();
  auto bad_type = session.Run(std::vector<Tensor>{Tensor::FromVector<int64_t>({2, 3}, std::vector<int64_t>(6))});
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("type float"), std::string::npos);
  auto none = session.Run(std::vector<Tensor>{});
  ASSERT_FALSE(none.ok());
}

class ExternalDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry_extdata_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // The model with w stored in `location` at offset 8.
  std::string ModelWithExternal(const std::string& location) {
    onnx::ModelProto m = AddReluModel();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", "8");
    add("length", "12");
    return Bytes(m);
  }
  fs::path dir_;
};

TEST_F(ExternalDataTest, ReadsWeightsBesideTheModel) {
  std::ofstream f(dir_ / "weights.bin", std::ios::binary);
  const float pad[2] = {0, 0}, w[3] = {10.f, 20.f, 30.f};
  f.write(reinterpret_cast<const char*>(pad), sizeof pad);
  f.write(reinterpret_cast<const char*>(w), sizeof w);
  f.close();
  auto g = LoadOnnxModelFromBytes(ModelWithExternal("weights.bin"), dir_.string(), nullptr);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  const Tensor& t = g->initializers.at(g->FindValue("w"));
  EXPECT_EQ(t.as<float>()[0], 10.f);
  EXPECT_EQ(t.as<float>()[2], 30.f);
}

TEST_F(ExternalDataTest, RefusesPathsLeavingTheFolder) {
  for (std::string loc : {"../weights.bin", "/etc/passwd", "sub/../../x.bin"}) {
    auto g = LoadOnnxModelFromBytes(ModelWithExternal(loc), dir_.string(), nullptr);
    ASSERT_FALSE(g.ok()) << loc;
    EXPECT_NE(g.status().message().find("\"w\""), std::string::npos) << g.status().message();
  }
}

TEST_F(ExternalDataTest, RefusesTruncatedData) {
  std::ofstream(dir_ / "short.bin", std::ios::binary) << "abc";
  auto g = LoadOnnxModelFromBytes(ModelWithExternal("short.bin"), dir_.string(), nullptr);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("past the end"), std::string::npos) << g.status().message();
}

}  // namespace
}  // namespace ferry
