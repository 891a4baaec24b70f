#!/usr/bin/python3
"""PyTorch value-parity fixtures for harnet's convolutions (dev-only).

Writes tests/fixtures/conv.json, which tests/test_parity_conv.cpp replays through harnet:
for every case it rebuilds the inputs, calls conv2d / conv1d, and compares the output and the
gradients of the input, the weight and the bias with the PyTorch values stored here.

Run (needs PyTorch; Debian's python3-torch 1.13 is what the committed file was made with):
    /usr/bin/python3 tools/make_conv_fixtures.py          # writes tests/fixtures/conv.json
    /usr/bin/python3 tools/make_conv_fixtures.py OUT.json # writes elsewhere
File format and determinism: see tools/fixturelib.py.

Options (each absent one keeps F.conv*d's default): "stride", "dilation", "padding" as lists of
one size per spatial dimension; "padding_str" for PyTorch's padding="same" / "valid";
"groups". Inputs: (input, weight[, bias]).
"""

import os
import sys
import warnings

import torch.nn.functional as F

from fixturelib import F32, F64, ROOT, FixtureSet, Input

# PyTorch notes that padding="same" with an even kernel pads a copy of the input: expected here.
warnings.filterwarnings("ignore", message="Using padding='same'")


# ---------------------------------------------------------------- operators
# Must mirror the table in tests/test_parity_conv.cpp.

def conv(fn):
    def run(t, o):
        padding = o["padding_str"] if "padding_str" in o else o.get("padding", 0)
        return fn(t[0], t[1], t[2] if len(t) > 2 else None, stride=o.get("stride", 1), padding=padding,
                  dilation=o.get("dilation", 1), groups=o.get("groups", 1))
    return run


TORCH_OPS = {"conv2d": conv(F.conv2d), "conv1d": conv(F.conv1d)}

# ---------------------------------------------------------------- cases
# (op, variant, input shape, weight shape, bias, options[, layouts of input and weight])

FIXTURES = FixtureSet("tools/make_conv_fixtures.py", TORCH_OPS, max_numel=100)


def conv_case(op, variant, x_shape, w_shape, bias, options, x_layout="contiguous", w_layout="contiguous",
              dtypes=None):
    def make(d):
        inputs = [Input("input", d.randn(*x_shape), layout=x_layout),
                  Input("weight", d.randn(*w_shape, scale=0.5), layout=w_layout)]
        if bias:
            inputs.append(Input("bias", d.randn(w_shape[0])))
        return inputs
    FIXTURES.case(op, variant, make, options, dtypes)


# conv2d: HARNet's joint-axis kernel first (it also gets a float32 case)
conv_case("conv2d", "joint_kernel_1x3", (2, 3, 2, 5), (4, 3, 1, 3), True, {"padding": [0, 1]})
conv_case("conv2d", "no_bias_2x2", (1, 2, 3, 4), (3, 2, 2, 2), False, {})
conv_case("conv2d", "square_3x3_pad1", (1, 2, 4, 4), (2, 2, 3, 3), True, {"padding": [1, 1]})
conv_case("conv2d", "stride_2x3", (1, 2, 5, 6), (2, 2, 3, 2), True, {"stride": [2, 3], "padding": [1, 0]},
          dtypes=(F64, F32))
conv_case("conv2d", "dilation_2x2", (1, 1, 6, 7), (2, 1, 2, 3), False, {"dilation": [2, 2], "padding": [1, 1]})
conv_case("conv2d", "groups2", (1, 4, 3, 4), (4, 2, 1, 3), True, {"groups": 2, "padding": [0, 1]})
conv_case("conv2d", "depthwise_multiplier2", (2, 3, 3, 4), (6, 1, 2, 2), True, {"groups": 3}, dtypes=(F64, F32))
conv_case("conv2d", "same_even_kernel", (1, 2, 3, 5), (2, 2, 2, 4), True, {"padding_str": "same"},
          dtypes=(F64, F32))
conv_case("conv2d", "same_dilated", (1, 1, 4, 6), (2, 1, 3, 2), True, {"padding_str": "same", "dilation": [1, 2]})
conv_case("conv2d", "valid", (1, 2, 4, 4), (1, 2, 3, 3), True, {"padding_str": "valid"})
conv_case("conv2d", "pointwise_1x1", (2, 3, 2, 3), (4, 3, 1, 1), True, {})
conv_case("conv2d", "unbatched", (2, 3, 4), (3, 2, 1, 3), True, {"padding": [0, 1]})
conv_case("conv2d", "strided_operands", (1, 2, 4, 5), (3, 2, 1, 3), True, {"padding": [0, 1]},
          x_layout="transposed", w_layout="strided")
# conv1d
conv_case("conv1d", "k3_pad1", (2, 3, 6), (4, 3, 3), True, {"padding": [1]})
conv_case("conv1d", "stride_dilation", (1, 2, 9), (2, 2, 3), False, {"stride": [2], "dilation": [2]})
conv_case("conv1d", "groups_same_even", (1, 4, 5), (4, 2, 2), True, {"groups": 2, "padding_str": "same"})
conv_case("conv1d", "unbatched_valid", (3, 7), (2, 3, 4), True, {"padding_str": "valid"})
conv_case("conv1d", "strided_operands", (2, 3, 6), (2, 3, 3), True, {"padding": [1]},
          x_layout="transposed", w_layout="strided")


def main():
    FIXTURES.write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "conv.json"))


if __name__ == "__main__":
    main()
