#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then trains HARNet with the default recipe on MSR
# Action3D and prints the report.
#
#   bash scripts/train.sh [--data-dir DIR] [harnet train options...]
#
# The raw MSR Action3D folder: --data-dir DIR, else $HARNET_DATA (the folder itself or its
# msr-action3d/ subfolder), else ../shared/data/msr-action3d beside the repository. It is
# converted into runs/msr-action3d.h5 (harnet convert) once per folder: runs/msr-action3d.source
# names the folder it came from, and another folder is converted anew. The run goes to
# runs/msr-action3d-<date-time>/. Without real data the script says so and trains on a
# synthetic set (harnet synth, runs/synthetic.h5) instead. Every other argument is passed to
# harnet train (see build/harnet train --help), e.g. --epochs 20 or --velocities.
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=""
train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) [ $# -ge 2 ] || { echo "train: --data-dir needs a folder" >&2; exit 2; }
                data_dir="$2"; shift 2 ;;
    --data-dir=*) data_dir="${1#--data-dir=}"; shift ;;
    *) train_args+=("$1"); shift ;;
  esac
done

scripts/setup.sh
HARNET="${HARNET_BUILD_DIR:-build}/harnet"

# The MSR Action3D folder: the first candidate holding the sequence list of the paper's protocol.
PAPER_LIST=files_used_in_cvpr12_paper.txt
candidates=()
if [ -n "$data_dir" ]; then
  candidates=("$data_dir")
  [ -f "$data_dir/$PAPER_LIST" ] || [ -f "$data_dir/msr-action3d/$PAPER_LIST" ] ||
    { echo "train: --data-dir $data_dir holds no MSR Action3D data ($PAPER_LIST not found)" >&2; exit 1; }
  candidates+=("$data_dir/msr-action3d")
elif [ -n "${HARNET_DATA:-}" ]; then
  candidates=("$HARNET_DATA/msr-action3d" "$HARNET_DATA")
else
  candidates=("../shared/data/msr-action3d")
fi
raw=""
for candidate in "${candidates[@]}"; do
  if [ -f "$candidate/$PAPER_LIST" ]; then raw="$candidate"; break; fi
done

mkdir -p runs
stamp=$(date +%Y%m%d-%H%M%S)
if [ -n "$raw" ]; then
  data=runs/msr-action3d.h5
  source_file=runs/msr-action3d.source  # the raw folder $data was converted from
  raw_path=$(cd "$raw" && pwd -P)
  if [ ! -f "$data" ] || [ "$(cat "$source_file" 2>/dev/null)" != "$raw_path" ]; then
    rm -f "$source_file"
    "$HARNET" convert --format msr-action3d "$raw" -o "$data"
    echo "$raw_path" > "$source_file"
  fi
  run=runs/msr-action3d-$stamp
else
  echo "train: no MSR Action3D data found (looked in ${candidates[*]}; give --data-dir DIR or set HARNET_DATA)."
  echo "train: training on a synthetic dataset instead (harnet synth)."
  data=runs/synthetic.h5
  [ -f "$data" ] || "$HARNET" synth -o "$data"
  run=runs/synthetic-$stamp
fi
exec "$HARNET" train --data "$data" --out "$run" ${train_args[@]+"${train_args[@]}"}
