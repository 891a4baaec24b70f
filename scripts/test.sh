#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then runs every test with ctest; its summary line
# ("100% tests passed, 0 tests failed out of N") is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${HARNET_BUILD_DIR:-build}
JOBS=$(nproc 2>/dev/null || echo 2)
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "$@"
