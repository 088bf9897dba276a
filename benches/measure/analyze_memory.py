#!/usr/bin/env python3
"""Peak RSS and wall time of `soakprof analyze` (read, analyse, charts, HTML) on synthetic
24 h and 7-day runs at 1 Hz, and of `record`'s final analysis. Driven by
benches/measure/analyze_memory.sh.

Each figure is the median of ROUNDS runs on a fresh copy of the run directory (analyze
rewrites its outputs, so every round starts from the log alone). Peak RSS is what GNU time
reports (the kernel's ru_maxrss). It is run through GNU time rather than measured from
here because ru_maxrss also counts the memory of the process that forked before it
exec'd: from Python that adds about 14 MiB, from GNU time about 1 MiB, which is below
every figure measured here.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


GNU_TIME = "/usr/bin/time"


def run_measured(argv):
    """(exit code, wall seconds, peak RSS in KiB) of one command, through GNU time."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as report:
        start = time.monotonic()
        code = subprocess.call([GNU_TIME, "-o", report.name, "-f", "%x %M"] + argv,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - start
        fields = report.read().split()
    if len(fields) < 2:
        raise SystemExit(f"GNU time reported nothing for {argv[0]} (exit {code})")
    return int(fields[-2]), wall, int(fields[-1])


def analyze(bin_dir, log_dir, work, rounds):
    walls, peaks = [], []
    for r in range(rounds):
        copy = os.path.join(work, f"round{r}")
        shutil.copytree(log_dir, copy)
        code, wall, peak = run_measured([os.path.join(bin_dir, "soakprof"), "analyze", copy])
        if code not in (0, 1):
            raise SystemExit(f"soakprof analyze {copy} exited {code}")
        walls.append(wall)
        peaks.append(peak)
        shutil.rmtree(copy)
    return statistics.median(walls), statistics.median(peaks), min(peaks), max(peaks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="directory with soakprof, soakprof-fixture, synth_run")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit("needs GNU time at /usr/bin/time (Debian: apt-get install time)")
    work = tempfile.mkdtemp(prefix="soakprof-analyze-memory-")
    try:
        print("| run | samples | samples.jsonl | analyze wall (median) | peak RSS (median, min–max) |")
        print("| --- | --- | --- | --- | --- |")
        for name, samples in [("24 h at 1 Hz", 86_400), ("7 days at 1 Hz", 604_800)]:
            log_dir = os.path.join(work, name.split()[0] + "d")
            subprocess.run([os.path.join(args.bin, "synth_run"), log_dir, str(samples), "--load"], check=True)
            size_mb = os.path.getsize(os.path.join(log_dir, "samples.jsonl")) / 1e6
            wall, peak, lo, hi = analyze(args.bin, log_dir, work, args.rounds)
            print(f"| {name} | {samples} | {size_mb:.1f} MB | {wall:.2f} s | "
                  f"{peak / 1024:.1f} MiB ({lo / 1024:.1f}–{hi / 1024:.1f}) |")
            shutil.rmtree(log_dir)

        # record's end runs the same analysis in the same process: its peak over a run is the
        # loop's own memory or that analysis, whichever is larger. A 6,000-sample run at
        # 10 ms of a fixture started here, not by soakprof: GNU time would count a child's
        # memory as soakprof's.
        fixture = subprocess.Popen([os.path.join(args.bin, "soakprof-fixture"), "--saw-mb", "20",
                                    "--saw-period", "5s", "--threads", "20", "--exit-after", "120s"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            fixture.stdout.readline()  # "ready pid=..."
            out = os.path.join(work, "record")
            argv = [os.path.join(args.bin, "soakprof"), "record", "--quiet", "--interval", "10ms",
                    "--duration", "60s", "--out", out, "--pid", str(fixture.pid)]
            code, wall, record_peak = run_measured(argv)
        finally:
            fixture.kill()
            fixture.wait()
        if code not in (0, 1):
            raise SystemExit(f"soakprof record exited {code}")
        wall_a, analyze_peak, _, _ = analyze(args.bin, out, work, args.rounds)
        print()
        print(f"record of 6,000 samples at 10 ms: peak RSS {record_peak / 1024:.1f} MiB for the whole "
              f"run including its final analysis; `analyze` of the same run: {analyze_peak / 1024:.1f} MiB "
              f"in {wall_a:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
