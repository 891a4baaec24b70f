// Gradcheck rows of the convolution family: conv2d and conv1d with and without bias, HARNet's
// (1, k) joint-axis kernels, square kernels, strides, dilations, groups (depthwise too),
// "same" padding with an odd total, 1x1 kernels (the im2col-free path), unbatched inputs and
// non-contiguous operands (made inside fn with transpose, a differentiable view). Each row
// stays small: its full Jacobians have a few hundred entries at most.
#include "ops/conv.h"
#include "ops/op_cases.h"
#include "ops/shape.h"

namespace harnet {

namespace {

// Float64 inputs of the given shapes, standard normal, all differentiated.
std::function<std::vector<Tensor>(Generator&)> normal_inputs(std::vector<Shape> shapes) {
  return [shapes](Generator& gen) {
    std::vector<Tensor> inputs;
    for (const Shape& s : shapes) inputs.push_back(randn(s, gen, kFloat64).set_requires_grad(true));
    return inputs;
  };
}

// conv2d(input, weight[, bias]) with the inputs in that order; no bias if there are two.
void add_conv2d(std::vector<OpCase>& cases, const char* shapes, Shape input, Shape weight, bool bias,
                Conv2dOptions options) {
  std::vector<Shape> input_shapes{input, weight};
  if (bias) input_shapes.push_back({weight[0]});
  cases.push_back({"conv2d", shapes, normal_inputs(std::move(input_shapes)), [options](const std::vector<Tensor>& in) {
                     return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), options);
                   }});
}

void add_conv1d(std::vector<OpCase>& cases, const char* shapes, Shape input, Shape weight, bool bias,
                Conv1dOptions options) {
  std::vector<Shape> input_shapes{input, weight};
  if (bias) input_shapes.push_back({weight[0]});
  cases.push_back({"conv1d", shapes, normal_inputs(std::move(input_shapes)), [options](const std::vector<Tensor>& in) {
                     return conv1d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), options);
                   }});
}

}  // namespace

void add_conv_cases(std::vector<OpCase>& cases) {
  // ---- conv2d
  add_conv2d(cases, "x [2,2,2,5], W [3,2,1,3], b, pad (0,1) (HARNet joint kernel)", {2, 2, 2, 5}, {3, 2, 1, 3}, true,
             {.padding = {0, 1}});
  // Winograd F(4, 3): a tile and a directly computed last output; a full and a padded tile
  add_conv2d(cases, "x [2,8,1,5], W [8,8,1,3], b, pad (0,1) (Winograd)", {2, 8, 1, 5}, {8, 8, 1, 3}, true,
             {.padding = {0, 1}});
  add_conv2d(cases, "x [1,8,1,7], W [8,8,1,3], no bias, pad (0,1) (Winograd)", {1, 8, 1, 7}, {8, 8, 1, 3}, false,
             {.padding = {0, 1}});
  add_conv2d(cases, "x [1,3,2,4], W [2,3,1,3], no bias, pad (0,1)", {1, 3, 2, 4}, {2, 3, 1, 3}, false,
             {.padding = {0, 1}});
  add_conv2d(cases, "x [1,2,4,4], W [2,2,3,3], b, pad 1", {1, 2, 4, 4}, {2, 2, 3, 3}, true, {.padding = 1});
  add_conv2d(cases, "x [2,1,5,4], W [2,1,2,3], b, no padding", {2, 1, 5, 4}, {2, 1, 2, 3}, true, {});
  add_conv2d(cases, "x [1,2,5,5], W [2,2,3,2], stride (2,2), pad (1,0)", {1, 2, 5, 5}, {2, 2, 3, 2}, true,
             {.stride = {2, 2}, .padding = {1, 0}});
  add_conv2d(cases, "x [1,1,5,7], W [2,1,2,2], stride (1,3), dilation (2,2), pad (0,1)", {1, 1, 5, 7}, {2, 1, 2, 2},
             false, {.stride = {1, 3}, .padding = {0, 1}, .dilation = {2, 2}});
  add_conv2d(cases, "x [1,4,3,4], W [4,2,1,3], b, groups 2, pad (0,1)", {1, 4, 3, 4}, {4, 2, 1, 3}, true,
             {.padding = {0, 1}, .groups = 2});
  add_conv2d(cases, "x [2,3,3,3], W [3,1,2,2], b, depthwise (groups 3), pad 1", {2, 3, 3, 3}, {3, 1, 2, 2}, true,
             {.padding = 1, .groups = 3});
  add_conv2d(cases, "x [1,2,3,5], W [2,2,2,4], b, padding 'same' (odd totals)", {1, 2, 3, 5}, {2, 2, 2, 4}, true,
             {.padding = "same"});
  add_conv2d(cases, "x [2,3,2,3], W [4,3,1,1], b (1x1, im2col-free)", {2, 3, 2, 3}, {4, 3, 1, 1}, true, {});
  add_conv2d(cases, "x [1,2,4,4], W [2,2,1,1], stride 2 (1x1 strided)", {1, 2, 4, 4}, {2, 2, 1, 1}, false,
             {.stride = {2, 2}});
  add_conv2d(cases, "x [2,3,4] unbatched, W [2,2,2,2], b, pad 1", {2, 3, 4}, {2, 2, 2, 2}, true, {.padding = 1});
  cases.push_back({"conv2d", "x [1,2,5,3]^T(-1,-2), W [2,2,3,1]^T(-1,-2), b, pad (0,1) (strided operands)",
                   normal_inputs({{1, 2, 5, 3}, {2, 2, 3, 1}, {2}}), [](const std::vector<Tensor>& in) {
                     return conv2d(transpose(in[0], 2, 3), transpose(in[1], 2, 3), in[2], {.padding = {0, 1}});
                   }});

  // ---- conv1d
  add_conv1d(cases, "x [2,2,6], W [3,2,3], b, pad 1", {2, 2, 6}, {3, 2, 3}, true, {.padding = 1});
  add_conv1d(cases, "x [1,2,9], W [2,2,2], stride 2, dilation 3", {1, 2, 9}, {2, 2, 2}, false,
             {.stride = 2, .dilation = 3});
  add_conv1d(cases, "x [1,4,5], W [4,2,3], b, groups 2, padding 'same'", {1, 4, 5}, {4, 2, 3}, true,
             {.padding = "same", .groups = 2});
  add_conv1d(cases, "x [3,7] unbatched, W [2,3,4], b, padding 'same' (even kernel)", {3, 7}, {2, 3, 4}, true,
             {.padding = "same"});
  cases.push_back({"conv1d", "x [2,6,2]^T(-1,-2), W [2,2,3], b, pad 1 (strided input)",
                   normal_inputs({{2, 6, 2}, {2, 2, 3}, {2}}), [](const std::vector<Tensor>& in) {
                     return conv1d(transpose(in[0], 1, 2), in[1], in[2], {.padding = 1});
                   }});
}

}  // namespace harnet
