#!/usr/bin/env python3
"""Writes tests/fixtures/h5py_contract.h5: a tiny harnet-skeleton-v1 dataset written with h5py
the way a Python user would, so tests/test_dataset_io.cpp can check that the C++ reader accepts
files of other tools. Dev-only (needs h5py + numpy); run from anywhere:

    /usr/bin/python3 tools/write_contract_with_h5py.py

What it exercises (each differs from what harnet itself writes):
- /skeletons stored as float64, chunked and gzip-compressed; /offsets int32; /labels int16;
  /subjects uint8; /names variable-length UTF-8 with a non-ASCII character;
- attributes: format a variable-length string (a Python str), class_names a variable-length
  string array, joint_names a fixed-length null-padded ASCII array (numpy 'S'), source a
  fixed-length scalar (numpy bytes), parents int64, fps float32, the joint roles as int64
  (a Python int), int16, uint8 and int8;
- an unknown attribute and an unknown dataset, which readers must ignore.

Contents (the C++ test expects exactly these): 4 joints, 3 classes, 4 sequences of 2, 3, 1
and 2 frames (F = 8); skeletons[f, j, k] = f + j / 4 + k / 16 (exact in float32).
"""

import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "h5py_contract.h5")


def main():
    lengths = [2, 3, 1, 2]
    frames, joints = sum(lengths), 4
    f, j, k = np.meshgrid(np.arange(frames), np.arange(joints), np.arange(3), indexing="ij")
    skeletons = (f + j / 4 + k / 16).astype(np.float64)

    with h5py.File(OUT, "w") as h5:
        h5.create_dataset("skeletons", data=skeletons, chunks=(4, joints, 3), compression="gzip")
        h5["offsets"] = np.cumsum([0] + lengths).astype(np.int32)
        h5["labels"] = np.array([2, 0, 1, 2], dtype=np.int16)
        h5["subjects"] = np.array([7, 3, 7, 11], dtype=np.uint8)
        h5.create_dataset("names", data=["s\u00e9q-0", "seq-1", "seq-2", "seq-3"], dtype=h5py.string_dtype())
        h5["extra"] = np.arange(5)

        h5.attrs["format"] = "harnet-skeleton-v1"
        h5.attrs["class_names"] = np.array(["wave", "punch", "kick"], dtype=h5py.string_dtype())
        h5.attrs["joint_names"] = np.array([b"hip", b"spine", b"neck", b"head"], dtype="S5")
        h5.attrs["parents"] = np.array([-1, 0, 1, 2], dtype=np.int64)
        h5.attrs["fps"] = np.float32(7.5)
        h5.attrs["source"] = np.bytes_(b"written by h5py")
        h5.attrs["center_joint"] = 0
        h5.attrs["left_shoulder_joint"] = np.int16(2)
        h5.attrs["right_shoulder_joint"] = np.uint8(2)
        h5.attrs["neck_joint"] = np.int8(2)
        h5.attrs["comment"] = "unknown attributes are ignored"
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
