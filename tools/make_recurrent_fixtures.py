#!/usr/bin/python3
"""PyTorch value-parity fixtures for harnet's recurrent operators (dev-only).

Writes tests/fixtures/recurrent.json, which tests/test_parity_recurrent.cpp replays through
harnet: torch.nn.LSTM / torch.nn.GRU semantics with the weights as inputs (PyTorch's
_flat_weights, in order, each differentiated), the initial states as optional inputs, and the
outputs (output, h_n[, c_n]) with the gradients of the input, the initial states and every
weight.

Run (needs PyTorch; Debian's python3-torch 1.13 is what the committed file was made with):
    /usr/bin/python3 tools/make_recurrent_fixtures.py          # writes tests/fixtures/recurrent.json
    /usr/bin/python3 tools/make_recurrent_fixtures.py OUT.json # writes elsewhere
File format and determinism: see tools/fixturelib.py. Dropout in training draws from PyTorch's
generator, which harnet does not reproduce: the cases with dropout run in eval mode (where it
must have no effect); harnet's training-mode dropout is checked in tests/test_lstm.cpp.
"""

import math
import os
import sys

import torch
from torch import _VF

from fixturelib import F32, F64, ROOT, FixtureSet, Input  # noqa: F401

DEFAULTS = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
            "training": True}


def rnn_op(kind):
    """fn(inputs, options) for torch.nn.LSTM / GRU semantics: inputs are [input, *weights,
    h0 (, c0)], the states optional. Mirrors torch.nn.modules.rnn: unbatched input gets a batch
    dimension of 1 around the call; absent states are zeros."""
    def run(t, o):
        o = {**DEFAULTS, **o}
        directions = 2 if o["bidirectional"] else 1
        per_direction = 4 if o["bias"] else 2
        n_weights = o["num_layers"] * directions * per_direction
        x, weights, states = t[0], t[1:1 + n_weights], t[1 + n_weights:]
        hidden = weights[1].shape[1]
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)
            states = [s.unsqueeze(1) for s in states]
        batch = x.shape[0 if o["batch_first"] else 1]
        if not states:
            zeros = torch.zeros(o["num_layers"] * directions, batch, hidden, dtype=x.dtype)
            states = [zeros, zeros] if kind == "lstm" else [zeros]
        args = (weights, o["bias"], o["num_layers"], o["dropout"], o["training"], o["bidirectional"],
                o["batch_first"])
        if kind == "lstm":
            output, h_n, c_n = _VF.lstm(x, tuple(states), *args)
            outputs = [output, h_n, c_n]
        else:
            output, h_n = _VF.gru(x, states[0], *args)
            outputs = [output, h_n]
        if not batched:
            outputs = [outputs[0].squeeze(1)] + [s.squeeze(1) for s in outputs[1:]]
        return tuple(outputs)
    return run


TORCH_OPS = {"lstm": rnn_op("lstm"), "gru": rnn_op("gru")}
FIXTURES = FixtureSet("tools/make_recurrent_fixtures.py", TORCH_OPS, max_numel=200)
GATES = {"lstm": 4, "gru": 3}
STATE_NAMES = {"lstm": ["h0", "c0"], "gru": ["h0"]}


def weight_names(num_layers, bidirectional, bias):
    names = []
    for layer in range(num_layers):
        for suffix in ("", "_reverse")[:2 if bidirectional else 1]:
            names += [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
            if bias:
                names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
    return names


def rnn_case(op, variant, T=3, N=2, I=3, H=2, states=False, batched=True, input_layout="contiguous",
             weight_layout="contiguous", **options):
    """One case: input [T, N, I] (or batch_first [N, T, I], or unbatched [T, I]), weights drawn
    from PyTorch's initialisation range U(-1/sqrt(H), 1/sqrt(H)), states from N(0, 1)."""
    o = {**DEFAULTS, **options}
    directions = 2 if o["bidirectional"] else 1

    def make(d):
        shape = (N, T, I) if o["batch_first"] else (T, N, I)
        inputs = [Input("input", d.randn(*(shape if batched else (T, I))), layout=input_layout)]
        bound = 1.0 / math.sqrt(H)
        for name in weight_names(o["num_layers"], o["bidirectional"], o["bias"]):
            layer = int(name.split("_l")[1].split("_")[0])
            rows = GATES[op] * H
            if name.startswith("weight_ih"):
                shape = (rows, I if layer == 0 else directions * H)
            elif name.startswith("weight_hh"):
                shape = (rows, H)
            else:
                shape = (rows,)
            layout = weight_layout if len(shape) == 2 else "contiguous"
            inputs.append(Input(name, d.uniform(-bound, bound, *shape), layout=layout))
        if states:
            state_shape = (o["num_layers"] * directions, N, H) if batched else (o["num_layers"] * directions, H)
            inputs += [Input(name, d.randn(*state_shape)) for name in STATE_NAMES[op]]
        return inputs

    FIXTURES.case(op, variant, make, options)


def add_cases(op):
    rnn_case(op, "basic")
    rnn_case(op, "states", states=True)
    rnn_case(op, "two_layers_states", states=True, num_layers=2)
    rnn_case(op, "bidirectional_states", states=True, bidirectional=True)
    rnn_case(op, "two_layers_bidirectional", num_layers=2, bidirectional=True)
    rnn_case(op, "batch_first_states", N=3, T=4, states=True, batch_first=True)
    rnn_case(op, "batch_first_two_layers_bidirectional", N=3, states=True, batch_first=True, num_layers=2,
             bidirectional=True)
    rnn_case(op, "no_bias_two_layers_states", states=True, num_layers=2, bias=False)
    rnn_case(op, "unbatched_states", T=4, batched=False, states=True, num_layers=2, bidirectional=True)
    rnn_case(op, "unbatched", T=4, batched=False)
    rnn_case(op, "eval_dropout_two_layers", num_layers=2, dropout=0.3, training=False)
    rnn_case(op, "larger_two_layers", T=5, N=4, I=5, H=4, states=True, num_layers=2)
    rnn_case(op, "input_strided", states=True, input_layout="strided")
    rnn_case(op, "weights_transposed_bidirectional", bidirectional=True, weight_layout="transposed")


add_cases("lstm")
add_cases("gru")


def main():
    FIXTURES.write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "recurrent.json"))


if __name__ == "__main__":
    main()
