// Shape and indexing operators: forward values against hand-computed PyTorch results, view
// semantics (shared storage, strides), gradients on small exact examples in float32 and
// float64, strided inputs, error messages, and no graph under NoGradGuard.
#include <gtest/gtest.h>

#include <string>

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/shape.h"

namespace harnet {
namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// [[0, 1, 2], [3, 4, 5]] etc.: arange over a shape.
Tensor iota(const Shape& shape, DType dtype = kFloat64) {
  return reshape(arange(0.0, static_cast<double>(shape_numel(shape)), 1.0, dtype), shape);
}

Tensor grad_leaf(const Shape& shape, DType dtype = kFloat64) {
  Tensor t = iota(shape, dtype);
  t.set_requires_grad(true);
  return t;
}

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

// ---------------------------------------------------------------- view / reshape / flatten

TEST(View, SharesStorageAndInfersMinusOne) {
  Tensor x = iota({2, 3, 4});
  Tensor v = view(x, {-1, 4});
  EXPECT_EQ(v.shape(), (Shape{6, 4}));
  EXPECT_EQ(v.strides(), (Shape{4, 1}));
  EXPECT_EQ(v.storage(), x.storage());
  EXPECT_EQ(values(v), values(x));
  EXPECT_EQ(view(x, {4, -1, 2}).shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(view(iota({1}), {}).shape(), Shape{});
  EXPECT_EQ(view(scalar_tensor(3.0), {1, 1, 1}).shape(), (Shape{1, 1, 1}));
}

TEST(View, OfATransposeSplitsAStridedDimension) {
  // transpose([4, 3]) is [3, 4] with strides [1, 3]; its last dimension can be split.
  Tensor t = transpose(iota({4, 3}), 0, 1);
  Tensor v = view(t, {3, 2, 2});
  EXPECT_EQ(v.strides(), (Shape{1, 6, 3}));
  EXPECT_EQ(v.storage(), t.storage());
  EXPECT_EQ(values(v), values(t));
}

TEST(View, NonViewableGeometryIsAnErrorSuggestingReshape) {
  Tensor t = transpose(iota({2, 3}), 0, 1);
  expect_error([&] { view(t, {6}); }, {"view", "[6]", "[3, 2]", "reshape"});
}

TEST(View, BadShapesAreErrors) {
  Tensor x = iota({2, 3});
  expect_error([&] { view(x, {4, -1}); }, {"view", "[4, -1]", "[2, 3]"});
  expect_error([&] { view(x, {-1, -1}); }, {"view", "only one dimension", "[-1, -1]"});
  expect_error([&] { view(x, {7}); }, {"view", "[7]", "6 elements"});
  expect_error([&] { view(x, {-2, -3}); }, {"view", "invalid size -2"});
  expect_error([&] { reshape(zeros({0, 3}), {0, -1}); }, {"reshape", "[0, -1]"});
}

TEST(Reshape, ViewsWhenPossibleCopiesOtherwise) {
  Tensor x = iota({2, 3});
  Tensor v = reshape(x, {3, 2});
  EXPECT_EQ(v.storage(), x.storage());
  Tensor t = transpose(x, 0, 1);  // [[0, 3], [1, 4], [2, 5]]
  Tensor c = reshape(t, {6});
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(values(c), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Reshape, GradientOfTheCopyPathInFloat32) {
  Tensor x = grad_leaf({2, 3}, kFloat32);
  Tensor y = reshape(transpose(x, 0, 1), {6});
  y.backward(from_vector<float>({10, 20, 30, 40, 50, 60}, {6}));
  // y[k] = x^T flattened: y = [x00, x10, x01, x11, x02, x12].
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{10, 30, 50, 20, 40, 60}));
}

TEST(Flatten, MergesTheRange) {
  Tensor x = iota({2, 3, 4, 5});
  EXPECT_EQ(flatten(x).shape(), (Shape{120}));
  EXPECT_EQ(flatten(x, 1, 2).shape(), (Shape{2, 12, 5}));
  EXPECT_EQ(flatten(x, -2).shape(), (Shape{2, 3, 20}));
  EXPECT_EQ(flatten(scalar_tensor(2.0)).shape(), (Shape{1}));
  // start == end returns x itself, as in PyTorch.
  EXPECT_EQ(flatten(x, 1, 1).impl(), x.impl());
  expect_error([&] { flatten(x, 2, 1); }, {"flatten", "start_dim 2", "end_dim 1"});
  expect_error([&] { flatten(x, 0, 4); }, {"flatten", "dimension 4 out of range"});
}

// ---------------------------------------------------------------- squeeze / unsqueeze

TEST(Squeeze, RemovesOnlySizeOneDims) {
  Tensor x = iota({3, 1, 4});
  EXPECT_EQ(squeeze(x, 1).shape(), (Shape{3, 4}));
  EXPECT_EQ(squeeze(x, -2).shape(), (Shape{3, 4}));
  EXPECT_EQ(squeeze(x, 0).shape(), (Shape{3, 1, 4}));  // size 3: unchanged, as in PyTorch
  EXPECT_EQ(squeeze(x, 1).storage(), x.storage());
  EXPECT_EQ(squeeze(scalar_tensor(1.0), 0).shape(), Shape{});
  expect_error([&] { squeeze(x, 3); }, {"squeeze", "dimension 3", "3 dimensions"});
}

TEST(Unsqueeze, InsertsADimAnywhere) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(unsqueeze(x, 0).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(unsqueeze(x, 2).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(unsqueeze(x, -1).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(unsqueeze(x, -3).shape(), (Shape{1, 3, 4}));
  EXPECT_TRUE(unsqueeze(x, 1).is_contiguous());
  EXPECT_EQ(unsqueeze(scalar_tensor(1.0), 0).shape(), (Shape{1}));
  expect_error([&] { unsqueeze(x, 3); }, {"unsqueeze", "dimension 3"});
  expect_error([&] { unsqueeze(x, -4); }, {"unsqueeze", "dimension -4"});
}

// ---------------------------------------------------------------- transpose / permute

TEST(Transpose, SwapsDimsAsAView) {
  Tensor x = iota({2, 3});
  Tensor t = transpose(x, 0, -1);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.strides(), (Shape{1, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(values(t), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  expect_error([&] { transpose(x, 0, 2); }, {"transpose", "dimension 2"});
}

TEST(Permute, ReordersDimsAndChecksThePermutation) {
  Tensor x = iota({2, 3, 4});
  Tensor p = permute(x, {2, 0, -2});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  // p[i][j][k] = x[j][k][i] = 12 j + 4 k + i
  std::vector<double> v = values(p);
  EXPECT_EQ(v[0 * 6 + 1 * 3 + 2], 12 * 1 + 4 * 2 + 0);
  EXPECT_EQ(v[3 * 6 + 0 * 3 + 1], 12 * 0 + 4 * 1 + 3);
  expect_error([&] { permute(x, {0, 1}); }, {"permute", "[0, 1]", "[2, 3, 4]"});
  expect_error([&] { permute(x, {0, 1, -3}); }, {"permute", "not a permutation", "[0, 1, -3]"});
  expect_error([&] { permute(x, {0, 1, 3}); }, {"permute", "dimension 3"});
}

TEST(Permute, GradientIsPermutedBack) {
  Tensor x = grad_leaf({2, 3, 4});
  Tensor p = permute(x, {1, 2, 0});  // [3, 4, 2]
  p.backward(permute(iota({2, 3, 4}), {1, 2, 0}).detach());
  EXPECT_EQ(values(x.grad()), values(iota({2, 3, 4})));
}

// ---------------------------------------------------------------- expand

TEST(Expand, BroadcastsWithStrideZero) {
  Tensor x = from_vector<double>({1, 2, 3}, {3, 1});
  Tensor e = expand(x, {2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.storage(), x.storage());
  std::vector<double> v = values(e);
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[4], 2);
  EXPECT_EQ(v[12 + 11], 3);
  EXPECT_EQ(expand(x, {-1, 5}).shape(), (Shape{3, 5}));
  EXPECT_EQ(expand(scalar_tensor(7.0), {2, 2}).to_vector<float>(), (std::vector<float>{7, 7, 7, 7}));
  EXPECT_EQ(expand(x, {3, 0}).numel(), 0);
}

TEST(Expand, InvalidTargetsAreErrors) {
  Tensor x = iota({2, 3});
  expect_error([&] { expand(x, {2, 4}); }, {"expand", "4", "existing size 3", "[2, 4]", "[2, 3]"});
  expect_error([&] { expand(x, {3}); }, {"expand", "[3]", "[2, 3]"});
  expect_error([&] { expand(x, {-1, 2, 3}); }, {"expand", "-1", "leading"});
}

TEST(Expand, GradientSumsTheBroadcastDims) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = grad_leaf({2, 1}, dtype);
    Tensor e = expand(x, {3, 2, 4});
    e.backward(iota({3, 2, 4}, dtype));
    // grad[i] = sum over a < 3, c < 4 of (8 a + 4 i + c) = 4 (0 + 8 + 16) + 12 (4 i) + 3 (0 + 1 + 2 + 3)
    EXPECT_EQ(x.grad().dtype(), dtype);
    EXPECT_EQ(values(x.grad()), (std::vector<double>{96 + 18, 96 + 48 + 18}));
  }
}

TEST(Expand, LargeGradientIsBitIdenticalForAnyThreadCount) {
  // 200000 elements summed into one: several parallel_reduce chunks.
  Generator gen(3);
  Tensor g = rand({200000}, gen, kFloat32);
  const int saved = get_num_threads();
  std::vector<float> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor x = ones({1}, kFloat32);
    x.set_requires_grad(true);
    expand(x, {200000}).backward(g);
    results.push_back(x.grad().to_vector<float>()[0]);
  }
  set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  double reference = 0;
  for (float v : g.to_vector<float>()) reference += v;
  EXPECT_NEAR(results[0], reference, 1e-6 * reference);
}

// ---------------------------------------------------------------- contiguous / clone / to

TEST(Contiguous, ReturnsItselfOrACopy) {
  Tensor x = iota({2, 3});
  EXPECT_EQ(contiguous(x).impl(), x.impl());
  Tensor t = transpose(x, 0, 1);
  Tensor c = contiguous(t);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(values(c), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // A size-1 transpose is still contiguous: no copy.
  Tensor row = iota({1, 3});
  EXPECT_EQ(contiguous(transpose(unsqueeze(row, 0), 0, 1)).storage(), row.storage());
}

TEST(Clone, AlwaysCopies) {
  Tensor x = iota({2, 2}, kInt64);
  Tensor c = clone(x);
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(c.dtype(), kInt64);
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  Tensor leaf = grad_leaf({2}, kFloat32);
  Tensor y = clone(leaf);
  y.backward(from_vector<float>({5, 6}, {2}));
  EXPECT_EQ(leaf.grad().to_vector<float>(), (std::vector<float>{5, 6}));
}

TEST(To, ConvertsAndIsDifferentiableBetweenFloats) {
  Tensor x = from_vector<float>({1.5f, -2.25f, 0.0f}, {3});
  EXPECT_EQ(to(x, kFloat32).impl(), x.impl());
  Tensor d = to(x, kFloat64);
  EXPECT_EQ(d.dtype(), kFloat64);
  EXPECT_EQ(values(d), (std::vector<double>{1.5, -2.25, 0.0}));
  Tensor i = to(x, kInt64);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 0}));  // truncation, as in PyTorch
  EXPECT_EQ(to(x, kBool).to_vector<bool>(), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(to(to(transpose(iota({2, 2}, kInt64), 0, 1), kFloat32), kFloat64).to_vector<double>(),
            (std::vector<double>{0, 2, 1, 3}));

  Tensor leaf = grad_leaf({3}, kFloat32);
  Tensor y = to(leaf, kFloat64);
  EXPECT_EQ(y.grad_fn()->name(), "to");
  y.backward(from_vector<double>({0.5, 1.0 / 3.0, 2.0}, {3}));
  EXPECT_EQ(leaf.grad().dtype(), kFloat32);
  EXPECT_EQ(leaf.grad().to_vector<float>(), (std::vector<float>{0.5f, 1.0f / 3.0f, 2.0f}));

  // To an integer dtype: no gradient, as in PyTorch.
  Tensor n = to(leaf, kInt64);
  EXPECT_FALSE(n.requires_grad());
  EXPECT_EQ(n.grad_fn(), nullptr);
}

// ---------------------------------------------------------------- cat / stack

TEST(Cat, JoinsAlongAnyDim) {
  Tensor a = iota({2, 2});
  Tensor b = from_vector<double>({10, 11, 12, 13, 14, 15}, {2, 3});
  Tensor c = cat({a, b}, -1);
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(values(c), (std::vector<double>{0, 1, 10, 11, 12, 2, 3, 13, 14, 15}));
  Tensor r = cat({a, transpose(a, 0, 1)}, 0);
  EXPECT_EQ(values(r), (std::vector<double>{0, 1, 2, 3, 0, 2, 1, 3}));
  // 1-d empty tensors are skipped whatever their shape disagreement.
  Tensor s = cat({zeros({0}, kFloat64), a, zeros({0}, kFloat64)}, 1);
  EXPECT_EQ(values(s), values(a));
  EXPECT_EQ(cat({zeros({0}), zeros({0})}).shape(), (Shape{0}));
  EXPECT_EQ(cat({iota({2}, kInt64), iota({1}, kInt64)}).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0}));
}

TEST(Cat, ErrorsNameTheTensors) {
  Tensor a = iota({2, 2});
  expect_error([&] { cat({a, iota({3, 3})}, 0); }, {"cat", "dimension 0", "[2, 2]", "[3, 3]"});
  expect_error([&] { cat({a, iota({2, 2}, kFloat32)}, 0); }, {"cat", "float64", "float32", "position 1"});
  expect_error([&] { cat({a, scalar_tensor(1.0, kFloat64)}, 0); }, {"cat", "zero-dimensional", "position 1"});
  expect_error([&] { cat({}, 0); }, {"cat", "non-empty"});
  expect_error([&] { cat({a, a}, 2); }, {"cat", "dimension 2"});
  expect_error([&] { cat({a, iota({2, 2, 1})}, 0); }, {"cat", "[2, 2, 1]"});
}

TEST(Cat, GradientGoesBackToEachInput) {
  Tensor a = grad_leaf({2, 1}, kFloat32);
  Tensor b = grad_leaf({2, 2}, kFloat32);
  Tensor y = cat({a, b, a}, 1);  // [2, 4]
  y.backward(iota({2, 4}, kFloat32));
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{0 + 3, 4 + 7}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{1, 2, 5, 6}));
}

TEST(Stack, AddsADim) {
  Tensor a = iota({2, 3});
  Tensor b = from_vector<double>({10, 11, 12, 13, 14, 15}, {2, 3});
  EXPECT_EQ(stack({a, b}).shape(), (Shape{2, 2, 3}));
  Tensor s = stack({a, b}, -1);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values(s), (std::vector<double>{0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15}));
  EXPECT_EQ(values(stack({a, b}, 1)), (std::vector<double>{0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15}));
  EXPECT_EQ(values(stack({scalar_tensor(1.0, kFloat64), scalar_tensor(2.0, kFloat64)})),
            (std::vector<double>{1, 2}));
  expect_error([&] { stack({a, iota({3, 2})}); }, {"stack", "[2, 3]", "[3, 2]", "entry 1"});
  expect_error([&] { stack({a, b}, 3); }, {"stack", "dimension 3"});
  expect_error([&] { stack({a, iota({2, 3}, kInt64)}); }, {"stack", "float64", "int64"});
}

TEST(Stack, GradientSelectsEachSlice) {
  Tensor a = grad_leaf({2});
  Tensor b = grad_leaf({2});
  stack({a, b}, 1).backward(from_vector<double>({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(values(a.grad()), (std::vector<double>{1, 3}));
  EXPECT_EQ(values(b.grad()), (std::vector<double>{2, 4}));
}

// ---------------------------------------------------------------- split / chunk

TEST(Split, BySizeAndBySizes) {
  Tensor x = iota({7, 2});
  std::vector<Tensor> pieces = split(x, 3);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(pieces[2].shape(), (Shape{1, 2}));
  EXPECT_EQ(values(pieces[2]), (std::vector<double>{12, 13}));
  EXPECT_EQ(pieces[1].storage(), x.storage());
  EXPECT_EQ(split(x, 10).size(), 1u);

  std::vector<Tensor> cols = split(x, std::vector<int64_t>{1, 1}, -1);
  EXPECT_EQ(values(cols[1]), (std::vector<double>{1, 3, 5, 7, 9, 11, 13}));
  expect_error([&] { split(x, std::vector<int64_t>{3, 3}, 0); }, {"split", "[3, 3]", "sum", "7", "[7, 2]"});
  expect_error([&] { split(x, 0); }, {"split", "split_size"});
  expect_error([&] { split(scalar_tensor(1.0), 1); }, {"split", "0-d"});
}

TEST(Split, GradientOfUnusedPiecesIsZero) {
  Tensor x = grad_leaf({5}, kFloat32);
  std::vector<Tensor> pieces = split(x, 2);
  pieces[1].backward(from_vector<float>({7, 8}, {2}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 0, 7, 8, 0}));
}

TEST(Chunk, FollowsPyTorchPieceCounts) {
  auto sizes = [](const std::vector<Tensor>& pieces) {
    Shape s;
    for (const Tensor& p : pieces) s.push_back(p.shape()[0]);
    return s;
  };
  EXPECT_EQ(sizes(chunk(iota({6}), 4)), (Shape{2, 2, 2}));
  EXPECT_EQ(sizes(chunk(iota({5}), 2)), (Shape{3, 2}));
  EXPECT_EQ(sizes(chunk(iota({2}), 5)), (Shape{1, 1}));
  EXPECT_EQ(sizes(chunk(zeros({0}), 3)), (Shape{0, 0, 0}));
  EXPECT_EQ(chunk(iota({2, 6}), 3, -1)[2].shape(), (Shape{2, 2}));
  expect_error([&] { chunk(iota({4}), 0); }, {"chunk", "chunks must be positive"});
}

// ---------------------------------------------------------------- narrow / slice

TEST(Narrow, TakesAWindow) {
  Tensor x = iota({3, 4});
  Tensor n = narrow(x, 1, 1, 2);
  EXPECT_EQ(n.storage(), x.storage());
  EXPECT_EQ(values(n), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(values(narrow(x, 0, -1, 1)), (std::vector<double>{8, 9, 10, 11}));
  EXPECT_EQ(narrow(x, 0, 3, 0).numel(), 0);
  expect_error([&] { narrow(x, 1, 3, 2); }, {"narrow", "start (3) + length (2)", "4", "[3, 4]"});
  expect_error([&] { narrow(x, 1, 5, 0); }, {"narrow", "start 5"});
  expect_error([&] { narrow(x, 2, 0, 1); }, {"narrow", "dimension 2"});
}

TEST(Narrow, GradientFillsTheWindowOfStridedInput) {
  Tensor x = grad_leaf({4, 3});
  Tensor n = narrow(transpose(x, 0, 1), 1, 1, 2);  // [3, 2]: x[1:3, :]^T
  n.backward(from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 0, 1, 3, 5, 2, 4, 6, 0, 0, 0}));
}

TEST(Slice, FollowsPythonSlicing) {
  Tensor x = iota({10});
  EXPECT_EQ(values(slice(x, 0, -3, 100)), (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(values(slice(x, 0, 2, 8, 3)), (std::vector<double>{2, 5}));
  EXPECT_EQ(values(slice(x, 0, -100, 3)), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(values(slice(x, 0, 1, -1, 4)), (std::vector<double>{1, 5}));
  EXPECT_EQ(slice(x, 0, 5, 2).numel(), 0);
  EXPECT_EQ(slice(x, 0, 20, 30).numel(), 0);
  Tensor m = iota({3, 4});
  Tensor s = slice(m, -1, 0, 4, 2);
  EXPECT_EQ(s.storage(), m.storage());
  EXPECT_EQ(s.strides(), (Shape{4, 2}));
  EXPECT_EQ(values(s), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  expect_error([&] { slice(x, 0, 0, 5, 0); }, {"slice", "step", "0"});
  expect_error([&] { slice(x, 1, 0, 5); }, {"slice", "dimension 1"});
}

TEST(Slice, GradientScattersToTheSlicedPositions) {
  Tensor x = grad_leaf({7}, kFloat32);
  slice(x, 0, 1, 6, 2).backward(from_vector<float>({1, 2, 3}, {3}));
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0, 1, 0, 2, 0, 3, 0}));
}

// ---------------------------------------------------------------- index_select

TEST(IndexSelect, SelectsAlongADim) {
  Tensor x = iota({3, 4});
  Tensor idx = from_vector<int64_t>({2, 0, 2}, {3});
  EXPECT_EQ(values(index_select(x, 0, idx)), (std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_EQ(values(index_select(x, -1, idx)), (std::vector<double>{2, 0, 2, 6, 4, 6, 10, 8, 10}));
  // Strided input and an int64 input.
  Tensor t = transpose(iota({4, 3}, kInt64), 0, 1);  // t[i][j] = 3 j + i
  EXPECT_EQ(index_select(t, 1, from_vector<int64_t>({3, 1}, {2})).to_vector<int64_t>(),
            (std::vector<int64_t>{9, 3, 10, 4, 11, 5}));
  EXPECT_EQ(index_select(x, 0, zeros({0}, kInt64)).shape(), (Shape{0, 4}));
}

TEST(IndexSelect, BadIndicesAreErrors) {
  Tensor x = iota({3, 4});
  expect_error([&] { index_select(x, 0, from_vector<int64_t>({0, 5}, {2})); },
               {"index_select", "index 5", "position 1", "size 3", "[3, 4]"});
  expect_error([&] { index_select(x, 1, from_vector<int64_t>({-1}, {1})); }, {"index_select", "index -1"});
  expect_error([&] { index_select(x, 0, from_vector<double>({0}, {1})); }, {"index_select", "int64", "float64"});
  expect_error([&] { index_select(x, 0, zeros({1, 1}, kInt64)); }, {"index_select", "1-d", "[1, 1]"});
  expect_error([&] { index_select(x, 2, zeros({1}, kInt64)); }, {"index_select", "dimension 2"});
}

TEST(IndexSelect, GradientAccumulatesRepeatedIndices) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = grad_leaf({3, 2}, dtype);
    Tensor y = index_select(x, 0, from_vector<int64_t>({2, 0, 2, 2}, {4}));
    y.backward(iota({4, 2}, dtype));
    // row 2 receives rows 0, 2, 3 of the gradient; row 0 receives row 1.
    EXPECT_EQ(values(x.grad()), (std::vector<double>{2, 3, 0, 0, 0 + 4 + 6, 1 + 5 + 7}));
  }
}

TEST(IndexSelect, LargeGradientIsBitIdenticalForAnyThreadCount) {
  Generator gen(5);
  Tensor index = randint(0, 3, {50000}, gen);
  Tensor g = rand({50000, 2}, gen, kFloat32);
  const int saved = get_num_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Tensor x = zeros({3, 2}, kFloat32);
    x.set_requires_grad(true);
    index_select(x, 0, index).backward(g);
    results.push_back(x.grad().to_vector<float>());
  }
  set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
}

// ---------------------------------------------------------------- gather

TEST(Gather, PicksAlongADim) {
  // PyTorch's documented example.
  Tensor t = from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor idx = from_vector<int64_t>({0, 0, 1, 0}, {2, 2});
  EXPECT_EQ(values(gather(t, 1, idx)), (std::vector<double>{1, 1, 4, 3}));
  EXPECT_EQ(values(gather(t, 0, idx)), (std::vector<double>{1, 2, 3, 2}));
  // An index smaller than the input in the other dim, larger along dim, on a strided input.
  Tensor x = transpose(iota({4, 3}), 0, 1);  // x[i][j] = 3 j + i, shape [3, 4]
  Tensor small = from_vector<int64_t>({3, 3, 0, 1, 2, 0}, {2, 3});
  EXPECT_EQ(values(gather(x, 1, small)), (std::vector<double>{9, 9, 0, 4, 7, 1}));
}

TEST(Gather, BadIndicesAreErrors) {
  Tensor x = iota({2, 3});
  expect_error([&] { gather(x, 1, zeros({2}, kInt64)); }, {"gather", "[2]", "[2, 3]", "dimensions"});
  expect_error([&] { gather(x, 1, zeros({3, 1}, kInt64)); }, {"gather", "[3, 1]", "[2, 3]", "dimension 0"});
  expect_error([&] { gather(x, 0, from_vector<int64_t>({0, 2}, {1, 2})); },
               {"gather", "index 2", "position 1", "size 2"});
  expect_error([&] { gather(x, 0, zeros({1, 1}, kFloat32)); }, {"gather", "int64", "float32"});
}

TEST(Gather, GradientIsAScatterAdd) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = grad_leaf({2, 3}, dtype);
    Tensor idx = from_vector<int64_t>({2, 2, 0, 1, 1, 1}, {2, 3});
    gather(x, 1, idx).backward(from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).cast(dtype));
    EXPECT_EQ(values(x.grad()), (std::vector<double>{3, 0, 3, 0, 15, 0}));
  }
}

// ---------------------------------------------------------------- large strided kernels

TEST(ShapeKernels, LargeStridedCopiesMatchTheLogicalOrder) {
  // Big enough for several parallel chunks, so chunks start in the middle of rows.
  Generator gen(1);
  Tensor x = rand({37, 41, 67}, gen, kFloat32);
  const int saved = get_num_threads();
  set_num_threads(2);
  for (const Tensor& v : {permute(x, {2, 0, 1}), transpose(x, 0, 1), slice(permute(x, {1, 2, 0}), 1, 3, 60, 2),
                          expand(narrow(x, 2, 5, 1), {2, 37, 41, 3})}) {
    Tensor c = contiguous(v);
    ASSERT_TRUE(c.is_contiguous());
    EXPECT_EQ(c.to_vector<float>(), v.to_vector<float>()) << shape_str(v.shape());
    EXPECT_EQ(to(v, kFloat64).to_vector<double>(), v.to_vector<double>());
  }
  // index_select and gather on a strided input against element-by-element indexing.
  Tensor p = permute(x, {2, 0, 1});  // [67, 37, 41]
  std::vector<float> pv = p.to_vector<float>();
  Tensor idx = randint(0, 37, {500}, gen);
  std::vector<int64_t> iv = idx.to_vector<int64_t>();
  std::vector<float> sel = index_select(p, 1, idx).to_vector<float>();  // [67, 500, 41]
  bool all_equal = true;
  for (size_t a = 0; a < 67; ++a)
    for (size_t i = 0; i < 500; ++i)
      for (size_t c = 0; c < 41; ++c)
        all_equal &= sel[(a * 500 + i) * 41 + c] == pv[(a * 37 + static_cast<size_t>(iv[i])) * 41 + c];
  EXPECT_TRUE(all_equal);
  Tensor gidx = randint(0, 41, {67, 37, 30}, gen);
  std::vector<int64_t> gv = gidx.to_vector<int64_t>();
  std::vector<float> gathered = gather(p, -1, gidx).to_vector<float>();
  all_equal = true;
  for (size_t k = 0; k < gathered.size(); ++k) {
    const size_t row = k / 30;  // (a, b) pair
    all_equal &= gathered[k] == pv[row * 41 + static_cast<size_t>(gv[k])];
  }
  EXPECT_TRUE(all_equal);
  set_num_threads(saved);
}

// ---------------------------------------------------------------- autograd integration

TEST(ShapeAutograd, NoGraphUnderNoGradGuard) {
  Tensor x = grad_leaf({2, 3});
  NoGradGuard guard;
  std::vector<Tensor> outs = {view(x, {3, 2}), reshape(transpose(x, 0, 1), {6}), expand(unsqueeze(x, 0), {2, 2, 3}),
                              clone(x), to(x, kFloat32), cat({x, x}), stack({x, x}), narrow(x, 0, 0, 1),
                              slice(x, 1, 0, 3, 2), index_select(x, 0, zeros({1}, kInt64)),
                              gather(x, 0, zeros({1, 3}, kInt64)), contiguous(transpose(x, 0, 1))};
  for (const Tensor& t : split(x, 1)) outs.push_back(t);
  for (const Tensor& t : outs) {
    EXPECT_FALSE(t.requires_grad());
    EXPECT_EQ(t.grad_fn(), nullptr);
  }
}

TEST(ShapeAutograd, ViewsRecordTheirName) {
  Tensor x = grad_leaf({2, 3});
  EXPECT_EQ(view(x, {6}).grad_fn()->name(), "view");
  EXPECT_EQ(transpose(x, 0, 1).grad_fn()->name(), "transpose");
  EXPECT_EQ(split(x, 1)[1].grad_fn()->name(), "split");
  EXPECT_EQ(split(x, 1)[1].output_nr(), 1u);
  EXPECT_EQ(chunk(x, 2)[0].grad_fn()->name(), "chunk");
  // Int64 tensors never record.
  EXPECT_EQ(view(iota({2, 3}, kInt64), {6}).grad_fn(), nullptr);
}

TEST(ShapeAutograd, ChainOfViewsWithAStridedGradOutput) {
  Tensor x = grad_leaf({2, 3});
  Tensor y = squeeze(unsqueeze(flatten(transpose(x, 0, 1)), 0), 0);  // [6] = x^T flattened
  // grad_output itself a non-contiguous view.
  Tensor g = slice(iota({12}), 0, 0, 12, 2);  // [0, 2, 4, 6, 8, 10]
  y.backward(g);
  // y = [x00, x10, x01, x11, x02, x12]
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 4, 8, 2, 6, 10}));
}

}  // namespace
}  // namespace harnet
