#!/usr/bin/python3
"""PyTorch value-parity fixtures for harnet's core operators (dev-only).

Writes tests/fixtures/core_ops.json, which tests/test_parity_core.cpp replays through harnet:
for every case it rebuilds the inputs, calls the matching harnet function, and compares the
outputs and the input gradients with the PyTorch values stored here.

Run (needs PyTorch; Debian's python3-torch 1.13 is what the committed file was made with):
    /usr/bin/python3 tools/make_core_fixtures.py          # writes tests/fixtures/core_ops.json
    /usr/bin/python3 tools/make_core_fixtures.py OUT.json # writes elsewhere
File format and determinism: see tools/fixturelib.py.
"""

import os
import sys

import torch
import torch.nn.functional as F

from fixturelib import F32, F64, INF, NAN, ROOT, Draw, FixtureSet, Input  # noqa: F401


# ---------------------------------------------------------------- operators
# op name -> fn(list of input tensors, options) -> tensor or tuple/list of tensors.
# Must mirror the table in tests/test_parity_core.cpp.

def reduce_all_or_dims(fn_all, fn_dims):
    def run(t, o):
        if "dims" not in o:
            return fn_all(t[0])
        return fn_dims(t[0], o["dims"], o.get("keepdim", False))
    return run


def var_op(t, o):
    if "dims" not in o:
        return torch.var(t[0], dim=None, correction=o["correction"])
    return torch.var(t[0], dim=o["dims"], correction=o["correction"], keepdim=o.get("keepdim", False))


def index_op(fn):
    def run(t, o):
        if "dim" not in o:
            return fn(t[0])
        return fn(t[0], dim=o["dim"], keepdim=o.get("keepdim", False))
    return run


def slice_op(t, o):
    index = [slice(None)] * t[0].dim()
    index[o["dim"]] = slice(o["start"], o["end"], o.get("step", 1))
    return t[0][tuple(index)]


def split_op(t, o):
    return torch.split(t[0], o["split_size"] if "split_size" in o else o["sizes"], dim=o.get("dim", 0))


def cross_entropy_op(t, o):
    return F.cross_entropy(t[0], t[1], weight=t[2] if len(t) > 2 else None,
                           reduction=o.get("reduction", "mean"), ignore_index=o.get("ignore_index", -100),
                           label_smoothing=o.get("label_smoothing", 0.0))


def nll_loss_op(t, o):
    return F.nll_loss(t[0], t[1], weight=t[2] if len(t) > 2 else None,
                      reduction=o.get("reduction", "mean"), ignore_index=o.get("ignore_index", -100))


TORCH_OPS = {
    # elementwise, broadcasting
    "add": lambda t, o: torch.add(t[0], t[1]),
    "sub": lambda t, o: torch.sub(t[0], t[1]),
    "mul": lambda t, o: torch.mul(t[0], t[1]),
    "div": lambda t, o: torch.div(t[0], t[1]),
    "pow": lambda t, o: torch.pow(t[0], t[1]),
    "add_scalar": lambda t, o: t[0] + o["scalar"],
    "sub_scalar": lambda t, o: t[0] - o["scalar"],
    "mul_scalar": lambda t, o: t[0] * o["scalar"],
    "div_scalar": lambda t, o: t[0] / o["scalar"],
    "pow_scalar": lambda t, o: torch.pow(t[0], o["scalar"]),
    "rsub_scalar": lambda t, o: o["scalar"] - t[0],
    "rdiv_scalar": lambda t, o: o["scalar"] / t[0],
    "neg": lambda t, o: torch.neg(t[0]),
    "exp": lambda t, o: torch.exp(t[0]),
    "log": lambda t, o: torch.log(t[0]),
    "sqrt": lambda t, o: torch.sqrt(t[0]),
    "abs": lambda t, o: torch.abs(t[0]),
    "tanh": lambda t, o: torch.tanh(t[0]),
    "sigmoid": lambda t, o: torch.sigmoid(t[0]),
    "relu": lambda t, o: torch.relu(t[0]),
    "gelu": lambda t, o: F.gelu(t[0], approximate=o["approximate"]),
    "clamp": lambda t, o: torch.clamp(t[0], min=o["min"], max=o["max"]),
    "where": lambda t, o: torch.where(t[0], t[1], t[2]),
    "masked_fill": lambda t, o: t[0].masked_fill(t[1], o["value"]),
    "eq": lambda t, o: torch.eq(t[0], t[1]),
    "ne": lambda t, o: torch.ne(t[0], t[1]),
    "lt": lambda t, o: torch.lt(t[0], t[1]),
    "le": lambda t, o: torch.le(t[0], t[1]),
    "gt": lambda t, o: torch.gt(t[0], t[1]),
    "ge": lambda t, o: torch.ge(t[0], t[1]),
    "eq_scalar": lambda t, o: torch.eq(t[0], o["scalar"]),
    "lt_scalar": lambda t, o: torch.lt(t[0], o["scalar"]),
    "gt_scalar": lambda t, o: torch.gt(t[0], o["scalar"]),
    "isfinite": lambda t, o: torch.isfinite(t[0]),
    # linear algebra
    "matmul": lambda t, o: torch.matmul(t[0], t[1]),
    "bmm": lambda t, o: torch.bmm(t[0], t[1]),
    "linear": lambda t, o: F.linear(t[0], t[1], t[2] if len(t) > 2 else None),
    # shape and indexing
    "reshape": lambda t, o: torch.reshape(t[0], o["shape"]),
    "view": lambda t, o: t[0].view(o["shape"]),
    "flatten": lambda t, o: torch.flatten(t[0], o.get("start_dim", 0), o.get("end_dim", -1)),
    "squeeze": lambda t, o: torch.squeeze(t[0], o["dim"]),
    "unsqueeze": lambda t, o: torch.unsqueeze(t[0], o["dim"]),
    "transpose": lambda t, o: torch.transpose(t[0], o["dim0"], o["dim1"]),
    "permute": lambda t, o: t[0].permute(o["dims"]),
    "expand": lambda t, o: t[0].expand(o["shape"]),
    "contiguous": lambda t, o: t[0].contiguous(),
    "clone": lambda t, o: t[0].clone(),
    "to": lambda t, o: t[0].to({"float32": F32, "float64": F64}[o["dtype"]]),
    "cat": lambda t, o: torch.cat(t, dim=o.get("dim", 0)),
    "stack": lambda t, o: torch.stack(t, dim=o.get("dim", 0)),
    "split": split_op,
    "chunk": lambda t, o: torch.chunk(t[0], o["chunks"], dim=o.get("dim", 0)),
    "narrow": lambda t, o: torch.narrow(t[0], o["dim"], o["start"], o["length"]),
    "slice": slice_op,
    "index_select": lambda t, o: torch.index_select(t[0], o["dim"], t[1]),
    "gather": lambda t, o: torch.gather(t[0], o["dim"], t[1]),
    "sum_to": lambda t, o: t[0].sum_to_size(o["shape"]),
    # reductions
    "sum": reduce_all_or_dims(torch.sum, lambda x, d, k: torch.sum(x, dim=d, keepdim=k)),
    "mean": reduce_all_or_dims(torch.mean, lambda x, d, k: torch.mean(x, dim=d, keepdim=k)),
    "var": var_op,
    "amax": reduce_all_or_dims(torch.amax, lambda x, d, k: torch.amax(x, dim=d, keepdim=k)),
    "amin": reduce_all_or_dims(torch.amin, lambda x, d, k: torch.amin(x, dim=d, keepdim=k)),
    "max_with_indices": lambda t, o: tuple(torch.max(t[0], dim=o["dim"], keepdim=o.get("keepdim", False))),
    "min_with_indices": lambda t, o: tuple(torch.min(t[0], dim=o["dim"], keepdim=o.get("keepdim", False))),
    "argmax": index_op(torch.argmax),
    "argmin": index_op(torch.argmin),
    # softmax and losses
    "softmax": lambda t, o: torch.softmax(t[0], dim=o["dim"]),
    "log_softmax": lambda t, o: torch.log_softmax(t[0], dim=o["dim"]),
    "cross_entropy": cross_entropy_op,
    "nll_loss": nll_loss_op,
    "mse_loss": lambda t, o: F.mse_loss(t[0], t[1], reduction=o.get("reduction", "mean")),
}


# ---------------------------------------------------------------- cases
# (op, variant, make(draw) -> [Input], options, dtypes)

FIXTURES = FixtureSet("tools/make_core_fixtures.py", TORCH_OPS, max_numel=100, check=None)
case = FIXTURES.case


def binary_cases(op, second):
    """The broadcasting patterns every binary op gets; `second(draw, shape)` makes operand b."""
    case(op, "same_shape", lambda d: [Input("a", d.randn(2, 3)), Input("b", second(d, (2, 3)))])
    case(op, "broadcast_row", lambda d: [Input("a", d.randn(2, 3)), Input("b", second(d, (3,)))])
    case(op, "broadcast_both", lambda d: [Input("a", d.randn(3, 1)), Input("b", second(d, (1, 4)))])
    case(op, "scalar_first", lambda d: [Input("a", d.randn()), Input("b", second(d, (2, 3)))])
    case(op, "rank3_vs_rank2", lambda d: [Input("a", d.randn(2, 1, 3)), Input("b", second(d, (4, 1)))])
    case(op, "strided", lambda d: [Input("a", d.randn(3, 4), layout="transposed"),
                                   Input("b", second(d, (3, 4)), layout="strided")])


binary_cases("add", lambda d, s: d.randn(*s))
binary_cases("sub", lambda d, s: d.randn(*s))
binary_cases("mul", lambda d, s: d.randn(*s))
binary_cases("div", lambda d, s: d.away_from_zero(*s, margin=0.5))

# pow: positive bases, so the exponent's gradient (log base) exists.
case("pow", "same_shape", lambda d: [Input("base", d.uniform(0.5, 2.0, 2, 3)), Input("exponent", d.randn(2, 3))])
case("pow", "broadcast_exponent", lambda d: [Input("base", d.uniform(0.5, 2.0, 2, 3)), Input("exponent", d.randn(3))])
case("pow", "broadcast_base", lambda d: [Input("base", d.uniform(0.5, 2.0, 3, 1)), Input("exponent", d.randn(1, 2))])
case("pow", "scalar_exponent_tensor", lambda d: [Input("base", d.uniform(0.5, 2.0, 2, 3)),
                                                  Input("exponent", d.randn())])
case("pow", "strided", lambda d: [Input("base", d.uniform(0.5, 2.0, 3, 4), layout="strided"),
                                  Input("exponent", d.randn(3, 4), layout="transposed")])

for op, scalar, make in [
    ("add_scalar", 2.5, lambda d: d.randn(2, 3)),
    ("sub_scalar", -1.25, lambda d: d.randn(2, 3)),
    ("mul_scalar", -3.0, lambda d: d.randn(2, 3)),
    ("div_scalar", 4.0, lambda d: d.randn(2, 3)),
    ("rsub_scalar", 1.5, lambda d: d.randn(2, 3)),
    ("rdiv_scalar", 2.0, lambda d: d.away_from_zero(2, 3, margin=0.5)),
]:
    case(op, "basic", lambda d, make=make: [Input("x", make(d))], {"scalar": scalar})
case("mul_scalar", "zero_dim", lambda d: [Input("x", d.randn())], {"scalar": 0.5})

# pow with a scalar exponent: integer exponents take any base, others a positive one.
case("pow_scalar", "square", lambda d: [Input("x", d.randn(2, 3))], {"scalar": 2.0})
case("pow_scalar", "cube_negative_base", lambda d: [Input("x", d.randn(2, 3))], {"scalar": 3.0})
case("pow_scalar", "zero_exponent", lambda d: [Input("x", d.randn(2, 3))], {"scalar": 0.0})
case("pow_scalar", "sqrt", lambda d: [Input("x", d.uniform(0.5, 2.0, 2, 3))], {"scalar": 0.5})
case("pow_scalar", "negative_fraction", lambda d: [Input("x", d.uniform(0.5, 2.0, 2, 3))], {"scalar": -1.5})
case("pow_scalar", "strided", lambda d: [Input("x", d.uniform(0.5, 2.0, 3, 4), layout="transposed")],
     {"scalar": 1.7})

# unary
for op, make in [
    ("neg", lambda d, *s: d.randn(*s)),
    ("exp", lambda d, *s: d.randn(*s)),
    ("log", lambda d, *s: d.uniform(0.1, 3.0, *s)),
    ("sqrt", lambda d, *s: d.uniform(0.1, 3.0, *s)),
    ("abs", lambda d, *s: d.away_from_zero(*s)),
    ("tanh", lambda d, *s: d.randn(*s, scale=2.0)),
    ("sigmoid", lambda d, *s: d.randn(*s, scale=3.0)),
    ("relu", lambda d, *s: d.away_from_zero(*s)),
]:
    case(op, "basic", lambda d, make=make: [Input("x", make(d, 2, 5))])
    case(op, "zero_dim", lambda d, make=make: [Input("x", make(d))])
    case(op, "strided", lambda d, make=make: [Input("x", make(d, 3, 4), layout="transposed")])
for approximate in ["none", "tanh"]:
    case("gelu", approximate, lambda d: [Input("x", d.randn(2, 5, scale=2.0))], {"approximate": approximate})
    case("gelu", approximate + "_strided", lambda d: [Input("x", d.randn(3, 4, scale=2.0), layout="strided")],
         {"approximate": approximate})
case("clamp", "both_bounds", lambda d: [Input("x", d.randn(3, 4))], {"min": -0.5, "max": 0.5})
case("clamp", "min_only", lambda d: [Input("x", d.randn(3, 4))], {"min": 0.0, "max": None})
case("clamp", "max_only", lambda d: [Input("x", d.randn(3, 4))], {"min": None, "max": 0.3})
case("clamp", "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed")], {"min": -0.2, "max": 0.7})
# The non-differentiable points, exactly: PyTorch passes the gradient at a clamp bound
# (min <= x <= max) and gives relu and abs a zero gradient at 0.
case("clamp", "at_bounds", lambda d: [Input("x", d.exact([-1.0, -0.5, 0.0, 0.5, 1.0, 0.25], [6]))],
     {"min": -0.5, "max": 0.5})
case("relu", "at_zero", lambda d: [Input("x", d.exact([-1.0, 0.0, 2.0, -0.0], [4]))])
case("abs", "at_zero", lambda d: [Input("x", d.exact([-1.0, 0.0, 2.0, -0.0], [4]))])

# selection
case("where", "same_shape", lambda d: [Input("cond", d.mask(2, 3)), Input("a", d.randn(2, 3)),
                                       Input("b", d.randn(2, 3))])
case("where", "broadcast_all", lambda d: [Input("cond", d.mask(2, 1)), Input("a", d.randn(1, 3)),
                                          Input("b", d.randn(2, 3))])
case("where", "zero_dim_b", lambda d: [Input("cond", d.mask(3)), Input("a", d.randn(2, 3)), Input("b", d.randn())])
case("where", "strided", lambda d: [Input("cond", d.mask(3, 4), layout="transposed"),
                                    Input("a", d.randn(3, 4), layout="strided"), Input("b", d.randn(3, 4))])
case("masked_fill", "same_shape", lambda d: [Input("x", d.randn(3, 4)), Input("mask", d.mask(3, 4))], {"value": -1e9})
case("masked_fill", "broadcast_mask", lambda d: [Input("x", d.randn(3, 4)), Input("mask", d.mask(1, 4))],
     {"value": 0.5})
case("masked_fill", "minus_inf", lambda d: [Input("x", d.randn(2, 4)), Input("mask", d.mask(4))], {"value": -INF})
case("masked_fill", "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed"),
                                          Input("mask", d.mask(3, 4), layout="strided")], {"value": 2.0})

# comparisons: small integers as floats, so there are ties
# (not differentiable, yet the inputs require grad: that must not be an error).
def small_ints(d, *shape, layout="contiguous"):
    return Input("x", d.ints(0, 3, *shape).to(d.dtype), layout=layout)


for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
    case(op, "broadcast", lambda d: [small_ints(d, 2, 3), small_ints(d, 3)])
    case(op, "strided", lambda d: [small_ints(d, 3, 4, layout="transposed"), small_ints(d, 3, 4, layout="strided")])
for op in ["eq_scalar", "lt_scalar", "gt_scalar"]:
    case(op, "basic", lambda d: [small_ints(d, 2, 4)], {"scalar": 1.0})
case("isfinite", "special_values",
     lambda d: [Input("x", d.exact([1.5, INF, -INF, NAN, -2.0, 0.0], [2, 3]), requires_grad=False)])

# linear algebra
for variant, sa, sb in [
    ("dot_1d_1d", (4,), (4,)), ("vec_1d_2d", (3,), (3, 4)), ("mat_2d_1d", (2, 3), (3,)),
    ("mat_2d_2d", (3, 4), (4, 2)), ("batched_3d_2d", (2, 3, 4), (4, 5)),
    ("broadcast_batched", (2, 1, 2, 3), (3, 3, 2)), ("vec_1d_3d", (3,), (2, 3, 2)), ("batched_3d_1d", (2, 2, 3), (3,)),
]:
    case("matmul", variant, lambda d, sa=sa, sb=sb: [Input("a", d.randn(*sa)), Input("b", d.randn(*sb))])
case("matmul", "strided", lambda d: [Input("a", d.randn(3, 4), layout="transposed"),
                                     Input("b", d.randn(4, 2), layout="strided")])
case("bmm", "basic", lambda d: [Input("a", d.randn(2, 3, 4)), Input("b", d.randn(2, 4, 2))])
case("bmm", "transposed_b", lambda d: [Input("a", d.randn(2, 3, 4)), Input("b", d.randn(2, 4, 2), layout="transposed")])
case("linear", "bias", lambda d: [Input("x", d.randn(3, 4)), Input("weight", d.randn(2, 4)), Input("bias", d.randn(2))])
case("linear", "no_bias", lambda d: [Input("x", d.randn(3, 4)), Input("weight", d.randn(2, 4))])
case("linear", "batched_bias", lambda d: [Input("x", d.randn(2, 3, 4)), Input("weight", d.randn(3, 4)),
                                          Input("bias", d.randn(3))])
case("linear", "vector_bias", lambda d: [Input("x", d.randn(4)), Input("weight", d.randn(2, 4)),
                                         Input("bias", d.randn(2))])
case("linear", "strided", lambda d: [Input("x", d.randn(3, 4), layout="strided"),
                                     Input("weight", d.randn(2, 4), layout="transposed"), Input("bias", d.randn(2))])

# shape
case("reshape", "infer_dim", lambda d: [Input("x", d.randn(2, 3, 4))], {"shape": [4, -1]})
case("reshape", "split_dim", lambda d: [Input("x", d.randn(6))], {"shape": [2, 3]})
case("reshape", "to_zero_dim", lambda d: [Input("x", d.randn(1))], {"shape": []})
case("reshape", "transposed_copy", lambda d: [Input("x", d.randn(3, 4), layout="transposed")], {"shape": [12]})
case("view", "merge_dims", lambda d: [Input("x", d.randn(2, 3, 4))], {"shape": [6, 4]})
case("view", "flat", lambda d: [Input("x", d.randn(2, 3))], {"shape": [-1]})
case("flatten", "all", lambda d: [Input("x", d.randn(2, 3, 2))])
case("flatten", "from_dim1", lambda d: [Input("x", d.randn(2, 3, 2))], {"start_dim": 1})
case("flatten", "dims_0_1", lambda d: [Input("x", d.randn(2, 3, 2))], {"start_dim": 0, "end_dim": 1})
case("flatten", "zero_dim", lambda d: [Input("x", d.randn())])
case("flatten", "transposed", lambda d: [Input("x", d.randn(3, 4), layout="transposed")])
case("squeeze", "middle", lambda d: [Input("x", d.randn(2, 1, 3))], {"dim": 1})
case("squeeze", "negative_dim", lambda d: [Input("x", d.randn(2, 1, 3))], {"dim": -2})
case("squeeze", "not_size_one", lambda d: [Input("x", d.randn(2, 1, 3))], {"dim": 0})
case("unsqueeze", "front", lambda d: [Input("x", d.randn(2, 3))], {"dim": 0})
case("unsqueeze", "middle", lambda d: [Input("x", d.randn(2, 3))], {"dim": 1})
case("unsqueeze", "negative_dim", lambda d: [Input("x", d.randn(2, 3))], {"dim": -1})
case("transpose", "outer", lambda d: [Input("x", d.randn(2, 3, 4))], {"dim0": 0, "dim1": 2})
case("transpose", "negative_dims", lambda d: [Input("x", d.randn(2, 3, 4))], {"dim0": -1, "dim1": -2})
case("permute", "rotate", lambda d: [Input("x", d.randn(2, 3, 4))], {"dims": [2, 0, 1]})
case("permute", "negative_dims", lambda d: [Input("x", d.randn(2, 3, 4))], {"dims": [0, -1, 1]})
case("permute", "strided", lambda d: [Input("x", d.randn(2, 3, 4), layout="strided")], {"dims": [1, 2, 0]})
case("expand", "new_leading_dim", lambda d: [Input("x", d.randn(3, 1))], {"shape": [2, 3, 4]})
case("expand", "keep_size", lambda d: [Input("x", d.randn(1, 3))], {"shape": [4, -1]})
case("expand", "zero_dim", lambda d: [Input("x", d.randn())], {"shape": [2, 2]})
case("contiguous", "transposed", lambda d: [Input("x", d.randn(3, 4), layout="transposed")])
case("contiguous", "already", lambda d: [Input("x", d.randn(2, 3))])
case("clone", "basic", lambda d: [Input("x", d.randn(2, 3))])
case("clone", "strided", lambda d: [Input("x", d.randn(3, 4), layout="strided")])
case("to", "float64", lambda d: [Input("x", d.randn(2, 3))], {"dtype": "float64"})
case("to", "float32", lambda d: [Input("x", d.randn(2, 3))], {"dtype": "float32"})
case("cat", "dim0_three", lambda d: [Input("a", d.randn(2, 3)), Input("b", d.randn(1, 3)), Input("c", d.randn(3, 3))],
     {"dim": 0})
case("cat", "dim1", lambda d: [Input("a", d.randn(2, 1)), Input("b", d.randn(2, 3))], {"dim": 1})
case("cat", "negative_dim_3d", lambda d: [Input("a", d.randn(2, 2, 1)), Input("b", d.randn(2, 2, 2))], {"dim": -1})
case("cat", "strided", lambda d: [Input("a", d.randn(3, 4), layout="transposed"), Input("b", d.randn(2, 4))],
     {"dim": 0})
case("stack", "dim0", lambda d: [Input("a", d.randn(2, 3)), Input("b", d.randn(2, 3)), Input("c", d.randn(2, 3))],
     {"dim": 0})
case("stack", "dim1", lambda d: [Input("a", d.randn(2, 3)), Input("b", d.randn(2, 3))], {"dim": 1})
case("stack", "last_dim", lambda d: [Input("a", d.randn(2, 3)), Input("b", d.randn(2, 3), layout="transposed")],
     {"dim": -1})
case("stack", "zero_dim", lambda d: [Input("a", d.randn()), Input("b", d.randn()), Input("c", d.randn())], {"dim": 0})
case("split", "size_with_remainder", lambda d: [Input("x", d.randn(5, 3))], {"split_size": 2, "dim": 0})
case("split", "sizes_dim1", lambda d: [Input("x", d.randn(2, 4))], {"sizes": [1, 3], "dim": 1})
case("split", "size_too_large", lambda d: [Input("x", d.randn(3, 2))], {"split_size": 5, "dim": 0})
case("split", "strided_last_dim", lambda d: [Input("x", d.randn(3, 4), layout="transposed")],
     {"split_size": 3, "dim": -1})
case("chunk", "uneven", lambda d: [Input("x", d.randn(5, 2))], {"chunks": 3, "dim": 0})
case("chunk", "fewer_than_asked", lambda d: [Input("x", d.randn(2, 6))], {"chunks": 4, "dim": 1})
case("narrow", "dim0", lambda d: [Input("x", d.randn(4, 3))], {"dim": 0, "start": 1, "length": 2})
case("narrow", "last_dim", lambda d: [Input("x", d.randn(4, 3))], {"dim": -1, "start": 1, "length": 2})
case("narrow", "strided", lambda d: [Input("x", d.randn(4, 3), layout="transposed")],
     {"dim": 1, "start": 0, "length": 2})
case("slice", "step2", lambda d: [Input("x", d.randn(6, 3))], {"dim": 0, "start": 1, "end": 5, "step": 2})
case("slice", "negative_start_clamped_end", lambda d: [Input("x", d.randn(2, 5))], {"dim": 1, "start": -2, "end": 100})
case("slice", "clamped_start_negative_end", lambda d: [Input("x", d.randn(7, 2))],
     {"dim": 0, "start": -100, "end": -1, "step": 3})
case("slice", "strided", lambda d: [Input("x", d.randn(3, 5), layout="transposed")],
     {"dim": -1, "start": 0, "end": 5, "step": 2})
case("index_select", "repeated_dim0", lambda d: [Input("x", d.randn(4, 3)),
                                                 Input("index", d.exact([2, 0, 2], [3], torch.int64))], {"dim": 0})
case("index_select", "dim1", lambda d: [Input("x", d.randn(2, 4)), Input("index", d.exact([3, 1], [2], torch.int64))],
     {"dim": 1})
case("index_select", "negative_dim_3d",
     lambda d: [Input("x", d.randn(2, 2, 3)), Input("index", d.exact([1, 1, 0, 2], [4], torch.int64))], {"dim": -1})
case("index_select", "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed"),
                                           Input("index", d.exact([0, 2, 2], [3], torch.int64), layout="strided")],
     {"dim": 0})
case("gather", "dim1", lambda d: [Input("x", d.randn(3, 4)), Input("index", d.ints(0, 4, 3, 2))], {"dim": 1})
case("gather", "dim0_larger_index", lambda d: [Input("x", d.randn(2, 3)), Input("index", d.ints(0, 2, 4, 3))],
     {"dim": 0})
case("gather", "negative_dim_3d", lambda d: [Input("x", d.randn(2, 3, 2)), Input("index", d.ints(0, 2, 2, 2, 3))],
     {"dim": -1})
case("gather", "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed"),
                                     Input("index", d.ints(0, 3, 2, 4), layout="transposed")], {"dim": 0})
case("sum_to", "drop_and_keep", lambda d: [Input("x", d.randn(2, 3, 4))], {"shape": [3, 1]})
case("sum_to", "leading_only", lambda d: [Input("x", d.randn(2, 3, 4))], {"shape": [4]})
case("sum_to", "to_ones", lambda d: [Input("x", d.randn(2, 3))], {"shape": [1, 1]})
case("sum_to", "same_shape", lambda d: [Input("x", d.randn(2, 3))], {"shape": [2, 3]})

# reductions
TIES = [[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 2.0], [-1.0, -1.0, -1.0, -1.0]]
for op in ["sum", "mean"]:
    case(op, "all", lambda d: [Input("x", d.randn(2, 3))])
    case(op, "empty_dims_is_all", lambda d: [Input("x", d.randn(2, 3))], {"dims": [], "keepdim": False})
    case(op, "dim0", lambda d: [Input("x", d.randn(3, 4))], {"dims": [0], "keepdim": False})
    case(op, "dim1_keepdim", lambda d: [Input("x", d.randn(3, 4))], {"dims": [1], "keepdim": True})
    case(op, "dims_0_2", lambda d: [Input("x", d.randn(2, 3, 4))], {"dims": [0, 2], "keepdim": False})
    case(op, "negative_dim_keepdim", lambda d: [Input("x", d.randn(2, 3, 4))], {"dims": [-1], "keepdim": True})
    case(op, "zero_dim", lambda d: [Input("x", d.randn())])
    case(op, "strided", lambda d: [Input("x", d.randn(3, 5), layout="transposed")], {"dims": [1], "keepdim": False})
case("var", "all_unbiased", lambda d: [Input("x", d.randn(3, 4))], {"correction": 1})
case("var", "all_population", lambda d: [Input("x", d.randn(3, 4))], {"correction": 0})
case("var", "dim1_unbiased", lambda d: [Input("x", d.randn(3, 5))], {"dims": [1], "correction": 1, "keepdim": False})
case("var", "dims_0_2_population_keepdim", lambda d: [Input("x", d.randn(2, 3, 4))],
     {"dims": [0, 2], "correction": 0, "keepdim": True})
case("var", "negative_dim_keepdim", lambda d: [Input("x", d.randn(2, 3, 4))],
     {"dims": [-1], "correction": 1, "keepdim": True})
case("var", "strided", lambda d: [Input("x", d.randn(4, 3), layout="transposed")],
     {"dims": [0], "correction": 0, "keepdim": False})
for op in ["amax", "amin"]:
    case(op, "all", lambda d: [Input("x", d.randn(3, 4))])
    case(op, "dim1", lambda d: [Input("x", d.randn(3, 4))], {"dims": [1], "keepdim": False})
    case(op, "dims_0_2_keepdim", lambda d: [Input("x", d.randn(2, 3, 4))], {"dims": [0, 2], "keepdim": True})
    case(op, "ties_dim1", lambda d: [Input("x", d.exact(TIES, [3, 4]))], {"dims": [1], "keepdim": False})
    case(op, "ties_all", lambda d: [Input("x", d.exact(TIES, [3, 4]))])
    case(op, "strided", lambda d: [Input("x", d.randn(3, 4), layout="strided")], {"dims": [0], "keepdim": True})
for op in ["max_with_indices", "min_with_indices"]:
    case(op, "dim1", lambda d: [Input("x", d.randn(3, 4))], {"dim": 1, "keepdim": False})
    case(op, "dim0_keepdim", lambda d: [Input("x", d.randn(3, 4))], {"dim": 0, "keepdim": True})
    case(op, "negative_dim_3d", lambda d: [Input("x", d.randn(2, 3, 4))], {"dim": -1, "keepdim": False})
    case(op, "ties_first_index", lambda d: [Input("x", d.exact(TIES, [3, 4]))], {"dim": 1, "keepdim": False})
    case(op, "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed")], {"dim": 1, "keepdim": False})
for op in ["argmax", "argmin"]:
    case(op, "flat", lambda d: [Input("x", d.randn(3, 4))])
    case(op, "dim1", lambda d: [Input("x", d.randn(3, 4))], {"dim": 1, "keepdim": False})
    case(op, "dim0_keepdim", lambda d: [Input("x", d.randn(3, 4))], {"dim": 0, "keepdim": True})
    case(op, "ties_first_index", lambda d: [Input("x", d.exact(TIES, [3, 4]))], {"dim": 1, "keepdim": False})
    case(op, "ties_flat", lambda d: [Input("x", d.exact(TIES, [3, 4]))])
    case(op, "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed")], {"dim": 0, "keepdim": False})

# softmax
for op in ["softmax", "log_softmax"]:
    case(op, "dim1", lambda d: [Input("x", d.randn(3, 4))], {"dim": 1})
    case(op, "dim0", lambda d: [Input("x", d.randn(3, 4))], {"dim": 0})
    case(op, "last_dim_3d", lambda d: [Input("x", d.randn(2, 3, 4))], {"dim": -1})
    case(op, "middle_dim_3d", lambda d: [Input("x", d.randn(2, 3, 4))], {"dim": 1})
    case(op, "large_logits", lambda d: [Input("x", d.randn(2, 5, scale=20.0, shift=1000.0))], {"dim": 1})
    case(op, "vector", lambda d: [Input("x", d.randn(6))], {"dim": 0})
    case(op, "strided", lambda d: [Input("x", d.randn(3, 4), layout="transposed")], {"dim": -1})
case("softmax", "masked_minus_inf",
     lambda d: [Input("x", d.exact([[0.5, -INF, 1.5, 0.25], [-INF, -INF, 2.0, -1.0]], [2, 4]))], {"dim": 1})

# losses. Targets include ignored entries where the case has ignore_index.
def classification(d, shape, classes, target_shape, ignore=None, weight=False, target_layout="contiguous",
                   input_layout="contiguous"):
    target = d.ints(0, classes, *target_shape)
    if ignore is not None:
        flat = target.view(-1)
        flat[0] = ignore
        if flat.numel() > 3:
            flat[3] = ignore
    inputs = [Input("input", d.randn(*shape, scale=1.5), layout=input_layout),
              Input("target", target, layout=target_layout)]
    if weight:
        inputs.append(Input("weight", d.uniform(0.2, 2.0, classes), requires_grad=False))
    return inputs


for op in ["cross_entropy", "nll_loss"]:
    case(op, "mean", lambda d: classification(d, (4, 5), 5, (4,)))
    case(op, "sum", lambda d: classification(d, (4, 5), 5, (4,)), {"reduction": "sum"})
    case(op, "none", lambda d: classification(d, (4, 5), 5, (4,)), {"reduction": "none"})
    case(op, "ignore_default", lambda d: classification(d, (5, 3), 3, (5,), ignore=-100))
    case(op, "ignore_index_1_sum", lambda d: classification(d, (5, 3), 3, (5,), ignore=1),
         {"reduction": "sum", "ignore_index": 1})
    case(op, "weight_mean", lambda d: classification(d, (4, 5), 5, (4,), weight=True))
    case(op, "weight_ignore_mean", lambda d: classification(d, (5, 4), 4, (5,), ignore=2, weight=True),
         {"ignore_index": 2})
    case(op, "weight_none", lambda d: classification(d, (4, 3), 3, (4,), weight=True), {"reduction": "none"})
    case(op, "spatial_mean", lambda d: classification(d, (2, 4, 3), 4, (2, 3)))
    case(op, "spatial_none", lambda d: classification(d, (2, 3, 2, 2), 3, (2, 2, 2)), {"reduction": "none"})
    case(op, "single_sample", lambda d: classification(d, (5,), 5, ()))
    case(op, "strided", lambda d: classification(d, (4, 3), 3, (4,), input_layout="transposed",
                                                  target_layout="strided"))
case("cross_entropy", "smoothing_mean", lambda d: classification(d, (4, 5), 5, (4,)), {"label_smoothing": 0.1})
case("cross_entropy", "smoothing_sum", lambda d: classification(d, (4, 5), 5, (4,)),
     {"label_smoothing": 0.1, "reduction": "sum"})
case("cross_entropy", "smoothing_ignore_none", lambda d: classification(d, (5, 4), 4, (5,), ignore=-100),
     {"label_smoothing": 0.1, "reduction": "none"})
case("cross_entropy", "smoothing_weight_ignore_mean",
     lambda d: classification(d, (5, 4), 4, (5,), ignore=3, weight=True), {"label_smoothing": 0.1, "ignore_index": 3})
case("cross_entropy", "smoothing_spatial_mean", lambda d: classification(d, (2, 4, 3), 4, (2, 3), ignore=-100),
     {"label_smoothing": 0.1})
case("mse_loss", "mean", lambda d: [Input("input", d.randn(3, 4)), Input("target", d.randn(3, 4), requires_grad=False)])
case("mse_loss", "sum", lambda d: [Input("input", d.randn(3, 4)), Input("target", d.randn(3, 4), requires_grad=False)],
     {"reduction": "sum"})
case("mse_loss", "none", lambda d: [Input("input", d.randn(2, 3)), Input("target", d.randn(2, 3), requires_grad=False)],
     {"reduction": "none"})
case("mse_loss", "target_requires_grad", lambda d: [Input("input", d.randn(2, 3)), Input("target", d.randn(2, 3))])
case("mse_loss", "strided", lambda d: [Input("input", d.randn(3, 4), layout="transposed"),
                                       Input("target", d.randn(3, 4), layout="strided", requires_grad=False)])


def check_first_occurrence(op, x, o, indices):
    """harnet documents "first occurrence" for index outputs: make sure PyTorch agrees here."""
    if "dim" not in o:
        flat = x.reshape(-1)
        extreme = flat.max() if op == "argmax" else flat.min()
        assert indices.item() == int((flat == extreme).nonzero()[0]), op
        return
    dim = o["dim"] % x.dim()
    extreme = (x.amax if op in ("argmax", "max_with_indices") else x.amin)(dim=dim, keepdim=True)
    positions = torch.arange(x.shape[dim]).view([-1 if i == dim else 1 for i in range(x.dim())])
    first = torch.where(x == extreme, positions, x.shape[dim]).amin(dim=dim, keepdim=o.get("keepdim", False))
    assert torch.equal(first, indices), op


def check(op, variant, options, leaves, outputs):
    if op == "clamp" and variant != "at_bounds":  # random values must stay off the kinks
        assert not any(torch.any(leaves[0] == options[k]) for k in ("min", "max") if options[k] is not None), variant
    if op in ("argmax", "argmin"):
        check_first_occurrence(op, leaves[0].detach(), options, outputs[0])
    if op in ("max_with_indices", "min_with_indices"):
        check_first_occurrence(op, leaves[0].detach(), options, outputs[1])


FIXTURES.check = check


def main():
    FIXTURES.write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "core_ops.json"))


if __name__ == "__main__":
    main()
