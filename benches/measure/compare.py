#!/usr/bin/env python3
"""Side-by-side cost of soakprof and its peers, driven by benches/measure/compare.sh.

Every profiler records the same target (soakprof-fixture with 50 extra threads and 200
extra FDs) at the same interval, one profiler at a time so they never compete for a core.
For each it reports:

- CPU per sample: the profiler's own CPU time (all its threads, from the scheduler's
  nanosecond run-time counters in /proc/PID/task/*/schedstat) over a steady window that
  starts after its start-up, divided by the samples it took in that window (counted from its
  own output). Start-up (Python imports, soakprof's target lookup) and the end-of-run report
  are outside the window, for every tool alike.
- Peak RSS: the whole run including start-up and the final report, from GNU time's %M (the
  wrapper execs the tool, so the figure is the tool's own, not the harness's).

The floor is `proc_floor` reading the same /proc files as soakprof's cheap fields, once in a
tight loop and once paced at the interval (which adds what waking up costs: cold caches and
the sleep itself).
"""

import argparse
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from statistics import median

from procfs_util import rss_kib


def cpu_ns(pid):
    """Run time of every thread of `pid`, ns; None when it is gone."""
    total, seen = 0, False
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
            seen = True
        except (OSError, ValueError, IndexError):
            pass
    return total if seen else None


def threads_of(pid):
    return len(glob.glob(f"/proc/{pid}/task/*"))


def tool_pid(wrapper_pid, timeout_s=10.0):
    """The process GNU time started (its only child)."""
    until = time.monotonic() + timeout_s
    while time.monotonic() < until:
        try:
            with open(f"/proc/{wrapper_pid}/task/{wrapper_pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("the profiler did not start")


def sample_times(kind, out):
    """Sample times (s) from each tool's own output, in its own clock."""
    times = []
    if kind == "soakprof":
        with open(os.path.join(out, "samples.jsonl")) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("type") == "sample":
                    times.append(r["t"])
    elif kind == "psrecord":
        with open(out) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    times.append(float(line.split()[0]))
    elif kind == "mprof":
        with open(out) as f:
            for line in f:
                if line.startswith("MEM "):
                    times.append(float(line.split()[2]))
    elif kind == "procpath":
        con = sqlite3.connect(out)
        times = [r[0] for r in con.execute("SELECT DISTINCT ts FROM record ORDER BY ts")]
        con.close()
    return times


def run_tool(name, kind, argv, out, warm_s, window_s):
    """Run one profiler under GNU time; CPU per sample over the window, and peak RSS."""
    peak_file = out + ".peak"
    wrapper = subprocess.Popen(
        ["/usr/bin/time", "-o", peak_file, "-f", "%M"] + argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid = tool_pid(wrapper.pid)
    time.sleep(warm_s)
    cpu_a, t_a, threads_a = cpu_ns(pid), time.monotonic(), threads_of(pid)
    # RSS while sampling, polled; the peak from GNU time also covers start-up and the end.
    rss_max_kib = 0
    while time.monotonic() < t_a + window_s:
        rss_max_kib = max(rss_max_kib, rss_kib(pid) or 0)
        time.sleep(min(0.5, max(0.0, t_a + window_s - time.monotonic())))
    cpu_b, t_b, threads_b = cpu_ns(pid), time.monotonic(), threads_of(pid)
    os.kill(pid, signal.SIGINT)
    try:
        wrapper.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        wrapper.wait()
    with open(peak_file) as f:
        peak_kib = int(f.read().split()[-1])
    times = sample_times(kind, out)
    # Sampling rate over the tool's own steady span (first and last second left out).
    steady = [t for t in times if times[0] + 1.0 <= t <= times[-1] - 1.0]
    rate = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 2 else None
    if cpu_a is None or cpu_b is None or rate is None:
        raise RuntimeError(f"{name}: no steady window (did it exit early?)")
    cpu_s_per_s = (cpu_b - cpu_a) / 1e9 / (t_b - t_a)
    row = {
        "tool": name,
        "cpu_us_per_sample": cpu_s_per_s / rate * 1e6,
        "cpu_percent": cpu_s_per_s * 100,
        "samples_per_s": rate,
        "peak_rss_mib": peak_kib / 1024,
        "sampling_rss_mib": rss_max_kib / 1024,
        "samples": len(times),
    }
    if threads_a != threads_b:
        row["note"] = f"thread count changed {threads_a} -> {threads_b} in the window"
    return row


def floor(bin_dir, pid, seconds, detail_every, every_ms=None):
    argv = [os.path.join(bin_dir, "proc_floor"), str(pid), str(seconds),
            "--detail-every", str(detail_every)]
    if every_ms is not None:
        argv += ["--every", str(every_ms)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    rows = {r["mode"]: r["cpu_us_per_iter"] for r in map(json.loads, out.splitlines())}
    return rows["held"], rows["path"], rows.get("sleep")


def start_target(bin_dir):
    target = subprocess.Popen(
        [os.path.join(bin_dir, "soakprof-fixture"), "--threads", "50", "--fds", "200"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = target.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError("the fixture did not start")
    return target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory with soakprof, soakprof-fixture, proc_floor")
    ap.add_argument("--venv", required=True, help="virtualenv with psrecord, procpath, memory-profiler")
    ap.add_argument("--intervals", default="0.01,1", help="seconds, comma-separated")
    ap.add_argument("--window", type=float, default=None, help="seconds measured per tool and round (default: 15 at 10 ms, 30 at 1 s)")
    ap.add_argument("--json", help="also write every row here")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per interval")
    args = ap.parse_args()

    target = start_target(args.bin)
    pid = target.pid
    n_threads = threads_of(pid)
    n_fds = len(os.listdir(f"/proc/{pid}/fd"))
    print(f"target: soakprof-fixture pid {pid}, {n_threads} threads, {n_fds} fds; "
          f"{os.cpu_count()} cpus, kernel {os.uname().release}")
    work = tempfile.mkdtemp(prefix="soakprof-compare-")
    venv_bin = os.path.join(args.venv, "bin")
    all_rows = []
    try:
        for interval in [float(x) for x in args.intervals.split(",")]:
            window = args.window or (15.0 if interval < 0.1 else 30.0)
            warm = max(2.0, 2 * interval)
            ms = interval * 1e3
            sp = os.path.join(args.bin, "soakprof")
            core_fields = ("stat (rss vms threads cpu faults) + fd count"
                           + ("; status io meminfo each 1 s" if interval < 1 else " + status io meminfo"))
            tools = [
                ("soakprof --pss-interval off", "soakprof",
                 [sp, "record", "--pid", str(pid), "--interval", f"{ms:g}ms", "--quiet",
                  "--pss-interval", "off", "--out", f"{work}/sp-off-{ms:g}"], f"{work}/sp-off-{ms:g}",
                 core_fields),
                ("soakprof (default)", "soakprof",
                 [sp, "record", "--pid", str(pid), "--interval", f"{ms:g}ms", "--quiet",
                  "--out", f"{work}/sp-{ms:g}"], f"{work}/sp-{ms:g}",
                 core_fields + "; pss uss each 5 s"),
                ("psrecord 1.4", "psrecord",
                 [f"{venv_bin}/psrecord", str(pid), "--interval", str(interval),
                  "--log", f"{work}/psrecord-{ms:g}.txt"], f"{work}/psrecord-{ms:g}.txt",
                 "cpu rss vms"),
                ("mprof (memory-profiler 0.61)", "mprof",
                 [f"{venv_bin}/mprof", "run", "--attach", "-T", str(interval),
                  "-o", f"{work}/mprof-{ms:g}.dat", str(pid)], f"{work}/mprof-{ms:g}.dat",
                 "rss"),
                ("procpath 1.15", "procpath",
                 [f"{venv_bin}/procpath", "record", "-i", str(interval), "-f", "stat,status,fd",
                  "-p", str(pid), "-d", f"{work}/procpath-{ms:g}.sqlite",
                  f"$..children[?(@.stat.pid == {pid})]"], f"{work}/procpath-{ms:g}.sqlite",
                 "stat status fd-by-type"),
            ]
            # soakprof reads status, io and meminfo once a second (every sample at 1 s).
            detail_every = max(1, round(1.0 / interval))
            # Rounds interleave every tool and the floor, so a slow spell of the machine
            # (a VM's idle exits vary a lot) lands on all of them; medians are reported.
            runs = {name: [] for name, *_ in tools}
            floor_runs = []
            for round_no in range(args.rounds):
                for name, kind, argv, out, fields in tools:
                    if os.path.isdir(out):
                        shutil.rmtree(out)
                    elif os.path.isfile(out):
                        os.remove(out)
                    row = run_tool(name, kind, argv, out, warm, window)
                    row["fields"] = fields
                    runs[name].append(row)
                    print(f"  {interval:g} s  round {round_no + 1}  {name}: {row['cpu_us_per_sample']:.1f} µs/sample, "
                          f"{row['samples_per_s']:.1f} samples/s, RSS {row['sampling_rss_mib']:.2f} MiB, "
                          f"peak {row['peak_rss_mib']:.2f} MiB",
                          file=sys.stderr)
                tight_held, tight_path, _ = floor(args.bin, pid, 6, detail_every)
                paced_held, paced_path, sleep_only = floor(args.bin, pid, min(window, 30.0), detail_every, ms)
                floor_runs.append({
                    "floor: same files, tight loop, kept open": tight_held,
                    "floor: same files, tight loop, opened each time": tight_path,
                    f"floor: same files, one read every {ms:g} ms, kept open": paced_held,
                    f"floor: same files, one read every {ms:g} ms, opened each time": paced_path,
                    f"waking up every {ms:g} ms, nothing read": sleep_only,
                })
                print(f"  {interval:g} s  round {round_no + 1}  floor: paced {paced_held:.1f} µs, "
                      f"tight {tight_held:.1f} µs, waking {sleep_only:.1f} µs", file=sys.stderr)

            def spread(values):
                return median(values), min(values), max(values)

            def cell(values, fmt="{:.0f}"):
                mid, lo, hi = spread(values)
                return fmt.format(mid) + (f" ({fmt.format(lo)}–{fmt.format(hi)})" if len(values) > 1 else "")

            rows = []
            for name, *_ in tools:
                rs = runs[name]
                rows.append({
                    "tool": name,
                    "fields": rs[0]["fields"],
                    "cpu_us_per_sample": median([r["cpu_us_per_sample"] for r in rs]),
                    "cpu_us_runs": [r["cpu_us_per_sample"] for r in rs],
                    "samples_per_s": median([r["samples_per_s"] for r in rs]),
                    "sampling_rss_mib": max(r["sampling_rss_mib"] for r in rs),
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
                    "notes": [r["note"] for r in rs if "note" in r],
                })
            base = rows[0]["cpu_us_per_sample"]
            print(f"\n### Interval {ms:g} ms ({args.rounds} rounds of {window:g} s per tool; "
                  f"median (min–max) of the rounds)\n")
            print("| tool | reads per sample | µs CPU per sample | samples/s | RSS while sampling | peak RSS, whole run | ÷ soakprof |")
            print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
            for r in rows:
                print(f"| {r['tool']} | {r['fields']} | {cell(r['cpu_us_runs'])} | "
                      f"{r['samples_per_s']:.1f} | {r['sampling_rss_mib']:.1f} MiB | {r['peak_rss_mib']:.1f} MiB | "
                      f"{r['cpu_us_per_sample'] / base:.2f} |")
            floors = {label: median([f[label] for f in floor_runs]) for label in floor_runs[0]}
            for label in floors:
                fields = "none" if label.startswith("waking") else core_fields
                values = [f[label] for f in floor_runs]
                print(f"| {label} | {fields} | {cell(values)} | | | | {floors[label] / base:.2f} |")
            paced_held = floors[f"floor: same files, one read every {ms:g} ms, kept open"]
            tight_held = floors["floor: same files, tight loop, kept open"]
            # The same ratio round by round: soakprof and the floor of one round ran minutes apart.
            per_round = [runs[tools[0][0]][i]["cpu_us_per_sample"]
                         / floor_runs[i][f"floor: same files, one read every {ms:g} ms, kept open"]
                         for i in range(args.rounds)]
            psrecord = next(r for r in rows if r["tool"].startswith("psrecord"))
            print(f"\nsoakprof vs psrecord: {psrecord['cpu_us_per_sample'] / base:.1f}× cheaper; "
                  f"vs the paced floor (kept open): {base / paced_held:.2f}×; "
                  f"vs the tight-loop floor: {base / tight_held:.2f}×")
            print("soakprof ÷ paced floor, round by round: "
                  + ", ".join(f"{x:.2f}" for x in per_round))
            for r in rows:
                for note in r["notes"]:
                    print(f"note: {r['tool']}: {note}")
            all_rows.append({"interval_s": interval, "window_s": window, "rows": rows,
                             "floor_us": floors, "floor_runs": floor_runs})
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_rows, f, indent=1)


if __name__ == "__main__":
    main()
