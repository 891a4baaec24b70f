#!/usr/bin/env python3
"""Converts between harnet checkpoints and PyTorch state dicts (dev-only: needs torch and h5py).

  python3 tools/torch_checkpoint.py to-torch CHECKPOINT.h5 STATE_DICT.pt
  python3 tools/torch_checkpoint.py from-torch STATE_DICT.pt CHECKPOINT.h5 [--config CONFIG.json]

to-torch: torch.save of an OrderedDict (state-dict key -> tensor) holding the checkpoint's /model
in its order, ready for model.load_state_dict(torch.load(path)). The optimizer, scheduler,
generator states and counters have no PyTorch counterpart and are left out.

from-torch: a weights-only harnet checkpoint (format "harnet-checkpoint", version 1): the root
attributes and /model, one dataset per key, dtypes kept (float32, float64, int64; a 0-d tensor
becomes a scalar dataset). The .pt may hold a state dict or a whole nn.Module. --config stores
the text of a JSON file as the checkpoint's config (default: empty).

The layout is docs/checkpoint-format.md. Names that HDF5 cannot hold are escaped as harnet does:
'%' -> %25, '/' -> %2F, and the name "." -> %2E.
"""

import argparse
import collections
import json
import os
import sys
import tempfile

import h5py
import numpy as np
import torch

FORMAT = "harnet-checkpoint"
VERSION = 1
KEPT_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64}


class ConversionError(Exception):
    pass


def escape_name(key):
    if key == ".":
        return "%2E"
    return key.replace("%", "%25").replace("/", "%2F")


def unescape_name(name):
    out, i = [], 0
    while i < len(name):
        if name[i] != "%":
            out.append(name[i])
            i += 1
            continue
        code = name[i + 1:i + 3]
        if len(code) != 2 or any(c not in "0123456789abcdefABCDEF" for c in code):
            raise ConversionError(f"malformed escape in the name {name!r}")
        out.append(chr(int(code, 16)))
        i += 3
    return "".join(out)


def read_state_dict(path):
    """The /model of a harnet checkpoint as an OrderedDict of tensors, after checking the format."""
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt != FORMAT:
            raise ConversionError(f"{path}: attribute 'format' is {fmt!r}, expected {FORMAT!r}")
        version = int(f.attrs.get("version", -1))
        if not 1 <= version <= VERSION:
            raise ConversionError(f"{path}: version {version} is not one this tool reads ({VERSION})")
        if "model" not in f or not isinstance(f["model"], h5py.Group):
            raise ConversionError(f"{path}: no group /model")
        state = collections.OrderedDict()
        for name in f["model"]:  # h5py lists in creation order where the group tracks it
            dataset = f["model"][name]
            if not isinstance(dataset, h5py.Dataset):
                raise ConversionError(f"{path}: /model/{name} is not a dataset")
            values = np.asarray(dataset[()])
            if values.dtype.kind in "iu":
                values = values.astype(np.int64)
            elif values.dtype not in (np.float32, np.float64):
                raise ConversionError(f"{path}: /model/{name} holds {values.dtype}, expected float32, float64 or integers")
            state[unescape_name(name)] = torch.from_numpy(np.array(values))
        return state


def load_torch_state_dict(path):
    """A state dict from a .pt holding a state dict (any mapping of tensors) or an nn.Module."""
    loaded = torch.load(path, map_location="cpu")
    if isinstance(loaded, torch.nn.Module):
        loaded = loaded.state_dict()
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ConversionError(f"{path}: holds {type(loaded).__name__}, expected a state dict of tensors or a module")
    return collections.OrderedDict(loaded)


def _order_tracking(plist):
    """Members and attributes listed in creation order (as harnet writes its groups), and no
    modification times, so that the same tensors give the same bytes."""
    order = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
    plist.set_link_creation_order(order)
    plist.set_attr_creation_order(order)
    plist.set_obj_track_times(False)
    return plist


def _create_file(path):
    fcpl = _order_tracking(h5py.h5p.create(h5py.h5p.FILE_CREATE))
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V18, h5py.h5f.LIBVER_V18)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def _create_group(parent, name):
    gcpl = _order_tracking(h5py.h5p.create(h5py.h5p.GROUP_CREATE))
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def write_checkpoint(path, state_dict, config="", compress=False):
    """A weights-only harnet checkpoint, written to a temporary file then renamed over path.
    compress: tensors of one element or more dimensions are stored chunked, byte-shuffled and
    deflated (HDF5 reads them transparently), which shrinks weights with few significant bits."""
    if config:
        json.loads(config)  # refuse what harnet would refuse
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".tmp-", dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary name only
    try:
        with _create_file(temporary) as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = np.int64(VERSION)
            f.attrs["config"] = config
            model = _create_group(f, "model")
            for key, tensor in state_dict.items():
                if not key:
                    raise ConversionError("an empty state-dict key cannot be stored")
                if tensor.dtype not in KEPT_DTYPES:
                    raise ConversionError(f"key {key!r}: {tensor.dtype}; harnet checkpoints hold float32, float64 and int64")
                data = tensor.detach().cpu().numpy().astype(KEPT_DTYPES[tensor.dtype])
                filters = dict(compression="gzip", compression_opts=9, shuffle=True) if compress and data.ndim else {}
                model.create_dataset(escape_name(key), data=data, track_times=False,  # the same bytes for the same tensors
                                     **filters)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    to_torch = commands.add_parser("to-torch", help="harnet checkpoint -> PyTorch state dict (.pt)")
    to_torch.add_argument("checkpoint")
    to_torch.add_argument("output")
    from_torch = commands.add_parser("from-torch", help="PyTorch state dict (.pt) -> harnet checkpoint (weights only)")
    from_torch.add_argument("state_dict")
    from_torch.add_argument("output")
    from_torch.add_argument("--config", help="a JSON file whose text becomes the checkpoint's config")
    from_torch.add_argument("--compress", action="store_true", help="store tensors shuffled and deflated")
    args = parser.parse_args(argv)
    try:
        if args.command == "to-torch":
            state = read_state_dict(args.checkpoint)
            torch.save(state, args.output)
            print(f"{args.output}: {len(state)} tensors")
        else:
            config = ""
            if args.config:
                with open(args.config, encoding="utf-8") as f:
                    config = f.read().strip()
            state = load_torch_state_dict(args.state_dict)
            write_checkpoint(args.output, state, config, compress=args.compress)
            print(f"{args.output}: {len(state)} tensors")
    except (ConversionError, OSError, ValueError) as e:
        print(f"torch_checkpoint: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
