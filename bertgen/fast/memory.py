"""Freed memory kept for reuse, so a training step does not fault its large tensors in page by page.

glibc hands every block above its mmap threshold (which adapts up to 32 MB) straight back to the OS when it is
freed, and the next block of that size is mapped afresh: the kernel zero-fills it a 4 KiB page at a time on first
touch. A training step allocates several such blocks each step (at MiniLM's 30,522-word vocabulary the embedding's
gradient, AdamW's temporaries and the loss's buffers are 47 MB each), so it pays a page fault per 4 KiB page of
each block, every step. Raising the mmap threshold to 1 GiB and never trimming the heap lets freed blocks be reused instead
(benchmarks/bench_training.py measures each step with and without it, in processes of their own). The cost: the
process keeps its peak heap after the memory is freed, as jemalloc or tcmalloc do, for as long as it lives. The
Trainer sets it on CPU unless the environment has BERTGEN_KEEP_FREED_MEMORY=0.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 1 << 30  # blocks below this come from the heap and are reused when freed


def keep_freed_memory() -> bool:
    """Make glibc keep freed blocks up to 1 GiB for reuse, for the whole process. Returns False where
    BERTGEN_KEEP_FREED_MEMORY=0 (nothing changed), where the C library has no mallopt (macOS, musl, Windows;
    nothing changed) or where glibc refuses a setting."""
    if os.environ.get("BERTGEN_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
