"""Small /proc readers shared by benches/measure/compare.py and benches/measure/profiler_soak.py."""


def rss_kib(pid):
    """VmRSS of pid in KiB; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None
