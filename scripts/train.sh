#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh), then trains with `harnet train`. Any arguments are
# passed on to it (see build/harnet train --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${HARNET_BUILD_DIR:-build}
exec "$BUILD_DIR/harnet" train "$@"
