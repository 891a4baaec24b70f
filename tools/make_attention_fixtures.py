#!/usr/bin/python3
"""PyTorch value-parity fixtures for harnet's attention operators (dev-only).

Writes tests/fixtures/attention.json, which tests/test_parity_attention.cpp replays through
harnet: per case the inputs (every weight a leaf that requires grad), the outputs (attention
output and, with need_weights, the averaged or per-head weights) and, for stored random upstream
gradients, the gradients of query / key / value and of all four projection parameters.

multi_head_attention runs torch.nn.functional.multi_head_attention_forward exactly as
torch.nn.MultiheadAttention.forward calls it (batch_first handled by its transposes, the same
tensor passed for query, key and value in self-attention so PyTorch takes its packed path).
Dropout is 0: PyTorch's dropout masks come from its own generator and cannot be reproduced.
scaled_dot_product_attention is written out with torch operations (softmax(q k^T / sqrt(d) +
mask) v), since PyTorch 1.13 has no public function with harnet's mask convention.

Run (needs PyTorch; Debian's python3-torch 1.13 is what the committed file was made with):
    /usr/bin/python3 tools/make_attention_fixtures.py          # writes tests/fixtures/attention.json
    /usr/bin/python3 tools/make_attention_fixtures.py OUT.json # writes elsewhere
File format and determinism: see tools/fixturelib.py.
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

from fixturelib import F32, F64, ROOT, FixtureSet, Input


# ---------------------------------------------------------------- operators
# op name -> fn(list of input tensors, options). Must mirror tests/test_parity_attention.cpp.
#
# multi_head_attention inputs, in order: query, key (unless kind == "self"), value (only
# kind == "cross"), in_proj_weight, in_proj_bias (if biases), out_proj_weight, out_proj_bias (if
# biases), attn_mask (if has_attn_mask), key_padding_mask (if has_key_padding_mask).

def mha_op(t, o):
    t = list(t)
    query = t.pop(0)
    key = query if o["kind"] == "self" else t.pop(0)
    value = t.pop(0) if o["kind"] == "cross" else key
    in_w = t.pop(0)
    in_b = t.pop(0) if o["biases"] else None
    out_w = t.pop(0)
    out_b = t.pop(0) if o["biases"] else None
    attn_mask = t.pop(0) if o["has_attn_mask"] else None
    key_padding_mask = t.pop(0) if o["has_key_padding_mask"] else None
    assert not t
    batched = query.dim() == 3
    if o["batch_first"] and batched:  # nn.MultiheadAttention.forward, keeping the identities
        if key is value:
            if query is key:
                query = key = value = query.transpose(1, 0)
            else:
                query, key = [x.transpose(1, 0) for x in (query, key)]
                value = key
        else:
            query, key, value = [x.transpose(1, 0) for x in (query, key, value)]
    embed_dim = query.shape[-1]
    out, weights = F.multi_head_attention_forward(
        query, key, value, embed_dim, o["num_heads"], in_w, in_b, None, None, False, 0.0, out_w, out_b,
        training=True, key_padding_mask=key_padding_mask, need_weights=o["need_weights"], attn_mask=attn_mask,
        average_attn_weights=o["average_attn_weights"])
    if o["batch_first"] and batched:
        out = out.transpose(1, 0)
    return (out, weights) if o["need_weights"] else out


def sdpa_op(t, o):
    q, k, v = t[0], t[1], t[2]
    mask = t[3] if len(t) > 3 else None
    scores = torch.bmm(q / math.sqrt(q.shape[-1]), k.transpose(1, 2))
    if mask is not None:
        if mask.dtype == torch.bool:
            mask = torch.zeros_like(mask, dtype=q.dtype).masked_fill(mask, float("-inf"))
        scores = scores + mask
    weights = torch.softmax(scores, dim=-1)
    out = torch.bmm(weights, v)
    return (out, weights) if o["need_weights"] else out


TORCH_OPS = {"multi_head_attention": mha_op, "scaled_dot_product_attention": sdpa_op}


# ---------------------------------------------------------------- cases

FIXTURES = FixtureSet("tools/make_attention_fixtures.py", TORCH_OPS, max_numel=200)


def mha_case(variant, kind="self", L=3, S=4, N=2, E=4, heads=2, batch_first=False, unbatched=False, biases=True,
             need_weights=True, average=True, attn=None, padding=None, query_layout="contiguous", dtypes=None):
    """attn: None, "bool2", "float2", "bool3", "float3", or "fully_masked_row" (bool [L, S] with
    row 1 all True); padding: None, "bool", "float"."""
    S = L if kind == "self" else S

    def seq(d, length):
        shape = (length, E) if unbatched else ((N, length, E) if batch_first else (length, N, E))
        return d.randn(*shape)

    def make(d):
        inputs = [Input("query", seq(d, L), layout=query_layout)]
        if kind != "self":
            inputs.append(Input("key", seq(d, S)))
        if kind == "cross":
            inputs.append(Input("value", seq(d, S)))
        scale = 1.0 / math.sqrt(E)
        inputs.append(Input("in_proj_weight", d.randn(3 * E, E, scale=scale)))
        if biases:
            inputs.append(Input("in_proj_bias", d.randn(3 * E, scale=0.1)))
        inputs.append(Input("out_proj_weight", d.randn(E, E, scale=scale)))
        if biases:
            inputs.append(Input("out_proj_bias", d.randn(E, scale=0.1)))
        batch = 1 if unbatched else N
        if attn is not None:
            shape = (batch * heads, L, S) if attn.endswith("3") else (L, S)
            if attn.startswith("float"):
                mask = d.randn(*shape)
            elif attn == "fully_masked_row":
                mask = torch.zeros(L, S, dtype=torch.bool)
                mask[1, :] = True
            else:
                mask = d.mask(*shape)
                mask[..., 0] = False  # no fully masked row
            inputs.append(Input("attn_mask", mask, requires_grad=False))
        if padding is not None:
            shape = (S,) if unbatched else (batch, S)
            if padding == "float":
                mask = d.randn(*shape)
            else:
                mask = d.mask(*shape)
                mask[..., 0] = False
            inputs.append(Input("key_padding_mask", mask, requires_grad=False))
        return inputs

    options = {"kind": kind, "num_heads": heads, "batch_first": batch_first, "biases": biases,
               "need_weights": need_weights, "average_attn_weights": average, "has_attn_mask": attn is not None,
               "has_key_padding_mask": padding is not None}
    FIXTURES.case("multi_head_attention", variant, make, options, dtypes=dtypes)


# self-attention (the HARNet case)
mha_case("self_2heads", dtypes=(F64, F32))
mha_case("self_1head_per_head_weights", heads=1, average=False)
mha_case("self_2heads_per_head_weights", average=False)
mha_case("self_no_weights", need_weights=False)
mha_case("self_batch_first", batch_first=True, dtypes=(F64, F32))
mha_case("self_batch_first_no_weights_no_biases", batch_first=True, need_weights=False, biases=False)
mha_case("self_unbatched", unbatched=True)
mha_case("self_batch_first_transposed_query", batch_first=True, query_layout="transposed")
mha_case("self_E8_4heads", E=8, heads=4, N=1, L=4)
# cross-attention
mha_case("cross", kind="cross")
mha_case("cross_batch_first_per_head", kind="cross", batch_first=True, average=False)
mha_case("shared_key_value", kind="shared_kv")
mha_case("shared_key_value_batch_first", kind="shared_kv", batch_first=True, N=3, L=2, S=3)
mha_case("cross_no_biases_1head", kind="cross", heads=1, biases=False)
# masks
mha_case("self_bool_attn_mask", attn="bool2")
mha_case("cross_float_attn_mask", kind="cross", attn="float2")
mha_case("cross_bool_attn_mask_3d", kind="cross", attn="bool3", average=False)
mha_case("self_float_attn_mask_3d", attn="float3")
mha_case("cross_bool_key_padding_mask", kind="cross", padding="bool")
mha_case("self_batch_first_float_key_padding_mask", batch_first=True, padding="float")
mha_case("cross_bool_attn_and_bool_padding", kind="cross", attn="bool2", padding="bool")
mha_case("cross_float_attn_and_bool_padding", kind="cross", attn="float3", padding="bool", batch_first=True)
mha_case("self_fully_masked_row", attn="fully_masked_row", dtypes=(F64, F32))


def sdpa_case(variant, B=2, L=3, S=4, d=2, dv=3, mask=None, need_weights=True, dtypes=None):
    def make(dr):
        inputs = [Input("q", dr.randn(B, L, d)), Input("k", dr.randn(B, S, d)), Input("v", dr.randn(B, S, dv))]
        if mask is not None:
            shape = (B, L, S) if mask.endswith("3") else (L, S)
            if mask.startswith("float"):
                m = dr.randn(*shape)
            else:
                m = dr.mask(*shape)
                m[..., 0] = False
            inputs.append(Input("attn_mask", m, requires_grad=False))
        return inputs
    FIXTURES.case("scaled_dot_product_attention", variant, make, {"need_weights": need_weights}, dtypes=dtypes)


sdpa_case("basic", dtypes=(F64, F32))
sdpa_case("no_weights", need_weights=False)
sdpa_case("bool_mask", mask="bool2")
sdpa_case("float_mask_3d", mask="float3", B=3, L=2, S=5, d=4, dv=2)


if __name__ == "__main__":
    FIXTURES.write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "attention.json"))
