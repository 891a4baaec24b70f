#!/usr/bin/python3
"""PyTorch golden reference for the whole HARNet model (dev-only).

Writes tests/fixtures/harnet_golden.json, and harnet_golden_attention.json for the same model
with attention pooling instead of the mean over time, which tests/test_harnet_golden.cpp replays
through harnet::HARNet: the architecture of the reference trainer's HARNet with every size a
parameter, built small (J=7, C=4, C_in=3, conv 8/8/16, LSTM 2 layers x 12, 2 heads), every dropout
0 so that train mode is deterministic. Recorded:
  - "config": the model's settings, in harnet's configuration keys (HARNetConfig JSON);
  - "state_dict": the initial parameters and buffers, in PyTorch's order (the default
    initialisation, then the normalisation layers' affine parameters, the attention biases
    and the BatchNorm running statistics perturbed so that none is a trivial 0 or 1);
  - "x" [B, T, J, C_in] and "labels" [B]: one batch;
  - per mode ("train": BatchNorm normalises with the batch statistics and updates its running
    statistics; "eval": it normalises with the running statistics):
      "logits", "loss" (cross-entropy, mean), "grads" (of the loss w.r.t. every parameter),
      "grad_norm" (their total 2-norm), "buffers_after" (the state's buffers after that one
      forward), and "step_losses": the losses of 5 steps of Adam(lr 1e-3, weight_decay 1e-4)
      with clip_grad_norm_(1.0) on the same batch, from the initial state (step k's loss is
      computed before its update);
  - "train"."final_state": the whole state dict after those 5 steps;
  - "default_model": the key list, shapes and parameter count of the default configuration
    (J=25, C=10), without values.
Float32 values are written as the shortest decimal that reads back as the same float32 (a
reader parsing the decimal as a double and rounding to float32 gets the value back); int64
values as integers. One record per line, so diffs stay readable.

Run (PyTorch 1.13 from Debian):
    /usr/bin/python3 tools/make_harnet_fixtures.py      # writes both files into tests/fixtures/
    /usr/bin/python3 tools/make_harnet_fixtures.py DIR  # writes them into DIR
Deterministic: fixed seeds, one thread; a second run writes the same bytes.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fixturelib import ROOT

# The default model and the golden one, in harnet's HARNetConfig keys.
DEFAULT_CONFIG = {
    "joints": 25, "in_channels": 3, "classes": 10,
    "conv_channels": [64, 64, 128], "conv_pool": [False, True, True], "conv_kernel": 3, "input_dropout": 0.2,
    "lstm_layers": 2, "lstm_hidden": 128, "bidirectional": False, "lstm_dropout": 0.3,
    "attention_heads": 4, "attention_dropout": 0.1,
    "classifier_hidden": 64, "classifier_dropout": 0.5,
}
CONFIG = {**DEFAULT_CONFIG, "joints": 7, "classes": 4, "conv_channels": [8, 8, 16], "lstm_hidden": 12,
          "attention_heads": 2, "classifier_hidden": 8,
          "input_dropout": 0.0, "lstm_dropout": 0.0, "attention_dropout": 0.0, "classifier_dropout": 0.0}
BATCH, FRAMES = 3, 10
STEPS = 5
LR, WEIGHT_DECAY, MAX_NORM = 1e-3, 1e-4, 1.0


class HARNet(nn.Module):
    """The reference trainer's HARNet with every size a setting (same children, same order)."""

    def __init__(s, c):
        super().__init__()
        layers, channels = [], c["in_channels"]
        k = c["conv_kernel"]
        for out, pool in zip(c["conv_channels"], c["conv_pool"]):
            layers += [nn.Conv2d(channels, out, (1, k), padding=(0, k // 2)), nn.BatchNorm2d(out), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d((1, 2), ceil_mode=True))
            channels = out
        s.spatial = nn.Sequential(*layers)
        joints = c["joints"]
        for pool in c["conv_pool"]:
            joints = math.ceil(joints / 2) if pool else joints
        width = c["lstm_hidden"] * (2 if c["bidirectional"] else 1)
        s.drop_in = nn.Dropout(c["input_dropout"])
        s.lstm = nn.LSTM(channels * joints, c["lstm_hidden"], num_layers=c["lstm_layers"], batch_first=True,
                         dropout=c["lstm_dropout"], bidirectional=c["bidirectional"])
        s.mha = nn.MultiheadAttention(width, c["attention_heads"], dropout=c["attention_dropout"], batch_first=True)
        s.norm = nn.LayerNorm(width)
        s.pooling = c.get("pooling", "mean")
        if s.pooling == "attention":  # a score per frame, softmaxed over time, weights the sum
            s.pool = nn.Linear(width, 1)
        s.head = nn.Sequential(nn.Linear(width, c["classifier_hidden"]), nn.ReLU(),
                               nn.Dropout(c["classifier_dropout"]), nn.Linear(c["classifier_hidden"], c["classes"]))

    def forward(s, x):  # x [B, T, J, C_in] -> [B, classes]
        B, T = x.shape[:2]
        h = s.spatial(x.permute(0, 3, 1, 2))
        h = s.drop_in(h.permute(0, 2, 1, 3).reshape(B, T, -1))
        h, _ = s.lstm(h)
        a, _ = s.mha(h, h, h, need_weights=False)
        y = s.norm(h + a)
        if s.pooling == "attention":
            return s.head((torch.softmax(s.pool(y), dim=1) * y).sum(dim=1))
        return s.head(y.mean(dim=1))


# ---------------------------------------------------------------- records

def short_values(t):
    """Row-major values; float32 as the shortest decimal that reads back as the same float32."""
    t = t.detach().reshape(-1)
    if t.dtype == torch.float32:
        return [float(str(v)) for v in t.numpy()]
    assert t.dtype == torch.int64, t.dtype
    return t.tolist()


def tensor_record(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": short_values(t)}


def state_records(model):
    return [dict(key=k, **tensor_record(v)) for k, v in model.state_dict().items()]


def perturb(model, gen):
    """Non-trivial values where PyTorch's initialisation gives constants."""
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.2)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
                module.num_batches_tracked.fill_(3)
        model.mha.in_proj_bias.copy_(torch.randn(model.mha.in_proj_bias.shape, generator=gen) * 0.1)
        model.mha.out_proj.bias.copy_(torch.randn(model.mha.out_proj.bias.shape, generator=gen) * 0.1)


def run_mode(model, initial, x, labels, training):
    model.load_state_dict(initial)
    model.train(training)
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    grad_norm = torch.norm(torch.stack([g.norm() for g in grads.values()])).item()
    record = {
        "logits": tensor_record(logits),
        "loss": short_values(loss)[0],
        "grad_norm": float(np.float32(grad_norm)),
        "grads": [dict(key=k, **tensor_record(g)) for k, g in grads.items()],
        "buffers_after": [dict(key=k, **tensor_record(b)) for k, b in model.state_dict().items()
                          if not any(k == n for n, _ in model.named_parameters())],
    }

    model.load_state_dict(initial)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad(set_to_none=True)
        step_loss = F.cross_entropy(model(x), labels)
        step_loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        optimizer.step()
        losses.append(short_values(step_loss)[0])
    record["step_losses"] = losses
    if training:
        record["final_state"] = state_records(model)
    return record


def default_model_record():
    torch.manual_seed(0)
    model = HARNet(DEFAULT_CONFIG)
    return {"config": DEFAULT_CONFIG, "num_parameters": sum(p.numel() for p in model.parameters()),
            "state_dict": [{"key": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                           for k, v in model.state_dict().items()]}


# Objects under these keys (and the document) are spread over lines; a list of records has one
# record per line; everything else is written compactly.
SPREAD = {"train", "eval", "default_model"}


def render(value, spread):
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(render(v, False) for v in value) + "\n]"
    if isinstance(value, dict) and spread:
        return "{\n" + ",\n".join(json.dumps(k) + ":" + render(v, k in SPREAD) for k, v in value.items()) + "\n}"
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def write_golden(out, config):
    torch.manual_seed(0)
    model = HARNet(config)
    gen = torch.Generator().manual_seed(1)
    perturb(model, gen)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn((BATCH, FRAMES, config["joints"], config["in_channels"]), generator=gen)
    labels = torch.randint(0, config["classes"], (BATCH,), generator=gen)

    records = {
        "config": config,
        "optimizer": {"lr": LR, "weight_decay": WEIGHT_DECAY, "max_norm": MAX_NORM, "steps": STEPS},
        "x": tensor_record(x),
        "labels": tensor_record(labels),
        "state_dict": state_records(model),
        "train": run_mode(model, initial, x, labels, training=True),
        "eval": run_mode(model, initial, x, labels, training=False),
        "default_model": default_model_record(),
    }
    document = {"format": 1, "generated_by": "tools/make_harnet_fixtures.py", "torch_version": torch.__version__,
                **records}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="ascii") as f:
        f.write(render(document, True) + "\n")
    print(f"{out}: {os.path.getsize(out)} bytes; grad norm train {records['train']['grad_norm']:.3f}, "
          f"eval {records['eval']['grad_norm']:.3f}")


def main():
    torch.set_num_threads(1)  # reductions in one fixed order
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures")
    write_golden(os.path.join(directory, "harnet_golden.json"), CONFIG)
    write_golden(os.path.join(directory, "harnet_golden_attention.json"), {**CONFIG, "pooling": "attention"})


if __name__ == "__main__":
    main()
