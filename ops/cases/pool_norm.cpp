// Gradcheck rows of the pooling, normalisation and dropout family: every pool with padding,
// ceil_mode, stride != kernel, non-square windows, dilation, unbatched and strided inputs;
// batch_norm in training and evaluation, with and without weight and bias, over [N, C],
// [N, C, L] and [N, C, H, W]; layer_norm over one and two trailing dimensions; dropout with
// a generator seeded inside fn, so every evaluation draws the same mask.
//
// Max pools get inputs whose values are all distinct and at least 0.05 apart: a central
// difference (step 1e-6) then never moves a window's maximum to another element.
#include <algorithm>

#include "autograd/autograd.h"
#include "ops/dropout.h"
#include "ops/norm.h"
#include "ops/op_cases.h"
#include "ops/pool.h"

namespace harnet {

namespace {

using Inputs = std::vector<Tensor>;

// Standard normal float64, differentiated.
Tensor normal_leaf(const Shape& shape, Generator& gen) { return randn(shape, gen, kFloat64).set_requires_grad(true); }

// A shuffle of {0, 0.05, 0.1, ...} (shifted to be centred on 0), differentiated: no ties and
// no two values within a finite-difference step of each other.
Tensor distinct_leaf(const Shape& shape, Generator& gen) {
  const int64_t n = shape_numel(shape);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = 0.05 * static_cast<double>(i - n / 2);
  for (int64_t i = n - 1; i > 0; --i) std::swap(values[static_cast<size_t>(i)], values[static_cast<size_t>(gen.integer(0, i + 1))]);
  return from_vector(values, shape, kFloat64).set_requires_grad(true);
}

// A differentiable view of x with its last two dimensions swapped (non-contiguous), from the
// raw as_strided so the rows do not depend on the shape family.
Tensor swap_last_two(const Tensor& x) {
  Shape shape = x.shape(), strides = x.strides();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  Tensor view = x.as_strided(shape, strides, x.offset());
  return record_op("swap_last_two", {x}, view, [x_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = empty(x_shape, g.dtype());
    Shape strides = gx.strides(), shape = x_shape;
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
    std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
    gx.as_strided(shape, strides, 0).copy_from(g);
    return std::vector<Tensor>{gx};
  });
}

// A pool row: one input of `shape` (distinct values for max pools), mapped by f.
void add_pool(std::vector<OpCase>& cases, const std::string& op, const std::string& shapes, Shape shape,
              bool distinct, std::function<Tensor(const Tensor&)> f) {
  cases.push_back({op, shapes,
                   [shape, distinct](Generator& gen) {
                     return Inputs{distinct ? distinct_leaf(shape, gen) : normal_leaf(shape, gen)};
                   },
                   [f](const Inputs& in) { return f(in[0]); }});
}

// A batch_norm row: input [shape], optional weight / bias [C] (differentiated), running
// statistics as constant inputs (positive variances) in evaluation, or made fresh inside fn
// in training (updated in place by each call; the output does not read them).
void add_batch_norm(std::vector<OpCase>& cases, const std::string& shapes, Shape shape, bool training, bool has_weight,
                    bool has_bias, bool strided = false) {
  const int64_t C = strided ? shape.back() : shape[1];  // the channels of the (swapped) input
  cases.push_back(
      {"batch_norm", shapes,
       [=](Generator& gen) {
         Inputs in{randn(shape, gen, kFloat64, 0.5, 1.5).set_requires_grad(true)};
         in.push_back(has_weight ? rand({C}, gen, kFloat64, 0.5, 1.5).set_requires_grad(true) : Tensor());
         in.push_back(has_bias ? normal_leaf({C}, gen) : Tensor());
         in.push_back(randn({C}, gen, kFloat64, 0.0, 0.5));       // running_mean
         in.push_back(rand({C}, gen, kFloat64, 0.5, 2.0));        // running_var
         return in;
       },
       [=](const Inputs& in) {
         const Tensor x = strided ? swap_last_two(in[0]) : in[0];
         if (training) {
           Tensor running_mean = zeros({C}, kFloat64), running_var = ones({C}, kFloat64);
           return batch_norm(x, running_mean, running_var, in[1], in[2], true, 0.1, 1e-5);
         }
         return batch_norm(x, in[3], in[4], in[1], in[2], false, 0.1, 1e-5);
       }});
}

// A layer_norm row over the trailing dimensions normalized_shape, with optional weight and bias.
void add_layer_norm(std::vector<OpCase>& cases, const std::string& shapes, Shape shape, Shape normalized_shape,
                    bool has_weight, bool has_bias, bool strided = false) {
  cases.push_back({"layer_norm", shapes,
                   [=](Generator& gen) {
                     Inputs in{randn(shape, gen, kFloat64, 0.3, 2.0).set_requires_grad(true)};
                     in.push_back(has_weight ? rand(normalized_shape, gen, kFloat64, 0.5, 1.5).set_requires_grad(true)
                                             : Tensor());
                     in.push_back(has_bias ? normal_leaf(normalized_shape, gen) : Tensor());
                     return in;
                   },
                   [=](const Inputs& in) {
                     const Tensor x = strided ? swap_last_two(in[0]) : in[0];
                     return layer_norm(x, normalized_shape, in[1], in[2], 1e-5);
                   }});
}

// A dropout row: the generator is seeded inside fn, so the mask is the same on every call.
void add_dropout(std::vector<OpCase>& cases, const std::string& shapes, Shape shape, double p, bool training,
                 bool strided = false) {
  add_pool(cases, "dropout", shapes, shape, false, [=](const Tensor& x) {
    Generator gen(20240601);
    return dropout(strided ? swap_last_two(x) : x, p, training, gen);
  });
}

}  // namespace

void add_pool_norm_cases(std::vector<OpCase>& cases) {
  // ---- max_pool2d (distinct values: the maximum of a window is unique)
  add_pool(cases, "max_pool2d", "[1,2,4,5] k2 (stride = kernel, floor drops the last column)", {1, 2, 4, 5}, true,
           [](const Tensor& x) { return max_pool2d(x, 2); });
  add_pool(cases, "max_pool2d", "[2,1,5,5] k3 s2 p1", {2, 1, 5, 5}, true,
           [](const Tensor& x) { return max_pool2d(x, 3, {.stride = 2, .padding = 1}); });
  add_pool(cases, "max_pool2d", "[1,2,5,5] k2 s2 ceil (partial last windows)", {1, 2, 5, 5}, true,
           [](const Tensor& x) { return max_pool2d(x, 2, {.ceil_mode = true}); });
  add_pool(cases, "max_pool2d", "[1,1,5,5] k2 s2 p1 ceil (the last window would start in the padding)",
           {1, 1, 5, 5}, true, [](const Tensor& x) { return max_pool2d(x, 2, {.padding = 1, .ceil_mode = true}); });
  add_pool(cases, "max_pool2d", "[2,2,3,5] k(1,2) ceil (HARNet)", {2, 2, 3, 5}, true,
           [](const Tensor& x) { return max_pool2d(x, {1, 2}, {.ceil_mode = true}); });
  add_pool(cases, "max_pool2d", "[1,1,4,7] k(2,3) s(1,2) (overlapping rows)", {1, 1, 4, 7}, true,
           [](const Tensor& x) { return max_pool2d(x, {2, 3}, {.stride = Pool2dParam{1, 2}}); });
  add_pool(cases, "max_pool2d", "[1,1,5,6] k2 s1 p1 dilation 2", {1, 1, 5, 6}, true,
           [](const Tensor& x) { return max_pool2d(x, 2, {.stride = 1, .padding = 1, .dilation = 2}); });
  add_pool(cases, "max_pool2d", "[1,1,5,7] k(3,2) s(2,3) p(1,1) dilation (1,2) ceil", {1, 1, 5, 7}, true,
           [](const Tensor& x) {
             return max_pool2d(x, {3, 2},
                               {.stride = Pool2dParam{2, 3}, .padding = 1, .dilation = Pool2dParam{1, 2}, .ceil_mode = true});
           });
  add_pool(cases, "max_pool2d", "[2,4,4] unbatched k2", {2, 4, 4}, true,
           [](const Tensor& x) { return max_pool2d(x, 2); });
  add_pool(cases, "max_pool2d", "[1,2,5,4] with H, W swapped (strided) k(2,2) s1", {1, 2, 5, 4}, true,
           [](const Tensor& x) { return max_pool2d(swap_last_two(x), 2, {.stride = 1}); });
  add_pool(cases, "max_pool2d_with_indices", "[1,2,5,5] k3 s2 p1 ceil (values)", {1, 2, 5, 5}, true,
           [](const Tensor& x) { return max_pool2d_with_indices(x, 3, {.stride = 2, .padding = 1, .ceil_mode = true}).first; });

  // ---- max_pool1d
  add_pool(cases, "max_pool1d", "[2,3,7] k3 s2", {2, 3, 7}, true,
           [](const Tensor& x) { return max_pool1d(x, 3, {.stride = 2}); });
  add_pool(cases, "max_pool1d", "[1,2,8] k2 p1 ceil", {1, 2, 8}, true,
           [](const Tensor& x) { return max_pool1d(x, 2, {.padding = 1, .ceil_mode = true}); });
  add_pool(cases, "max_pool1d", "[1,2,9] k3 s1 p1 dilation 2", {1, 2, 9}, true,
           [](const Tensor& x) { return max_pool1d(x, 3, {.stride = 1, .padding = 1, .dilation = 2}); });
  add_pool(cases, "max_pool1d", "[3,6] unbatched k2", {3, 6}, true, [](const Tensor& x) { return max_pool1d(x, 2); });
  add_pool(cases, "max_pool1d", "[2,7,3] transposed to [2,3,7] (strided) k3 s2 ceil", {2, 7, 3}, true,
           [](const Tensor& x) { return max_pool1d(swap_last_two(x), 3, {.stride = 2, .ceil_mode = true}); });
  add_pool(cases, "max_pool1d_with_indices", "[2,2,7] k2 s2 ceil (values)", {2, 2, 7}, true,
           [](const Tensor& x) { return max_pool1d_with_indices(x, 2, {.ceil_mode = true}).first; });

  // ---- avg_pool2d
  add_pool(cases, "avg_pool2d", "[1,2,4,5] k2", {1, 2, 4, 5}, false, [](const Tensor& x) { return avg_pool2d(x, 2); });
  add_pool(cases, "avg_pool2d", "[1,1,5,5] k3 s2 p1 count_include_pad", {1, 1, 5, 5}, false,
           [](const Tensor& x) { return avg_pool2d(x, 3, {.stride = 2, .padding = 1}); });
  add_pool(cases, "avg_pool2d", "[1,1,5,5] k3 s2 p1 exclude pad", {1, 1, 5, 5}, false,
           [](const Tensor& x) { return avg_pool2d(x, 3, {.stride = 2, .padding = 1, .count_include_pad = false}); });
  add_pool(cases, "avg_pool2d", "[1,2,5,5] k2 s2 p1 ceil count_include_pad", {1, 2, 5, 5}, false,
           [](const Tensor& x) { return avg_pool2d(x, 2, {.padding = 1, .ceil_mode = true}); });
  add_pool(cases, "avg_pool2d", "[1,1,6,5] k3 s2 p1 ceil exclude pad", {1, 1, 6, 5}, false,
           [](const Tensor& x) {
             return avg_pool2d(x, 3, {.stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false});
           });
  add_pool(cases, "avg_pool2d", "[2,2,3,5] k(1,2) ceil (non-square)", {2, 2, 3, 5}, false,
           [](const Tensor& x) { return avg_pool2d(x, {1, 2}, {.ceil_mode = true}); });
  add_pool(cases, "avg_pool2d", "[1,1,4,7] k(2,3) s(1,2) (overlapping)", {1, 1, 4, 7}, false,
           [](const Tensor& x) { return avg_pool2d(x, {2, 3}, {.stride = Pool2dParam{1, 2}}); });
  add_pool(cases, "avg_pool2d", "[1,1,5,5] k3 s2 p1 divisor_override 5", {1, 1, 5, 5}, false,
           [](const Tensor& x) { return avg_pool2d(x, 3, {.stride = 2, .padding = 1, .divisor_override = 5}); });
  add_pool(cases, "avg_pool2d", "[2,4,5] unbatched k2 s1", {2, 4, 5}, false,
           [](const Tensor& x) { return avg_pool2d(x, 2, {.stride = 1}); });
  add_pool(cases, "avg_pool2d", "[1,2,5,4] with H, W swapped (strided) k(2,3) p1", {1, 2, 5, 4}, false,
           [](const Tensor& x) { return avg_pool2d(swap_last_two(x), {2, 3}, {.padding = 1}); });

  // ---- avg_pool1d
  add_pool(cases, "avg_pool1d", "[2,3,7] k3 s2", {2, 3, 7}, false,
           [](const Tensor& x) { return avg_pool1d(x, 3, {.stride = 2}); });
  add_pool(cases, "avg_pool1d", "[1,2,8] k3 s2 p1 ceil count_include_pad", {1, 2, 8}, false,
           [](const Tensor& x) { return avg_pool1d(x, 3, {.stride = 2, .padding = 1, .ceil_mode = true}); });
  add_pool(cases, "avg_pool1d", "[1,2,8] k3 s2 p1 ceil exclude pad", {1, 2, 8}, false, [](const Tensor& x) {
    return avg_pool1d(x, 3, {.stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false});
  });
  add_pool(cases, "avg_pool1d", "[3,6] unbatched k2", {3, 6}, false, [](const Tensor& x) { return avg_pool1d(x, 2); });

  // ---- adaptive_avg_pool2d / 1d (overlapping windows when the sizes do not divide)
  add_pool(cases, "adaptive_avg_pool2d", "[1,2,5,7] -> (3,4)", {1, 2, 5, 7}, false,
           [](const Tensor& x) { return adaptive_avg_pool2d(x, {3, 4}); });
  add_pool(cases, "adaptive_avg_pool2d", "[2,2,3,5] -> 1 (global average)", {2, 2, 3, 5}, false,
           [](const Tensor& x) { return adaptive_avg_pool2d(x, 1); });
  add_pool(cases, "adaptive_avg_pool2d", "[1,1,3,3] -> (5,4) (larger than the input)", {1, 1, 3, 3}, false,
           [](const Tensor& x) { return adaptive_avg_pool2d(x, {5, 4}); });
  add_pool(cases, "adaptive_avg_pool2d", "[2,4,6] unbatched, H, W swapped (strided) -> (2,3)", {2, 6, 4}, false,
           [](const Tensor& x) { return adaptive_avg_pool2d(swap_last_two(x), {2, 3}); });
  add_pool(cases, "adaptive_avg_pool1d", "[2,3,7] -> 3", {2, 3, 7}, false,
           [](const Tensor& x) { return adaptive_avg_pool1d(x, 3); });
  add_pool(cases, "adaptive_avg_pool1d", "[2,2,5] -> 1 (global average)", {2, 2, 5}, false,
           [](const Tensor& x) { return adaptive_avg_pool1d(x, 1); });
  add_pool(cases, "adaptive_avg_pool1d", "[3,4] unbatched -> 7", {3, 4}, false,
           [](const Tensor& x) { return adaptive_avg_pool1d(x, 7); });

  // ---- batch_norm
  add_batch_norm(cases, "[4,3] train, weight + bias", {4, 3}, true, true, true);
  add_batch_norm(cases, "[2,3,4] train, weight + bias", {2, 3, 4}, true, true, true);
  add_batch_norm(cases, "[2,2,3,2] train, weight + bias", {2, 2, 3, 2}, true, true, true);
  add_batch_norm(cases, "[2,2,3,2] train, no affine", {2, 2, 3, 2}, true, false, false);
  add_batch_norm(cases, "[3,2,3] train, weight only", {3, 2, 3}, true, true, false);
  add_batch_norm(cases, "[3,2,3] train, bias only", {3, 2, 3}, true, false, true);
  add_batch_norm(cases, "[3,4,2] with C, L swapped (strided) train, weight + bias", {3, 2, 4}, true, true, true, true);
  add_batch_norm(cases, "[4,3] eval, weight + bias", {4, 3}, false, true, true);
  add_batch_norm(cases, "[2,2,3,2] eval, weight + bias", {2, 2, 3, 2}, false, true, true);
  add_batch_norm(cases, "[2,3,4] eval, no affine", {2, 3, 4}, false, false, false);
  add_batch_norm(cases, "[2,3,4] with C, L swapped (strided) eval, weight only", {2, 4, 3}, false, true, false, true);

  // ---- layer_norm
  add_layer_norm(cases, "[3,4] over [4], weight + bias", {3, 4}, {4}, true, true);
  add_layer_norm(cases, "[2,3,4] over [3,4], weight + bias", {2, 3, 4}, {3, 4}, true, true);
  add_layer_norm(cases, "[2,3,4] over [4], no affine", {2, 3, 4}, {4}, false, false);
  add_layer_norm(cases, "[2,2,5] over [2,5], weight only", {2, 2, 5}, {2, 5}, true, false);
  add_layer_norm(cases, "[4,3] over [3], bias only", {4, 3}, {3}, false, true);
  add_layer_norm(cases, "[6] over [6]", {6}, {6}, true, true);
  add_layer_norm(cases, "[5,3] transposed to [3,5] (strided) over [5]", {5, 3}, {5}, true, true, true);

  // ---- dropout
  add_dropout(cases, "[3,5] p 0.3 training", {3, 5}, 0.3, true);
  add_dropout(cases, "[2,3,4] p 0.5 training", {2, 3, 4}, 0.5, true);
  add_dropout(cases, "[5,3] transposed (strided) p 0.2 training", {5, 3}, 0.2, true, true);
  add_dropout(cases, "[3,4] p 0.5 eval (identity)", {3, 4}, 0.5, false);
  add_dropout(cases, "[3,4] p 0 training (identity)", {3, 4}, 0.0, true);
  add_dropout(cases, "[7] p 0.9 training (odd size)", {7}, 0.9, true);
}

}  // namespace harnet
