#!/usr/bin/env bash
# What does a request cost the load driver? soakprof's built-in driver, oha and wrk, side
# by side in one run against the same loopback server: nginx (one worker) pinned to core 0,
# the driver pinned to core 1, 50 connections, DURATION each (default 15s). Prints each
# driver's own CPU time (user + sys, from rusage) divided by the requests it completed.
# Requests per second alone does not rank the drivers: the server saturates first.
#
# Then (unless SKIP_SOAK=1) the driver's memory over a long open-model run: soakprof drives
# 1000 req/s at nginx for SOAK (default 10m) while a second soakprof records the first one;
# prints the driver's RSS after the first minute and its growth after that.
#
#   usage: benches/measure/load_cost.sh [DURATION] [SOAK]
# Installs its peers when missing (nginx and wrk from Debian's packages, oha with cargo
# install into target/peers); never run in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-15s}
soak=${2:-10m}
bin=${SOAKPROF_BIN_DIR:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release
fi
peers=$PWD/target/peers
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get install -y nginx-light wrk >/dev/null
fi
if [ ! -x "$peers/bin/oha" ] && ! command -v oha >/dev/null; then
  cargo install oha --locked --root "$peers" --quiet
fi
oha=$(command -v oha || echo "$peers/bin/oha")
nginx=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
# nginx workers run as another user: they must be able to read the document root.
chmod 755 "$work"
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/tmp"
printf 'ok\n' >"$work/www/index.html"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 01;
daemon on;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; root $work/www; }
}
EOF
taskset -c 0 "$nginx" -c "$work/nginx.conf" -p "$work"
sleep 0.5
url="http://127.0.0.1:$port/index.html"
master=$(cat "$work/nginx.pid")
worker=$(pgrep -P "$master" | head -1)

python3 - "$bin" "$oha" "$url" "$duration" "$worker" "$work" <<'PY'
import json, os, re, resource, subprocess, sys
bin_dir, oha, url, duration, worker, work = sys.argv[1:]

def run(cmd):
    """Run on core 1; return (its own CPU seconds, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["taskset", "-c", "1"] + cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({out.returncode}): {out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, out.stdout

rows = []
# soakprof: closed model, 50 users, no think time; it also samples the nginx worker each second.
run_dir = f"{work}/soakprof-run"
cpu, _ = run([f"{bin_dir}/soakprof", "record", "--pid", worker, "--interval", "1s",
              "--duration", duration, "--quiet", "--out", run_dir,
              "--load-url", url, "--users", "50"])
verdict = json.load(open(f"{run_dir}/verdict.json"))
rows.append(("soakprof", cpu, verdict["load"]["requests"], verdict["load"]["errors"]))

cpu, out = run([oha, "-z", duration, "-c", "50", "--no-tui", "--output-format", "json", url])
summary = json.loads(out)
codes = summary.get("statusCodeDistribution", {})
ok = sum(int(v) for v in codes.values())
errors = sum(int(v) for v in summary.get("errorDistribution", {}).values())
rows.append(("oha", cpu, ok + errors, errors))

cpu, out = run(["wrk", "-t1", "-c50", f"-d{duration}", url])
m = re.search(r"(\d+) requests in", out)
rows.append(("wrk", cpu, int(m.group(1)) if m else 0, 0))

base = rows[0][1] / max(rows[0][2], 1) * 1e6
print(f"driver cost per request, {duration}, 50 connections, nginx on core 0, driver on core 1")
print(f"{'driver':<10}{'requests':>10}{'errors':>8}{'req/s':>10}{'CPU s':>8}{'µs CPU/req':>12}{'soakprof ÷ it':>15}")
secs = float(re.match(r"[\d.]+", duration).group()) * (60 if duration.endswith("m") else 1)
for name, cpu, n, err in rows:
    per = cpu / max(n, 1) * 1e6
    print(f"{name:<10}{n:>10}{err:>8}{n / secs:>10.0f}{cpu:>8.2f}{per:>12.1f}{base / per:>15.2f}")
PY

[ "${SKIP_SOAK:-0}" = 1 ] && exit 0
echo "driver memory: 1000 req/s for $soak (open model), recorded by a second soakprof"
taskset -c 1 "$bin/soakprof" record --pid "$worker" --interval 1s --duration "$soak" --quiet \
  --out "$work/soak-driver" --load-url "$url" --rps 1000 >/dev/null &
driver=$!
sleep 0.2
"$bin/soakprof" record --pid "$driver" --interval 1s --quiet --out "$work/soak-observer" >/dev/null 2>&1 || true
wait "$driver" || true
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
rows = [json.loads(l) for l in open(f"{work}/soak-observer/samples.jsonl")]
rss = [(r["t"], r["rss"]) for r in rows if r.get("type") == "sample" and r.get("rss")]
after = [b for t, b in rss if t >= 60]
v = json.load(open(f"{work}/soak-driver/verdict.json"))["load"]
tail = [b for t, b in rss if t >= rss[-1][0] - 60]
print(f"driver RSS: first {rss[0][1]/2**20:.2f} MiB, at 1 min {after[0]/2**20:.2f} MiB, "
      f"max after 1 min {max(after)/2**20:.2f} MiB, median of the last minute "
      f"{sorted(tail)[len(tail)//2]/2**20:.2f} MiB, last {rss[-1][1]/2**20:.2f} MiB")
print(f"growth after the first minute: to the peak {(max(after) - after[0])/2**20:.3f} MiB, "
      f"to the last minute {(sorted(tail)[len(tail)//2] - after[0])/2**20:.3f} MiB")
print(f"driver delivered {v['requests']} requests ({v['rps']:.1f} req/s), {v['errors']} errors, "
      f"p50 {v['latency_ms']['p50']} ms, p99 {v['latency_ms']['p99']} ms")
PY
