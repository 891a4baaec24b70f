#!/usr/bin/python3
"""PyTorch reference for harnet's layer modules (nn/conv.h, nn/norm.h, nn/pool.h, ...), dev-only.

Writes tests/fixtures/nn_layers.json, which the tests/test_nn_<module>.cpp files replay:
  - "modules": for each configuration (a name the C++ test builds the same way), PyTorch's
    repr and the names, shapes and dtypes of its state_dict(), in order;
  - "parity": for a few configurations, the float64 state dict values, the inputs and
    PyTorch's float64 outputs, so the harnet module loaded with those weights can be held to
    PyTorch's outputs.

Run (PyTorch 1.13 from Debian):
    /usr/bin/python3 tools/make_nn_layer_fixtures.py           # writes tests/fixtures/nn_layers.json
    /usr/bin/python3 tools/make_nn_layer_fixtures.py OUT.json  # writes elsewhere
Deterministic: fixed seeds, one thread; values are exact (shortest round-trip decimals).
"""

import json
import os
import sys

import torch
from torch import nn

from fixturelib import ROOT, flat_values

# Each name must be built identically in the C++ tests (see tests/test_nn_*.cpp).
MODULES = {
    "conv1d_basic": lambda: nn.Conv1d(3, 4, 3),
    "conv1d_full": lambda: nn.Conv1d(4, 6, 5, stride=2, padding=1, dilation=2, groups=2, bias=False),
    "conv2d_basic": lambda: nn.Conv2d(3, 8, 3),
    "conv2d_full": lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
    "conv2d_same": lambda: nn.Conv2d(2, 3, 3, padding="same", bias=False),
    "batchnorm1d": lambda: nn.BatchNorm1d(5),
    "batchnorm1d_bare": lambda: nn.BatchNorm1d(5, affine=False, track_running_stats=False),
    "batchnorm2d": lambda: nn.BatchNorm2d(4, eps=1e-3, momentum=0.2),
    "layernorm": lambda: nn.LayerNorm([3, 4]),
    "layernorm_bare": lambda: nn.LayerNorm(6, eps=1e-6, elementwise_affine=False),
    "dropout": lambda: nn.Dropout(0.3),
    "maxpool1d": lambda: nn.MaxPool1d(3),
    "maxpool1d_full": lambda: nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
    "maxpool2d": lambda: nn.MaxPool2d(2, stride=1, padding=1),
    "maxpool2d_rect": lambda: nn.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1)),
    "avgpool1d": lambda: nn.AvgPool1d(2),
    "avgpool1d_full": lambda: nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    "avgpool2d": lambda: nn.AvgPool2d((2, 3)),
    "avgpool2d_full": lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False,
                                           divisor_override=4),
    "adaptiveavgpool1d": lambda: nn.AdaptiveAvgPool1d(4),
    "adaptiveavgpool2d": lambda: nn.AdaptiveAvgPool2d((2, 3)),
    "adaptiveavgpool2d_square": lambda: nn.AdaptiveAvgPool2d(1),
    "lstm": lambda: nn.LSTM(3, 4),
    "lstm_deep": lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
    "lstm_nobias": lambda: nn.LSTM(2, 3, num_layers=2, bias=False, dropout=0.5),
    "gru": lambda: nn.GRU(3, 4),
    "gru_deep": lambda: nn.GRU(3, 4, num_layers=2, bidirectional=True),
    "mha": lambda: nn.MultiheadAttention(8, 2),
    "mha_nobias": lambda: nn.MultiheadAttention(6, 3, dropout=0.1, bias=False, batch_first=True),
}


def tensor_record(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": flat_values(t)}


def module_record(name, make):
    torch.manual_seed(0)
    m = make()
    return {"name": name, "repr": repr(m),
            "state_dict": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in m.state_dict().items()]}


def parity_record(name, make, inputs_of, run):
    torch.manual_seed(1)
    m = make().double()
    # The state before the run (a training BatchNorm updates its buffers).
    state = [[k, tensor_record(v.clone())] for k, v in m.state_dict().items()]
    inputs = inputs_of()
    outputs = run(m, inputs)
    return {"name": name,
            "state_dict": state,
            "inputs": [tensor_record(t) for t in inputs],
            "outputs": [tensor_record(t.detach()) for t in outputs]}


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def parity_records():
    records = []
    # Conv2d with every argument.
    records.append(parity_record("conv2d_full", MODULES["conv2d_full"], lambda: [randn(2, 4, 5, 6)],
                                 lambda m, x: [m(x[0])]))
    records.append(parity_record("conv1d_full", MODULES["conv1d_full"], lambda: [randn(2, 4, 11)],
                                 lambda m, x: [m(x[0])]))

    # BatchNorm2d in training: the output and the updated buffers.
    def batchnorm_run(m, x):
        m.train()
        y = m(x[0])
        return [y, m.running_mean, m.running_var]
    records.append(parity_record("batchnorm2d", MODULES["batchnorm2d"], lambda: [randn(3, 4, 2, 3)], batchnorm_run))

    # LSTM: 2 layers, bidirectional, batch_first, with initial states.
    def lstm_run(m, x):
        out, (h, c) = m(x[0], (x[1], x[2]))
        return [out, h, c]
    records.append(parity_record("lstm_deep", MODULES["lstm_deep"],
                                 lambda: [randn(2, 5, 3), randn(4, 2, 4), randn(4, 2, 4)], lstm_run))

    def gru_run(m, x):
        out, h = m(x[0], x[1])
        return [out, h]
    records.append(parity_record("gru_deep", MODULES["gru_deep"], lambda: [randn(5, 2, 3), randn(4, 2, 4)], gru_run))

    # MultiheadAttention: cross-attention, bool key padding mask, float attn mask, per-head weights.
    def mha_inputs():
        q, k, v = randn(4, 2, 8), randn(5, 2, 8), randn(5, 2, 8)
        key_padding = torch.tensor([[False, False, False, True, False], [False, True, False, False, False]])
        attn_mask = randn(4, 5)
        return [q, k, v, key_padding, attn_mask]

    def mha_run(m, x):
        m.eval()
        out, w = m(x[0], x[1], x[2], key_padding_mask=x[3], need_weights=True, attn_mask=x[4],
                   average_attn_weights=False)
        return [out, w]
    records.append(parity_record("mha", MODULES["mha"], mha_inputs, mha_run))
    return records


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "nn_layers.json")
    torch.set_num_threads(1)
    doc = {"format": 1, "generated_by": "tools/make_nn_layer_fixtures.py", "torch_version": torch.__version__,
           "modules": [module_record(name, make) for name, make in MODULES.items()],
           "parity": parity_records()}
    with open(path, "w", encoding="ascii") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"{path}: {len(doc['modules'])} modules, {len(doc['parity'])} parity records, "
          f"{os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
