#!/usr/bin/env bash
# Every figure of the README's "Performance" section that compares soakprof with its peers
# or checks that it stays flat: benches/measure/compare.sh (psrecord, mprof, procpath and the /proc
# read floor at 10 ms and 1 s, about 17 minutes), then benches/measure/profiler_soak.sh (86,400
# samples at 10 ms with --children and 200 req/s, about 15 minutes). Needs PyPI access for
# the peers and GNU time; exits non-zero if the soak finds growth.
#   usage: benches/measure/performance.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --bins --example proc_floor
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cp target/release/soakprof target/release/soakprof-fixture target/release/examples/proc_floor "$bin/"
SOAKPROF_BIN_DIR=$bin benches/measure/compare.sh
SOAKPROF_BIN_DIR=$bin benches/measure/profiler_soak.sh
