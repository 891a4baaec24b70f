#!/usr/bin/python3
"""PyTorch value-parity fixtures for harnet's pooling, normalisation and dropout operators (dev-only).

Writes tests/fixtures/pool_norm.json, which tests/test_parity_pool_norm.cpp replays through harnet:
for every case it rebuilds the inputs, calls the matching harnet function, and compares the
outputs (max pool indices exactly; batch_norm's updated running statistics too) and the input
gradients with the PyTorch values stored here.

Run (needs PyTorch; Debian's python3-torch 1.13 is what the committed file was made with):
    /usr/bin/python3 tools/make_pool_norm_fixtures.py          # writes tests/fixtures/pool_norm.json
    /usr/bin/python3 tools/make_pool_norm_fixtures.py OUT.json # writes elsewhere
File format and determinism: see tools/fixturelib.py.
"""

import os
import sys

import torch
import torch.nn.functional as F

from fixturelib import F32, F64, INF, NAN, ROOT, FixtureSet, Input  # noqa: F401


# ---------------------------------------------------------------- operators
# op name -> fn(list of input tensors, options) -> tensor or tuple of tensors.
# Must mirror the table in tests/test_parity_pool_norm.cpp. Pool options are PyTorch's keyword
# arguments; absent ones keep PyTorch's (and harnet's) defaults.

POOL_KEYS = ("stride", "padding", "dilation", "ceil_mode", "count_include_pad", "divisor_override")


def pool(fn, **fixed):
    def run(t, o):
        kwargs = {k: o[k] for k in POOL_KEYS if k in o}
        return fn(t[0], o["kernel_size"], **kwargs, **fixed)
    return run


def batch_norm_op(t, o):
    """Inputs: input, then weight, bias, running_mean, running_var as the has_* options say.
    In training with running statistics, the updated statistics are extra outputs: they are
    cloned first so the fixture's inputs stay as recorded."""
    rest = list(t[1:])
    weight = rest.pop(0) if o["has_weight"] else None
    bias = rest.pop(0) if o["has_bias"] else None
    running_mean = running_var = None
    if o["has_running"]:
        running_mean, running_var = rest[0].detach().clone(), rest[1].detach().clone()
    out = F.batch_norm(t[0], running_mean, running_var, weight, bias, training=o["training"],
                       momentum=o["momentum"], eps=o["eps"])
    if o["training"] and o["has_running"]:
        return out, running_mean, running_var
    return out


def layer_norm_op(t, o):
    rest = list(t[1:])
    weight = rest.pop(0) if o["has_weight"] else None
    bias = rest.pop(0) if o["has_bias"] else None
    return F.layer_norm(t[0], o["normalized_shape"], weight, bias, eps=o["eps"])


TORCH_OPS = {
    "max_pool1d": pool(F.max_pool1d),
    "max_pool2d": pool(F.max_pool2d),
    # outputs (values, int64 indices into the flattened input plane)
    "max_pool1d_with_indices": pool(F.max_pool1d, return_indices=True),
    "max_pool2d_with_indices": pool(F.max_pool2d, return_indices=True),
    "avg_pool1d": pool(F.avg_pool1d),
    "avg_pool2d": pool(F.avg_pool2d),
    "adaptive_avg_pool1d": lambda t, o: F.adaptive_avg_pool1d(t[0], o["output_size"]),
    "adaptive_avg_pool2d": lambda t, o: F.adaptive_avg_pool2d(t[0], o["output_size"]),
    "batch_norm": batch_norm_op,
    "layer_norm": layer_norm_op,
    # Only the deterministic regimes: evaluation, p = 0 and p = 1 (masks are harnet's own).
    "dropout": lambda t, o: F.dropout(t[0], o["p"], training=o["training"]),
}


# ---------------------------------------------------------------- cases

FIXTURES = FixtureSet("tools/make_pool_norm_fixtures.py", TORCH_OPS, max_numel=100)
case = FIXTURES.case


def x(*shape, layout="contiguous", scale=1.0, shift=0.0):
    return lambda d: [Input("input", d.randn(*shape, scale=scale, shift=shift), layout=layout)]


# Max pooling: ties are broken by the first position in scan order; a NaN is the maximum of
# its window; a window of -inf reports its first position. Exact values exercise all three.
TIES = [[1.0, 3.0, 3.0, NAN, 0.5, 0.5],
        [-INF, -INF, 2.0, 2.0, 0.5, -1.0],
        [-INF, -INF, NAN, 1.0, 4.0, 4.0],
        [0.0, -0.0, 2.0, 2.0, 4.0, 4.0]]

for op in ["max_pool2d", "max_pool2d_with_indices"]:
    case(op, "k2", x(2, 2, 4, 6), {"kernel_size": 2})
    case(op, "k3_s2_p1", x(1, 2, 5, 5), {"kernel_size": 3, "stride": 2, "padding": 1})
    case(op, "k2_ceil", x(1, 2, 5, 5), {"kernel_size": 2, "ceil_mode": True})
    case(op, "k2_p1_ceil_last_window_dropped", x(1, 1, 5, 5), {"kernel_size": 2, "padding": 1, "ceil_mode": True})
    case(op, "k1x2_ceil_harnet", x(2, 2, 3, 5), {"kernel_size": [1, 2], "ceil_mode": True})
    case(op, "k2x3_s1x2_overlapping", x(1, 1, 4, 7), {"kernel_size": [2, 3], "stride": [1, 2]})
    case(op, "k2_s1_p1_dilation2", x(1, 1, 6, 6), {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2})
    case(op, "k3x2_s2x3_p1_dilation1x2_ceil", x(1, 1, 5, 7),
         {"kernel_size": [3, 2], "stride": [2, 3], "padding": 1, "dilation": [1, 2], "ceil_mode": True})
    case(op, "unbatched", x(2, 4, 4), {"kernel_size": 2})
    case(op, "strided", x(1, 2, 5, 6, layout="transposed"), {"kernel_size": 2, "stride": 1})
    case(op, "ties_nan_inf", lambda d: [Input("input", d.exact(TIES, [1, 1, 4, 6]))], {"kernel_size": 2})
    case(op, "ties_nan_inf_overlapping", lambda d: [Input("input", d.exact(TIES, [1, 1, 4, 6]))],
         {"kernel_size": [2, 3], "stride": 1, "padding": 1})

for op in ["max_pool1d", "max_pool1d_with_indices"]:
    case(op, "k3_s2", x(2, 3, 7), {"kernel_size": 3, "stride": 2})
    case(op, "k2_p1_ceil", x(1, 2, 8), {"kernel_size": 2, "padding": 1, "ceil_mode": True})
    case(op, "k3_s1_p1_dilation2", x(1, 2, 9), {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2})
    case(op, "k2_s2_p1_ceil_last_window_dropped", x(1, 1, 7), {"kernel_size": 2, "padding": 1, "ceil_mode": True})
    case(op, "unbatched", x(3, 6), {"kernel_size": 2})
    case(op, "strided", x(2, 3, 7, layout="strided"), {"kernel_size": 3, "stride": 2, "ceil_mode": True})
    case(op, "ties_nan_inf", lambda d: [Input("input", d.exact(TIES, [4, 6]))], {"kernel_size": 2})

case("avg_pool2d", "k2", x(2, 2, 4, 5), {"kernel_size": 2})
case("avg_pool2d", "k3_s2_p1_include_pad", x(1, 2, 5, 5), {"kernel_size": 3, "stride": 2, "padding": 1})
case("avg_pool2d", "k3_s2_p1_exclude_pad", x(1, 2, 5, 5),
     {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False})
case("avg_pool2d", "k2_p1_ceil_include_pad", x(1, 2, 5, 5), {"kernel_size": 2, "padding": 1, "ceil_mode": True})
case("avg_pool2d", "k3_s2_p1_ceil_exclude_pad", x(1, 1, 6, 5),
     {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False})
case("avg_pool2d", "k3_s2_ceil_no_pad", x(1, 2, 6, 6), {"kernel_size": 3, "stride": 2, "ceil_mode": True})
case("avg_pool2d", "k1x2_ceil_harnet", x(2, 2, 3, 5), {"kernel_size": [1, 2], "ceil_mode": True})
case("avg_pool2d", "k2x3_s1x2_overlapping", x(1, 1, 4, 7), {"kernel_size": [2, 3], "stride": [1, 2]})
case("avg_pool2d", "divisor_override", x(1, 2, 5, 5),
     {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 5})
case("avg_pool2d", "unbatched", x(2, 4, 5), {"kernel_size": 2, "stride": 1})
case("avg_pool2d", "strided", x(1, 2, 5, 6, layout="transposed"), {"kernel_size": [2, 3], "padding": 1})

case("avg_pool1d", "k3_s2", x(2, 3, 7), {"kernel_size": 3, "stride": 2})
case("avg_pool1d", "k3_s2_p1_ceil_include_pad", x(1, 2, 8),
     {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True})
case("avg_pool1d", "k3_s2_p1_ceil_exclude_pad", x(1, 2, 8),
     {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False})
case("avg_pool1d", "unbatched", x(3, 6), {"kernel_size": 2})
case("avg_pool1d", "strided", x(2, 3, 7, layout="strided"), {"kernel_size": 2, "ceil_mode": True})

case("adaptive_avg_pool2d", "to_3x4", x(1, 2, 5, 7), {"output_size": [3, 4]})
case("adaptive_avg_pool2d", "global", x(2, 3, 3, 5), {"output_size": 1})
case("adaptive_avg_pool2d", "larger_than_input", x(1, 1, 3, 3), {"output_size": [5, 4]})
case("adaptive_avg_pool2d", "unbatched", x(2, 4, 6), {"output_size": [2, 3]})
case("adaptive_avg_pool2d", "strided", x(1, 2, 5, 6, layout="transposed"), {"output_size": [4, 3]})
case("adaptive_avg_pool1d", "to_3", x(2, 3, 7), {"output_size": 3})
case("adaptive_avg_pool1d", "global", x(2, 3, 5), {"output_size": 1})
case("adaptive_avg_pool1d", "larger_than_input", x(3, 4), {"output_size": 7})
case("adaptive_avg_pool1d", "strided", x(2, 3, 7, layout="strided"), {"output_size": 4})


def batch_norm_inputs(shape, has_weight=True, has_bias=True, has_running=True, layout="contiguous", scale=1.5,
                      shift=0.5):
    c = shape[1]

    def make(d):
        inputs = [Input("input", d.randn(*shape, scale=scale, shift=shift), layout=layout)]
        if has_weight:
            inputs.append(Input("weight", d.uniform(0.5, 1.5, c)))
        if has_bias:
            inputs.append(Input("bias", d.randn(c)))
        if has_running:
            inputs.append(Input("running_mean", d.randn(c, scale=0.5), requires_grad=False))
            inputs.append(Input("running_var", d.uniform(0.5, 2.0, c), requires_grad=False))
        return inputs
    return make


def bn_options(training, has_weight=True, has_bias=True, has_running=True, momentum=0.1, eps=1e-5):
    return {"training": training, "has_weight": has_weight, "has_bias": has_bias, "has_running": has_running,
            "momentum": momentum, "eps": eps}


case("batch_norm", "train_4d", batch_norm_inputs((2, 3, 3, 4)), bn_options(True))
case("batch_norm", "train_2d", batch_norm_inputs((5, 3)), bn_options(True))
case("batch_norm", "train_3d", batch_norm_inputs((2, 3, 4)), bn_options(True))
case("batch_norm", "train_no_affine", batch_norm_inputs((2, 3, 2, 3), has_weight=False, has_bias=False),
     bn_options(True, has_weight=False, has_bias=False))
case("batch_norm", "train_weight_only", batch_norm_inputs((3, 2, 5), has_bias=False),
     bn_options(True, has_bias=False))
case("batch_norm", "train_no_running_stats", batch_norm_inputs((2, 3, 4), has_running=False),
     bn_options(True, has_running=False))
case("batch_norm", "train_momentum_0_3_eps_1e-3", batch_norm_inputs((4, 2, 3)), bn_options(True, momentum=0.3, eps=1e-3))
# A large mean with a small spread: the variance must not be lost to cancellation.
case("batch_norm", "train_large_mean", batch_norm_inputs((2, 3, 8), scale=0.01, shift=100.0), bn_options(True))
case("batch_norm", "train_long_rows", batch_norm_inputs((2, 2, 20)), bn_options(True))
case("batch_norm", "train_strided", batch_norm_inputs((2, 3, 4), layout="transposed"), bn_options(True))
case("batch_norm", "eval_4d", batch_norm_inputs((2, 3, 2, 4)), bn_options(False))
case("batch_norm", "eval_no_affine", batch_norm_inputs((2, 3, 4), has_weight=False, has_bias=False),
     bn_options(False, has_weight=False, has_bias=False))
case("batch_norm", "eval_bias_only", batch_norm_inputs((4, 3), has_weight=False), bn_options(False, has_weight=False))
case("batch_norm", "eval_strided", batch_norm_inputs((2, 4, 3), layout="strided"), bn_options(False, eps=1e-3))


def layer_norm_inputs(shape, normalized_shape, has_weight=True, has_bias=True, layout="contiguous", scale=1.5,
                      shift=0.3):
    def make(d):
        inputs = [Input("input", d.randn(*shape, scale=scale, shift=shift), layout=layout)]
        if has_weight:
            inputs.append(Input("weight", d.uniform(0.5, 1.5, *normalized_shape)))
        if has_bias:
            inputs.append(Input("bias", d.randn(*normalized_shape)))
        return inputs
    return make


def ln_options(normalized_shape, has_weight=True, has_bias=True, eps=1e-5):
    return {"normalized_shape": list(normalized_shape), "has_weight": has_weight, "has_bias": has_bias, "eps": eps}


case("layer_norm", "last_dim", layer_norm_inputs((3, 2, 8), (8,)), ln_options((8,)))
case("layer_norm", "two_dims", layer_norm_inputs((2, 3, 4), (3, 4)), ln_options((3, 4)))
case("layer_norm", "no_affine", layer_norm_inputs((4, 6), (6,), has_weight=False, has_bias=False),
     ln_options((6,), has_weight=False, has_bias=False))
case("layer_norm", "weight_only_eps_1e-3", layer_norm_inputs((3, 5), (5,), has_bias=False),
     ln_options((5,), has_bias=False, eps=1e-3))
case("layer_norm", "bias_only", layer_norm_inputs((3, 5), (5,), has_weight=False), ln_options((5,), has_weight=False))
case("layer_norm", "vector", layer_norm_inputs((7,), (7,)), ln_options((7,)))
case("layer_norm", "row_of_20", layer_norm_inputs((3, 20), (20,)), ln_options((20,)))
case("layer_norm", "large_mean", layer_norm_inputs((3, 16), (16,), scale=0.01, shift=100.0), ln_options((16,)))
case("layer_norm", "strided", layer_norm_inputs((3, 5), (5,), layout="transposed"), ln_options((5,)))

case("dropout", "eval", x(3, 4), {"p": 0.5, "training": False})
case("dropout", "p0_training", x(3, 4), {"p": 0.0, "training": True})
case("dropout", "p1_training", x(3, 4), {"p": 1.0, "training": True})
case("dropout", "p1_training_strided", x(3, 4, layout="transposed"), {"p": 1.0, "training": True})


def main():
    FIXTURES.write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "pool_norm.json"))


if __name__ == "__main__":
    main()
