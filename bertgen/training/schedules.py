"""Learning-rate schedules as multipliers of the optimizer's base rate, indexed as transformers indexes them:
k = the number of updates already made (0 for the first update), so a warmup starts at rate 0, as
`transformers.get_*_schedule_with_warmup` does.

- `rsqrt`: the paper's (tensor2tensor's `constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size`):
      lr(k) = lr0 * min(1, k / warmup) / sqrt(max(k, warmup)) / sqrt(hidden)
  so lr0 is a dimensionless constant (the paper's 0.05) and the peak, at k = warmup, is
  lr0 / sqrt(warmup * hidden); after it the rate falls as 1 / sqrt(k).
- `linear`: warm up linearly to lr0, then decay linearly to 0 at the last step (BERT fine-tuning's).
- `cosine`: warm up linearly to lr0, then follow half a cosine down to 0 at the last step.
- `constant`: warm up linearly to lr0, then hold it.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

SCHEDULES = ("rsqrt", "linear", "cosine", "constant")


def warmup(k: int, warmup_steps: int) -> float:
    return k / warmup_steps if k < warmup_steps else 1.0


def rsqrt(warmup_steps: int, hidden_size: int) -> Callable[[int], float]:
    peak_at = max(1, warmup_steps)
    scale = 1.0 / math.sqrt(hidden_size)
    return lambda k: scale * min(1.0, k / peak_at) / math.sqrt(max(k, peak_at))


def decay_progress(k: int, warmup_steps: int, total_steps: int) -> float:
    """0 at the end of warmup, 1 at the last update."""
    return (k - warmup_steps) / max(1, total_steps - warmup_steps)


def linear(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    return lambda k: (warmup(k, warmup_steps) if k < warmup_steps
                      else max(0.0, 1.0 - decay_progress(k, warmup_steps, total_steps)))


def cosine(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    return lambda k: (warmup(k, warmup_steps) if k < warmup_steps else
                      max(0.0, 0.5 * (1.0 + math.cos(math.pi * decay_progress(k, warmup_steps, total_steps)))))


def constant(warmup_steps: int) -> Callable[[int], float]:
    return lambda k: warmup(k, warmup_steps)


def schedule(name: str, warmup_steps: int, total_steps: int, hidden_size: int) -> Callable[[int], float]:
    """The multiplier for the update that follows k updates (k = 0, 1, ...) of schedule `name`."""
    if name == "rsqrt":
        return rsqrt(warmup_steps, hidden_size)
    if name == "linear":
        return linear(warmup_steps, total_steps)
    if name == "cosine":
        return cosine(warmup_steps, total_steps)
    if name == "constant":
        return constant(warmup_steps)
    raise ValueError(f"unknown schedule {name!r}; schedules: {', '.join(SCHEDULES)}")


def scheduler(optimizer: torch.optim.Optimizer, name: str, warmup_steps: int, total_steps: int,
              hidden_size: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR whose k-th `step()` (k = 0 before any) sets the rate of update k + 1: factor(k)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(name, warmup_steps, total_steps, hidden_size))
