#!/usr/bin/env bash
# Installs the Debian packages harnet builds with, only those that are missing, then
# configures and builds into build/ (or $HARNET_BUILD_DIR). Idempotent: with everything
# installed and built it installs nothing and rebuilds nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
PACKAGES=(g++ make cmake libopenblas-dev libtbb-dev libhdf5-dev libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${HARNET_BUILD_DIR:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release > "$BUILD_DIR.configure.log" 2>&1 || {
  cat "$BUILD_DIR.configure.log"; echo "setup: cmake configuration failed" >&2; exit 1; }
rm -f "$BUILD_DIR.configure.log"
cmake --build "$BUILD_DIR" -j "$JOBS"
