#!/usr/bin/python3
"""PyTorch reference for harnet's nn.Module machinery (dev-only).

Writes tests/fixtures/nn_modules.json, which tests/test_module_parity.cpp replays: for each
model built here with torch.nn, the C++ test builds the same structure with harnet::nn and
compares what PyTorch says about it:
  - the printed form (repr), the qualified names and shapes of named_parameters(),
    named_buffers(), state_dict() and named_modules() (with each module's class name), and
    the parameter count;
  - values: PyTorch's state dict (float32) is loaded into the harnet model with
    load_state_dict; the float32 output, then (after .double() / to(kFloat64)) the float64
    output and the gradients of sum(output * upstream) w.r.t. the input and every parameter,
    are compared with PyTorch's.

Run (PyTorch 1.13 from Debian):
    /usr/bin/python3 tools/make_module_fixtures.py           # writes tests/fixtures/nn_modules.json
    /usr/bin/python3 tools/make_module_fixtures.py OUT.json  # writes elsewhere
Deterministic: fixed seeds, one thread. Values are exact (shortest round-trip decimals;
float32 values stored as the doubles equal to them).
"""

import json
import os
import sys

import torch
from torch import nn

from fixturelib import ROOT, flat_values


# ---------------------------------------------------------------- models
# Each must have a twin of the same name in tests/test_module_parity.cpp.

def make_mlp():
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3), nn.Sigmoid())


class Nested(nn.Module):
    """Containers inside containers, a parameter and buffers of the root itself."""

    def __init__(self):
        super().__init__()
        self.spatial = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.GELU(approximate="tanh"),
                                     nn.Sequential(nn.Linear(8, 8, bias=False), nn.Sigmoid()))
        self.blocks = nn.ModuleList([nn.Linear(8, 8), nn.Sequential(nn.Identity(), nn.Linear(8, 8), nn.Tanh())])
        self.head = nn.Sequential(nn.Linear(8, 5), nn.ReLU(), nn.Identity(), nn.Linear(5, 3))
        self.temperature = nn.Parameter(torch.full((1,), 0.75))
        self.register_buffer("scale", torch.tensor([0.5, 1.0, 2.0]))
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("cache", torch.zeros(3), persistent=False)

    def forward(self, x):  # x [B, 2, 3] -> [B, 3]
        h = self.spatial(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h) * self.scale * self.temperature


MODELS = {
    "mlp": (make_mlp, (4, 5)),
    "nested": (Nested, (3, 2, 3)),
}


# ---------------------------------------------------------------- records

def tensor_record(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": flat_values(t)}


def model_record(name, make, input_shape, seed):
    torch.manual_seed(seed)
    model = make()
    x = torch.randn(input_shape)
    upstream = None
    record = {
        "name": name,
        "repr": repr(model),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "named_parameters": [[n, list(p.shape)] for n, p in model.named_parameters()],
        "named_buffers": [[n, list(b.shape)] for n, b in model.named_buffers()],
        "named_modules": [[n, type(m).__name__] for n, m in model.named_modules()],
        "state_dict": [[k, tensor_record(v)] for k, v in model.state_dict().items()],
        "input": tensor_record(x),
        "output_float32": tensor_record(model(x).detach()),
    }
    model = model.double()
    x64 = x.double().requires_grad_(True)
    out = model(x64)
    upstream = torch.randn(out.shape, dtype=torch.float64)
    out.backward(upstream)
    record["output_float64"] = tensor_record(out.detach())
    record["upstream"] = tensor_record(upstream)
    record["input_grad"] = tensor_record(x64.grad)
    record["parameter_grads"] = [[n, tensor_record(p.grad)] for n, p in model.named_parameters()]
    return record


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "nn_modules.json")
    torch.set_num_threads(1)
    models = [model_record(name, make, shape, seed) for seed, (name, (make, shape)) in enumerate(MODELS.items())]
    doc = {"format": 1, "generated_by": "tools/make_module_fixtures.py", "torch_version": torch.__version__,
           "models": models}
    with open(path, "w", encoding="ascii") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"{path}: {len(models)} models, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
