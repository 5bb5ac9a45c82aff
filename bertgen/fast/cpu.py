"""What this CPU can do, from the flags the kernel lists in /proc/cpuinfo (none where there is no such file)."""
from __future__ import annotations

import os
from pathlib import Path


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> frozenset[str]:
    """The first processor's `flags` line as a set, e.g. {"avx512f", "avx512_bf16", "amx_bf16", ...}."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_multiplies_bf16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether bfloat16 dot products are instructions here (AVX512-BF16 or AMX), not emulated."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(cpuinfo))
