"""Learning-rate schedules as multipliers of the optimizer's base rate, indexed by update number n = 1, 2, ...

- `rsqrt`: the paper's (tensor2tensor's `constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size`):
      lr(n) = lr0 * min(1, n / warmup) / sqrt(max(n, warmup)) / sqrt(hidden)
  so lr0 is a dimensionless constant (the paper's 0.05) and the peak, at n = warmup, is
  lr0 / sqrt(warmup * hidden); after it the rate falls as 1 / sqrt(n).
- `linear`: warm up linearly to lr0, then decay linearly to 0 at the last step (BERT fine-tuning's).
- `constant`: warm up linearly to lr0, then hold it.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

SCHEDULES = ("rsqrt", "linear", "constant")


def rsqrt(warmup_steps: int, hidden_size: int) -> Callable[[int], float]:
    warmup = max(1, warmup_steps)
    scale = 1.0 / math.sqrt(hidden_size)
    return lambda n: scale * min(1.0, n / warmup) / math.sqrt(max(n, warmup))


def linear(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    def factor(n: int) -> float:
        if n <= warmup_steps:
            return n / max(1, warmup_steps)
        return max(0.0, (total_steps - n) / max(1, total_steps - warmup_steps))
    return factor


def constant(warmup_steps: int) -> Callable[[int], float]:
    return lambda n: min(1.0, n / max(1, warmup_steps))


def schedule(name: str, warmup_steps: int, total_steps: int, hidden_size: int) -> Callable[[int], float]:
    """The multiplier for update n (1-based) of schedule `name`."""
    if name == "rsqrt":
        return rsqrt(warmup_steps, hidden_size)
    if name == "linear":
        return linear(warmup_steps, total_steps)
    if name == "constant":
        return constant(warmup_steps)
    raise ValueError(f"unknown schedule {name!r}; schedules: {', '.join(SCHEDULES)}")


def scheduler(optimizer: torch.optim.Optimizer, name: str, warmup_steps: int, total_steps: int,
              hidden_size: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR whose k-th `step()` (k = 0 before any) sets the rate for update k + 1."""
    factor = schedule(name, warmup_steps, total_steps, hidden_size)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: factor(k + 1))
