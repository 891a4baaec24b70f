"""Shared machinery of the dev-only PyTorch fixture scripts (tools/make_*_fixtures.py).

A script declares its operators (op name -> fn(list of input tensors, options) -> tensor or
tuple of tensors, mirroring the C++ table of its tests/test_parity_*.cpp), adds cases to a
FixtureSet and writes it. tests/parity_harness.{h,cpp} replays the file through harnet.

Determinism: every case draws its values from a generator seeded with the CRC-32 of its name,
and PyTorch runs on one thread, so running a script twice gives the same bytes, and adding a
case does not change the others.

File format (one case per line, so diffs stay readable):
  {"format": 1, "generated_by": ..., "torch_version": ..., "case_count": N, "cases": [
    {"name": "add/broadcast_row/f64",       # op/variant/dtype; unique
     "op": "add",                           # key of the operator table in the C++ test
     "dtype": "float64",                    # the case's working floating dtype
     "options": {...},                      # op-specific arguments (dims, keepdim, reduction, ...)
     "inputs": [{"name": "a", "dtype": "float64", "shape": [2, 3], "values": [...],
                 "requires_grad": true,
                 "layout": "transposed",    # optional: build as a non-contiguous view (see below)
                 "grad": [...]},            # d(sum_k <out_k, upstream_k>)/d input; present iff
                                            # requires_grad and some output is differentiable
                ...],
     "outputs": [{"dtype": ..., "shape": ..., "values": [...],
                  "upstream": [...] or null}]}   # null: the output is not differentiable
  ]}
Values are flat, row-major. Floats are exact: Python writes the shortest decimal that reads back
as the same double, and float32 values are stored as the doubles equal to them. Non-finite
values are the strings "inf", "-inf", "nan" (JSON has no literal for them), in options too.
int64 values are integers, bool values true/false. A 0-d tensor has shape [] and one value.
Random inputs and upstream gradients are rounded to short decimals (see Draw); outputs and
gradients are PyTorch's full-precision results. Every variant has a float64 case; float32 cases
exist for each op's first variant and its non-contiguous variants (see case()).
Layouts: "transposed" = the last two dimensions are swapped in memory (a transposed view);
"strided" = every stride doubled, starting at offset 1 in a larger buffer. Values are logical.
Gradients come from torch.autograd.backward(outputs, upstreams), i.e. out.backward(upstream)
summed over the differentiable outputs.
"""

import json
import math
import os
import re
import zlib

import torch

F64, F32 = torch.float64, torch.float32
DTYPE_NAMES = {torch.float64: "float64", torch.float32: "float32", torch.int64: "int64", torch.bool: "bool"}
DTYPE_SUFFIX = {F64: "f64", F32: "f32"}
INF = float("inf")
NAN = float("nan")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- inputs

class Input:
    def __init__(self, name, tensor, requires_grad=None, layout="contiguous"):
        self.name = name
        self.tensor = tensor
        # Floating inputs are differentiated unless the case says otherwise.
        self.requires_grad = tensor.is_floating_point() if requires_grad is None else requires_grad
        self.layout = layout


class Draw:
    """Random and exact tensors for one case, from a generator seeded by the case's name.
    Random values (inputs and upstream gradients) are drawn in float64 and rounded to a grid
    whose numbers print short, which keeps the file small:
      float64: 3 decimal places (0.123 is not a float32 value, so a float64 op that secretly
               computes in float32 still misses the 1e-10 tolerance);
      float32: multiples of 1/256 (exact float32 values with short decimals)."""

    def __init__(self, seed, dtype):
        self.gen = torch.Generator().manual_seed(seed)
        self.dtype = dtype

    def rounded(self, x):
        if self.dtype == F64:
            return torch.round(x * 1000.0) / 1000.0  # the double nearest to k/1000: prints as 3 decimals
        return (torch.round(x * 256.0) / 256.0).to(F32)

    def randn(self, *shape, scale=1.0, shift=0.0):
        return self.rounded(torch.randn(shape, generator=self.gen, dtype=F64) * scale + shift)

    def uniform(self, low, high, *shape):
        return self.rounded(low + (high - low) * torch.rand(shape, generator=self.gen, dtype=F64))

    def away_from_zero(self, *shape, margin=0.25):
        # Non-differentiable points (relu, abs at 0) and tiny denominators are avoided.
        x = torch.randn(shape, generator=self.gen, dtype=F64)
        return self.rounded(x + margin * torch.sign(x))

    def ints(self, low, high, *shape):
        return torch.randint(low, high, shape, generator=self.gen, dtype=torch.int64)

    def mask(self, *shape):
        return torch.rand(shape, generator=self.gen, dtype=F64) < 0.5

    def exact(self, values, shape, dtype=None):
        return torch.tensor(values, dtype=dtype or self.dtype).reshape(shape)


# ---------------------------------------------------------------- generation

def json_float(v):
    """JSON has no literal for non-finite numbers: they become strings."""
    return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def flat_values(t):
    """Row-major values as JSON-ready Python scalars."""
    values = t.detach().reshape(-1).tolist()
    return [json_float(v) for v in values] if t.is_floating_point() else values


class FixtureSet:
    """The cases of one fixture file.
    torch_ops: op name -> fn(inputs, options); max_numel bounds every tensor (file size);
    check(op, variant, options, leaves, outputs): optional extra assertions per case."""

    def __init__(self, generated_by, torch_ops, max_numel=100, check=None):
        self.generated_by = generated_by
        self.torch_ops = torch_ops
        self.max_numel = max_numel
        self.check = check
        self.cases = []  # (op, variant, make, options, dtypes)

    def case(self, op, variant, make, options=None, dtypes=None):
        """Every variant runs in float64 (tolerance 1e-10). To keep the file small, float32
        (tolerance 1e-4) runs by default for an op's first variant and its non-contiguous ones.
        make(draw) -> [Input]."""
        assert op in self.torch_ops, op
        if dtypes is None:
            first = all(c[0] != op for c in self.cases)
            dtypes = (F64, F32) if first or "strided" in variant or "transposed" in variant else (F64,)
        self.cases.append((op, variant, make, options or {}, dtypes))

    def make_case(self, op, variant, make, options, dtype):
        name = f"{op}/{variant}/{DTYPE_SUFFIX[dtype]}"
        draw = Draw(zlib.crc32(f"{op}/{variant}".encode()), dtype)
        inputs = make(draw)
        leaves = [i.tensor.detach().clone().requires_grad_(i.requires_grad) for i in inputs]
        result = self.torch_ops[op](leaves, options)
        outputs = list(result) if isinstance(result, (tuple, list)) else [result]

        upstreams = [draw.randn(*o.shape).to(o.dtype) if o.requires_grad else None for o in outputs]
        differentiable = [(o, u) for o, u in zip(outputs, upstreams) if u is not None]
        if differentiable:
            torch.autograd.backward([o for o, _ in differentiable], [u for _, u in differentiable])
        if self.check:
            self.check(op, variant, options, leaves, outputs)

        input_records = []
        for spec, leaf in zip(inputs, leaves):
            assert leaf.numel() <= self.max_numel, name
            assert spec.layout in ("contiguous", "strided", "transposed"), name
            assert spec.layout != "transposed" or leaf.dim() >= 2, name
            record = {"name": spec.name, "dtype": DTYPE_NAMES[leaf.dtype], "shape": list(leaf.shape),
                      "values": flat_values(leaf), "requires_grad": spec.requires_grad}
            if spec.layout != "contiguous":
                record["layout"] = spec.layout
            if spec.requires_grad and differentiable:
                assert leaf.grad is not None, f"{name}: input {spec.name} got no gradient"
                record["grad"] = flat_values(leaf.grad)
            input_records.append(record)
        output_records = []
        for out, upstream in zip(outputs, upstreams):
            assert out.numel() <= self.max_numel, name
            output_records.append({"dtype": DTYPE_NAMES[out.dtype], "shape": list(out.shape),
                                   "values": flat_values(out),
                                   "upstream": None if upstream is None else flat_values(upstream)})
        options = {k: json_float(v) if isinstance(v, float) else v for k, v in options.items()}
        return {"name": name, "op": op, "dtype": DTYPE_NAMES[dtype], "options": options,
                "inputs": input_records, "outputs": output_records}

    def write(self, path):
        torch.set_num_threads(1)  # reductions in one fixed order
        cases = [self.make_case(op, variant, make, options, dtype)
                 for op, variant, make, options, dtypes in self.cases for dtype in dtypes]
        # The C++ test names each case after its name with non-alphanumerics replaced by '_'.
        test_names = [re.sub(r"[^A-Za-z0-9]", "_", c["name"]) for c in cases]
        assert len(set(test_names)) == len(test_names), "case names must stay unique as test names"
        missing = set(self.torch_ops) - {c["op"] for c in cases}
        assert not missing, f"operators without a case: {sorted(missing)}"

        header = {"format": 1, "generated_by": self.generated_by, "torch_version": torch.__version__,
                  "case_count": len(cases)}
        lines = [json.dumps(header, separators=(",", ":"))[:-1] + ',"cases":[']
        lines += [json.dumps(c, separators=(",", ":"), allow_nan=False) + ("," if k + 1 < len(cases) else "")
                  for k, c in enumerate(cases)]
        lines.append("]}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")
