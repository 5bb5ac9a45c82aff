"""What the benchmarks record about the machine they ran on (imported by the bench_*.py scripts beside it)."""
from __future__ import annotations


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: a busy machine slows both sides of a ratio, and says so here."""
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"
