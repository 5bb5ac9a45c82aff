"""The hardware limit of a decoding step: bytes and FLOPs it must move, and the machine's best rates for them.

A step's floor is the larger of (bytes read / best read rate) and (matmul FLOPs / best matmul rate): no
implementation on this machine can take less time. Two things keep it a true lower bound:
- the read rate is measured at the step's own working-set size (its weights plus cache), so a working set
  that fits the last-level cache (this machine's L3 is 260 MiB; a MiniLM decoder step reads ~100 MB) is
  timed from cache, as the step reads it, and not from DRAM;
- it is the best rate any of several read kernels reaches (a plain `sum`, and the one-row matrix product a
  step runs), best of all repeats: on a loaded machine a single median of one kernel, timed once, came out
  below what the step itself reached (139% "of the floor" for greedy batch 1).
Imported by bench_generation.py; tests/benchmarks/test_limits.py checks the arithmetic.
"""
from __future__ import annotations

import time

import torch


def decoding_step_cost(rows: int, hidden: int, intermediate: int, vocab: int, layers: int,
                       cached: float, source: int, itemsize: int = 4, inputs: int | None = None,
                       head_itemsize: int | None = None) -> tuple[int, int]:
    """(bytes read, matmul FLOPs) of one decoding step of a BertGeneration decoder over `rows` rows with
    `cached` self-attention positions and `source` encoder positions. Bytes: per layer the self-attention's
    q/k/v/o, the cross-attention's q/o (its k/v are computed once per generate call) and the feed-forward's
    weights, then the output layer, each read once for all rows; the self-attention keys and values of every row
    and layer, and the cross-attention ones once per input (`inputs`, default one per row: the beams of an input
    share its encoder output). The embedding row, biases and LayerNorms are left out (under 0.5% at MiniLM's
    size), so the count is if anything low and the floor stays a lower bound. `head_itemsize`: the output layer's
    bytes per weight where they differ (greedy's bfloat16 screen of a float32 head: 2)."""
    H, F_ = hidden, intermediate
    inputs = rows if inputs is None else inputs
    head_itemsize = itemsize if head_itemsize is None else head_itemsize
    body = layers * (6 * H * H + 2 * H * F_)  # decoder parameters read per step
    cache = layers * 2 * H * (rows * cached + inputs * source)  # cached keys and values read per step
    flops = 2 * rows * (body + vocab * H) + 4 * rows * layers * H * (cached + source)  # products + attention's
    return int(itemsize * (body + cache) + head_itemsize * vocab * H), int(flops)


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first touch, allocation, cache fill
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def read_rate(nbytes: int, hidden: int = 384, repeats: int = 9) -> float:
    """The best bytes/s at which this machine reads a float32 working set of `nbytes`: the fastest of a `sum`
    over one buffer and a one-row product (1, hidden) @ (hidden, n) over it, best of `repeats` each."""
    columns = max(nbytes // (4 * hidden), 256)
    matrix = torch.ones(hidden, columns)  # hidden x columns float32 = the working set
    row, bias = torch.ones(1, hidden), torch.zeros(columns)
    kernels = (matrix.sum, lambda: torch.addmm(bias, row, matrix))
    return matrix.numel() * 4 / min(_best_seconds(kernel, repeats) for kernel in kernels)


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """The best float32 FLOP/s of an n x n torch.mm (the machine's matmul peak at the current thread count)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / _best_seconds(lambda: a @ b, repeats)


def floor(nbytes: int, flops: int, read: float, peak: float) -> tuple[float, str]:
    """(seconds, bound): the least time a step of `nbytes` and `flops` can take at rates `read` and `peak`."""
    times = {"bandwidth": nbytes / read, "compute": flops / peak}
    bound = max(times, key=times.get)
    return times[bound], bound
