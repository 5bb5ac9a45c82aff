"""`make bench`: run every benchmarks/bench_*.py, each printing a markdown section, into RESULTS.md.

Each benchmark measures bertgen and the reference (transformers) side by side in one process, so the
ratios compare like with like on whatever machine runs this.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def main() -> int:
    sections = []
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        if result.returncode:
            sys.stderr.write(result.stderr)
            print(f"{script.name} failed (exit {result.returncode}); RESULTS.md left unchanged", file=sys.stderr)
            return result.returncode
        sections.append(result.stdout.strip())
    header = (f"# Benchmarks\n\nWritten by `make bench` on {date.today()}; do not edit by hand.\n"
              f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
              f"{os.environ.get('BENCH_THREADS') or torch.get_num_threads()} thread(s) per benchmark unless a "
              f"section says otherwise (BENCH_THREADS). Load average (1/5/15 min) at the start: {load}.\n")
    text = "\n\n".join([header, *sections]) + "\n"
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, HERE / "RESULTS.md")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
