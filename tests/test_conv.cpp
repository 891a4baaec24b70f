// The convolution family: conv2d / conv1d values on hand-computed examples, the optimised
// forward and all three gradients against the naive references on many geometries (HARNet's
// (1, k) kernels, the Winograd kernels on odd row lengths and channel counts, strides,
// dilations, groups, depthwise, "same" padding, 1x1 kernels, unbatched and strided inputs),
// output shapes, error messages, no-grad mode, gradients only
// for the inputs that need them, and thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/test_util.h"
#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/parallel.h"
#include "ops/conv.h"
#include "ops/winograd.h"

namespace harnet {
namespace {

using harnet::testing::ScopedThreads;
using harnet::testing::expect_error;

Tensor values(const std::vector<double>& v, const Shape& shape, DType dtype = kFloat64) {
  return from_vector(v, shape, dtype);
}

// |a - b| <= tol * (1 + max(|b|, floor)) elementwise, reporting the first few mismatches.
::testing::AssertionResult close(const Tensor& actual, const Tensor& expected, double tol, double floor = 0) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << (actual.defined() ? "expected" : "actual") << " is undefined";
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape()) << " vs "
                                         << shape_str(expected.shape());
  if (actual.dtype() != expected.dtype())
    return ::testing::AssertionFailure() << "dtype " << dtype_name(actual.dtype()) << " vs "
                                         << dtype_name(expected.dtype());
  const std::vector<double> a = actual.to_vector<double>(), b = expected.to_vector<double>();
  int bad = 0;
  auto failure = ::testing::AssertionFailure();
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= tol * (1.0 + std::max(std::fabs(b[i]), floor)))) {
      if (bad < 4) failure << "[" << i << "] " << a[i] << " vs " << b[i] << "; ";
      ++bad;
    }
  }
  if (bad) return failure << bad << " of " << a.size() << " elements differ (tol " << tol << ")";
  return ::testing::AssertionSuccess();
}

// |a - b| <= tol * (1 + max |b|) elementwise: for gradients, whose elements are sums of many
// products. Their float32 rounding follows the size of those products (the scale of the
// whole gradient), not the element's own size, which may be small because its terms cancel;
// Winograd's transforms add terms several times larger than the result (ops/winograd.h).
::testing::AssertionResult close_to_scale(const Tensor& actual, const Tensor& expected, double tol) {
  double scale = 0;
  for (double v : expected.to_vector<double>()) scale = std::max(scale, std::fabs(v));
  return close(actual, expected, tol, scale);
}

// A view with the same logical values whose every stride is doubled (offset 1 into a
// larger buffer): the kernels must see through it.
Tensor strided_copy(const Tensor& t) {
  Shape strides(t.shape().size());
  int64_t stride = 2;
  for (size_t d = strides.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= t.shape()[d];
  }
  Tensor buffer = zeros({2 * t.numel() + 1}, t.dtype());
  Tensor view = buffer.as_strided(t.shape(), strides, 1);
  view.copy_from(t);
  return view;
}

// ---------------------------------------------------------------- hand-computed values

TEST(Conv1d, HandComputedWithPaddingAndBias) {
  for (DType dtype : {kFloat32, kFloat64}) {
    // out[i] = x[i - 1] - x[i + 1] + 0.5, zero-padded by one on each side
    Tensor x = values({1, 2, 3, 4}, {1, 1, 4}, dtype).set_requires_grad(true);
    Tensor w = values({1, 0, -1}, {1, 1, 3}, dtype).set_requires_grad(true);
    Tensor b = values({0.5}, {1}, dtype).set_requires_grad(true);
    Tensor y = conv1d(x, w, b, {.padding = 1});
    EXPECT_EQ(y.shape(), (Shape{1, 1, 4}));
    EXPECT_EQ(y.dtype(), dtype);
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-1.5, -1.5, -1.5, 3.5}));
    y.backward(values({1, 1, 1, 1}, {1, 1, 4}, dtype));
    // grad_x[j] = sum of w[j + 1 - i] over the outputs i that read x[j]
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 0, 0, -1}));
    // grad_w[k] = sum_i x[i - 1 + k]: (0+1+2+3), (1+2+3+4), (2+3+4+0)
    EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{6, 10, 9}));
    EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{4}));
  }
}

TEST(Conv2d, HandComputedTwoByTwoKernel) {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = values({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, dtype).set_requires_grad(true);
    Tensor w = values({1, 1, 1, 1}, {1, 1, 2, 2}, dtype).set_requires_grad(true);
    Tensor b = values({-1}, {1}, dtype).set_requires_grad(true);
    Tensor y = conv2d(x, w, b);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
    EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{11, 15, 23, 27}));
    y.backward(ones({1, 1, 2, 2}, dtype));
    // How many 2x2 windows cover each pixel, and each window's sum.
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2, 1, 2, 4, 2, 1, 2, 1}));
    EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{12, 16, 24, 28}));
    EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{4}));
  }
}

TEST(Conv2d, HandComputedJointAxisKernelTwoChannels) {
  // HARNet's layout: a (1, 3) kernel along the last axis with padding (0, 1). Two input
  // channels, one output channel: out = (x0 shifted right) + 2 * x1 (centre tap).
  Tensor x = values({1, 2, 3, 4, 5, 6, /* channel 1 */ 1, 0, 1, 0, 1, 0}, {1, 2, 2, 3});
  Tensor w = values({1, 0, 0, /* channel 1 */ 0, 2, 0}, {1, 2, 1, 3});
  Tensor y = conv2d(x, w, Tensor(), {.padding = {0, 1}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 3}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0 + 2, 1 + 0, 2 + 2, 0 + 0, 4 + 2, 5 + 0}));
}

TEST(Conv2d, HandComputedStrideDilationGroups) {
  // groups = 2: output channel 0 sees input channel 0 only, channel 1 sees channel 1.
  Tensor x = values({1, 2, 3, 4, 5, /* channel 1 */ 10, 20, 30, 40, 50}, {1, 2, 1, 5});
  Tensor w = values({1, 1, /* out 1 */ 1, -1}, {2, 1, 1, 2});
  // dilation 2: taps at w and w + 2; stride 2: outputs at w = 0, 2
  Tensor y = conv2d(x, w, Tensor(), {.stride = {1, 2}, .dilation = {1, 2}, .groups = 2});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 2}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1 + 3, 3 + 5, 10 - 30, 30 - 50}));
}

TEST(Conv2d, UnbatchedInputKeepsItsRank) {
  Generator gen(1);
  Tensor x = randn({2, 4, 5}, gen, kFloat64).set_requires_grad(true);
  Tensor w = randn({3, 2, 3, 3}, gen, kFloat64);
  Tensor y = conv2d(x, w, Tensor(), {.padding = 1});
  EXPECT_EQ(y.shape(), (Shape{3, 4, 5}));
  Tensor batched = conv2d(x.detach().as_strided({1, 2, 4, 5}, {40, 20, 5, 1}, 0), w, Tensor(), {.padding = 1});
  EXPECT_EQ(y.to_vector<double>(), batched.to_vector<double>());
  y.backward(ones({3, 4, 5}, kFloat64));
  EXPECT_EQ(x.grad().shape(), (Shape{2, 4, 5}));
  Tensor x1 = randn({2, 7}, gen, kFloat64);
  EXPECT_EQ(conv1d(x1, randn({4, 2, 3}, gen, kFloat64)).shape(), (Shape{4, 5}));
}

// ---------------------------------------------------------------- against the references

struct Conv2dCase {
  const char* name;
  Shape input, weight;
  Conv2dOptions options;
  bool bias = true;
};

// Geometries for both im2col loops (stride_w = 1 runs, strided elements), the identity
// (1x1) path, groups, depthwise, "same" with odd totals, and HARNet's (1, k) kernels.
std::vector<Conv2dCase> conv2d_cases() {
  return {
      {"harnet_1x3_pad01", {2, 3, 6, 25}, {8, 3, 1, 3}, {.padding = {0, 1}}},
      {"harnet_1x3_pad01_13joints", {3, 8, 5, 13}, {16, 8, 1, 3}, {.padding = {0, 1}}},
      {"harnet_1x5_pad02_no_bias", {2, 4, 3, 9}, {6, 4, 1, 5}, {.padding = {0, 2}}, false},
      {"rows_same_even_1x4", {2, 3, 4, 5}, {4, 3, 1, 4}, {.padding = "same"}},
      {"rows_dilated_1x3", {2, 2, 3, 7}, {3, 2, 1, 3}, {.padding = {0, 2}, .dilation = {1, 2}}},
      {"rows_kernel_wider_than_row", {1, 2, 2, 2}, {2, 2, 1, 5}, {.padding = {0, 2}}},
      {"rows_one_column", {2, 2, 3, 1}, {2, 2, 1, 3}, {.padding = {0, 1}}},
      {"rows_kernel_1x1_padded_rows", {1, 2, 3, 4}, {2, 2, 1, 3}, {.padding = {1, 1}}},
      {"kernel_3x3_pad1", {2, 3, 7, 6}, {5, 3, 3, 3}, {.padding = 1}},
      {"kernel_3x2_no_padding", {1, 2, 5, 4}, {3, 2, 3, 2}, {}},
      {"stride2", {2, 3, 7, 8}, {4, 3, 3, 3}, {.stride = {2, 2}, .padding = 1}},
      {"stride_2x3_pad_21", {1, 2, 9, 10}, {3, 2, 2, 3}, {.stride = {2, 3}, .padding = {2, 1}}},
      {"dilation_2x3", {2, 2, 8, 9}, {3, 2, 2, 2}, {.padding = {1, 2}, .dilation = {2, 3}}},
      {"stride_dilation_groups", {2, 4, 9, 9}, {6, 2, 3, 2}, {.stride = {2, 1}, .padding = {1, 1}, .dilation = {1, 2}, .groups = 2}},
      {"groups3", {2, 6, 5, 5}, {9, 2, 3, 3}, {.padding = 1, .groups = 3}},
      {"depthwise", {2, 4, 5, 6}, {4, 1, 3, 3}, {.padding = 1, .groups = 4}},
      {"depthwise_multiplier_1x3", {2, 3, 4, 7}, {6, 1, 1, 3}, {.padding = {0, 1}, .groups = 3}},
      {"pointwise_1x1", {3, 5, 4, 6}, {7, 5, 1, 1}, {}},
      {"pointwise_1x1_groups", {2, 6, 3, 3}, {4, 3, 1, 1}, {.groups = 2}},
      {"pointwise_1x1_stride", {2, 3, 5, 5}, {4, 3, 1, 1}, {.stride = {2, 2}}},
      {"pointwise_1x1_padded", {1, 2, 3, 3}, {2, 2, 1, 1}, {.padding = 1}},
      {"same_even_kernel", {2, 3, 6, 7}, {4, 3, 2, 4}, {.padding = "same"}},
      {"same_dilated", {1, 2, 5, 8}, {3, 2, 3, 2}, {.padding = "same", .dilation = {2, 3}}},
      {"valid", {2, 2, 5, 6}, {3, 2, 3, 3}, {.padding = "valid"}},
      {"kernel_as_large_as_padded_input", {2, 2, 3, 3}, {2, 2, 5, 4}, {.padding = {1, 1}}},
      {"padding_larger_than_kernel", {1, 2, 3, 4}, {2, 2, 2, 2}, {.padding = {3, 2}}},
      {"single_output_column", {2, 1, 1, 5}, {2, 1, 1, 5}, {}},
  };
}

template <class T>
void check_against_reference(const Conv2dCase& c, bool strided) {
  const DType dtype = dtype_of<T>();
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  Generator gen(17);
  Tensor x = randn(c.input, gen, dtype), w = randn(c.weight, gen, dtype);
  Tensor b = c.bias ? randn({c.weight[0]}, gen, dtype) : Tensor();
  if (strided) {
    x = strided_copy(x);
    w = strided_copy(w);
    ASSERT_FALSE(x.is_contiguous());
  }
  const Tensor want = conv2d_reference(x, w, b, c.options);

  Tensor xg = x.detach().set_requires_grad(true), wg = w.detach().set_requires_grad(true);
  Tensor bg = c.bias ? b.detach().set_requires_grad(true) : Tensor();
  Tensor y = conv2d(xg, wg, bg, c.options);
  ASSERT_TRUE(close(y, want, tol)) << c.name << " forward";

  const Tensor grad_out = randn(y.shape(), gen, dtype);
  y.backward(grad_out);
  const ConvGradients ref = conv2d_backward_reference(x, w, grad_out, c.bias, c.options);
  EXPECT_TRUE(close_to_scale(xg.grad(), ref.grad_input, tol)) << c.name << " grad_input";
  EXPECT_TRUE(close_to_scale(wg.grad(), ref.grad_weight, tol)) << c.name << " grad_weight";
  if (c.bias) {
    EXPECT_TRUE(close_to_scale(bg.grad(), ref.grad_bias, tol)) << c.name << " grad_bias";
  }
}

TEST(Conv2d, MatchesReferenceDouble) {
  for (const Conv2dCase& c : conv2d_cases()) check_against_reference<double>(c, false);
}
TEST(Conv2d, MatchesReferenceFloat) {
  for (const Conv2dCase& c : conv2d_cases()) check_against_reference<float>(c, false);
}
TEST(Conv2d, StridedOperandsMatchReference) {
  for (const Conv2dCase& c : conv2d_cases()) check_against_reference<double>(c, true);
}

// Batches large enough that the samples run in parallel and the weight gradient is summed
// in several chunks (HARNet-shaped, batch 10).
TEST(Conv2d, MatchesReferenceOnLargerBatches) {
  check_against_reference<float>({"harnet_batch", {10, 16, 12, 25}, {24, 16, 1, 3}, {.padding = {0, 1}}}, false);
  check_against_reference<double>({"batch_groups", {9, 8, 7, 6}, {8, 4, 3, 3}, {.padding = 1, .groups = 2}}, false);
}

// From 16 samples on, each sample's products are whole BLAS calls (gemm_untiled): the same
// checks on batches of 16 and more, HARNet's kernel on odd planes included.
TEST(Conv2d, MatchesReferenceOnBatchesOfWholeProducts) {
  const std::vector<Conv2dCase> cases = {
      {"harnet_13joints", {16, 8, 5, 13}, {12, 8, 1, 3}, {.padding = {0, 1}}},
      {"one_joint", {17, 3, 4, 1}, {5, 3, 1, 3}, {.padding = {0, 1}}},
      {"row_shorter_than_kernel_one_channel", {16, 1, 3, 2}, {4, 1, 1, 3}, {.padding = {0, 1}}, false},
      {"kernel_3x3_groups", {16, 4, 5, 5}, {6, 2, 3, 3}, {.padding = 1, .groups = 2}},
      {"pointwise_1x1", {18, 5, 2, 3}, {4, 5, 1, 1}, {}},
  };
  for (const Conv2dCase& c : cases) {
    check_against_reference<float>(c, false);
    check_against_reference<double>(c, true);
  }
}

// ---------------------------------------------------------------- Winograd F(4, 3)

// The Winograd kernels called directly (any channel count, also below conv2d's threshold)
// against the naive reference: every row length modulo 4 (padded last tiles, a directly
// computed last output, rows of a last output alone), rows of more than 8 tiles, groups of
// rows in whole and partial blocks of 8, one channel, one sample.
template <class T>
void check_winograd_kernels(const Shape& input, int64_t out_channels) {
  const DType dtype = dtype_of<T>();
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  const WinogradConv shape{.batch = input[0], .in_channels = input[1], .out_channels = out_channels,
                           .height = input[2], .width = input[3]};
  const std::string name = shape_str(input) + " -> " + std::to_string(out_channels) + " " + dtype_name(dtype);
  Generator gen(31);
  const Tensor x = randn(input, gen, dtype), w = randn({out_channels, input[1], 1, 3}, gen, dtype);
  const Tensor b = randn({out_channels}, gen, dtype);
  const Conv2dOptions options{.padding = {0, 1}};
  const Tensor want = conv2d_reference(x, w, b, options);
  const Tensor grad_out = randn(want.shape(), gen, dtype);
  const ConvGradients ref = conv2d_backward_reference(x, w, grad_out, true, options);

  Tensor y = empty(want.shape(), dtype), grad_x = empty(input, dtype), grad_w = empty(w.shape(), dtype);
  Tensor grad_b = empty({out_channels}, dtype);
  winograd_conv_forward(shape, x.data<T>(), w.data<T>(), b.data<T>(), y.data<T>());
  winograd_conv_backward(shape, x.data<T>(), w.data<T>(), grad_out.data<T>(), grad_x.data<T>(), grad_w.data<T>(),
                         grad_b.data<T>());
  EXPECT_TRUE(close(y, want, tol)) << name << " forward";
  EXPECT_TRUE(close_to_scale(grad_x, ref.grad_input, tol)) << name << " grad_input";
  EXPECT_TRUE(close_to_scale(grad_w, ref.grad_weight, tol)) << name << " grad_weight";
  EXPECT_TRUE(close_to_scale(grad_b, ref.grad_bias, tol)) << name << " grad_bias";
  // Each gradient alone: the same values.
  Tensor only_x = empty(input, dtype), only_w = empty(w.shape(), dtype);
  T* none = nullptr;
  winograd_conv_backward(shape, x.data<T>(), w.data<T>(), grad_out.data<T>(), only_x.data<T>(), none, none);
  winograd_conv_backward(shape, x.data<T>(), w.data<T>(), grad_out.data<T>(), none, only_w.data<T>(), none);
  EXPECT_EQ(only_x.to_vector<double>(), grad_x.to_vector<double>()) << name;
  EXPECT_EQ(only_w.to_vector<double>(), grad_w.to_vector<double>()) << name;
}

const std::vector<std::pair<Shape, int64_t>> kWinogradShapes = {
    {{2, 3, 4, 1}, 2},    // one joint: the last output alone, both neighbours padding
    {{2, 3, 4, 2}, 5},    // two joints: one tile, half padding
    {{1, 2, 17, 3}, 3},   // three joints: one tile, a quarter padding; 17 rows, 2 blocks and 1
    {{1, 3, 8, 4}, 2},    // four joints: one full tile; one full block of rows
    {{2, 4, 9, 5}, 3},    // five joints: a tile and a last output
    {{2, 3, 11, 6}, 2},   // six joints: a full tile and a half-padded one
    {{3, 4, 5, 13}, 6},   // HARNet's 13 joints: three tiles and a last output
    {{2, 2, 3, 25}, 3},   // 25 joints: six tiles and a last output, four blocks of columns
    {{1, 1, 6, 17}, 4},   // one sample, one input channel, four tiles and a last output
    {{1, 5, 1, 7}, 1},    // one output channel, one row, a quarter-padded tile
    {{2, 3, 3, 32}, 2},   // eight full tiles
    {{1, 2, 20, 41}, 3},  // ten tiles and a last output: six blocks of columns
};

TEST(Conv2dWinograd, KernelsMatchReferenceFloat) {
  for (const auto& [input, out_channels] : kWinogradShapes) check_winograd_kernels<float>(input, out_channels);
}
TEST(Conv2dWinograd, KernelsMatchReferenceDouble) {
  for (const auto& [input, out_channels] : kWinogradShapes) check_winograd_kernels<double>(input, out_channels);
}

// conv2d takes the Winograd path for (1, 3) kernels with padding (0, 1) and 8 or more
// channels on both sides: the same checks through the autograd op, with strided operands
// and batches large enough for whole BLAS calls and several gradient chunks.
TEST(Conv2dWinograd, Conv2dMatchesReference) {
  const std::vector<Conv2dCase> cases = {
      {"one_joint", {2, 8, 3, 1}, {8, 8, 1, 3}, {.padding = {0, 1}}},
      {"two_joints_no_bias", {1, 9, 2, 2}, {8, 9, 1, 3}, {.padding = {0, 1}}, false},
      {"13_joints", {3, 8, 5, 13}, {16, 8, 1, 3}, {.padding = {0, 1}}},
      {"25_joints_batch_18", {18, 8, 3, 25}, {10, 8, 1, 3}, {.padding = {0, 1}}},
      {"conv1d_shaped", {1, 12, 1, 9}, {8, 12, 1, 3}, {.padding = {0, 1}}},
      // A single sample is cut into 4 row groups (2, 2, 2, 1 rows) so its work spreads over threads.
      {"batch_1_seven_rows", {1, 8, 7, 13}, {16, 8, 1, 3}, {.padding = {0, 1}}},
  };
  for (const Conv2dCase& c : cases) {
    check_against_reference<float>(c, false);
    check_against_reference<float>(c, true);
    check_against_reference<double>(c, true);
  }
}

// Winograd's extra float32 rounding stays small at HARNet's widest layer (128 input
// channels, values of unit scale): within 1e-5 of the float64 result relative to its scale.
// Each output is a sum of 384 products, so its rounding follows the scale of the whole output,
// as for the gradients below: an output near zero carries the same absolute error as the
// others (measured: at most 1.7e-5 with OpenBLAS's Haswell kernels, 4.2e-6 with SkylakeX's,
// where the outputs reach 7.2; an output of 0.09 was 1.3e-5 off).
TEST(Conv2dWinograd, Float32RoundingAtHarnetSize) {
  Generator gen(8);
  const Tensor x = randn({2, 128, 4, 13}, gen, kFloat64), w = randn({64, 128, 1, 3}, gen, kFloat64, 0.0, 0.1);
  const Conv2dOptions options{.padding = {0, 1}};
  const Tensor exact = conv2d(x, w, Tensor(), options);
  const Tensor single = conv2d(x.cast(kFloat32), w.cast(kFloat32), Tensor(), options).cast(kFloat64);
  EXPECT_TRUE(close_to_scale(single, exact, 1e-5));
}

// The same for the gradients at HARNet's 64 -> 128 layer (13 joints, 60 frames): the float32
// input and weight gradients stay within 1e-5 of the float64 ones relative to their scale
// (measured: 1.7e-6 and 1.9e-6), although the weight gradient's transformed products are
// up to 15 times larger than the direct ones.
TEST(Conv2dWinograd, Float32GradientRoundingAtHarnetSize) {
  Generator gen(9);
  const Tensor x = randn({4, 64, 60, 13}, gen, kFloat64), w = randn({128, 64, 1, 3}, gen, kFloat64, 0.0, 0.1);
  const Tensor grad_out = randn({4, 128, 60, 13}, gen, kFloat64);
  const Conv2dOptions options{.padding = {0, 1}};
  auto gradients = [&](DType dtype) {
    Tensor xg = x.cast(dtype).set_requires_grad(true), wg = w.cast(dtype).set_requires_grad(true);
    conv2d(xg, wg, Tensor(), options).backward(grad_out.cast(dtype));
    return std::make_pair(xg.grad().cast(kFloat64), wg.grad().cast(kFloat64));
  };
  const auto [exact_x, exact_w] = gradients(kFloat64);
  const auto [single_x, single_w] = gradients(kFloat32);
  EXPECT_TRUE(close_to_scale(single_x, exact_x, 1e-5));
  EXPECT_TRUE(close_to_scale(single_w, exact_w, 1e-5));
}

// HARNet's (1, 3) kernel with padding (0, 1) takes the whole-plane path (im2col_rows); the
// same kernel with padding (1, 1) takes the generic one and gives the same values in the
// interior rows, and the same gradients when the extra rows get a zero upstream gradient.
TEST(Conv2d, JointKernelFastPathAgreesWithGenericPath) {
  Generator gen(12);
  Tensor x = randn({3, 16, 6, 25}, gen, kFloat64), w = randn({24, 16, 1, 3}, gen, kFloat64);
  Tensor b = randn({24}, gen, kFloat64);
  const Tensor grad_out = randn({3, 24, 6, 25}, gen, kFloat64);
  // The [3, 24, 6, 25] interior rows 1..6 of a [3, 24, 8, 25] tensor.
  auto interior = [](const Tensor& t) { return t.as_strided({3, 24, 6, 25}, {24 * 8 * 25, 8 * 25, 25, 1}, 25); };
  Tensor padded_grad_out = zeros({3, 24, 8, 25}, kFloat64);
  interior(padded_grad_out).copy_from(grad_out);

  auto run = [&](const Conv2dOptions& options, const Tensor& upstream) {
    Tensor xg = x.detach().set_requires_grad(true), wg = w.detach().set_requires_grad(true);
    Tensor bg = b.detach().set_requires_grad(true);
    Tensor y = conv2d(xg, wg, bg, options);
    y.backward(upstream);
    return std::vector<Tensor>{y, xg.grad(), wg.grad(), bg.grad()};
  };
  const std::vector<Tensor> fast = run({.padding = {0, 1}}, grad_out);
  const std::vector<Tensor> generic = run({.padding = {1, 1}}, padded_grad_out);
  EXPECT_TRUE(close(fast[0], interior(generic[0]).contiguous_copy(), 1e-12));
  for (size_t i = 1; i < 4; ++i) EXPECT_TRUE(close(fast[i], generic[i], 1e-12)) << "gradient " << i;
  const ConvGradients ref = conv2d_backward_reference(x, w, grad_out, true, {.padding = {0, 1}});
  EXPECT_TRUE(close(fast[1], ref.grad_input, 1e-12));
  EXPECT_TRUE(close(fast[2], ref.grad_weight, 1e-12));
}

// The reference itself: one output element of a strided, dilated, grouped convolution
// evaluated term by term from the definition.
TEST(Conv2d, ReferenceIsTheDefinition) {
  Generator gen(3);
  Tensor x = randn({1, 4, 6, 7}, gen, kFloat64), w = randn({2, 2, 2, 3}, gen, kFloat64);
  const Conv2dOptions o{.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}, .groups = 2};
  Tensor y = conv2d_reference(x, w, Tensor(), o);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 9}));  // (6 + 2 - 3) / 2 + 1 = 3, (7 + 4 - 3) + 1 = 9
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  // out[0, 1, 1, 4]: group 1 (input channels 2, 3), rows 1*2 - 1 + ki*2 = 1, 3; columns 4 - 2 + kj
  double want = 0;
  for (int c = 0; c < 2; ++c)
    for (int ki = 0; ki < 2; ++ki)
      for (int kj = 0; kj < 3; ++kj)
        want += xv[static_cast<size_t>(((2 + c) * 6 + (1 + 2 * ki)) * 7 + (2 + kj))] *
                wv[static_cast<size_t>(((1 * 2 + c) * 2 + ki) * 3 + kj)];
  EXPECT_NEAR(y.to_vector<double>()[static_cast<size_t>((1 * 3 + 1) * 9 + 4)], want, 1e-12);
  EXPECT_NEAR(conv2d(x, w, Tensor(), o).to_vector<double>()[static_cast<size_t>((1 * 3 + 1) * 9 + 4)], want, 1e-12);
}

struct Conv1dCase {
  const char* name;
  Shape input, weight;
  Conv1dOptions options;
  bool bias = true;
};

TEST(Conv1d, MatchesReference) {
  const std::vector<Conv1dCase> cases = {
      {"k3_pad1", {2, 3, 10}, {4, 3, 3}, {.padding = 1}},
      {"k4_stride2_no_bias", {2, 2, 11}, {3, 2, 4}, {.stride = 2}, false},
      {"dilated_padded", {1, 3, 9}, {2, 3, 3}, {.padding = 2, .dilation = 3}},
      {"groups", {2, 4, 8}, {6, 2, 3}, {.padding = 1, .groups = 2}},
      {"depthwise", {2, 3, 7}, {3, 1, 5}, {.padding = 2, .groups = 3}},
      {"same_even", {2, 2, 6}, {3, 2, 4}, {.padding = "same", .dilation = 1}},
      {"valid", {1, 2, 5}, {2, 2, 5}, {.padding = "valid"}},
      {"pointwise", {2, 5, 4}, {3, 5, 1}, {}},
  };
  for (const Conv1dCase& c : cases) {
    for (DType dtype : {kFloat64, kFloat32}) {
      const double tol = dtype == kFloat32 ? 2e-5 : 1e-12;
      Generator gen(5);
      Tensor x = randn(c.input, gen, dtype).set_requires_grad(true);
      Tensor w = randn(c.weight, gen, dtype).set_requires_grad(true);
      Tensor b = c.bias ? randn({c.weight[0]}, gen, dtype).set_requires_grad(true) : Tensor();
      Tensor y = conv1d(x, w, b, c.options);
      ASSERT_TRUE(close(y, conv1d_reference(x, w, b, c.options), tol)) << c.name;
      const Tensor grad_out = randn(y.shape(), gen, dtype);
      y.backward(grad_out);
      const ConvGradients ref = conv1d_backward_reference(x, w, grad_out, c.bias, c.options);
      EXPECT_TRUE(close(x.grad(), ref.grad_input, tol)) << c.name << " grad_input";
      EXPECT_TRUE(close(w.grad(), ref.grad_weight, tol)) << c.name << " grad_weight";
      if (c.bias) {
        EXPECT_TRUE(close(b.grad(), ref.grad_bias, tol)) << c.name << " grad_bias";
      }
    }
  }
}

// conv1d is conv2d with height 1.
TEST(Conv1d, EqualsConv2dOfHeightOne) {
  Generator gen(8);
  Tensor x = randn({3, 4, 9}, gen), w = randn({6, 2, 3}, gen), b = randn({6}, gen);
  Tensor y1 = conv1d(x, w, b, {.stride = 2, .padding = 1, .dilation = 2, .groups = 2});
  Tensor y2 = conv2d(x.as_strided({3, 4, 1, 9}, {36, 9, 9, 1}, 0), w.as_strided({6, 2, 1, 3}, {6, 3, 3, 1}, 0), b,
                     {.stride = {1, 2}, .padding = {0, 1}, .dilation = {1, 2}, .groups = 2});
  EXPECT_EQ(y1.shape(), (Shape{3, 6, 4}));
  EXPECT_EQ(y1.to_vector<float>(), y2.to_vector<float>());
}

// ---------------------------------------------------------------- shapes and options

TEST(Conv2d, OutputShapes) {
  Generator gen(0);
  auto shape_of = [&](const Shape& in, const Shape& w, const Conv2dOptions& o) {
    return conv2d(randn(in, gen), randn(w, gen), Tensor(), o).shape();
  };
  EXPECT_EQ(shape_of({64, 3, 60, 25}, {64, 3, 1, 3}, {.padding = {0, 1}}), (Shape{64, 64, 60, 25}));
  EXPECT_EQ(shape_of({2, 3, 10, 10}, {4, 3, 3, 3}, {}), (Shape{2, 4, 8, 8}));
  EXPECT_EQ(shape_of({2, 3, 10, 11}, {4, 3, 3, 3}, {.stride = {2, 3}, .padding = 1}), (Shape{2, 4, 5, 4}));
  EXPECT_EQ(shape_of({1, 1, 10, 10}, {1, 1, 3, 3}, {.dilation = {2, 4}}), (Shape{1, 1, 6, 2}));
  EXPECT_EQ(shape_of({1, 2, 5, 6}, {3, 2, 4, 2}, {.padding = "same"}), (Shape{1, 3, 5, 6}));
  EXPECT_EQ(shape_of({1, 2, 5, 6}, {3, 2, 4, 2}, {.padding = "valid"}), (Shape{1, 3, 2, 5}));
  EXPECT_EQ(shape_of({0, 2, 5, 6}, {3, 2, 3, 3}, {}), (Shape{0, 3, 3, 4}));
}

TEST(Conv2d, EmptyBatchHasZeroGradients) {
  Tensor x = zeros({0, 2, 4, 4}, kFloat64).set_requires_grad(true);
  Tensor w = ones({3, 2, 3, 3}, kFloat64).set_requires_grad(true);
  Tensor b = ones({3}, kFloat64).set_requires_grad(true);
  Tensor y = conv2d(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{0, 3, 2, 2}));
  y.backward(zeros({0, 3, 2, 2}, kFloat64));
  EXPECT_EQ(w.grad().to_vector<double>(), std::vector<double>(54, 0.0));
  EXPECT_EQ(b.grad().to_vector<double>(), std::vector<double>(3, 0.0));
  EXPECT_EQ(x.grad().shape(), (Shape{0, 2, 4, 4}));
}

TEST(ConvPadding, ParsesPyTorchArguments) {
  EXPECT_EQ(Conv2dPadding(2).sizes(), (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(Conv2dPadding(0, 1).sizes(), (std::array<int64_t, 2>{0, 1}));
  EXPECT_EQ(Conv2dPadding("same").mode(), Conv2dPadding::Mode::Same);
  EXPECT_EQ(Conv1dPadding(std::string("valid")).mode(), Conv1dPadding::Mode::Valid);
  EXPECT_EQ(Conv1dPadding(0).mode(), Conv1dPadding::Mode::Explicit);
  expect_error([] { Conv2dPadding p("full"); }, "conv: invalid padding string 'full', should be one of 'valid' or 'same'");
}

// ---------------------------------------------------------------- errors

TEST(ConvErrors, Conv2d) {
  Generator gen(0);
  Tensor x = randn({2, 4, 5, 5}, gen), w = randn({6, 4, 3, 3}, gen);
  expect_error([&] { conv2d(randn({2, 4, 5}, gen), randn({6, 4, 3}, gen)); },
               "conv2d: weight must be 4-d [out_channels, in_channels / groups, kH, kW], got shape [6, 4, 3]");
  expect_error([&] { conv2d(randn({4, 5}, gen), w); },
               "conv2d: expected 3-d (unbatched) or 4-d (batched) input, got shape [4, 5]");
  expect_error([&] { conv2d(randn({2, 3, 5, 5}, gen), w); },
               "conv2d: input shape [2, 3, 5, 5] has 3 channels but weight shape [6, 4, 3, 3] with groups = 1 expects 4");
  expect_error([&] { conv2d(x, randn({6, 2, 3, 3}, gen), Tensor(), {.groups = 4}); },
               "conv2d: out_channels (weight shape [6, 2, 3, 3]) must be divisible by groups = 4");
  expect_error([&] { conv2d(x, randn({6, 2, 3, 3}, gen), Tensor(), {.groups = 3}); },
               "conv2d: input shape [2, 4, 5, 5] has 4 channels but weight shape [6, 2, 3, 3] with groups = 3 expects 6");
  expect_error([&] { conv2d(x, w, Tensor(), {.groups = 0}); }, "conv2d: groups must be positive, got 0");
  expect_error([&] { conv2d(x, w, randn({5}, gen)); },
               "conv2d: bias must have shape [6] for weight shape [6, 4, 3, 3], got [5]");
  expect_error([&] { conv2d(x, w, Tensor(), {.stride = {1, 0}}); }, "conv2d: stride must be positive, got (1, 0)");
  expect_error([&] { conv2d(x, w, Tensor(), {.dilation = {0, 1}}); }, "conv2d: dilation must be positive, got (0, 1)");
  expect_error([&] { conv2d(x, w, Tensor(), {.padding = {-1, 0}}); },
               "conv2d: padding must be non-negative, got (-1, 0)");
  expect_error([&] { conv2d(x, w, Tensor(), {.stride = {2, 2}, .padding = "same"}); },
               "conv2d: padding='same' is not supported for strided convolutions, got stride (2, 2)");
  expect_error([&] { conv2d(randn({1, 4, 2, 5}, gen), w); },
               "conv2d: padded input size 2 is smaller than the dilated kernel size 3 along spatial dimension 0");
  expect_error([&] { conv2d(x, w, Tensor(), {.dilation = {1, 3}}); },
               "conv2d: padded input size 5 is smaller than the dilated kernel size 7 along spatial dimension 1");
  expect_error([&] { conv2d(x, randn({6, 4, 0, 3}, gen)); }, "conv2d: weight shape [6, 4, 0, 3] has a zero dimension");
  expect_error([&] { conv2d(zeros({2, 4, 5, 5}, kInt64), zeros({6, 4, 3, 3}, kInt64)); },
               "conv2d: expected floating tensors (float32 or float64), got input int64 and weight int64");
  expect_error([&] { conv2d(x, randn({6, 4, 3, 3}, gen, kFloat64)); },
               "conv2d: dtype mismatch, input is float32 but weight is float64");
  expect_error([&] { conv2d(x, w, randn({6}, gen, kFloat64)); },
               "conv2d: dtype mismatch, input is float32 but bias is float64");
  expect_error([&] { conv2d(Tensor(), w); }, "conv2d: input is an undefined tensor");
  expect_error([&] { conv2d(x, Tensor()); }, "conv2d: weight is an undefined tensor");
}

TEST(ConvErrors, Conv1d) {
  Generator gen(0);
  expect_error([&] { conv1d(randn({2, 3, 5}, gen), randn({4, 3, 1, 3}, gen)); },
               "conv1d: weight must be 3-d [out_channels, in_channels / groups, kW], got shape [4, 3, 1, 3]");
  expect_error([&] { conv1d(randn({2, 3, 5, 5}, gen), randn({4, 3, 3}, gen)); },
               "conv1d: expected 2-d (unbatched) or 3-d (batched) input, got shape [2, 3, 5, 5]");
  expect_error([&] { conv1d(randn({2, 3, 5}, gen), randn({4, 3, 3}, gen), Tensor(), {.stride = 2, .padding = "same"}); },
               "conv1d: padding='same' is not supported for strided convolutions");
  expect_error([&] { conv1d(randn({2, 3, 2}, gen), randn({4, 3, 3}, gen)); },
               "conv1d: padded input size 2 is smaller than the dilated kernel size 3 along spatial dimension 0");
  expect_error([&] { conv1d_backward_reference(randn({2, 3, 5}, gen), randn({4, 3, 3}, gen), randn({2, 4, 4}, gen), false); },
               "conv1d_backward_reference: grad_output must have the output shape [2, 4, 3], got [2, 4, 4]");
}

// ---------------------------------------------------------------- grad mode and needs_grad

TEST(ConvGradMode, NoGraphUnderNoGradGuard) {
  Generator gen(0);
  Tensor x = randn({1, 2, 4, 4}, gen).set_requires_grad(true), w = randn({3, 2, 3, 3}, gen).set_requires_grad(true);
  Tensor x1 = randn({1, 2, 6}, gen).set_requires_grad(true), w1 = randn({3, 2, 3}, gen).set_requires_grad(true);
  {
    NoGradGuard guard;
    for (const Tensor& t : {conv2d(x, w), conv1d(x1, w1)}) {
      EXPECT_FALSE(t.requires_grad());
      EXPECT_EQ(t.grad_fn(), nullptr);
    }
  }
  EXPECT_EQ(conv2d(x, w).grad_fn()->name(), "conv2d");
  EXPECT_EQ(conv1d(x1, w1).grad_fn()->name(), "conv1d");
  EXPECT_FALSE(conv2d(x.detach(), w.detach()).requires_grad());
}

// Only what requires grad gets a gradient (the first HARNet layer's input is data).
TEST(ConvGradMode, OnlyNeededGradients) {
  Generator gen(2);
  Tensor x = randn({2, 3, 4, 5}, gen, kFloat64), w = randn({4, 3, 1, 3}, gen, kFloat64);
  Tensor b = randn({4}, gen, kFloat64);
  const Tensor grad_out = randn({2, 4, 4, 5}, gen, kFloat64);
  const ConvGradients ref = conv2d_backward_reference(x, w, grad_out, true, {.padding = {0, 1}});
  for (int mask = 1; mask < 8; ++mask) {
    Tensor xg = x.detach().set_requires_grad(mask & 1), wg = w.detach().set_requires_grad(mask & 2);
    Tensor bg = b.detach().set_requires_grad(mask & 4);
    conv2d(xg, wg, bg, {.padding = {0, 1}}).backward(grad_out);
    EXPECT_EQ(xg.grad().defined(), bool(mask & 1));
    EXPECT_EQ(wg.grad().defined(), bool(mask & 2));
    EXPECT_EQ(bg.grad().defined(), bool(mask & 4));
    if (mask & 1) {
      EXPECT_TRUE(close(xg.grad(), ref.grad_input, 1e-12)) << mask;
    }
    if (mask & 2) {
      EXPECT_TRUE(close(wg.grad(), ref.grad_weight, 1e-12)) << mask;
    }
    if (mask & 4) {
      EXPECT_TRUE(close(bg.grad(), ref.grad_bias, 1e-12)) << mask;
    }
  }
}

// A stride-0 (expanded) upstream gradient, as sum().backward() produces.
TEST(ConvGradMode, ExpandedUpstreamGradient) {
  Generator gen(4);
  Tensor x = randn({2, 2, 3, 5}, gen, kFloat64).set_requires_grad(true);
  Tensor w = randn({3, 2, 1, 3}, gen, kFloat64).set_requires_grad(true);
  Tensor y = conv2d(x, w, Tensor(), {.padding = {0, 1}});
  y.backward(scalar_tensor(1.0, kFloat64).as_strided(y.shape(), Shape(4, 0), 0));
  const ConvGradients ref = conv2d_backward_reference(x, w, ones(y.shape(), kFloat64), false, {.padding = {0, 1}});
  EXPECT_TRUE(close(x.grad(), ref.grad_input, 1e-12));
  EXPECT_TRUE(close(w.grad(), ref.grad_weight, 1e-12));
}

// ---------------------------------------------------------------- determinism

// HARNet-shaped (smaller batch): forward and all three gradients bit-identical for 1 and 2
// threads, and run to run.
TEST(Conv2d, IdenticalForAnyThreadCount) {
  struct Case {
    Shape input, weight;
    Conv2dOptions options;
  };
  const std::vector<Case> cases = {{{12, 16, 20, 25}, {32, 16, 1, 3}, {.padding = {0, 1}}},
                                   {{20, 16, 10, 13}, {32, 16, 1, 3}, {.padding = {0, 1}}},  // whole products
                                   {{3, 8, 9, 9}, {8, 4, 3, 3}, {.stride = {2, 1}, .padding = 1, .groups = 2}},
                                   {{1, 32, 40, 40}, {32, 32, 3, 3}, {.padding = 1}}};  // one large sample
  for (const Case& c : cases) {
    auto run = [&](int threads) {
      ScopedThreads scoped(threads);
      Generator gen(21);
      Tensor x = randn(c.input, gen).set_requires_grad(true), w = randn(c.weight, gen).set_requires_grad(true);
      Tensor b = randn({c.weight[0]}, gen).set_requires_grad(true);
      Tensor y = conv2d(x, w, b, c.options);
      y.backward(randn(y.shape(), gen));
      return std::vector<std::vector<float>>{y.to_vector<float>(), x.grad().to_vector<float>(),
                                             w.grad().to_vector<float>(), b.grad().to_vector<float>()};
    };
    const auto one = run(1), two = run(2);
    EXPECT_TRUE(one == two) << shape_str(c.input) << " * " << shape_str(c.weight);
    EXPECT_TRUE(two == run(2)) << shape_str(c.input) << " * " << shape_str(c.weight);
  }
}

}  // namespace
}  // namespace harnet
