#!/usr/bin/env bash
# Wall time and peak RSS of `soakprof analyze --prometheus` judging a fleet of INSTANCES
# (default 200) × 24 h at a 15 s step (targets: under 10 s and under 200 MB). Generates the
# fleet's process_* series (benches/measure/fleet_openmetrics.rs: flat, sawtooth, warm-up,
# leaks, restarts), backfills them with promtool, starts a Prometheus of its own on a free
# 127.0.0.1 port with a temporary data directory, and runs the judge ROUNDS times (the
# first one reads the blocks cold). Prints one line per round and the worst of them.
#   usage: benches/measure/fleet_scale.sh [INSTANCES] [ROUNDS]      (needs prometheus, promtool)
set -euo pipefail
cd "$(dirname "$0")/../.."
instances=${1:-200}
rounds=${2:-3}
for tool in prometheus promtool curl python3; do
    command -v "$tool" > /dev/null || { echo "fleet_scale: needs $tool" >&2; exit 2; }
done
cargo build --release --quiet --bin soakprof --example fleet_openmetrics
work=$(mktemp -d)
prom_pid=
cleanup() {
    if [ -n "$prom_pid" ]; then
        kill "$prom_pid" 2> /dev/null || true
        wait "$prom_pid" 2> /dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The day ends five minutes ago, on the step grid: all of it in blocks, none in the future.
end=$(($(date +%s) - 300))
end=$((end - end % 15))
t0=$(date +%s.%N)
target/release/examples/fleet_openmetrics "$work/fleet.om" "$instances" "$end" 24 15
size=$(du -m "$work/fleet.om" | cut -f1)
promtool tsdb create-blocks-from openmetrics --quiet "$work/fleet.om" "$work/data" > /dev/null
rm "$work/fleet.om"
printf 'fleet: %d instances x 24 h at 15 s (%d MB of OpenMetrics), backfilled in %.0f s\n' \
    "$instances" "$size" "$(echo "$(date +%s.%N) - $t0" | bc)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'global:\n  scrape_interval: 15s\n' > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --storage.tsdb.retention.time=3650d --web.listen-address="127.0.0.1:$port" \
    --log.level=warn > "$work/prometheus.log" 2>&1 &
prom_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 240); do
    curl -sf "$base/-/ready" > /dev/null && break
    kill -0 "$prom_pid" 2> /dev/null || { cat "$work/prometheus.log" >&2; exit 3; }
    sleep 0.25
done
curl -sf "$base/-/ready" > /dev/null || { echo "fleet_scale: Prometheus not ready" >&2; exit 3; }

worst_s=0
worst_mib=0
for round in $(seq "$rounds"); do
    out="$work/fleet-$round"
    set +e
    /usr/bin/time -v target/release/soakprof analyze --prometheus "$base" --job api \
        --range 24h --end "$end" --step 15s --group-by instance --out "$out" \
        > "$work/stdout" 2> "$work/time-$round"
    code=$?
    set -e
    # Exit 1: the fleet holds leaks, so some series fail. Anything else is a failure here.
    if [ "$code" -ne 1 ]; then
        echo "fleet_scale: analyze exited $code" >&2
        cat "$work/time-$round" >&2
        exit 3
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' \
        "$work/time-$round")
    kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-$round")
    mib=$(echo "scale=1; $kib / 1024" | bc)
    series=$(python3 -c 'import json, sys; f = json.load(open(sys.argv[1])); c = f["counts"]; print(c["series"], "series:", c["pass"], "pass,", c["warn"], "warn,", c["fail"], "fail,", c["restarts"], "restarts")' "$out/fleet.json")
    printf 'round %d: %6.2f s wall, %6.1f MiB max RSS  (%s)\n' "$round" "$wall" "$mib" "$series"
    worst_s=$(echo "if ($wall > $worst_s) $wall else $worst_s" | bc)
    worst_mib=$(echo "if ($mib > $worst_mib) $mib else $worst_mib" | bc)
done
printf 'worst: %.2f s wall (target < 10 s), %.1f MiB max RSS (target < 200 MB = 190.7 MiB)\n' \
    "$worst_s" "$worst_mib"
