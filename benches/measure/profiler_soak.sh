#!/usr/bin/env bash
# The profiler's own soak, time-compressed: 86,400 samples (a day at 1 Hz) taken at 10 ms
# with --children on a target whose children come and go, plus 200 req/s of built-in load.
# Prints RSS and CPU per sample per minute and checks both stay flat (benches/measure/profiler_soak.py).
# About 15 minutes; exits 1 if RSS grew by 1 MiB or more after the first minute, or the cost
# per sample by 10% or more.
#   usage: benches/measure/profiler_soak.sh [SAMPLES]      (default 86400)
# Environment: SOAKPROF_BIN_DIR (prebuilt soakprof and soakprof-fixture).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${SOAKPROF_BIN_DIR:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bins
  bin=target/release
fi
exec python3 benches/measure/profiler_soak.py --bin "$bin" --samples "${1:-86400}"
