#!/usr/bin/env bash
# Peak RSS and time of `soakprof analyze` on synthetic 24 h and 7-day logs at 1 Hz (targets:
# 24 h under 12 MB; 7 days under 32 MB and 1.5 s), and of the end of `record`. About two
# minutes. Prints a Markdown table (benches/measure/analyze_memory.py takes the figures).
#   usage: benches/measure/analyze_memory.sh [ROUNDS]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${SOAKPROF_BIN_DIR:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bins --example synth_run
  bin=$(mktemp -d)
  trap 'rm -rf "$bin"' EXIT
  cp target/release/soakprof target/release/soakprof-fixture target/release/examples/synth_run "$bin/"
fi
python3 benches/measure/analyze_memory.py --bin "$bin" --rounds "${1:-3}"
