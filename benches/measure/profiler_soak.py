#!/usr/bin/env python3
"""A soak of the profiler itself, time-compressed: a day's worth of samples (86,400) taken
at 10 ms with --children on a target whose children come and go, while the built-in driver
sends 200 requests/s to it. Driven by benches/measure/profiler_soak.sh.

Every 5 s it reads the profiler's RSS and the CPU time of each of its threads (scheduler
run time, ns). Afterwards it prints, per minute: RSS, the sampling thread's CPU per sample,
the load thread's CPU per request, and the process's CPU share; then whether RSS grew after
the first minute (limit 1 MiB) and whether the cost per sample grew (last 3 minutes against
minutes 2 to 4; limit 10%).
"""

import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from procfs_util import rss_kib

# The target: a shell that keeps the fixture's HTTP server as one child and starts a short
# sleep every 100 ms (each lives 0 to 0.4 s), so 1 to 6 children come and go all the time.
CHURN = """
"$1" --serve --port "$2" >/dev/null &
i=0
while :; do
  sleep "0.$((i % 5))" &
  i=$((i + 1))
  sleep 0.1
done
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads(pid):
    """{tid: (comm, run time ns)} of every thread of pid."""
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/comm") as f:
                comm = f.read().strip()
            with open(f"{task}/schedstat") as f:
                ns = int(f.read().split()[0])
            out[int(os.path.basename(task))] = (comm, ns)
        except (OSError, ValueError, IndexError):
            pass
    return out


def wait_for_port(port, timeout_s=10):
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the fixture server did not start")


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--samples", type=int, default=86_400)
    ap.add_argument("--interval-ms", type=float, default=10.0)
    ap.add_argument("--rps", type=float, default=200.0)
    args = ap.parse_args()
    duration_s = args.samples * args.interval_ms / 1e3
    work = tempfile.mkdtemp(prefix="soakprof-soak-")
    port = free_port()
    target = subprocess.Popen(
        ["sh", "-c", CHURN, "churn", os.path.join(args.bin, "soakprof-fixture"), str(port)],
        start_new_session=True,
    )
    wait_for_port(port)
    run_dir = os.path.join(work, "run")
    argv = [os.path.join(args.bin, "soakprof"), "record", "--pid", str(target.pid),
            "--children", "--interval", f"{args.interval_ms:g}ms", "--duration", f"{duration_s:g}s",
            "--rps", f"{args.rps:g}", "--load-url", f"http://127.0.0.1:{port}/", "--quiet",
            "--out", run_dir]
    print(f"profiler soak: {args.samples} samples at {args.interval_ms:g} ms "
          f"({duration_s / 60:.1f} min), --children on a churning target, {args.rps:g} req/s; "
          f"run in {run_dir}", file=sys.stderr)
    started = time.time()
    profiler = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    rows = []
    try:
        while profiler.poll() is None:
            t = time.time()
            rows.append((t, rss_kib(profiler.pid), threads(profiler.pid)))
            time.sleep(5.0 - (time.time() - t) % 5.0)
        profiler.wait()
    finally:
        os.killpg(target.pid, 9)
        target.wait()
    analyze_started = time.monotonic()
    analyze = subprocess.run([os.path.join(args.bin, "soakprof"), "analyze", run_dir],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    analyze_s = time.monotonic() - analyze_started

    header, sample_t, procs = None, [], []
    with open(os.path.join(run_dir, "samples.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["type"] == "header":
                header = r
            elif r["type"] == "sample":
                sample_t.append(header["started_unix_s"] + r["t"])
                if r.get("procs") is not None:
                    procs.append(r["procs"])
    load_t = []  # (epoch of interval end, requests in it)
    with open(os.path.join(run_dir, "load.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") == "interval":
                load_t.append((header["started_unix_s"] + r["t"], r["requests"]))

    def count(ts, a, b):
        return sum(1 for t in ts if a <= t < b)

    pid = profiler.pid

    def thread_ns(snapshot, which):
        return sum(ns for tid, (comm, ns) in snapshot.items() if which(tid, comm))

    def is_sampler(tid, _comm):
        return tid == pid  # the main thread samples; the driver has its own

    def is_load(_tid, comm):
        return comm == "soakprof-load"

    # One row per minute, from the 5 s snapshots at minute boundaries.
    per_min = []
    step = 12
    for i in range(0, len(rows) - step, step):
        (ta, rss_a, th_a), (tb, rss_b, th_b) = rows[i], rows[i + step]
        n = count(sample_t, ta, tb)
        reqs = sum(req for t, req in load_t if ta <= t < tb)
        sampler_ns = thread_ns(th_b, is_sampler) - thread_ns(th_a, is_sampler)
        load_ns = thread_ns(th_b, is_load) - thread_ns(th_a, is_load)
        all_ns = thread_ns(th_b, lambda *_: True) - thread_ns(th_a, lambda *_: True)
        per_min.append({
            "minute": (ta - started) / 60,
            "rss_mib": rss_b / 1024 if rss_b else float("nan"),
            "us_per_sample": sampler_ns / 1e3 / n if n else float("nan"),
            "us_per_request": load_ns / 1e3 / reqs if reqs else float("nan"),
            "cpu_percent": all_ns / 1e9 / (tb - ta) * 100,
            "samples": n,
        })
    print("\n| minute | profiler RSS | sampling µs/sample | load µs/request | profiler CPU |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for m in per_min:
        print(f"| {m['minute']:.0f}–{m['minute'] + 1:.0f} | {m['rss_mib']:.2f} MiB | {m['us_per_sample']:.1f} | "
              f"{m['us_per_request']:.1f} | {m['cpu_percent']:.2f}% |")

    rss_after = [kib for t, kib, _ in rows if kib and t - started >= 60]
    rss_growth_mib = (max(rss_after) - rss_after[0]) / 1024 if rss_after else float("nan")
    early = [m["us_per_sample"] for m in per_min[1:4]]
    late = [m["us_per_sample"] for m in per_min[-3:]]
    cost_change = mean(late) / mean(early) - 1
    req_early = [m["us_per_request"] for m in per_min[1:4]]
    req_late = [m["us_per_request"] for m in per_min[-3:]]
    print(f"\nsamples {len(sample_t)} (processes per sample {min(procs)}–{max(procs)}); "
          f"requests {sum(r for _, r in load_t)}; `soakprof analyze` of the run: {analyze_s:.2f} s "
          f"(exit {analyze.returncode})")
    print(f"RSS after the first minute: first {rss_after[0] / 1024:.2f} MiB, max {max(rss_after) / 1024:.2f} MiB, "
          f"last {rss_after[-1] / 1024:.2f} MiB; growth {rss_growth_mib:.3f} MiB "
          f"-> {'PASS' if rss_growth_mib < 1.0 else 'FAIL'} (limit 1 MiB)")
    print(f"sampling cost: minutes 2–4 {mean(early):.1f} µs/sample, last 3 minutes {mean(late):.1f} µs/sample; "
          f"change {cost_change * 100:+.1f}% -> {'PASS' if cost_change < 0.10 else 'FAIL'} (limit +10%)")
    print(f"load cost: minutes 2–4 {mean(req_early):.1f} µs/request, last 3 minutes {mean(req_late):.1f} µs/request")
    sys.exit(0 if rss_growth_mib < 1.0 and cost_change < 0.10 else 1)


if __name__ == "__main__":
    main()
