#!/usr/bin/env python3
"""Writes the PyTorch-side fixtures of tests/test_checkpoint.cpp and
tests/test_checkpoint_torch.cpp (dev-only: torch and h5py).

  /usr/bin/python3 tools/make_checkpoint_fixtures.py

tests/fixtures/torch_zoo_weights.h5  PyTorch's Zoo (seed 0; BatchNorm statistics moved by three
                                     training passes) saved with torch.save and converted by
                                     tools/torch_checkpoint.py from-torch, config {"model": "zoo"}
tests/fixtures/torch_zoo_batch.h5    /input float32 [4, 7, 5] and PyTorch's eval-mode /logits [4, 3]

tests/fixtures/harnet_torch_weights.h5  the default-size HARNet in PyTorch (HARNet of
                                     tools/make_harnet_fixtures.py, J = 25, C = 10; 770,826
                                     parameters; seed 0; BatchNorm statistics moved by two
                                     training passes; values rounded to multiples of 2^-12),
                                     converted the same way with --compress, config: the
                                     default HARNetConfig JSON
tests/fixtures/harnet_torch_batch.h5 /input float32 [4, 60, 25, 3] and PyTorch's eval-mode /logits [4, 10]

Zoo is the test's model with every kind of state: Conv1d over time, BatchNorm1d, ReLU, Dropout,
a two-layer LSTM, self-attention with a residual and LayerNorm, the mean over time, Linear.
PyTorch runs on one thread, so running the script twice gives the same values.
"""

import json
import os
import tempfile

import h5py
import torch
from torch import nn

import torch_checkpoint
from make_harnet_fixtures import DEFAULT_CONFIG, HARNet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
FEATURES, CHANNELS, HIDDEN, HEADS, CLASSES = 5, 6, 8, 2, 3


class Zoo(nn.Module):
    """x [B, T, F] -> logits [B, classes]; class Zoo of tests/test_checkpoint.cpp."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(FEATURES, CHANNELS, 3, padding=1)
        self.bn = nn.BatchNorm1d(CHANNELS)
        self.drop = nn.Dropout(0.25)
        self.lstm = nn.LSTM(CHANNELS, HIDDEN, num_layers=2, batch_first=True, dropout=0.2)
        self.mha = nn.MultiheadAttention(HIDDEN, HEADS, dropout=0.1, batch_first=True)
        self.norm = nn.LayerNorm(HIDDEN)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        h = self.bn(self.conv(x.permute(0, 2, 1)))  # [B, C, T]
        h = self.drop(torch.relu(h).permute(0, 2, 1))  # [B, T, C]
        h, _ = self.lstm(h)  # [B, T, H]
        attended, _ = self.mha(h, h, h, need_weights=False)
        h = self.norm(h + attended)
        return self.head(h.mean(dim=1))


def warmed_up_zoo(seed):
    """A Zoo whose BatchNorm statistics moved by three training passes (num_batches_tracked 3)."""
    torch.manual_seed(seed)
    model = Zoo()
    with torch.no_grad():
        for _ in range(3):
            model.train()(torch.randn(4, 7, FEATURES))
    return model.eval()


def write_batch(path, inputs, logits):
    with h5py.File(path, "w") as f:
        f.create_dataset("input", data=inputs.numpy().astype("float32"), track_times=False)
        f.create_dataset("logits", data=logits.numpy().astype("float32"), track_times=False)


def convert_from_torch(state_dict, output, config, compress=False):
    """torch.save, then the tool's from-torch, as a user would run them."""
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "state_dict.pt")
        torch.save(state_dict, pt)
        config_path = os.path.join(tmp, "config.json")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(config)
        arguments = ["from-torch", pt, output, "--config", config_path] + (["--compress"] if compress else [])
        assert torch_checkpoint.main(arguments) == 0


def make_zoo_fixtures():
    model = warmed_up_zoo(0)
    torch.manual_seed(1)
    inputs = torch.randn(4, 7, FEATURES)
    with torch.no_grad():
        logits = model(inputs)
    convert_from_torch(model.state_dict(), os.path.join(FIXTURES, "torch_zoo_weights.h5"), '{"model": "zoo"}')
    write_batch(os.path.join(FIXTURES, "torch_zoo_batch.h5"), inputs, logits)


def make_harnet_fixtures():
    torch.manual_seed(0)
    model = HARNet(DEFAULT_CONFIG)
    assert sum(p.numel() for p in model.parameters()) == 770826
    with torch.no_grad():
        for _ in range(2):
            model.train()(torch.randn(8, 60, 25, 3))
    model.eval()
    # Every floating value rounded to a multiple of 2^-12 (a relative change of about 1% for
    # typical weights): such values have few significant bits, so the compressed fixture stays
    # small (about 1 MB instead of 3), and PyTorch's logits below are those of these weights.
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.round(tensor * 4096) / 4096)
    torch.manual_seed(1)
    inputs = torch.randn(4, 60, 25, 3)
    with torch.no_grad():
        logits = model(inputs)
    convert_from_torch(model.state_dict(), os.path.join(FIXTURES, "harnet_torch_weights.h5"),
                       json.dumps(DEFAULT_CONFIG), compress=True)
    write_batch(os.path.join(FIXTURES, "harnet_torch_batch.h5"), inputs, logits)


def main():
    torch.set_num_threads(1)
    make_zoo_fixtures()
    make_harnet_fixtures()


if __name__ == "__main__":
    main()
