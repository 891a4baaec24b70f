#!/usr/bin/env python3
"""Dev-only check of tools/torch_checkpoint.py in the directions the C++ tests cannot run
(they need PyTorch): harnet -> PyTorch, and the round trips. Needs torch and h5py.

  /usr/bin/python3 tools/check_torch_checkpoint.py

1. harnet -> PyTorch: tests/fixtures/harnet_zoo_checkpoint.h5, written by harnet (model, Adam,
   OneCycleLR, generators, counters), converted with to-torch, loads strictly into PyTorch's Zoo,
   whose eval-mode logits on the fixture batch match harnet's (tests/fixtures/harnet_zoo_batch.h5).
2. harnet -> PyTorch -> harnet: from-torch of that .pt gives /model datasets equal to the
   original's in name, order, dtype, shape and value.
3. PyTorch -> harnet -> PyTorch: a state dict (Zoo and the default HARNet) comes back equal in
   keys, order, dtypes, shapes and values; keys holding '/', '%' or "." survive.
4. The h5py reading example of docs/checkpoint-format.md runs on the harnet-written file.
Prints one line per check and exits non-zero when one fails.
"""

import collections
import os
import subprocess
import sys
import tempfile
import urllib.parse

import h5py
import numpy as np
import torch

import make_checkpoint_fixtures as fixtures
import torch_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "torch_checkpoint.py")
FAILURES = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        FAILURES.append(what)


def run_tool(*args):
    """The tool as a user runs it, in its own process."""
    result = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip())
    return result.stdout.strip()


def same_state_dicts(a, b):
    return (list(a) == list(b) and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k])
                                       for k in a))


def model_datasets(path):
    with h5py.File(path, "r") as f:
        return [(name, f["model"][name].dtype, f["model"][name].shape, f["model"][name][()]) for name in f["model"]]


def harnet_to_torch(tmp):
    checkpoint = os.path.join(fixtures.FIXTURES, "harnet_zoo_checkpoint.h5")
    pt = os.path.join(tmp, "harnet_zoo.pt")
    print("  " + run_tool("to-torch", checkpoint, pt))
    state = torch.load(pt)
    check(isinstance(state, collections.OrderedDict) and len(state) == 23, "to-torch: an OrderedDict of 23 tensors")
    model = fixtures.Zoo()
    missing, unexpected = model.load_state_dict(state, strict=True)
    check(not missing and not unexpected, "PyTorch's Zoo loads the harnet-written weights strictly")
    check(state["bn.num_batches_tracked"].dtype == torch.int64 and state["bn.num_batches_tracked"].dim() == 0,
          f"bn.num_batches_tracked is a 0-d int64 tensor ({int(state['bn.num_batches_tracked'])})")
    with h5py.File(os.path.join(fixtures.FIXTURES, "harnet_zoo_batch.h5"), "r") as f:
        inputs, harnet_logits = torch.from_numpy(f["input"][()]), torch.from_numpy(f["logits"][()])
    with torch.no_grad():
        torch_logits = model.eval()(inputs)
    difference = (torch_logits - harnet_logits).abs().max().item()
    check(difference < 1e-5, f"PyTorch's logits from harnet's weights: max |difference| {difference:.3g} (< 1e-5)")

    back = os.path.join(tmp, "harnet_zoo_back.h5")
    print("  " + run_tool("from-torch", pt, back))
    original, returned = model_datasets(checkpoint), model_datasets(back)
    check(len(original) == len(returned) and all(
        a[0] == b[0] and a[1] == b[1] and a[2] == b[2] and np.array_equal(a[3], b[3]) for a, b in zip(original, returned)),
        "harnet -> PyTorch -> harnet: /model identical (names, order, dtypes, shapes, values)")


def torch_round_trip(tmp, name, state):
    pt, h5, back = (os.path.join(tmp, f"{name}{ext}") for ext in (".pt", ".h5", "_back.pt"))
    torch.save(state, pt)
    run_tool("from-torch", pt, h5)
    run_tool("to-torch", h5, back)
    check(same_state_dicts(state, torch.load(back)),
          f"PyTorch -> harnet -> PyTorch ({name}, {len(state)} tensors): identical")


def h5py_reading_example():
    # The example of docs/checkpoint-format.md, verbatim.
    with h5py.File(os.path.join(fixtures.FIXTURES, "harnet_zoo_checkpoint.h5"), "r") as f:
        assert f.attrs["format"] == "harnet-checkpoint" and f.attrs["version"] == 1
        config = f.attrs["config"]
        weights = {urllib.parse.unquote(name): ds[()] for name, ds in f["model"].items()}  # in state-dict order
        groups = [dict(g.attrs) for _, g in sorted(f["optimizer/param_groups"].items(), key=lambda kv: int(kv[0]))]
        state = {int(i): {k: v[()] for k, v in s.items()} for i, s in f["optimizer/state"].items()}
        scheduler = dict(f["scheduler"].attrs)
        rng, counters = dict(f["rng"].attrs), dict(f["counters"].attrs)
    check(config == '{"model": "zoo", "seed": 11}' and len(weights) == 23, f"h5py: config {config}, {len(weights)} weights")
    check(len(groups) == 1 and list(groups[0]["params"]) == list(range(20)) and "lr" in groups[0],
          f"h5py: 1 param group, lr {groups[0]['lr']:.6g}, {len(groups[0]['params'])} params")
    check(sorted(state[0]) == ["exp_avg", "exp_avg_sq", "step"], f"h5py: Adam state of parameter 0: {sorted(state[0])}")
    check(scheduler["kind"] == "OneCycleLR" and scheduler["last_epoch"] == 3,
          f"h5py: scheduler {scheduler['kind']}, last_epoch {scheduler['last_epoch']:g}")
    check(sorted(rng) == ["data", "module:drop", "module:lstm", "module:mha"] and counters == {"step": 3.0},
          f"h5py: generators {sorted(rng)}, counters {counters}")


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        harnet_to_torch(tmp)
        torch.manual_seed(3)
        torch_round_trip(tmp, "zoo", fixtures.warmed_up_zoo(3).state_dict())
        torch_round_trip(tmp, "harnet", fixtures.HARNet(fixtures.DEFAULT_CONFIG).state_dict())
        odd = collections.OrderedDict([("a/b", torch.ones(2)), ("50%", torch.zeros(1, dtype=torch.float64)),
                                       (".", torch.tensor(7)), ("%2F", torch.arange(3))])
        torch_round_trip(tmp, "odd_keys", odd)
        try:
            torch_checkpoint.write_checkpoint(os.path.join(tmp, "half.h5"), {"w": torch.ones(1, dtype=torch.float16)})
            check(False, "from-torch refuses a float16 tensor")
        except torch_checkpoint.ConversionError as e:
            check("float16" in str(e) and not os.listdir(tmp).count(".half.h5.tmp"), f"from-torch refuses float16: {e}")
    h5py_reading_example()
    print(f"{len(FAILURES)} failed" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
