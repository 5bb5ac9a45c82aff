"""transformers' test helpers (tests/test_modeling_common.py), the same draws, for the ported suites."""
from __future__ import annotations

import random

import torch

global_rng = random.Random()


def ids_tensor(shape, vocab_size, rng=None):
    """Random int32 ids in [0, vocab_size), drawn with Python's random as transformers' helper."""
    rng = rng or global_rng
    values = [rng.randint(0, vocab_size - 1) for _ in range(int(torch.tensor(shape).prod()))]
    return torch.tensor(values, dtype=torch.long).view(tuple(shape)).contiguous()


def random_attention_mask(shape, rng=None):
    mask = ids_tensor(shape, vocab_size=2, rng=rng)
    mask[:, -1] = 1  # at least one token is attended to in every row
    return mask


def floats_tensor(shape, scale=1.0, rng=None):
    rng = rng or global_rng
    values = [rng.random() * scale for _ in range(int(torch.tensor(shape).prod()))]
    return torch.tensor(values, dtype=torch.float).view(tuple(shape)).contiguous()
