// Loss functions: cross_entropy (fused log-softmax + smoothed, weighted NLL), nll_loss and
// mse_loss, with PyTorch's semantics.
//
// Class-index losses view the input as [batch, classes, spatial] and the target as
// [batch, spatial]: [N, C] is spatial 1, [N, C, d1, ...] has spatial d1 * ..., and [C] with a
// 0-d target is batch 1. One "element" is one (n, s) pair, i.e. one target label.
// Per-element losses are computed in parallel into a double buffer and reduced with a
// deterministic sum, so every result is bit-identical for any thread count.
#include "ops/loss.h"

#include <cmath>
#include <memory>
#include <vector>

#include "autograd/autograd.h"
#include "ops/reduce_kernels.h"

namespace harnet {

namespace {

// ---------------------------------------------------------------- shared checks

struct ClassLayout {
  int64_t batch = 1, classes = 0, spatial = 1;
  Shape loss_shape;  // the target's shape, which is the shape of an unreduced loss
  int64_t elements() const { return batch * spatial; }
};

ClassLayout check_class_inputs(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                               const char* op) {
  HARNET_CHECK(input.defined() && target.defined(), op, ": input and target must be defined tensors");
  HARNET_CHECK(is_floating(input.dtype()), op, ": input must be a float32 or float64 tensor, got ",
               dtype_name(input.dtype()), " of shape ", input.shape());
  HARNET_CHECK(target.dtype() == kInt64, op, ": target must be an int64 tensor of class indices, got ",
               dtype_name(target.dtype()), " of shape ", target.shape());
  HARNET_CHECK(input.dim() >= 1, op, ": input must have a class dimension, got shape ", input.shape());
  ClassLayout l;
  if (input.dim() == 1) {
    l.classes = input.size(0);
    HARNET_CHECK(target.dim() == 0, op, ": for input of shape ", input.shape(),
                 " (one sample of classes) the target must be 0-d, got shape ", target.shape());
  } else {
    l.batch = input.size(0);
    l.classes = input.size(1);
    Shape expected{l.batch};
    for (int64_t d = 2; d < input.dim(); ++d) {
      expected.push_back(input.size(d));
      l.spatial *= input.size(d);
    }
    HARNET_CHECK(target.shape() == expected, op, ": target shape ", target.shape(), " does not match input shape ",
                 input.shape(), " (expected target shape ", expected, ")");
  }
  l.loss_shape = target.shape();
  if (weight.defined()) {
    HARNET_CHECK(weight.dim() == 1 && weight.size(0) == l.classes, op, ": weight must be a 1-d tensor of ", l.classes,
                 " class weights, got shape ", weight.shape());
    HARNET_CHECK(weight.dtype() == input.dtype(), op, ": weight dtype ", dtype_name(weight.dtype()),
                 " does not match input dtype ", dtype_name(input.dtype()));
  }
  // Labels are checked up front, serially, so the error names the first bad one.
  for (int64_t label : target.to_vector<int64_t>()) {
    HARNET_CHECK(label == ignore_index || (label >= 0 && label < l.classes), op, ": target label ", label,
                 " is out of range for ", l.classes, " classes (expected 0 <= label < ", l.classes,
                 ", or ignore_index ", ignore_index, ")");
  }
  return l;
}

// Per-class weights as doubles; all ones when no weight is given.
std::vector<double> class_weights(const Tensor& weight, int64_t classes) {
  if (!weight.defined()) return std::vector<double>(static_cast<size_t>(classes), 1.0);
  return weight.to_vector<double>();
}

Tensor contiguous_input(const Tensor& t) { return t.is_contiguous() ? t.detach() : t.contiguous_copy(); }

// The reduced loss: per-element values (None), their sum (Sum), or their sum divided by
// `mean_divisor` (Mean).
template <class T>
Tensor reduce_loss(const std::vector<double>& loss, Reduction reduction, double mean_divisor, const Shape& shape) {
  if (reduction == Reduction::None) {
    Tensor out = empty(shape, dtype_of<T>());
    T* o = out.data<T>();
    for (size_t k = 0; k < loss.size(); ++k) o[k] = static_cast<T>(loss[k]);
    return out;
  }
  double total = detail::deterministic_sum(loss.data(), static_cast<int64_t>(loss.size()), [](double v) { return v; });
  if (reduction == Reduction::Mean) total /= mean_divisor;  // 0 / 0 = nan when nothing counts, as PyTorch
  return scalar_tensor(total, dtype_of<T>());
}

// d(reduced loss) / d(element loss) for element e, given the loss's output gradient g.
struct ElementScale {
  Reduction reduction;
  double uniform = 0.0;             // Sum: g; Mean: g / divisor
  std::vector<double> per_element;  // None: g[e]
  double operator()(int64_t e) const {
    return reduction == Reduction::None ? per_element[static_cast<size_t>(e)] : uniform;
  }
};

ElementScale element_scale(const Tensor& g, Reduction reduction, double mean_divisor) {
  ElementScale s{reduction, 0.0, {}};
  if (reduction == Reduction::None)
    s.per_element = g.to_vector<double>();
  else
    s.uniform = reduction == Reduction::Mean ? g.item() / mean_divisor : g.item();
  return s;
}

// Sum of the target weights of non-ignored elements: what Mean divides by.
double total_target_weight(const std::vector<double>& target_weight) {
  return detail::deterministic_sum(target_weight.data(), static_cast<int64_t>(target_weight.size()),
                                   [](double v) { return v; });
}

// ---------------------------------------------------------------- cross_entropy

// Everything the fused backward needs; the logits are saved instead of the probabilities,
// which are recomputed from the per-element log-sum-exp.
struct CrossEntropySaved {
  Tensor logits;  // contiguous [N, C, S] values of input
  Tensor target;  // contiguous int64
  ClassLayout layout;
  std::vector<double> log_sum_exp;  // per element
  std::vector<double> weight;       // per class
  double weight_sum = 0.0;          // sum over classes
  double mean_divisor = 0.0;
  CrossEntropyOptions options;
};

// For element e = (n, s), with z the logits, t the target, w the class weights, eps the label
// smoothing, C the classes and logp = log_softmax(z):
//   loss_e = (1 - eps) w_t (-logp_t) + eps / C * sum_c w_c (-logp_c)   (0 when t is ignored)
//   d loss_e / d z_c = p_c ((1 - eps) w_t + eps / C * sum_k w_k) - (1 - eps) w_t [c == t] - eps / C w_c
template <class T>
Tensor cross_entropy_forward(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options,
                             const ClassLayout& layout) {
  auto saved = std::make_shared<CrossEntropySaved>();
  saved->logits = contiguous_input(input);
  saved->target = contiguous_input(target);
  saved->layout = layout;
  saved->weight = class_weights(options.weight, layout.classes);
  for (double w : saved->weight) saved->weight_sum += w;
  saved->options = options;
  saved->options.weight = Tensor();  // the values live in saved->weight

  const int64_t C = layout.classes, S = layout.spatial, elements = layout.elements();
  const double eps = options.label_smoothing;
  const T* z = saved->logits.data<T>();
  const int64_t* labels = saved->target.data<int64_t>();
  const double* w = saved->weight.data();
  saved->log_sum_exp.assign(static_cast<size_t>(elements), 0.0);
  std::vector<double> loss(static_cast<size_t>(elements), 0.0);
  std::vector<double> target_weight(static_cast<size_t>(elements), 0.0);

  parallel_for(0, elements, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t e = begin; e < end; ++e) {
                   const int64_t t = labels[e];
                   if (t == options.ignore_index) continue;
                   const T* row = z + (e / S) * C * S + e % S;  // class c at row[c * S]
                   T m = row[0];
                   double sum_exp = 0.0;
                   if (S == 1) {  // contiguous classes: the vectorised kernels
                     m = detail::extremum_lanes<true>(row, C);
                     sum_exp = detail::sum_lanes(C, [&](int64_t c) { return double(detail::fast_exp(row[c] - m)); });
                   } else {
                     for (int64_t c = 1; c < C; ++c) m = row[c * S] > m ? row[c * S] : m;
                     for (int64_t c = 0; c < C; ++c) sum_exp += double(detail::fast_exp(row[c * S] - m));
                   }
                   const double lse = double(m) + std::log(sum_exp);
                   double value = (1.0 - eps) * w[t] * (lse - double(row[t * S]));
                   if (eps > 0.0) {
                     double smooth = 0.0;
                     for (int64_t c = 0; c < C; ++c) smooth += w[c] * (lse - double(row[c * S]));
                     value += eps / static_cast<double>(C) * smooth;
                   }
                   saved->log_sum_exp[static_cast<size_t>(e)] = lse;
                   loss[static_cast<size_t>(e)] = value;
                   target_weight[static_cast<size_t>(e)] = w[t];
                 }
               });
  saved->mean_divisor = options.reduction == Reduction::Mean ? total_target_weight(target_weight) : 0.0;
  Tensor out = reduce_loss<T>(loss, options.reduction, saved->mean_divisor, layout.loss_shape);

  return record_op("cross_entropy", {input}, out, [saved](const Tensor& grad, const std::vector<bool>&) {
    const CrossEntropySaved& sv = *saved;
    const int64_t C = sv.layout.classes, S = sv.layout.spatial;
    const double eps = sv.options.label_smoothing, smooth_per_class = eps / static_cast<double>(C);
    const ElementScale scale = element_scale(grad, sv.options.reduction, sv.mean_divisor);
    Tensor grad_input = zeros(sv.logits.shape(), sv.logits.dtype());
    const T* z = sv.logits.data<T>();
    const int64_t* labels = sv.target.data<int64_t>();
    const double* w = sv.weight.data();
    T* gz = grad_input.data<T>();
    // The class weights in T, so the contiguous loop below vectorises.
    const std::vector<T> w_t(sv.weight.begin(), sv.weight.end());
    parallel_for(0, sv.layout.elements(), std::max<int64_t>(1, kGrainSize / std::max<int64_t>(C, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t e = begin; e < end; ++e) {
                     const int64_t t = labels[e];
                     if (t == sv.options.ignore_index) continue;
                     const int64_t start = (e / S) * C * S + e % S;
                     const double g = scale(e);
                     const double target_term = (1.0 - eps) * w[t];
                     const double p_coef = target_term + smooth_per_class * sv.weight_sum;
                     // gz_c = g p_c p_coef - g eps / C w_c, then the target's own term.
                     const T lse = static_cast<T>(sv.log_sum_exp[static_cast<size_t>(e)]);
                     const T g_p = static_cast<T>(g * p_coef), g_smooth = static_cast<T>(g * smooth_per_class);
                     if (S == 1) {
                       const T* row = z + start;
                       T* grow = gz + start;
                       for (int64_t c = 0; c < C; ++c)
                         grow[c] = g_p * detail::fast_exp(row[c] - lse) - g_smooth * w_t[c];
                     } else {
                       for (int64_t c = 0; c < C; ++c)
                         gz[start + c * S] = g_p * detail::fast_exp(z[start + c * S] - lse) - g_smooth * w_t[c];
                     }
                     gz[start + t * S] -= static_cast<T>(g * target_term);
                   }
                 });
    return std::vector<Tensor>{grad_input};
  });
}

// ---------------------------------------------------------------- nll_loss

// loss_e = -w_t logp[n, t, s] (0 when t is ignored); d loss_e / d logp[n, c, s] = -w_t [c == t].
template <class T>
Tensor nll_loss_forward(const Tensor& input, const Tensor& target, const NllLossOptions& options,
                        const ClassLayout& layout) {
  const Tensor logp = contiguous_input(input);
  const Tensor labels_tensor = contiguous_input(target);
  auto weight = std::make_shared<std::vector<double>>(class_weights(options.weight, layout.classes));
  const int64_t C = layout.classes, S = layout.spatial, elements = layout.elements();
  const T* lp = logp.data<T>();
  const int64_t* labels = labels_tensor.data<int64_t>();
  std::vector<double> loss(static_cast<size_t>(elements), 0.0);
  std::vector<double> target_weight(static_cast<size_t>(elements), 0.0);
  for (int64_t e = 0; e < elements; ++e) {
    const int64_t t = labels[e];
    if (t == options.ignore_index) continue;
    const double wt = (*weight)[static_cast<size_t>(t)];
    loss[static_cast<size_t>(e)] = -wt * double(lp[(e / S) * C * S + t * S + e % S]);
    target_weight[static_cast<size_t>(e)] = wt;
  }
  const double mean_divisor = options.reduction == Reduction::Mean ? total_target_weight(target_weight) : 0.0;
  Tensor out = reduce_loss<T>(loss, options.reduction, mean_divisor, layout.loss_shape);

  return record_op(
      "nll_loss", {input}, out,
      [labels_tensor, weight, layout, mean_divisor, reduction = options.reduction, ignore_index = options.ignore_index,
       shape = input.shape()](const Tensor& grad, const std::vector<bool>&) {
        const ElementScale scale = element_scale(grad, reduction, mean_divisor);
        Tensor grad_input = zeros(shape, dtype_of<T>());
        T* g = grad_input.data<T>();
        const int64_t* labels = labels_tensor.data<int64_t>();
        const int64_t C = layout.classes, S = layout.spatial;
        for (int64_t e = 0; e < layout.elements(); ++e) {
          const int64_t t = labels[e];
          if (t == ignore_index) continue;
          g[(e / S) * C * S + t * S + e % S] = static_cast<T>(-(*weight)[static_cast<size_t>(t)] * scale(e));
        }
        return std::vector<Tensor>{grad_input};
      });
}

// ---------------------------------------------------------------- mse_loss

// loss_e = (x_e - y_e)^2; d loss_e / d x_e = 2 (x_e - y_e) = -d loss_e / d y_e.
template <class T>
Tensor mse_loss_forward(const Tensor& input, const Tensor& target, Reduction reduction) {
  const Tensor x = contiguous_input(input), y = contiguous_input(target);
  const int64_t n = x.numel();
  const T* xp = x.data<T>();
  const T* yp = y.data<T>();
  std::vector<double> loss(static_cast<size_t>(n));
  parallel_for(0, n, kGrainSize, [&](int64_t begin, int64_t end) {
    for (int64_t e = begin; e < end; ++e) {
      const double d = double(xp[e]) - double(yp[e]);
      loss[static_cast<size_t>(e)] = d * d;
    }
  });
  const double mean_divisor = static_cast<double>(n);
  Tensor out = reduce_loss<T>(loss, reduction, mean_divisor, x.shape());

  return record_op("mse_loss", {input, target}, out,
                   [x, y, reduction, mean_divisor](const Tensor& grad, const std::vector<bool>& needs) {
                     const ElementScale scale = element_scale(grad, reduction, mean_divisor);
                     Tensor grad_x = empty(x.shape(), x.dtype());
                     const T* xp = x.data<T>();
                     const T* yp = y.data<T>();
                     T* gx = grad_x.data<T>();
                     parallel_for(0, x.numel(), kGrainSize, [&](int64_t begin, int64_t end) {
                       for (int64_t e = begin; e < end; ++e)
                         gx[e] = static_cast<T>(2.0 * (double(xp[e]) - double(yp[e])) * scale(e));
                     });
                     Tensor grad_y;
                     if (needs[1]) {
                       grad_y = empty(x.shape(), x.dtype());
                       T* gy = grad_y.data<T>();
                       parallel_for(0, x.numel(), kGrainSize, [&](int64_t begin, int64_t end) {
                         for (int64_t e = begin; e < end; ++e) gy[e] = -gx[e];
                       });
                     }
                     return std::vector<Tensor>{needs[0] ? grad_x : Tensor(), grad_y};
                   });
}

}  // namespace

// ---------------------------------------------------------------- public API

// input [N, C] / [N, C, d1, ...] / [C] logits, target [N] / [N, d1, ...] / [] int64 labels
// -> loss [] (Mean, Sum) or target's shape (None).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options) {
  const ClassLayout layout = check_class_inputs(input, target, options.weight, options.ignore_index, "cross_entropy");
  HARNET_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0,
               "cross_entropy: label_smoothing must be in [0, 1], got ", options.label_smoothing);
  return dispatch_floating(input.dtype(), "cross_entropy", [&](auto tag) {
    return cross_entropy_forward<decltype(tag)>(input, target, options, layout);
  });
}

// input: log-probabilities with cross_entropy's shapes -> loss [] (Mean, Sum) or target's shape.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options) {
  const ClassLayout layout = check_class_inputs(input, target, options.weight, options.ignore_index, "nll_loss");
  return dispatch_floating(input.dtype(), "nll_loss",
                           [&](auto tag) { return nll_loss_forward<decltype(tag)>(input, target, options, layout); });
}

// input, target: the same shape and floating dtype (no broadcasting) -> loss [] or that shape.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  HARNET_CHECK(input.defined() && target.defined(), "mse_loss: input and target must be defined tensors");
  HARNET_CHECK(input.shape() == target.shape(), "mse_loss: input shape ", input.shape(), " and target shape ",
               target.shape(), " must be equal (mse_loss does not broadcast)");
  HARNET_CHECK(input.dtype() == target.dtype(), "mse_loss: input dtype ", dtype_name(input.dtype()),
               " and target dtype ", dtype_name(target.dtype()), " differ");
  return dispatch_floating(input.dtype(), "mse_loss",
                           [&](auto tag) { return mse_loss_forward<decltype(tag)>(input, target, reduction); });
}

}  // namespace harnet
