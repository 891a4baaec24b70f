// The tensor core: factories, the generator, casts and copies, contiguity, raw views,
// element access, printing, dimension wrapping and the determinism of parallel_reduce.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"

namespace harnet {
namespace {

// Runs f, expects a harnet::Error whose message contains every part.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a harnet::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "message \"" << message << "\" lacks \"" << part << "\"";
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---------------------------------------------------------------- factories

TEST(Factories, ZerosOnesFull) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), kFloat32);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(ones({3}, kInt64).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(full({2}, 2.5, kFloat64).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(full({2}, 3.0, kBool).to_vector<bool>(), (std::vector<bool>{true, true}));
  EXPECT_EQ(zeros_like(full({4}, 1.0, kInt64)).dtype(), kInt64);
  EXPECT_EQ(ones_like(zeros({2, 2}, kFloat64)).to_vector<double>(), std::vector<double>(4, 1.0));
  Tensor s = scalar_tensor(4.5, kFloat64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 4.5);
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
  expect_error([] { zeros({2, -1}); }, {"negative dimension", "[2, -1]"});
}

TEST(Factories, ArangeWithFloatAndNegativeSteps) {
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(5).dtype(), kInt64);
  EXPECT_EQ(arange(0.0, 1.0, 0.25, kFloat64).to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(arange(5.0, 0.0, -1.5, kFloat64).to_vector<double>(), (std::vector<double>{5, 3.5, 2, 0.5}));
  EXPECT_EQ(arange(3.0, -1.0, -1.0, kInt64).to_vector<int64_t>(), (std::vector<int64_t>{3, 2, 1, 0}));
  // ceil((end - start) / step) elements, as torch.arange: 0.3 / 0.1 rounds up to 3.
  EXPECT_EQ(arange(0.0, 0.3, 0.1, kFloat64).numel(), 3);
  EXPECT_EQ(arange(1.0, 1.0).numel(), 0);
  EXPECT_EQ(arange(2.0, 1.0, 1.0).numel(), 0);  // wrong direction: empty
  expect_error([] { arange(0.0, 1.0, 0.0); }, {"arange", "step"});
  expect_error([] { arange(0.0, INFINITY, 1.0); }, {"arange", "non-finite"});
}

TEST(Factories, FromVectorAndTensor) {
  Tensor t = from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.dtype(), kInt64);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(from_vector<double>({0.5, -1.5}, {2}, kFloat32).to_vector<float>(), (std::vector<float>{0.5f, -1.5f}));
  Tensor u = tensor({1.0, 0.0, -2.0}, kBool);
  EXPECT_EQ(u.to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(tensor({1.5, 2.5}).dtype(), kFloat32);
  expect_error([] { from_vector<float>({1, 2, 3}, {2, 2}); }, {"from_vector", "3 values", "[2, 2]"});
}

// ---------------------------------------------------------------- random

TEST(Random, SameSeedSameValuesDifferentSeedsDiffer) {
  // Each factory draws 50 values from generators seeded 42, 42 and 43.
  auto draws = [](uint64_t seed) {
    Generator gen(seed);
    std::vector<double> all = rand({50}, gen).to_vector<double>();
    for (double v : randn({50}, gen, kFloat64).to_vector<double>()) all.push_back(v);
    for (double v : randint(0, 1000, {50}, gen).to_vector<double>()) all.push_back(v);
    return all;
  };
  const std::vector<double> a = draws(42), b = draws(42), c = draws(43);
  EXPECT_EQ(a, b);
  for (size_t part = 0; part < 3; ++part) {
    const auto begin = static_cast<long>(part * 50);
    EXPECT_FALSE(std::equal(a.begin() + begin, a.begin() + begin + 50, c.begin() + begin)) << "part " << part;
  }
}

TEST(Random, RangesAreRespected) {
  Generator gen(7);
  for (double v : rand({1000}, gen, kFloat64, -2.0, 3.0).to_vector<double>()) {
    EXPECT_GE(v, -2.0);
    EXPECT_LT(v, 3.0);
  }
  std::vector<int64_t> ints = randint(-3, 4, {2000}, gen).to_vector<int64_t>();
  std::vector<int> counts(7, 0);
  for (int64_t v : ints) {
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    ++counts[static_cast<size_t>(v + 3)];
  }
  for (int count : counts) EXPECT_GT(count, 200);  // ~286 each: every value occurs
  expect_error([&] { randint(3, 3, {2}, gen); }, {"randint", "[3, 3)"});
  expect_error([&] { rand({2}, gen, kInt64); }, {"rand", "int64"});
}

TEST(Random, RandnMeanAndStdAreRoughlyRight) {
  Generator gen(11);
  for (auto [mean, std] : {std::pair{0.0, 1.0}, std::pair{2.0, 3.0}}) {
    std::vector<double> v = randn({10000}, gen, kFloat64, mean, std).to_vector<double>();
    double sum = 0, sum_sq = 0;
    for (double x : v) sum += x;
    const double m = sum / static_cast<double>(v.size());
    for (double x : v) sum_sq += (x - m) * (x - m);
    const double s = std::sqrt(sum_sq / static_cast<double>(v.size() - 1));
    // Standard error of the mean is std / 100; of the std about std / 141.
    EXPECT_NEAR(m, mean, 0.05 * std);
    EXPECT_NEAR(s, std, 0.05 * std);
  }
}

TEST(Random, GeneratorStateRoundTripReproducesTheStream) {
  Generator gen(2024);
  gen.normal();  // leaves a spare normal pending: it must be part of the state
  const std::string state = gen.state();
  std::vector<double> first;
  for (int i = 0; i < 5; ++i) {
    first.push_back(gen.normal());
    first.push_back(gen.uniform());
    first.push_back(static_cast<double>(gen.integer(0, 100)));
  }
  Generator other(1);
  other.set_state(state);
  gen.set_state(state);
  for (Generator* g : {&gen, &other}) {
    std::vector<double> again;
    for (int i = 0; i < 5; ++i) {
      again.push_back(g->normal());
      again.push_back(g->uniform());
      again.push_back(static_cast<double>(g->integer(0, 100)));
    }
    EXPECT_EQ(again, first);
  }
  EXPECT_EQ(other.initial_seed(), 2024u);
  expect_error([&] { other.set_state("not a state"); }, {"set_state", "malformed"});
}

TEST(Random, ManualSeedRestarts) {
  Generator gen(5);
  std::vector<float> a = randn({9}, gen).to_vector<float>();  // odd count: a spare is left
  gen.manual_seed(5);
  EXPECT_EQ(randn({9}, gen).to_vector<float>(), a);
}

// ---------------------------------------------------------------- casts and copies

TEST(Cast, BetweenAllDtypes) {
  const std::vector<double> source = {0.0, 1.0, -2.75, 3.5};
  // Expected values, as doubles, of the source converted to each dtype.
  const std::vector<std::pair<DType, std::vector<double>>> converted = {
      {kFloat32, {0.0, 1.0, -2.75, 3.5}},
      {kFloat64, {0.0, 1.0, -2.75, 3.5}},
      {kInt64, {0.0, 1.0, -2.0, 3.0}},  // truncation toward zero
      {kBool, {0.0, 1.0, 1.0, 1.0}},    // nonzero is true
  };
  for (const auto& [from, from_values] : converted) {
    Tensor src = from_vector<double>(source, {4}, from);
    EXPECT_EQ(src.to_vector<double>(), from_values) << dtype_name(from);
    for (const auto& [to_dtype, unused] : converted) {
      Tensor dst = src.cast(to_dtype);
      EXPECT_EQ(dst.dtype(), to_dtype);
      EXPECT_NE(dst.storage(), src.storage());
      std::vector<double> expected;
      for (double v : from_values) {
        if (to_dtype == kInt64) expected.push_back(std::trunc(v));
        else if (to_dtype == kBool) expected.push_back(v != 0.0 ? 1.0 : 0.0);
        else expected.push_back(v);
      }
      EXPECT_EQ(dst.to_vector<double>(), expected) << dtype_name(from) << " -> " << dtype_name(to_dtype);
    }
  }
}

TEST(Copy, CopyFromStridedSourceIntoStridedDestination) {
  Tensor src = from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor src_t = src.as_strided({3, 2}, {1, 3}, 0);  // the transpose: [[0, 3], [1, 4], [2, 5]]
  Tensor dst = zeros({3, 4}, kFloat32);
  Tensor window = dst.as_strided({3, 2}, {4, 2}, 1);  // columns 1 and 3
  window.copy_from(src_t);
  EXPECT_EQ(dst.to_vector<float>(), (std::vector<float>{0, 0, 0, 3, 0, 1, 0, 4, 0, 2, 0, 5}));
  expect_error([&] { dst.copy_from(src); }, {"copy_from", "[2, 3]", "[3, 4]"});
  // contiguous_copy of a strided view is contiguous with the logical order.
  Tensor c = src_t.contiguous_copy();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Copy, FillOnAViewTouchesOnlyTheView) {
  Tensor t = zeros({2, 3}, kInt64);
  t.as_strided({2}, {3}, 1).fill_(7);  // column 1
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{0, 7, 0, 0, 7, 0}));
}

// ---------------------------------------------------------------- geometry

TEST(Geometry, ContiguityOfTransposedViewsAndSizeOneDims) {
  Tensor t = zeros({2, 3});
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_FALSE(t.as_strided({3, 2}, {1, 3}, 0).is_contiguous());
  // A size-1 dimension's stride does not matter.
  EXPECT_TRUE(t.as_strided({1, 3}, {100, 1}, 0).is_contiguous());
  EXPECT_TRUE(t.as_strided({3, 1}, {1, 1}, 0).is_contiguous());
  // A transpose of [1, 3] is still laid out row-major.
  Tensor row = zeros({1, 3});
  EXPECT_TRUE(row.as_strided({3, 1}, {1, 3}, 0).is_contiguous());
  // Stride 0 over more than one element is not contiguous.
  EXPECT_FALSE(t.as_strided({2, 3}, {0, 1}, 0).is_contiguous());
  EXPECT_TRUE(scalar_tensor(1.0).is_contiguous());
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Shape{3, 3, 1}));
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({4, 0}), 0);
}

TEST(Geometry, AsStridedIsBoundsChecked) {
  Tensor t = zeros({2, 3});
  Tensor v = t.as_strided({2, 2}, {3, 1}, 1);
  EXPECT_EQ(v.storage(), t.storage());
  EXPECT_EQ(v.offset(), 1);
  expect_error([&] { t.as_strided({2, 3}, {3, 1}, 1); }, {"as_strided", "[2, 3]", "exceeds", "6 elements"});
  expect_error([&] { t.as_strided({7}, {1}, 0); }, {"as_strided", "exceeds"});
  expect_error([&] { t.as_strided({2}, {-1}, 1); }, {"as_strided", "negative"});
  expect_error([&] { t.as_strided({2}, {1, 1}, 0); }, {"as_strided", "differ in length"});
  expect_error([&] { t.as_strided({2}, {1}, -1); }, {"as_strided", "negative offset"});
  EXPECT_EQ(t.as_strided({0, 5}, {5, 1}, 6).numel(), 0);  // an empty view touches nothing
}

TEST(Geometry, SizeAndWrapDim) {
  Tensor t = zeros({2, 3, 4});
  EXPECT_EQ(t.size(0), 2);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.size(-3), 2);
  expect_error([&] { t.size(3); }, {"size", "dimension 3", "3 dimensions"});
  expect_error([] { scalar_tensor(1.0).size(0); }, {"size", "0-d"});
  EXPECT_EQ(wrap_dim(-1, 3, "op"), 2);
  EXPECT_EQ(wrap_dim(2, 3, "op"), 2);
  EXPECT_EQ(wrap_dim(0, 0, "op"), 0);   // a 0-d tensor accepts 0 and -1, as in PyTorch
  EXPECT_EQ(wrap_dim(-1, 0, "op"), 0);
  expect_error([] { wrap_dim(3, 3, "myop"); }, {"myop", "dimension 3", "3 dimensions", "[-3, 2]"});
  expect_error([] { wrap_dim(-4, 3, "myop"); }, {"myop", "dimension -4"});
  expect_error([] { wrap_dim(1, 0, "myop"); }, {"myop", "dimension 1"});
}

// ---------------------------------------------------------------- element access

TEST(Access, ItemAndDataChecks) {
  EXPECT_EQ(full({1, 1}, 3.0, kInt64).item(), 3.0);
  expect_error([] { zeros({2}).item(); }, {"item", "[2]"});
  expect_error([] { zeros({0}).item(); }, {"item", "[0]"});
  Tensor t = zeros({2}, kFloat32);
  EXPECT_NO_THROW(t.data<float>());
  expect_error([&] { t.data<double>(); }, {"data<float64>", "float32"});
  expect_error([&] { t.data<int64_t>(); }, {"data<int64>", "float32"});
  // data<T>() points at element [0, ...] of a view.
  Tensor s = from_vector<double>({1, 2, 3, 4}, {4});
  EXPECT_EQ(*s.as_strided({2}, {1}, 2).data<double>(), 3.0);
  expect_error([] { Tensor().shape(); }, {"undefined"});
}

// ---------------------------------------------------------------- printing

TEST(Printing, ShowsValuesShapeAndDtype) {
  const std::string s = from_vector<double>({1.5, -2, 3, 4, 5, 6}, {2, 3}, kFloat32).to_string();
  EXPECT_TRUE(contains(s, "1.5")) << s;
  EXPECT_TRUE(contains(s, "-2")) << s;
  EXPECT_TRUE(contains(s, "6")) << s;
  EXPECT_TRUE(contains(s, "shape=[2, 3]")) << s;
  EXPECT_TRUE(contains(s, "dtype=float32")) << s;
  EXPECT_FALSE(contains(s, "...")) << s;
  const std::string b = tensor({1, 0}, kBool).to_string();
  EXPECT_TRUE(contains(b, "True") && contains(b, "False") && contains(b, "dtype=bool")) << b;
  EXPECT_TRUE(contains(full({2}, 7.0, kInt64).to_string(), "[7, 7]"));
  EXPECT_TRUE(contains(scalar_tensor(2.5).to_string(), "2.5"));
  EXPECT_TRUE(contains(scalar_tensor(2.5).to_string(), "shape=[]"));
  Tensor leaf = zeros({1}, kFloat64);
  leaf.set_requires_grad(true);
  EXPECT_TRUE(contains(leaf.to_string(), "requires_grad=True"));
  EXPECT_EQ(Tensor().to_string(), "tensor(undefined)");
}

TEST(Printing, SummarisesBigTensors) {
  Tensor big = arange(0.0, 2000.0, 1.0, kFloat64);
  const std::string s = big.to_string();
  EXPECT_TRUE(contains(s, "...")) << s;
  EXPECT_TRUE(contains(s, "1999")) << s;  // the last elements are shown
  EXPECT_TRUE(contains(s, "shape=[2000]")) << s;
  EXPECT_FALSE(contains(s, "1000")) << s;  // the middle is not
  EXPECT_LT(s.size(), 200u);
  std::ostringstream os;
  os << big;
  EXPECT_EQ(os.str(), s);
}

// ---------------------------------------------------------------- parallel

TEST(Parallel, ReduceIsBitIdenticalForAnyThreadCount) {
  const int64_t n = 1000003;
  Generator gen(9);
  Tensor values = rand({n}, gen, kFloat32, -1.0, 1.0);
  const float* p = values.data<float>();
  auto chunk_sum = [p](int64_t b, int64_t e) {
    float s = 0.0f;
    for (int64_t i = b; i < e; ++i) s += p[i];
    return s;
  };
  auto plus = [](float a, float b) { return a + b; };
  // The contract: chunks of kGrainSize summed left to right, whatever the threads.
  float expected = 0.0f;
  for (int64_t b = 0; b < n; b += kGrainSize) expected = expected + chunk_sum(b, std::min(n, b + kGrainSize));

  const int saved = get_num_threads();
  std::vector<float> results;
  for (int threads : {1, 2, 1}) {
    set_num_threads(threads);
    EXPECT_EQ(get_num_threads(), threads);
    results.push_back(parallel_reduce(int64_t{0}, n, kGrainSize, 0.0f, chunk_sum, plus));
  }
  set_num_threads(saved);
  EXPECT_EQ(get_num_threads(), saved);
  for (float r : results) EXPECT_EQ(r, expected);
  EXPECT_EQ(parallel_reduce(int64_t{5}, int64_t{5}, kGrainSize, 1.5f, chunk_sum, plus), 1.5f);
  expect_error([] { set_num_threads(0); }, {"set_num_threads", "0"});
}

TEST(Parallel, ForCoversTheRangeOnce) {
  const int saved = get_num_threads();
  set_num_threads(2);
  std::vector<int> hits(100000, 0);
  parallel_for(0, static_cast<int64_t>(hits.size()), 1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
  });
  set_num_threads(saved);
  for (int h : hits) ASSERT_EQ(h, 1);
}

}  // namespace
}  // namespace harnet
