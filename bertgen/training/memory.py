"""Freed memory kept for reuse, so a training step does not fault its large tensors in page by page.

glibc hands every block above its mmap threshold (which adapts up to 32 MB) straight back to the OS when it is
freed, and the next block of that size is mapped afresh: the kernel zero-fills it a 4 KiB page at a time on first
touch. A training step allocates several such blocks each step (at MiniLM's 30,522-word vocabulary the embedding's
gradient, AdamW's temporaries and the loss's buffers are 47 MB each), so it pays ~12,000 page faults per block per
step. Raising the mmap threshold to 1 GiB and never trimming the heap lets freed blocks be reused instead:
bench_training measured the step 9% faster (bertgen's Trainer step) and 22% faster (transformers' default step) on
a 2-core CPU. The cost: the process keeps its peak heap after the memory is freed, as jemalloc or tcmalloc do.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 1 << 30  # blocks below this come from the heap and are reused when freed


def keep_freed_memory() -> bool:
    """Make glibc keep freed blocks up to 1 GiB for reuse, for the whole process. Returns False (and changes
    nothing) where the C library is not glibc (macOS, musl, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
