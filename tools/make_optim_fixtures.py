#!/usr/bin/python3
"""PyTorch value-parity fixtures for harnet's optim/ (dev-only).

Writes tests/fixtures/optim.json, which tests/test_parity_optim.cpp replays through harnet:
  optimizer cases  a few parameters ([3, 4], [4], [2, 3]) in param groups, 5 steps of an
                   optimizer configuration with stored gradients (one parameter has none on the
                   third step, so it must be skipped); the parameters after every step and the
                   final state_dict()["state"] (names, dtypes, values);
  scheduler cases  the lr (and, for OneCycleLR, the momentum or beta1) of two param groups after
                   construction and after each of 30 steps; ReduceLROnPlateau with a stored metric
                   sequence;
  clip cases       clip_grad_norm_ / clip_grad_value_: the total norm and the clipped gradients.

Run (needs PyTorch; Debian's python3-torch 1.13 is what the committed file was made with):
    /usr/bin/python3 tools/make_optim_fixtures.py          # writes tests/fixtures/optim.json
    /usr/bin/python3 tools/make_optim_fixtures.py OUT.json # writes elsewhere

File format: the header of tools/fixturelib.py ({"format", "generated_by", "torch_version",
"case_count", "cases"}, one case per line); each case has "name" (kind/variant/dtype, unique),
"kind" and the fields described at each make_* function below. Hyperparameters use harnet's
option names: PyTorch's betas are "beta1" and "beta2". Values are flat, row-major, exact
(non-finite ones as the strings "inf", "-inf", "nan").
Determinism: random values come from a generator seeded with the CRC-32 of the case name.
"""

import json
import os
import sys
import warnings
import zlib

import torch
import torch.nn.utils as nn_utils
import torch.optim.lr_scheduler as sched

from fixturelib import DTYPE_NAMES, DTYPE_SUFFIX, F32, F64, INF, ROOT, Draw, flat_values, json_float

PARAM_SHAPES = [[3, 4], [4], [2, 3]]
OPTIMIZER_STEPS = 5
SCHEDULER_STEPS = 30
SKIPPED = (2, 1)  # on step index 2, parameter 1 has no gradient


def torch_kwargs(options):
    """harnet option names -> PyTorch keyword arguments."""
    kwargs = {k: v for k, v in options.items() if k not in ("beta1", "beta2")}
    if "beta1" in options or "beta2" in options:
        kwargs["betas"] = (options.get("beta1", 0.9), options.get("beta2", 0.999))
    return kwargs


OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
              "RMSprop": torch.optim.RMSprop}


# ---------------------------------------------------------------- optimizers

def make_optimizer_case(optimizer, variant, defaults, groups, dtype):
    """fields: optimizer, dtype, defaults (options), groups [{params: [indices], options}],
    params [{shape, values}] (initial), steps [{grads: [values or null], params: [values]}],
    state {index: {name: {dtype, shape, values}}} (PyTorch's state_dict()["state"] at the end;
    a momentum_buffer of None is left out, and so is a state holding nothing else)."""
    name = f"optimizer/{optimizer}_{variant}/{DTYPE_SUFFIX[dtype]}"
    draw = Draw(zlib.crc32(name.encode()), dtype)
    params = [draw.randn(*shape).requires_grad_() for shape in PARAM_SHAPES]
    initial = [{"shape": list(p.shape), "values": flat_values(p)} for p in params]
    torch_groups = [dict(params=[params[i] for i in g["params"]], **torch_kwargs(g["options"])) for g in groups]
    opt = OPTIMIZERS[optimizer](torch_groups, **torch_kwargs(defaults))

    steps = []
    for step in range(OPTIMIZER_STEPS):
        grads = []
        for i, p in enumerate(params):
            if (step, i) == SKIPPED:
                p.grad = None
                grads.append(None)
            else:
                p.grad = draw.randn(*p.shape, scale=0.5 + step * 0.3)
                grads.append(flat_values(p.grad))
        opt.step()
        steps.append({"grads": grads, "params": [flat_values(p) for p in params]})

    state = {}
    for index, entries in opt.state_dict()["state"].items():
        record = {}
        for key, value in entries.items():
            if value is None:
                continue
            if isinstance(value, int):
                record[key] = {"dtype": "int64", "shape": [], "values": [value]}
            else:
                record[key] = {"dtype": DTYPE_NAMES[value.dtype], "shape": list(value.shape),
                               "values": flat_values(value)}
        if record:
            state[str(index)] = record
    return {"name": name, "kind": "optimizer", "optimizer": optimizer, "dtype": DTYPE_NAMES[dtype],
            "defaults": defaults, "groups": groups, "params": initial, "steps": steps, "state": state}


ALL_ONE_GROUP = [{"params": [0, 1, 2], "options": {}}]


def two_groups(**options):
    return [{"params": [0, 2], "options": {}}, {"params": [1], "options": options}]


OPTIMIZER_CASES = [
    # (optimizer, variant, defaults, groups, dtypes)
    ("SGD", "plain", {"lr": 0.1}, ALL_ONE_GROUP, (F64,)),
    ("SGD", "momentum", {"lr": 0.1, "momentum": 0.9}, ALL_ONE_GROUP, (F64, F32)),
    ("SGD", "dampening", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}, ALL_ONE_GROUP, (F64,)),
    ("SGD", "nesterov", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, ALL_ONE_GROUP, (F64, F32)),
    ("SGD", "weight_decay", {"lr": 0.1, "weight_decay": 0.05}, ALL_ONE_GROUP, (F64,)),
    ("SGD", "everything_groups", {"lr": 0.1, "momentum": 0.7, "dampening": 0.1, "weight_decay": 0.01},
     two_groups(lr=0.02, momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.1), (F64,)),
    ("Adam", "plain", {"lr": 0.01}, ALL_ONE_GROUP, (F64, F32)),
    ("Adam", "betas_eps", {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3}, ALL_ONE_GROUP, (F64,)),
    ("Adam", "weight_decay", {"lr": 0.01, "weight_decay": 0.1}, ALL_ONE_GROUP, (F64,)),
    ("Adam", "amsgrad", {"lr": 0.01, "amsgrad": True}, ALL_ONE_GROUP, (F64, F32)),
    ("Adam", "groups", {"lr": 0.01, "weight_decay": 0.01},
     two_groups(lr=0.05, beta1=0.5, amsgrad=True, weight_decay=0.0), (F64,)),
    ("AdamW", "plain", {"lr": 0.01}, ALL_ONE_GROUP, (F64, F32)),
    ("AdamW", "weight_decay_amsgrad", {"lr": 0.02, "weight_decay": 0.2, "amsgrad": True}, ALL_ONE_GROUP, (F64,)),
    ("AdamW", "groups", {"lr": 0.01}, two_groups(lr=0.1, weight_decay=0.0, beta2=0.9), (F64,)),
    ("RMSprop", "plain", {"lr": 0.01}, ALL_ONE_GROUP, (F64, F32)),
    ("RMSprop", "alpha_eps", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4}, ALL_ONE_GROUP, (F64,)),
    ("RMSprop", "momentum", {"lr": 0.01, "momentum": 0.9}, ALL_ONE_GROUP, (F64,)),
    ("RMSprop", "centered", {"lr": 0.01, "centered": True}, ALL_ONE_GROUP, (F64, F32)),
    ("RMSprop", "everything_groups", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
     two_groups(lr=0.001, momentum=0.0, centered=False, alpha=0.5), (F64,)),
]


# ---------------------------------------------------------------- schedulers

def build_scheduler(spec, opt):
    """spec: {type, options} or, for SequentialLR / ChainedScheduler, {type, schedulers[, milestones]}."""
    kind = spec["type"]
    if kind == "SequentialLR":
        children = [build_scheduler(s, opt) for s in spec["schedulers"]]
        return sched.SequentialLR(opt, children, milestones=spec["milestones"])
    if kind == "ChainedScheduler":
        return sched.ChainedScheduler([build_scheduler(s, opt) for s in spec["schedulers"]])
    options = dict(spec["options"])
    for key in ("max_lr", "base_momentum", "max_momentum", "min_lr"):  # harnet: one value, or one per group
        if isinstance(options.get(key), list) and len(options[key]) == 1:
            options[key] = options[key][0]
    return getattr(sched, kind)(opt, **options)


def make_scheduler_case(variant, optimizer, defaults, group_lrs, spec, metrics=None, steps=SCHEDULER_STEPS):
    """fields: optimizer, defaults, group_lrs (one group of one [2] parameter each, with that lr),
    scheduler (spec as build_scheduler), metrics (ReduceLROnPlateau: one per step), steps,
    lrs [[lr per group] after construction and after each step], momenta (same shape, the
    groups' momentum or beta1; OneCycleLR with cycle_momentum only)."""
    name = f"scheduler/{variant}/f64"
    params = [torch.zeros(2, dtype=F64, requires_grad=True) for _ in group_lrs]
    opt = OPTIMIZERS[optimizer]([{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)],
                                **torch_kwargs(defaults))
    scheduler = build_scheduler(spec, opt)
    momentum_key = None
    if spec["type"] == "OneCycleLR" and spec["options"].get("cycle_momentum", True):
        momentum_key = "betas" if "betas" in opt.defaults else "momentum"

    def momenta():
        return [g["betas"][0] if momentum_key == "betas" else g["momentum"] for g in opt.param_groups]

    lrs = [[g["lr"] for g in opt.param_groups]]
    moms = [momenta()] if momentum_key else None
    for step in range(steps):
        opt.step()
        if metrics is not None:
            scheduler.step(metrics[step])
        else:
            scheduler.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        if momentum_key:
            moms.append(momenta())
    case = {"name": name, "kind": "scheduler", "optimizer": optimizer, "dtype": "float64", "defaults": defaults,
            "group_lrs": group_lrs, "scheduler": spec, "steps": steps, "lrs": lrs}
    if metrics is not None:
        case["metrics"] = metrics
    if moms is not None:
        case["momenta"] = moms
    return case


def plateau_metrics():
    """A loss that improves, stalls, wiggles below the threshold, improves again, stalls."""
    values = [1.0, 0.9, 0.85, 0.85, 0.86, 0.8499, 0.87, 0.9, 0.7, 0.69, 0.69, 0.69, 0.69, 0.69, 0.5]
    values += [0.5 + 0.00001 * k for k in range(15)]
    return values


def spec(kind, **options):
    return {"type": kind, "options": options}


def warmup(**options):
    return spec("LinearLR", **{"start_factor": 0.1, "end_factor": 1.0, "total_iters": 5, **options})


SGD_M = {"lr": 0.1, "momentum": 0.9}
TWO = [0.1, 0.02]
SCHEDULER_CASES = [
    # (variant, optimizer, defaults, group_lrs, spec, metrics)
    ("StepLR", "SGD", SGD_M, TWO, spec("StepLR", step_size=4, gamma=0.5), None),
    ("MultiStepLR", "SGD", SGD_M, TWO, spec("MultiStepLR", milestones=[3, 8, 8, 20], gamma=0.3), None),
    ("ExponentialLR", "SGD", SGD_M, TWO, spec("ExponentialLR", gamma=0.9), None),
    ("CosineAnnealingLR", "SGD", SGD_M, TWO, spec("CosineAnnealingLR", T_max=6, eta_min=0.001), None),
    ("CosineAnnealingLR_no_eta_min", "Adam", {"lr": 0.01}, [0.01, 0.003], spec("CosineAnnealingLR", T_max=7), None),
    ("LinearLR", "SGD", SGD_M, TWO, spec("LinearLR", start_factor=0.25, end_factor=0.75, total_iters=8), None),
    ("warmup_then_StepLR", "SGD", SGD_M, TWO,
     {"type": "SequentialLR", "schedulers": [warmup(), spec("StepLR", step_size=4, gamma=0.5)], "milestones": [5]},
     None),
    ("warmup_then_MultiStepLR", "SGD", SGD_M, TWO,
     {"type": "SequentialLR", "schedulers": [warmup(), spec("MultiStepLR", milestones=[4, 10], gamma=0.5)],
      "milestones": [6]}, None),
    ("warmup_then_ExponentialLR", "Adam", {"lr": 0.01}, [0.01, 0.003],
     {"type": "SequentialLR", "schedulers": [warmup(), spec("ExponentialLR", gamma=0.85)], "milestones": [5]},
     None),
    ("warmup_then_CosineAnnealingLR", "SGD", SGD_M, TWO,
     {"type": "SequentialLR", "schedulers": [warmup(total_iters=4), spec("CosineAnnealingLR", T_max=10,
                                                                         eta_min=0.0005)],
      "milestones": [4]}, None),
    ("warmup_cosine_step", "SGD", SGD_M, TWO,
     {"type": "SequentialLR", "schedulers": [warmup(), spec("CosineAnnealingLR", T_max=8),
                                             spec("StepLR", step_size=3, gamma=0.5)],
      "milestones": [5, 17]}, None),
    ("ChainedScheduler", "SGD", SGD_M, TWO,
     {"type": "ChainedScheduler", "schedulers": [warmup(start_factor=0.5, total_iters=4), spec("ExponentialLR",
                                                                                              gamma=0.95)]}, None),
    ("ReduceLROnPlateau_min_rel", "SGD", SGD_M, TWO,
     spec("ReduceLROnPlateau", mode="min", factor=0.5, patience=2, threshold=0.01, threshold_mode="rel"),
     plateau_metrics()),
    ("ReduceLROnPlateau_min_abs_cooldown_min_lr", "SGD", SGD_M, TWO,
     spec("ReduceLROnPlateau", mode="min", factor=0.3, patience=1, threshold=0.005, threshold_mode="abs",
          cooldown=2, min_lr=[0.005, 0.001], eps=1e-4), plateau_metrics()),
    ("ReduceLROnPlateau_max", "Adam", {"lr": 0.01}, [0.01, 0.003],
     spec("ReduceLROnPlateau", mode="max", factor=0.5, patience=0, threshold=0.02, threshold_mode="rel",
          min_lr=[0.002]), [-m for m in plateau_metrics()]),
    ("OneCycleLR_cos_SGD", "SGD", SGD_M, TWO,
     spec("OneCycleLR", max_lr=[1.0, 0.5], total_steps=30), None),
    ("OneCycleLR_linear_Adam", "Adam", {"lr": 0.01}, [0.01, 0.003],
     spec("OneCycleLR", max_lr=[0.05], total_steps=30, anneal_strategy="linear", pct_start=0.25,
          base_momentum=[0.8], max_momentum=[0.9], div_factor=10.0, final_div_factor=100.0), None),
    ("OneCycleLR_three_phase", "SGD", SGD_M, TWO,
     spec("OneCycleLR", max_lr=[0.4], epochs=6, steps_per_epoch=5, three_phase=True, pct_start=0.2), None),
    ("OneCycleLR_no_momentum_RMSprop", "RMSprop", {"lr": 0.01, "momentum": 0.5}, [0.01, 0.003],
     spec("OneCycleLR", max_lr=[0.1, 0.02], total_steps=31, cycle_momentum=False), None),
    ("OneCycleLR_momentum_RMSprop", "RMSprop", {"lr": 0.01, "momentum": 0.5}, [0.01, 0.003],
     spec("OneCycleLR", max_lr=[0.1], total_steps=30, pct_start=0.4, base_momentum=[0.7, 0.6]), None),
]


# ---------------------------------------------------------------- clipping

def clip_grads(draw, shapes, scale):
    return [None if shape is None else draw.randn(*shape, scale=scale) for shape in shapes]


def make_clip_case(kind, variant, dtype, shapes, scale, options, inject=None):
    """fields: dtype, grads [{shape, values} or null] (a null parameter has no gradient),
    options (max_norm, norm_type, error_if_nonfinite | clip_value), total_norm (clip_grad_norm_),
    grads_after [values or null]."""
    name = f"{kind}/{variant}/{DTYPE_SUFFIX[dtype]}"
    draw = Draw(zlib.crc32(name.encode()), dtype)
    grads = clip_grads(draw, shapes, scale)
    if inject is not None:
        inject(grads)
    params = []
    for g in grads:
        p = torch.zeros(g.shape if g is not None else [2], dtype=dtype, requires_grad=True)
        p.grad = None if g is None else g.clone()
        params.append(p)
    case = {"name": name, "kind": kind, "dtype": DTYPE_NAMES[dtype],
            "grads": [None if g is None else {"shape": list(g.shape), "values": flat_values(g)} for g in grads],
            "options": {k: json_float(v) if isinstance(v, float) else v for k, v in options.items()}}
    if kind == "clip_grad_norm":
        total = nn_utils.clip_grad_norm_(params, options["max_norm"], norm_type=options["norm_type"],
                                         error_if_nonfinite=options["error_if_nonfinite"])
        case["total_norm"] = json_float(float(total))
    else:
        nn_utils.clip_grad_value_(params, options["clip_value"])
    case["grads_after"] = [None if p.grad is None else flat_values(p.grad) for p in params]
    return case


def norm_options(max_norm, norm_type=2.0):
    return {"max_norm": max_norm, "norm_type": norm_type, "error_if_nonfinite": False}


def with_infinity(grads):
    grads[0][1, 2] = INF


SHAPES = [[3, 4], None, [4], [2, 3]]
CLIP_CASES = [
    # (kind, variant, dtypes, shapes, scale, options, inject)
    ("clip_grad_norm", "l2_clips", (F64, F32), SHAPES, 1.0, norm_options(1.0), None),
    ("clip_grad_norm", "l2_below_max", (F64,), SHAPES, 0.1, norm_options(5.0), None),
    ("clip_grad_norm", "l1", (F64,), SHAPES, 1.0, norm_options(2.0, 1.0), None),
    ("clip_grad_norm", "p3_5", (F64,), SHAPES, 1.0, norm_options(0.5, 3.5), None),
    ("clip_grad_norm", "inf", (F64, F32), SHAPES, 1.0, norm_options(0.25, INF), None),
    ("clip_grad_norm", "nonfinite_scaled_anyway", (F64,), SHAPES, 1.0, norm_options(1.0), with_infinity),
    ("clip_grad_value", "clamps", (F64, F32), SHAPES, 1.0, {"clip_value": 0.3}, None),
]


# ---------------------------------------------------------------- file

def main():
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # PyTorch's scheduler deprecation notes
    cases = []
    for optimizer, variant, defaults, groups, dtypes in OPTIMIZER_CASES:
        for dtype in dtypes:
            cases.append(make_optimizer_case(optimizer, variant, defaults, groups, dtype))
    for variant, optimizer, defaults, group_lrs, scheduler_spec, metrics in SCHEDULER_CASES:
        cases.append(make_scheduler_case(variant, optimizer, defaults, group_lrs, scheduler_spec, metrics))
    for kind, variant, dtypes, shapes, scale, options, inject in CLIP_CASES:
        for dtype in dtypes:
            cases.append(make_clip_case(kind, variant, dtype, shapes, scale, options, inject))
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), "case names must be unique"

    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "optim.json")
    header = {"format": 1, "generated_by": "tools/make_optim_fixtures.py", "torch_version": torch.__version__,
              "case_count": len(cases)}
    lines = [json.dumps(header, separators=(",", ":"))[:-1] + ',"cases":[']
    lines += [json.dumps(c, separators=(",", ":"), allow_nan=False) + ("," if k + 1 < len(cases) else "")
              for k, c in enumerate(cases)]
    lines.append("]}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
