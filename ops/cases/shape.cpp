// Gradcheck rows of the shape and indexing operators. Non-contiguous inputs are made inside
// fn with transpose/permute (differentiable views), so the gradient still reaches the leaf.
// Multi-output ops (split, chunk) are recombined with cat in a shuffled order, so every
// piece's gradient lands somewhere else than where it came from.
#include <algorithm>

#include "ops/op_cases.h"
#include "ops/shape.h"

namespace harnet {

namespace {

Tensor leaf(const Shape& shape, Generator& gen) {
  Tensor t = randn(shape, gen, kFloat64);
  t.set_requires_grad(true);
  return t;
}

// A row with one random float64 input of the given shape.
OpCase unary(std::string op, std::string shapes, Shape shape, std::function<Tensor(const Tensor&)> f) {
  return OpCase{std::move(op), std::move(shapes),
                [shape](Generator& gen) { return std::vector<Tensor>{leaf(shape, gen)}; },
                [f](const std::vector<Tensor>& in) { return f(in[0]); }};
}

// A row with a random float64 input of the given shape and a fixed int64 index.
OpCase indexed(std::string op, std::string shapes, Shape shape, std::vector<int64_t> index, Shape index_shape,
               std::function<Tensor(const Tensor&, const Tensor&)> f) {
  return OpCase{std::move(op), std::move(shapes),
                [shape, index, index_shape](Generator& gen) {
                  return std::vector<Tensor>{leaf(shape, gen), from_vector(index, index_shape, kInt64)};
                },
                [f](const std::vector<Tensor>& in) { return f(in[0], in[1]); }};
}

// Pieces recombined in reverse order along dim.
Tensor reverse_cat(std::vector<Tensor> pieces, int64_t dim) {
  std::reverse(pieces.begin(), pieces.end());
  return cat(pieces, dim);
}

}  // namespace

void add_shape_cases(std::vector<OpCase>& cases) {
  // ---- view
  cases.push_back(unary("view", "[3,4] -> [2,6]", {3, 4}, [](const Tensor& x) { return view(x, {2, 6}); }));
  cases.push_back(unary("view", "[2,3,4] -> [-1,4]", {2, 3, 4}, [](const Tensor& x) { return view(x, {-1, 4}); }));
  cases.push_back(unary("view", "transpose([4,3]) -> [3,2,2] (strided, viewable)", {4, 3},
                        [](const Tensor& x) { return view(transpose(x, 0, 1), {3, 2, 2}); }));
  cases.push_back(unary("view", "[] -> [1,1]", {}, [](const Tensor& x) { return view(x, {1, 1}); }));

  // ---- reshape
  cases.push_back(unary("reshape", "[3,4] -> [4,-1]", {3, 4}, [](const Tensor& x) { return reshape(x, {4, -1}); }));
  cases.push_back(unary("reshape", "transpose([3,4]) -> [12] (copy)", {3, 4},
                        [](const Tensor& x) { return reshape(transpose(x, 0, 1), {12}); }));
  cases.push_back(unary("reshape", "[2,1,3] -> [3,2]", {2, 1, 3}, [](const Tensor& x) { return reshape(x, {3, 2}); }));
  cases.push_back(unary("reshape", "[1] -> []", {1}, [](const Tensor& x) { return reshape(x, {}); }));

  // ---- flatten
  cases.push_back(unary("flatten", "[2,3,4] dims 1..2", {2, 3, 4}, [](const Tensor& x) { return flatten(x, 1, 2); }));
  cases.push_back(unary("flatten", "[2,3,4] dims 0..-1", {2, 3, 4}, [](const Tensor& x) { return flatten(x); }));
  cases.push_back(unary("flatten", "permute([2,3,4],(2,0,1)) dims 0..1 (copy)", {2, 3, 4},
                        [](const Tensor& x) { return flatten(permute(x, {2, 0, 1}), 0, 1); }));
  cases.push_back(unary("flatten", "[] -> [1]", {}, [](const Tensor& x) { return flatten(x); }));

  // ---- squeeze / unsqueeze
  cases.push_back(unary("squeeze", "[3,1,4] dim 1", {3, 1, 4}, [](const Tensor& x) { return squeeze(x, 1); }));
  cases.push_back(unary("squeeze", "[3,1,4] dim -2", {3, 1, 4}, [](const Tensor& x) { return squeeze(x, -2); }));
  cases.push_back(
      unary("squeeze", "[3,4] dim 0 (size 3: no-op)", {3, 4}, [](const Tensor& x) { return squeeze(x, 0); }));
  cases.push_back(unary("squeeze", "transpose([4,1]) dim 0", {4, 1},
                        [](const Tensor& x) { return squeeze(transpose(x, 0, 1), 0); }));
  cases.push_back(unary("squeeze", "[] dim -1", {}, [](const Tensor& x) { return squeeze(x, -1); }));
  cases.push_back(unary("unsqueeze", "[3,4] dim 0", {3, 4}, [](const Tensor& x) { return unsqueeze(x, 0); }));
  cases.push_back(unary("unsqueeze", "[3,4] dim -1", {3, 4}, [](const Tensor& x) { return unsqueeze(x, -1); }));
  cases.push_back(unary("unsqueeze", "transpose([3,4]) dim 1", {3, 4},
                        [](const Tensor& x) { return unsqueeze(transpose(x, 0, 1), 1); }));
  cases.push_back(unary("unsqueeze", "[] dim 0", {}, [](const Tensor& x) { return unsqueeze(x, 0); }));

  // ---- transpose / permute
  cases.push_back(unary("transpose", "[3,4] (0,1)", {3, 4}, [](const Tensor& x) { return transpose(x, 0, 1); }));
  cases.push_back(unary("transpose", "[2,3,4] (-1,0)", {2, 3, 4}, [](const Tensor& x) { return transpose(x, -1, 0); }));
  cases.push_back(unary("transpose", "[2,3,4] (1,1)", {2, 3, 4}, [](const Tensor& x) { return transpose(x, 1, 1); }));
  cases.push_back(unary("transpose", "transpose of transpose([3,5])", {3, 5},
                        [](const Tensor& x) { return transpose(transpose(x, 1, 0), 0, 1); }));
  cases.push_back(
      unary("permute", "[2,3,4] (2,0,1)", {2, 3, 4}, [](const Tensor& x) { return permute(x, {2, 0, 1}); }));
  cases.push_back(unary("permute", "[2,3,4] (-1,-3,1)", {2, 3, 4},
                        [](const Tensor& x) { return permute(x, {-1, -3, 1}); }));
  cases.push_back(unary("permute", "permute(transpose([2,3,4]))", {2, 3, 4},
                        [](const Tensor& x) { return permute(transpose(x, 0, 2), {1, 2, 0}); }));
  cases.push_back(unary("permute", "[] ()", {}, [](const Tensor& x) { return permute(x, {}); }));

  // ---- expand
  cases.push_back(unary("expand", "[3,1] -> [3,4]", {3, 1}, [](const Tensor& x) { return expand(x, {3, 4}); }));
  cases.push_back(unary("expand", "[4] -> [2,3,4]", {4}, [](const Tensor& x) { return expand(x, {2, 3, 4}); }));
  cases.push_back(unary("expand", "[] -> [2,3]", {}, [](const Tensor& x) { return expand(x, {2, 3}); }));
  cases.push_back(unary("expand", "[1,3] -> [5,-1]", {1, 3}, [](const Tensor& x) { return expand(x, {5, -1}); }));
  cases.push_back(unary("expand", "[2,1,3] -> [2,2,4,3]", {2, 1, 3},
                        [](const Tensor& x) { return expand(x, {2, 2, 4, 3}); }));
  cases.push_back(unary("expand", "transpose([3,1]) -> [4,3]", {3, 1},
                        [](const Tensor& x) { return expand(transpose(x, 0, 1), {4, 3}); }));
  cases.push_back(unary("expand", "expand(expand([2,1]))", {2, 1},
                        [](const Tensor& x) { return expand(unsqueeze(expand(x, {2, 3}), 0), {2, 2, 3}); }));

  // ---- contiguous / clone / to
  cases.push_back(
      unary("contiguous", "[3,4] (already contiguous)", {3, 4}, [](const Tensor& x) { return contiguous(x); }));
  cases.push_back(unary("contiguous", "transpose([3,4]) (copy)", {3, 4},
                        [](const Tensor& x) { return contiguous(transpose(x, 0, 1)); }));
  cases.push_back(unary("contiguous", "expand([3,1]) -> [3,4] (copy)", {3, 1},
                        [](const Tensor& x) { return contiguous(expand(x, {3, 4})); }));
  cases.push_back(unary("clone", "[3,4]", {3, 4}, [](const Tensor& x) { return clone(x); }));
  cases.push_back(
      unary("clone", "permute([2,3,4])", {2, 3, 4}, [](const Tensor& x) { return clone(permute(x, {1, 2, 0})); }));
  cases.push_back(unary("clone", "[]", {}, [](const Tensor& x) { return clone(x); }));
  cases.push_back(
      unary("to", "[3,4] float64 -> float64 (identity)", {3, 4}, [](const Tensor& x) { return to(x, kFloat64); }));
  cases.push_back(unary("to", "transpose([3,4]) float64 -> float64", {3, 4},
                        [](const Tensor& x) { return to(transpose(x, 0, 1), kFloat64); }));
  {
    // Through float32 the function is a staircase with steps of ~1e-7 relative: the central
    // difference needs a step far above that, and the tolerance reflects float32 rounding.
    OpCase c = unary("to", "[3,4] float64 -> float32 -> float64 (loose tolerance)", {3, 4},
                     [](const Tensor& x) { return to(to(x, kFloat32), kFloat64); });
    c.options.eps = 1e-3;
    c.options.atol = 1e-3;
    c.options.rtol = 1e-3;
    cases.push_back(c);
  }

  // ---- cat / stack
  cases.push_back(OpCase{"cat", "[2,3] + [4,3] dim 0",
                         [](Generator& gen) { return std::vector<Tensor>{leaf({2, 3}, gen), leaf({4, 3}, gen)}; },
                         [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0); }});
  cases.push_back(OpCase{"cat", "[2,3] + [2,1] + [2,4] dim -1",
                         [](Generator& gen) {
                           return std::vector<Tensor>{leaf({2, 3}, gen), leaf({2, 1}, gen), leaf({2, 4}, gen)};
                         },
                         [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, -1); }});
  cases.push_back(OpCase{"cat", "[0] (skipped) + [2,3] + [0] (skipped) dim 1",
                         [](Generator& gen) {
                           return std::vector<Tensor>{leaf({0}, gen), leaf({2, 3}, gen), leaf({0}, gen)};
                         },
                         [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); }});
  cases.push_back(OpCase{"cat", "transpose([3,2]) + [2,4] dim 1 (strided)",
                         [](Generator& gen) { return std::vector<Tensor>{leaf({3, 2}, gen), leaf({2, 4}, gen)}; },
                         [](const std::vector<Tensor>& in) { return cat({transpose(in[0], 0, 1), in[1]}, 1); }});
  cases.push_back(OpCase{"cat", "x + x + y dim 0 (one input twice)",
                         [](Generator& gen) { return std::vector<Tensor>{leaf({2, 3}, gen), leaf({1, 3}, gen)}; },
                         [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, 0); }});
  cases.push_back(OpCase{"stack", "3 x [2,3] dim 0",
                         [](Generator& gen) {
                           return std::vector<Tensor>{leaf({2, 3}, gen), leaf({2, 3}, gen), leaf({2, 3}, gen)};
                         },
                         [](const std::vector<Tensor>& in) { return stack({in[0], in[1], in[2]}, 0); }});
  cases.push_back(OpCase{"stack", "2 x [2,3] dim -1",
                         [](Generator& gen) { return std::vector<Tensor>{leaf({2, 3}, gen), leaf({2, 3}, gen)}; },
                         [](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, -1); }});
  cases.push_back(OpCase{"stack", "2 x [] dim 0",
                         [](Generator& gen) { return std::vector<Tensor>{leaf({}, gen), leaf({}, gen)}; },
                         [](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 0); }});
  cases.push_back(OpCase{"stack", "transpose([3,2]) + [2,3] + same again dim 1",
                         [](Generator& gen) { return std::vector<Tensor>{leaf({3, 2}, gen), leaf({2, 3}, gen)}; },
                         [](const std::vector<Tensor>& in) {
                           Tensor t = transpose(in[0], 0, 1);
                           return stack({t, in[1], t}, 1);
                         }});

  // ---- split / chunk (pieces recombined in reverse order; one row drops a piece)
  cases.push_back(unary("split", "[7,3] size 3 dim 0 (last piece smaller)", {7, 3},
                        [](const Tensor& x) { return reverse_cat(split(x, 3, 0), 0); }));
  cases.push_back(unary("split", "[3,8] sizes {2,5,1} dim -1", {3, 8},
                        [](const Tensor& x) { return reverse_cat(split(x, std::vector<int64_t>{2, 5, 1}, -1), -1); }));
  cases.push_back(unary("split", "[6,2] sizes {2,0,4} dim 0, piece 0 unused", {6, 2}, [](const Tensor& x) {
    std::vector<Tensor> pieces = split(x, std::vector<int64_t>{2, 0, 4}, 0);
    return cat({pieces[2], pieces[1]}, 0);
  }));
  cases.push_back(unary("split", "transpose([5,3]) size 2 dim 1 (strided)", {5, 3},
                        [](const Tensor& x) { return reverse_cat(split(transpose(x, 0, 1), 2, 1), 1); }));
  cases.push_back(unary("split", "[4,3] one piece used twice", {4, 3}, [](const Tensor& x) {
    std::vector<Tensor> pieces = split(x, 1, 0);
    return cat({pieces[3], pieces[0], pieces[3], pieces[1], pieces[2]}, 0);
  }));
  cases.push_back(unary("chunk", "[7,2] 3 chunks dim 0", {7, 2},
                        [](const Tensor& x) { return reverse_cat(chunk(x, 3, 0), 0); }));
  cases.push_back(unary("chunk", "[2,6] 4 chunks dim -1 (gives 3)", {2, 6},
                        [](const Tensor& x) { return reverse_cat(chunk(x, 4, -1), -1); }));
  cases.push_back(unary("chunk", "[3,2] 5 chunks dim 0 (gives 3)", {3, 2},
                        [](const Tensor& x) { return reverse_cat(chunk(x, 5, 0), 0); }));

  // ---- narrow / slice
  cases.push_back(unary("narrow", "[5,3] dim 0 start 1 length 3", {5, 3},
                        [](const Tensor& x) { return narrow(x, 0, 1, 3); }));
  cases.push_back(unary("narrow", "[3,5] dim -1 start -3 length 2", {3, 5},
                        [](const Tensor& x) { return narrow(x, -1, -3, 2); }));
  cases.push_back(unary("narrow", "transpose([5,3]) dim 1 start 2 length 3 (strided)", {5, 3},
                        [](const Tensor& x) { return narrow(transpose(x, 0, 1), 1, 2, 3); }));
  cases.push_back(unary("narrow", "narrow(narrow([6,4]))", {6, 4},
                        [](const Tensor& x) { return narrow(narrow(x, 0, 1, 4), 1, 1, 2); }));
  cases.push_back(unary("slice", "[7,3] dim 0 1:6:2", {7, 3}, [](const Tensor& x) { return slice(x, 0, 1, 6, 2); }));
  cases.push_back(unary("slice", "[3,7] dim -1 -5:100:3", {3, 7},
                        [](const Tensor& x) { return slice(x, -1, -5, 100, 3); }));
  cases.push_back(unary("slice", "[8] -100:-2", {8}, [](const Tensor& x) { return slice(x, 0, -100, -2); }));
  cases.push_back(unary("slice", "transpose([4,6]) dim 1 0:4:3 (strided)", {4, 6},
                        [](const Tensor& x) { return slice(transpose(x, 0, 1), 1, 0, 4, 3); }));
  cases.push_back(unary("slice", "slice(slice([9,2]))", {9, 2},
                        [](const Tensor& x) { return slice(slice(x, 0, 1, 9, 2), 0, 1, 4, 2); }));

  // ---- index_select / gather (repeated indices accumulate)
  cases.push_back(indexed("index_select", "[5,3] dim 0 index [4,0,4,2]", {5, 3}, {4, 0, 4, 2}, {4},
                          [](const Tensor& x, const Tensor& i) { return index_select(x, 0, i); }));
  cases.push_back(indexed("index_select", "[3,5] dim -1 index [1,1,1,3]", {3, 5}, {1, 1, 1, 3}, {4},
                          [](const Tensor& x, const Tensor& i) { return index_select(x, -1, i); }));
  cases.push_back(indexed("index_select", "[2,3,4] dim 1 index [2,0,2]", {2, 3, 4}, {2, 0, 2}, {3},
                          [](const Tensor& x, const Tensor& i) { return index_select(x, 1, i); }));
  cases.push_back(indexed("index_select", "transpose([4,3]) dim 1 index [3,1,3] (strided)", {4, 3}, {3, 1, 3}, {3},
                          [](const Tensor& x, const Tensor& i) { return index_select(transpose(x, 0, 1), 1, i); }));
  cases.push_back(indexed("index_select", "[6] index [5,0,5,5]", {6}, {5, 0, 5, 5}, {4},
                          [](const Tensor& x, const Tensor& i) { return index_select(x, 0, i); }));
  cases.push_back(indexed("index_select", "[4,2] dim 0 index [] (empty)", {4, 2}, {}, {0},
                          [](const Tensor& x, const Tensor& i) { return cat({index_select(x, 0, i), x}, 0); }));
  cases.push_back(indexed("gather", "[4,3] dim 0 index [3,3] with repeats", {4, 3}, {3, 0, 3, 3, 3, 1, 0, 2, 1},
                          {3, 3}, [](const Tensor& x, const Tensor& i) { return gather(x, 0, i); }));
  cases.push_back(indexed("gather", "[3,5] dim 1 index [2,4] (smaller)", {3, 5}, {4, 4, 0, 1, 2, 2, 2, 2}, {2, 4},
                          [](const Tensor& x, const Tensor& i) { return gather(x, 1, i); }));
  cases.push_back(indexed("gather", "[2,3,4] dim -1 index [2,3,5] (larger along dim)", {2, 3, 4},
                          {0, 1, 2, 3, 3, 0, 0, 0, 1, 1, 2, 3, 3, 2, 1, 0, 1, 2, 3, 0, 1, 2, 3, 3, 3, 2, 0, 0, 1, 1},
                          {2, 3, 5}, [](const Tensor& x, const Tensor& i) { return gather(x, -1, i); }));
  cases.push_back(indexed("gather", "transpose([4,3]) dim 1 index [3,2] (strided)", {4, 3}, {3, 3, 0, 1, 2, 0},
                          {3, 2}, [](const Tensor& x, const Tensor& i) { return gather(transpose(x, 0, 1), 1, i); }));
  cases.push_back(OpCase{"gather", "[5,4] dim 0 random index [6,4]",
                         [](Generator& gen) {
                           return std::vector<Tensor>{leaf({5, 4}, gen), randint(0, 5, {6, 4}, gen)};
                         },
                         [](const std::vector<Tensor>& in) { return gather(in[0], 0, in[1]); }});
}

}  // namespace harnet
