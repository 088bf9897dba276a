#!/usr/bin/env bash
# soakprof next to psrecord, mprof and procpath on one target at one interval, with the /proc
# read floor measured in the same run (see benches/measure/compare.py for how each figure is taken).
# Installs the peers into a throw-away virtualenv (PyPI access needed), then runs three
# interleaved rounds of every tool and the floor per interval and prints a Markdown table of
# medians (min–max) per interval. Takes about 17 minutes with the default windows.
#   usage: benches/measure/compare.sh [INTERVALS] [WINDOW_S]     e.g. benches/measure/compare.sh 0.01,1
# Environment: SOAKPROF_BIN_DIR (prebuilt soakprof, soakprof-fixture and proc_floor),
#   PEERS_VENV (reuse a virtualenv that already has the peers).
set -euo pipefail
cd "$(dirname "$0")/../.."
intervals=${1:-0.01,1}
window=${2:-}
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT
bin=${SOAKPROF_BIN_DIR:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bins --example proc_floor
  bin=$(mktemp -d)
  cleanup+=("$bin")
  cp target/release/soakprof target/release/soakprof-fixture target/release/examples/proc_floor "$bin/"
fi
[ -x /usr/bin/time ] || { echo "compare.sh: GNU time (/usr/bin/time) is needed for peak RSS" >&2; exit 2; }
venv=${PEERS_VENV:-}
if [ -z "$venv" ]; then
  venv=$(mktemp -d)
  cleanup+=("$venv")
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    psrecord==1.4 procpath==1.15.1 memory-profiler==0.61.0
fi
python3 benches/measure/compare.py --bin "$bin" --venv "$venv" --intervals "$intervals" \
  ${window:+--window "$window"}
