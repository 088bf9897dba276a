#!/usr/bin/env python3
"""The built-in load driver against hostile servers and at the largest levels the command
line accepts: prints soakprof's peak RSS (GNU time's %M, else ru_maxrss from wait4) and how long each run took
against its --duration (issue 12, acceptance 2: < 64 MiB against endless bodies at 40 req/s,
< 256 MiB at any accepted level, every run within --duration + 5 s).

    usage: benches/measure/hostile_load.py [DURATION_S]   (default 10)

Uses target/release/{soakprof,soakprof-fixture} (SOAKPROF_BIN_DIR to override); the
fixture serves 127.0.0.1 only; every process started here is stopped here.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SOAKPROF_BIN_DIR", os.path.join(ROOT, "target", "release"))
SOAKPROF = os.path.join(BIN, "soakprof")
FIXTURE = os.path.join(BIN, "soakprof-fixture")
GRACE_S = 5.0
TIME = "/usr/bin/time"
MIB = 1024 * 1024


def start_server(work):
    port_file = os.path.join(work, "port")
    server = subprocess.Popen(
        [FIXTURE, "--serve", "--port-file", port_file, "--exit-after", "600s"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(500):
        if os.path.exists(port_file):
            return server, int(open(port_file).read().strip())
        time.sleep(0.01)
    server.kill()
    sys.exit("the fixture server did not start")


BULK_SERVER = r"""
import asyncio, sys
BODY = b'{"results": "' + b"x" * ((1 << 20) - 16) + b'"}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(HEAD + BODY)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=8192)
    open(sys.argv[1], "w").write(str(server.sockets[0].getsockname()[1]))
    await asyncio.sleep(600)
asyncio.run(main())
"""


def start_bulk_server(work):
    """A server that answers every request on every connection with a 1 MiB JSON body, as
    fast as it can, with no cap on connections (the fixture's is 256)."""
    port_file = os.path.join(work, "bulk-port")
    server = subprocess.Popen([sys.executable, "-c", BULK_SERVER, port_file])
    for _ in range(500):
        if os.path.exists(port_file) and open(port_file).read().strip():
            return server, int(open(port_file).read().strip())
        time.sleep(0.01)
    server.kill()
    sys.exit("the bulk server did not start")


def run(label, server_pid, duration_s, load_args, work):
    out = tempfile.mkdtemp(dir=work)
    os.rmdir(out)
    args = [SOAKPROF, "record", "--pid", str(server_pid), "--duration", f"{duration_s}s",
            "--quiet", "--out", out] + load_args
    # GNU time's figure: ru_maxrss of the child that wait4 returns would include this
    # Python's own pages from before the exec.
    if os.access(TIME, os.X_OK):
        args = [TIME, "-f", "maxrss_kib=%M"] + args
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = started + duration_s + 60
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss * 1024 / MIB
    for line in err:
        if line.startswith("maxrss_kib="):
            peak = int(line.split("=", 1)[1]) * 1024 / MIB
    err = [line for line in err if not line.startswith("maxrss_kib=")]
    on_time = elapsed <= duration_s + GRACE_S
    report = os.path.exists(os.path.join(out, "verdict.json"))
    print(f"{label:<44} peak RSS {peak:7.1f} MiB   {elapsed:5.1f} s of {duration_s} s"
          f" {'ok' if on_time else 'LATE'}   exit {code}   report {'yes' if report else 'NO'}"
          + (f"   ({err[-1]})" if err and code not in (0, 1) else ""))
    return peak, on_time


def scenario(work, port, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(f'base_url = "http://127.0.0.1:{port}"\n{text}')
    return path


def main():
    duration = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for binary in (SOAKPROF, FIXTURE):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} missing: cargo build --release first")
    with tempfile.TemporaryDirectory() as work:
        server, port = start_server(work)
        base = f"http://127.0.0.1:{port}"
        many = "rps = 1000\n" + "".join(
            f'[[requests]]\nname = "r{i}"\npath = "/{i}"\n' for i in range(1000))
        cases = [
            ("endless body, 40 req/s", ["--load-url", f"{base}/endless", "--rps", "40"], 64),
            ("1 GB Content-Length, 40 req/s", ["--load-url", f"{base}/huge", "--rps", "40"], 256),
            ("trickling body, 40 req/s (30 s timeout)",
             ["--load-url", f"{base}/trickle", "--rps", "40"], 256),
            ("never answered, 200 req/s (60 s timeout)",
             ["--load-url", f"{base}/never", "--rps", "200", "--load-timeout", "60s"], 256),
            ("--rps 1000000000", ["--load-url", f"{base}/", "--rps", "1000000000"], 256),
            ("--users 4000 (the largest accepted)", ["--load-url", f"{base}/", "--users", "4000"], 256),
            ("1000 [[requests]] (the most accepted), 1000 req/s",
             ["--load", scenario(work, port, "many.toml", many)], 256),
        ]
        bulk, bulk_port = start_bulk_server(work)
        bulk_base = f"http://127.0.0.1:{bulk_port}"
        checked = ('users = 4000\n[[requests]]\nname = "big"\npath = "/"\nexpect_json_keys = ["results"]\n')
        cases += [
            ("--users 4000, 1 MiB bodies as fast as they go",
             ["--load-url", f"{bulk_base}/", "--users", "4000"], 256),
            ("--users 4000, 1 MiB JSON bodies, expect_json_keys",
             ["--load", scenario(work, bulk_port, "checked.toml", checked)], 256),
        ]
        failures = 0
        try:
            for label, args, bound in cases:
                pid = bulk.pid if "1 MiB" in label else server.pid
                peak, on_time = run(label, pid, duration, args, work)
                if peak >= bound or not on_time:
                    failures += 1
                    print(f"  ^ above {bound} MiB or late")
        finally:
            for process in (server, bulk):
                process.kill()
                process.wait()
        print("all within bounds" if failures == 0 else f"{failures} case(s) out of bounds")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
