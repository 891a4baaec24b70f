// Gradcheck rows for softmax / log_softmax (ops/softmax.h) and the losses (ops/loss.h).
#include "autograd/autograd.h"
#include "ops/loss.h"
#include "ops/op_cases.h"
#include "ops/softmax.h"

namespace harnet {

namespace {

// A differentiable transposed view of a 2-d x: a non-contiguous input built from the core alone.
Tensor transposed_view(const Tensor& x) {
  Tensor view = x.as_strided({x.size(1), x.size(0)}, {x.strides()[1], x.strides()[0]}, x.offset());
  return record_op("transposed_view", {x}, view, [in_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = zeros(in_shape, g.dtype());
    gx.as_strided({in_shape[1], in_shape[0]}, {1, in_shape[1]}, 0).copy_from(g);
    return std::vector<Tensor>{gx};
  });
}

// Class labels in [0, classes) with the listed positions set to `ignored`.
Tensor labels(const Shape& shape, int64_t classes, Generator& gen, const std::vector<int64_t>& ignored_at = {},
              int64_t ignored = -100) {
  Tensor t = randint(0, classes, shape, gen);
  for (int64_t k : ignored_at) t.data<int64_t>()[k] = ignored;
  return t;
}

Tensor class_weight(int64_t classes, Generator& gen) { return rand({classes}, gen, kFloat64, 0.5, 2.0); }

void add_softmax_case(std::vector<OpCase>& cases, bool log, const std::string& shapes, Shape shape, int64_t dim,
                      bool transpose = false) {
  cases.push_back({log ? "log_softmax" : "softmax", shapes,
                   [shape](Generator& gen) {
                     return std::vector<Tensor>{randn(shape, gen, kFloat64, 0.0, 2.0).set_requires_grad(true)};
                   },
                   [log, dim, transpose](const std::vector<Tensor>& in) {
                     const Tensor x = transpose ? transposed_view(in[0]) : in[0];
                     return log ? log_softmax(x, dim) : softmax(x, dim);
                   }});
}

// A class-index loss case: logits (or log-probabilities) of `input_shape`, labels of
// `target_shape` with the given positions ignored, optional class weights.
void add_class_case(std::vector<OpCase>& cases, const std::string& op, const std::string& shapes, Shape input_shape,
                    Shape target_shape, std::vector<int64_t> ignored_at, bool weighted,
                    std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> loss) {
  const int64_t classes = input_shape.size() == 1 ? input_shape[0] : input_shape[1];
  cases.push_back(
      {op, shapes,
       [=](Generator& gen) {
         std::vector<Tensor> in{randn(input_shape, gen, kFloat64).set_requires_grad(true),
                                labels(target_shape, classes, gen, ignored_at)};
         if (weighted) in.push_back(class_weight(classes, gen));
         return in;
       },
       [loss, weighted](const std::vector<Tensor>& in) { return loss(in[0], in[1], weighted ? in[2] : Tensor()); }});
}

CrossEntropyOptions ce_options(Reduction reduction, double smoothing, const Tensor& weight) {
  CrossEntropyOptions o;
  o.reduction = reduction;
  o.label_smoothing = smoothing;
  o.weight = weight;
  return o;
}

NllLossOptions nll_options(Reduction reduction, const Tensor& weight) {
  NllLossOptions o;
  o.reduction = reduction;
  o.weight = weight;
  return o;
}

}  // namespace

void add_softmax_loss_cases(std::vector<OpCase>& cases) {
  // ---- softmax / log_softmax
  for (const bool log : {false, true}) {
    add_softmax_case(cases, log, "[3,5] dim -1", {3, 5}, -1);
    add_softmax_case(cases, log, "[3,4,2] dim 1", {3, 4, 2}, 1);
    add_softmax_case(cases, log, "[4,3] dim 0", {4, 3}, 0);
    add_softmax_case(cases, log, "[6] dim 0", {6}, 0);
    add_softmax_case(cases, log, "[5,3]^T dim -1 (non-contiguous)", {5, 3}, -1, true);
    add_softmax_case(cases, log, "[5,3]^T dim 0 (non-contiguous)", {5, 3}, 0, true);
  }

  // ---- cross_entropy
  auto ce = [](Reduction reduction, double smoothing) {
    return [reduction, smoothing](const Tensor& x, const Tensor& t, const Tensor& w) {
      return cross_entropy(x, t, ce_options(reduction, smoothing, w));
    };
  };
  add_class_case(cases, "cross_entropy", "[4,5] mean", {4, 5}, {4}, {}, false, ce(Reduction::Mean, 0.0));
  add_class_case(cases, "cross_entropy", "[4,5] sum", {4, 5}, {4}, {}, false, ce(Reduction::Sum, 0.0));
  add_class_case(cases, "cross_entropy", "[4,5] none", {4, 5}, {4}, {}, false, ce(Reduction::None, 0.0));
  add_class_case(cases, "cross_entropy", "[4,5] mean, label_smoothing 0.2", {4, 5}, {4}, {}, false,
                 ce(Reduction::Mean, 0.2));
  add_class_case(cases, "cross_entropy", "[5,4] mean, ignore_index at 1 and 3", {5, 4}, {5}, {1, 3}, false,
                 ce(Reduction::Mean, 0.0));
  add_class_case(cases, "cross_entropy", "[4,5] mean, class weights", {4, 5}, {4}, {}, true, ce(Reduction::Mean, 0.0));
  add_class_case(cases, "cross_entropy", "[5,4] mean, weights + smoothing 0.1 + ignore_index", {5, 4}, {5}, {2}, true,
                 ce(Reduction::Mean, 0.1));
  add_class_case(cases, "cross_entropy", "[5,4] none, weights + smoothing 0.3 + ignore_index", {5, 4}, {5}, {0}, true,
                 ce(Reduction::None, 0.3));
  add_class_case(cases, "cross_entropy", "[5,4] sum, weights + smoothing 0.1", {5, 4}, {5}, {}, true,
                 ce(Reduction::Sum, 0.1));
  add_class_case(cases, "cross_entropy", "[2,4,3] mean ([N,C,d] layout), ignore_index", {2, 4, 3}, {2, 3}, {4}, false,
                 ce(Reduction::Mean, 0.0));
  add_class_case(cases, "cross_entropy", "[2,3,2,2] none ([N,C,d1,d2]), weights + smoothing 0.2", {2, 3, 2, 2},
                 {2, 2, 2}, {}, true, ce(Reduction::None, 0.2));
  add_class_case(cases, "cross_entropy", "[6] with 0-d target", {6}, {}, {}, false, ce(Reduction::Mean, 0.1));
  cases.push_back(
      {"cross_entropy", "[5,4]^T mean (non-contiguous), smoothing 0.1",
       [](Generator& gen) {
         return std::vector<Tensor>{randn({5, 4}, gen, kFloat64).set_requires_grad(true), labels({4}, 5, gen)};
       },
       [](const std::vector<Tensor>& in) {
         return cross_entropy(transposed_view(in[0]), in[1], ce_options(Reduction::Mean, 0.1, Tensor()));
       }});

  // ---- nll_loss
  auto nll = [](Reduction reduction) {
    return [reduction](const Tensor& x, const Tensor& t, const Tensor& w) {
      return nll_loss(x, t, nll_options(reduction, w));
    };
  };
  add_class_case(cases, "nll_loss", "[4,5] mean", {4, 5}, {4}, {}, false, nll(Reduction::Mean));
  add_class_case(cases, "nll_loss", "[4,5] sum, class weights", {4, 5}, {4}, {}, true, nll(Reduction::Sum));
  add_class_case(cases, "nll_loss", "[5,4] none, ignore_index", {5, 4}, {5}, {1}, false, nll(Reduction::None));
  add_class_case(cases, "nll_loss", "[5,4] mean, weights + ignore_index", {5, 4}, {5}, {0, 3}, true,
                 nll(Reduction::Mean));
  add_class_case(cases, "nll_loss", "[2,3,4] mean ([N,C,d] layout)", {2, 3, 4}, {2, 4}, {}, false,
                 nll(Reduction::Mean));
  add_class_case(cases, "nll_loss", "[4] with 0-d target", {4}, {}, {}, false, nll(Reduction::Sum));

  // ---- mse_loss
  for (const Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    const std::string name = reduction == Reduction::Mean ? "mean" : reduction == Reduction::Sum ? "sum" : "none";
    cases.push_back({"mse_loss", "[3,4] & [3,4] " + name + ", both differentiated",
                     [](Generator& gen) {
                       return std::vector<Tensor>{randn({3, 4}, gen, kFloat64).set_requires_grad(true),
                                                  randn({3, 4}, gen, kFloat64).set_requires_grad(true)};
                     },
                     [reduction](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], reduction); }});
  }
  cases.push_back(
      {"mse_loss", "[4,3]^T & [3,4] mean (non-contiguous input, constant target)",
       [](Generator& gen) {
         return std::vector<Tensor>{randn({4, 3}, gen, kFloat64).set_requires_grad(true), randn({3, 4}, gen, kFloat64)};
       },
       [](const std::vector<Tensor>& in) { return mse_loss(transposed_view(in[0]), in[1]); }});
  cases.push_back({"mse_loss", "[] & [] (0-d) sum",
                   [](Generator& gen) {
                     return std::vector<Tensor>{randn({}, gen, kFloat64).set_requires_grad(true),
                                                randn({}, gen, kFloat64).set_requires_grad(true)};
                   },
                   [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], Reduction::Sum); }});
}

}  // namespace harnet
