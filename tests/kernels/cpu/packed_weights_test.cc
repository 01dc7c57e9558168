// Packed weights of Conv, Gemm and MatMul (conv_packed.h, gemm_packed.h): shared through DerivedConstants by
// every plan of one model, private to the kernel without one, never confused between models however their
// weight buffers are placed, and always equal to a naive loop over the unpacked weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/device_registry.h"
#include "common/tensor.h"
#include "graph/model.h"
#include "graph/session.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_packed.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

// DerivedConstants as one model's weight store would be: shares by (input, layout) and counts what it made.
class CountingDerived final : public DerivedConstants {
 public:
  std::shared_ptr<const void> GetOrMake(size_t input, const std::string& layout,
                                        const std::function<std::shared_ptr<const void>()>& make) override {
    auto key = std::make_pair(input, layout);
    if (auto it = kept_.find(key); it != kept_.end()) return it->second;
    ++makes;
    std::shared_ptr<const void> made = make();
    if (made) kept_.emplace(std::move(key), made);
    return made;
  }
  // The object kept for (input, layout); nullptr when none.
  std::shared_ptr<const void> Kept(size_t input, const std::string& layout) const {
    auto it = kept_.find({input, layout});
    return it == kept_.end() ? nullptr : it->second;
  }
  int makes = 0;
  size_t size() const { return kept_.size(); }

 private:
  std::map<std::pair<size_t, std::string>, std::shared_ptr<const void>> kept_;
};

// One kernel of the CPU table, prepared once (as a plan does) and then computed on any inputs of those shapes.
class PreparedKernel {
 public:
  // Inputs whose index is in `known` are visible to Prepare, as constants are.
  static std::unique_ptr<PreparedKernel> Make(const std::string& op, int opset, const Attributes& attrs,
                                              const std::vector<Tensor>& inputs, const std::vector<size_t>& known,
                                              DerivedConstants* derived) {
    auto p = std::make_unique<PreparedKernel>();
    KernelDef def;
    def.op_type = op;
    def.opset = opset;
    def.attrs = attrs;
    def.num_outputs = 1;
    for (size_t i = 0; i < inputs.size(); ++i) {
      def.input_types.push_back(inputs[i].dtype());
      def.input_present.push_back(true);
      def.input_constant.push_back(false);
    }
    for (size_t i : known) def.input_constant[i] = true;
    const KernelEntry* entry = CpuKernelTable().Find(op, opset);
    EXPECT_NE(entry, nullptr);
    if (entry == nullptr) return nullptr;
    auto kernel = entry->create(def);
    EXPECT_TRUE(kernel.ok()) << kernel.status().ToString();
    if (!kernel.ok()) return nullptr;
    p->kernel_ = std::move(*kernel);
    for (const Tensor& t : inputs) {
      p->ctx_.inputs_.push_back(TensorView{t.dtype(), t.shape(), nullptr});
      p->ctx_.present_.push_back(true);
    }
    for (size_t i : known) p->ctx_.inputs_[i].data = inputs[i].data();
    p->ctx_.outputs_.resize(1);
    p->ctx_.derived_ = derived;
    Status st = p->kernel_->Prepare(p->ctx_);
    p->ctx_.derived_ = nullptr;
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return nullptr;
    p->scratch_ = AllocateAligned(p->ctx_.scratch_bytes_);
    p->ctx_.scratch_ = p->scratch_.get();
    return p;
  }

  std::vector<float> Run(const std::vector<Tensor>& inputs) {
    for (size_t i = 0; i < inputs.size(); ++i) ctx_.inputs_[i].data = inputs[i].data();
    Tensor y = Tensor::Allocate(ctx_.outputs_[0].dtype, ctx_.outputs_[0].shape).value();
    ctx_.outputs_[0].data = y.data();
    Status st = kernel_->Compute(ctx_);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return std::vector<float>(y.as<float>(), y.as<float>() + y.numel());
  }

 private:
  std::unique_ptr<Kernel> kernel_;
  KernelContext ctx_;
  std::shared_ptr<void> scratch_;
};

// Deterministic values in [-1, 1).
std::vector<float> Pseudorandom(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / static_cast<float>(1u << 23) - 1.f;
  }
  return v;
}

// New weights that agree with `w` wherever the old process-wide caches sampled a weight buffer (every
// (n / 256)-th value) and differ everywhere else: the same address and samples, different values.
std::vector<float> SameSamplesOtherValues(const std::vector<float>& w) {
  const size_t n = w.size(), step = n > 256 ? n / 256 : 1;
  std::vector<float> v = w;
  for (size_t i = 0; i < n; ++i)
    if (i % step != 0) v[i] = 0.5f - w[i];
  return v;
}

Tensor F32(const Shape& shape, const std::vector<float>& v) { return Tensor::FromVector<float>(shape, v); }

void ExpectNear(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > 1e-4 * (1 + std::fabs(want[i])) && bad++ < 5) {
      ADD_FAILURE() << "element " << i << ": got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0u);
}

// y[n, m, oh, ow] of a 2-D NCHW Conv with stride 1 and symmetric padding `pad`, by the definition.
std::vector<double> NaiveConv(const std::vector<float>& x, const std::vector<float>& w, int64_t n, int64_t c, int64_t h,
                              int64_t wd, int64_t m, int64_t kh, int64_t kw, int64_t group, int64_t pad) {
  const int64_t oh = h + 2 * pad - kh + 1, ow = wd + 2 * pad - kw + 1, cg = c / group, mg = m / group;
  std::vector<double> y(static_cast<size_t>(n * m * oh * ow));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double s = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t u = 0; u < kh; ++u)
              for (int64_t v = 0; v < kw; ++v) {
                const int64_t yi = i + u - pad, xj = j + v - pad;
                if (yi < 0 || yi >= h || xj < 0 || xj >= wd) continue;
                const int64_t xc = (o / mg) * cg + ci;
                s += double(x[((b * c + xc) * h + yi) * wd + xj]) * w[((o * cg + ci) * kh + u) * kw + v];
              }
          y[((b * m + o) * oh + i) * ow + j] = s;
        }
  return y;
}

// C[m, n] = A[m, k] * B, B stored [k, n] or, when trans, [n, k].
std::vector<double> NaiveMatMul(const std::vector<float>& a, const std::vector<float>& b, int64_t m, int64_t k,
                                int64_t n, bool trans) {
  std::vector<double> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += double(a[i * k + p]) * (trans ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  return c;
}

bool PackedKernelsAvailable() { return ConvGemmAvailable() && PackedMatrix::Available(); }

// One Conv case: shapes, and the layout its packed weights take (transposed for small maps).
struct ConvCase {
  int64_t n, c, h, w, m, k, group;
  bool transposed;
};

Attributes ConvAttrs(const ConvCase& cs) {
  Attributes a;
  a.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.Set("group", cs.group);
  return a;
}

class PackedConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(PackedConvTest, PlansOfOneModelShareOnePackedCopyEqualToTheNaiveConv) {
  if (!PackedKernelsAvailable()) GTEST_SKIP() << "no packed kernels on this CPU";
  const ConvCase cs = GetParam();
  const int64_t cg = cs.c / cs.group, mg = cs.m / cs.group;
  Tensor x = F32({cs.n, cs.c, cs.h, cs.w}, Pseudorandom(cs.n * cs.c * cs.h * cs.w, 1));
  std::vector<float> wv = Pseudorandom(cs.m * cg * cs.k * cs.k, 2);
  Tensor w = F32({cs.m, cg, cs.k, cs.k}, wv);
  CountingDerived model;
  auto plan1 = PreparedKernel::Make("Conv", 11, ConvAttrs(cs), {x, w}, {1}, &model);
  auto plan2 = PreparedKernel::Make("Conv", 11, ConvAttrs(cs), {x, w}, {1}, &model);
  ASSERT_TRUE(plan1 && plan2);
  EXPECT_EQ(model.makes, 1);
  const std::string layout = ConvPackedLayout(cs.group, mg, cg * cs.k * cs.k, cs.transposed);
  std::shared_ptr<const void> kept = model.Kept(1, layout);
  ASSERT_NE(kept, nullptr) << "no packed weights under " << layout;
  EXPECT_EQ(kept.use_count(), 4);  // the store, both kernels, and `kept`
  const std::vector<float> xv(x.as<float>(), x.as<float>() + x.numel());
  const std::vector<double> want = NaiveConv(xv, wv, cs.n, cs.c, cs.h, cs.w, cs.m, cs.k, cs.k, cs.group, 1);
  ExpectNear(plan1->Run({x, w}), want);
  ExpectNear(plan2->Run({x, w}), want);
}

TEST_P(PackedConvTest, AnotherModelAtTheSameAddressWithTheSameSamplesGetsItsOwnWeights) {
  if (!PackedKernelsAvailable()) GTEST_SKIP() << "no packed kernels on this CPU";
  const ConvCase cs = GetParam();
  const int64_t cg = cs.c / cs.group;
  Tensor x = F32({cs.n, cs.c, cs.h, cs.w}, Pseudorandom(cs.n * cs.c * cs.h * cs.w, 3));
  const std::vector<float> xv(x.as<float>(), x.as<float>() + x.numel());
  const std::vector<float> w1 = Pseudorandom(cs.m * cg * cs.k * cs.k, 4);
  const std::vector<float> w2 = SameSamplesOtherValues(w1);
  // One buffer holds the first model's weights, then the second's: an address reused with equal samples. The
  // first model's kernel is still alive when the second is prepared, so a cache keyed by address would still
  // hold the first packing. Kernels run without DerivedConstants (private copies) and with one per model.
  Tensor w = F32({cs.m, cg, cs.k, cs.k}, w1);
  CountingDerived model1, model2;
  for (bool shared : {false, true}) {
    std::copy(w1.begin(), w1.end(), w.as<float>());
    auto first = PreparedKernel::Make("Conv", 11, ConvAttrs(cs), {x, w}, {1}, shared ? &model1 : nullptr);
    ASSERT_TRUE(first);
    ExpectNear(first->Run({x, w}), NaiveConv(xv, w1, cs.n, cs.c, cs.h, cs.w, cs.m, cs.k, cs.k, cs.group, 1));
    std::copy(w2.begin(), w2.end(), w.as<float>());
    auto second = PreparedKernel::Make("Conv", 11, ConvAttrs(cs), {x, w}, {1}, shared ? &model2 : nullptr);
    ASSERT_TRUE(second);
    ExpectNear(second->Run({x, w}), NaiveConv(xv, w2, cs.n, cs.c, cs.h, cs.w, cs.m, cs.k, cs.k, cs.group, 1));
  }
  EXPECT_EQ(model1.makes, 1);
  EXPECT_EQ(model2.makes, 1);
}

INSTANTIATE_TEST_SUITE_P(Layouts, PackedConvTest,
                         ::testing::Values(ConvCase{1, 8, 32, 32, 16, 3, 1, false},  // wide map: ConvGemm layout
                                           ConvCase{2, 8, 12, 12, 16, 3, 2, false},  // groups, several images
                                           ConvCase{1, 32, 7, 7, 64, 3, 1, true},    // small map: transposed
                                           ConvCase{1, 32, 7, 7, 64, 3, 2, true}));

// Gemm (transB = 1, B stored [n, k]) and MatMul (B [k, n]) with few rows, where the packed kernel runs.
struct MatrixCase {
  const char* op;
  bool trans;
};

class PackedMatrixTest : public ::testing::TestWithParam<MatrixCase> {
 protected:
  static constexpr int64_t kM = 4, kK = 128, kN = 160;
  Attributes Attrs() const {
    Attributes a;
    if (GetParam().trans) a.Set("transB", int64_t{1});
    return a;
  }
  Shape BShape() const { return GetParam().trans ? Shape{kN, kK} : Shape{kK, kN}; }
  std::unique_ptr<PreparedKernel> Prepare(const Tensor& a, const Tensor& b, DerivedConstants* derived) const {
    return PreparedKernel::Make(GetParam().op, 13, Attrs(), {a, b}, {1}, derived);
  }
};

TEST_P(PackedMatrixTest, PlansOfOneModelShareOnePackedCopyEqualToTheNaiveProduct) {
  if (!PackedMatrix::Available()) GTEST_SKIP() << "no packed kernels on this CPU";
  const bool trans = GetParam().trans;
  const std::vector<float> av = Pseudorandom(kM * kK, 5), bv = Pseudorandom(kK * kN, 6);
  Tensor a = F32({kM, kK}, av), b = F32(BShape(), bv);
  CountingDerived model;
  auto plan1 = Prepare(a, b, &model);
  auto plan2 = Prepare(a, b, &model);
  ASSERT_TRUE(plan1 && plan2);
  EXPECT_EQ(model.makes, 1);
  std::shared_ptr<const void> kept = model.Kept(1, PackedMatrix::Layout(kK, kN, trans ? kK : kN, trans));
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept.use_count(), 4);  // the store, both kernels, and `kept`
  const std::vector<double> want = NaiveMatMul(av, bv, kM, kK, kN, trans);
  ExpectNear(plan1->Run({a, b}), want);
  ExpectNear(plan2->Run({a, b}), want);
}

TEST_P(PackedMatrixTest, AnotherModelAtTheSameAddressWithTheSameSamplesGetsItsOwnWeights) {
  if (!PackedMatrix::Available()) GTEST_SKIP() << "no packed kernels on this CPU";
  const bool trans = GetParam().trans;
  const std::vector<float> av = Pseudorandom(kM * kK, 7), b1 = Pseudorandom(kK * kN, 8);
  const std::vector<float> b2 = SameSamplesOtherValues(b1);
  Tensor a = F32({kM, kK}, av), b = F32(BShape(), b1);
  CountingDerived model1, model2;
  for (bool shared : {false, true}) {
    std::copy(b1.begin(), b1.end(), b.as<float>());
    auto first = Prepare(a, b, shared ? &model1 : nullptr);
    ASSERT_TRUE(first);
    ExpectNear(first->Run({a, b}), NaiveMatMul(av, b1, kM, kK, kN, trans));
    std::copy(b2.begin(), b2.end(), b.as<float>());
    auto second = Prepare(a, b, shared ? &model2 : nullptr);
    ASSERT_TRUE(second);
    ExpectNear(second->Run({a, b}), NaiveMatMul(av, b2, kM, kK, kN, trans));
  }
  EXPECT_EQ(model1.makes, 1);
  EXPECT_EQ(model2.makes, 1);
}

INSTANTIATE_TEST_SUITE_P(Ops, PackedMatrixTest,
                         ::testing::Values(MatrixCase{"Gemm", false}, MatrixCase{"Gemm", true},
                                           MatrixCase{"MatMul", false}),
                         [](const ::testing::TestParamInfo<MatrixCase>& info) {
                           return std::string(info.param.op) + (info.param.trans ? "TransB" : "");
                         });

TEST(PackedWeightsTest, LayoutsNameEveryParameterOfThePackedBytes) {
  EXPECT_NE(ConvPackedLayout(1, 64, 576, false), ConvPackedLayout(2, 32, 576, false));
  EXPECT_NE(ConvPackedLayout(1, 64, 576, false), ConvPackedLayout(1, 64, 576, true));
  EXPECT_NE(ConvPackedLayout(1, 64, 576, false), ConvPackedLayout(1, 576, 64, false));
  EXPECT_NE(PackedMatrix::Layout(128, 160, 160, false), PackedMatrix::Layout(128, 160, 128, true));
  EXPECT_NE(PackedMatrix::Layout(128, 160, 160, false), PackedMatrix::Layout(128, 160, 192, false));
  EXPECT_NE(PackedMatrix::Layout(128, 160, 160, false), PackedMatrix::Layout(160, 128, 160, false));
  EXPECT_NE(PackedMatrix::Layout(128, 160, 160, false), ConvPackedLayout(1, 160, 128, true));
}

// ---- Through the graph layer: two Sessions (two sets of plans) of one model. ----

void AddInput(Graph& g, const std::string& name, std::vector<int64_t> dims) {
  int v = g.AddValue(name);
  g.values[v].dtype = DataType::kFloat;
  g.values[v].has_shape = true;
  for (int64_t d : dims) g.values[v].shape.push_back(Dim{d, ""});
  g.inputs.push_back(v);
}

void AddInit(Graph& g, const std::string& name, Tensor t) {
  int v = g.AddValue(name);
  g.values[v].dtype = t.dtype();
  g.initializers[v] = std::move(t);
}

Node AddNode(Graph& g, const std::string& op, std::vector<std::string> in, const std::string& out) {
  Node n;
  n.name = op + "_" + out;
  n.op_type = op;
  for (auto& s : in) n.inputs.push_back(g.AddValue(s));
  n.outputs.push_back(g.AddValue(out));
  g.values[n.outputs[0]].dtype = DataType::kFloat;
  return n;
}

// x [1, 8, 32, 32] -> Conv (w [16, 8, 3, 3], pads 1) -> c; a [4, 128] -> Gemm (g [160, 128], transB) -> h
// -> MatMul (mm [160, 128]) -> y.
Graph TwoWeightedPaths(const std::vector<float>& w, const std::vector<float>& gw, const std::vector<float>& mw) {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  AddInput(g, "x", {1, 8, 32, 32});
  AddInput(g, "a", {4, 128});
  AddInit(g, "w", F32({16, 8, 3, 3}, w));
  AddInit(g, "g", F32({160, 128}, gw));
  AddInit(g, "mm", F32({160, 128}, mw));
  Node conv = AddNode(g, "Conv", {"x", "w"}, "c");
  conv.attrs.Set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.nodes.push_back(conv);
  Node gemm = AddNode(g, "Gemm", {"a", "g"}, "h");
  gemm.attrs.Set("transB", int64_t{1});
  g.nodes.push_back(gemm);
  g.nodes.push_back(AddNode(g, "MatMul", {"h", "mm"}, "y"));
  g.outputs.push_back(g.FindValue("c"));
  g.outputs.push_back(g.FindValue("y"));
  return g;
}

TEST(PackedWeightsTest, TwoSessionsOfOneModelShareOnePackedCopyPerWeight) {
  if (!PackedKernelsAvailable()) GTEST_SKIP() << "no packed kernels on this CPU";
  const std::vector<float> w = Pseudorandom(16 * 8 * 9, 9), gw = Pseudorandom(160 * 128, 10),
                           mw = Pseudorandom(160 * 128, 11);
  const std::vector<float> xv = Pseudorandom(8 * 32 * 32, 12), av = Pseudorandom(4 * 128, 13);
  ModelOptions options;
  options.optimize = false;  // keep the initializers as written, so the test can name them
  auto model = Model::FromGraph(TwoWeightedPaths(w, gw, mw), OnnxModelInfo{}, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<Tensor> inputs = {F32({1, 8, 32, 32}, xv), F32({4, 128}, av)};
  const std::vector<double> want_c = NaiveConv(xv, w, 1, 8, 32, 32, 16, 3, 3, 1, 1);
  const std::vector<double> want_y = NaiveMatMul(std::vector<float>([&] {
                                                   const std::vector<double> h = NaiveMatMul(av, gw, 4, 128, 160, true);
                                                   return std::vector<float>(h.begin(), h.end());
                                                 }()),
                                                 mw, 4, 160, 128, false);

  auto s1 = std::make_unique<Session>(*model, SessionOptions{});
  auto s2 = std::make_unique<Session>(*model, SessionOptions{});
  for (Session* s : {s1.get(), s2.get()}) {
    auto out = s->Run(inputs);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectNear(std::vector<float>((*out)[0].as<float>(), (*out)[0].as<float>() + (*out)[0].numel()), want_c);
    // h is rounded to float between the two products; the tolerance covers it.
    ExpectNear(std::vector<float>((*out)[1].as<float>(), (*out)[1].as<float>() + (*out)[1].numel()), want_y);
  }

  // The model's CPU weight store holds one packed copy of each weight, which both sessions' kernels hold.
  std::shared_ptr<WeightStore> store = (*model)->WeightsOn(CpuDevice());
  const Graph& g = (*model)->graph();
  const std::pair<const char*, std::string> packed[] = {
      {"w", ConvPackedLayout(1, 16, 72, false)},
      {"g", PackedMatrix::Layout(128, 160, 128, true)},
      {"mm", PackedMatrix::Layout(160, 128, 128, false)},
  };
  for (const auto& [name, layout] : packed) {
    bool made = false;
    auto kept = store->Derived(g.FindValue(name), layout, [&]() -> std::shared_ptr<const void> {
      made = true;
      return nullptr;
    });
    EXPECT_FALSE(made) << name << ": nothing packed under " << layout;
    ASSERT_NE(kept, nullptr) << name;
    EXPECT_EQ(kept.use_count(), 4) << name;  // the store, one kernel per session, and `kept`
  }
  s2.reset();
  for (const auto& [name, layout] : packed) {
    auto kept = store->Derived(g.FindValue(name), layout, [] { return std::shared_ptr<const void>(); });
    ASSERT_NE(kept, nullptr) << name;
    EXPECT_EQ(kept.use_count(), 3) << name;  // the second session's kernel let go
  }
}

}  // namespace
}  // namespace ferry::cpu
