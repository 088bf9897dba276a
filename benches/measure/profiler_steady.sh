#!/usr/bin/env bash
# Is the profiler a good guest over a long run? Records a fixture (50 threads, 200 FDs,
# GC-like sawtooth) at --interval 100ms for DURATION (default 10m; 10 minutes at 100 ms is
# 6,000 ticks, the tick count of 1 h 40 m at 1 s), watching the profiler's own RSS every
# 5 s. Prints: RSS growth after the first minute, and how far sample times sit from their
# schedule (k × interval), with the gaps recorded.
#   usage: benches/measure/profiler_steady.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10m}
# SOAKPROF_BIN_DIR: use binaries already built there (e.g. copies) instead of building.
bin=${SOAKPROF_BIN_DIR:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release
fi
work=$(mktemp -d)
trap 'kill $fx 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/soakprof-fixture" --threads 50 --fds 200 --saw-mb 20 --saw-period 30s >/dev/null &
fx=$!
sleep 1
"$bin/soakprof" record --pid "$fx" --interval 100ms --duration "$duration" --quiet --out "$work/run" >/dev/null &
sp=$!
start=$(date +%s.%N)
while kill -0 "$sp" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$sp/status" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$(date +%s.%N) $rss" >>"$work/rss.txt"
  sleep 5
done
wait "$sp" || true
python3 - "$work" "$start" <<'PY'
import json, sys
work, start = sys.argv[1], float(sys.argv[2])
rows = [tuple(map(float, l.split())) for l in open(f"{work}/rss.txt")]
after = [kb for t, kb in rows if t - start >= 60]
print(f"profiler RSS: first {rows[0][1]/1024:.2f} MiB, after 1 min {after[0]/1024:.2f} MiB, "
      f"max after 1 min {max(after)/1024:.2f} MiB, last {rows[-1][1]/1024:.2f} MiB; "
      f"growth after the first minute {(max(after) - after[0])/1024:.3f} MiB")
interval, ts, gaps = None, [], []
for line in open(f"{work}/run/samples.jsonl"):
    r = json.loads(line)
    if r["type"] == "header":
        interval = r["interval_s"]
    elif r["type"] == "sample":
        ts.append(r["t"])
    elif r.get("event") == "gap":
        gaps.append(r)
dev = sorted(abs(t - round(t / interval) * interval) * 1e3 for t in ts)
pct = lambda q: dev[min(len(dev) - 1, int(q * len(dev)))]
print(f"samples {len(ts)} over {ts[-1]:.1f} s; deviation from schedule: median {pct(0.5):.3f} ms, "
      f"p99 {pct(0.99):.3f} ms, max {dev[-1]:.3f} ms; last sample at {ts[-1]:.4f} s; gap events {len(gaps)}")
PY
