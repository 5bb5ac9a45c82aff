"""What this CPU can do, from the flags the kernel lists in /proc/cpuinfo (none where there is no such file)."""
from __future__ import annotations

import os
from pathlib import Path


def _cpuinfo_lines(cpuinfo: str | os.PathLike) -> list[str]:
    try:
        return Path(cpuinfo).read_text().splitlines()
    except OSError:
        return []


def _flags(lines: list[str]) -> frozenset[str]:
    line = next((line for line in lines if line.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def cpu_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> frozenset[str]:
    """The first processor's `flags` line as a set, e.g. {"avx512f", "avx512_bf16", "amx_bf16", ...}."""
    return _flags(_cpuinfo_lines(cpuinfo))


def cpu_multiplies_bf16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether bfloat16 dot products are instructions here (AVX512-BF16 or AMX), not emulated."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(cpuinfo))


def cpu_description(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str:
    """The CPU's model name and its widest matrix instructions, e.g. "AMD EPYC, AVX2" (a results row says what it
    trained on: on a CPU without bfloat16 instructions, bf16 autocast's matmuls ran as float32 GEMMs)."""
    lines = _cpuinfo_lines(cpuinfo)
    model = next((line.partition(":")[2].strip() for line in lines if line.startswith("model name")), "unknown CPU")
    flags = _flags(lines)
    widest = next((name for flag, name in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"),
                                           ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), None)
    return f"{model}, {widest}" if widest else model
