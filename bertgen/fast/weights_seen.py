"""When a fast layout's copy of some weights is stale.

The fast layouts (the output layer's packed and bfloat16 copies, the decoder step's packed weights) are copies of a
model's weights, kept beside it and rebuilt when the weights change. Most changes show in a tensor's version
counter or its storage: optimizer steps, in-place edits under `torch.no_grad()`, `load_state_dict`, `p.data = t`.
An in-place edit through `p.data` (`p.data.mul_(0.5)`, an old-style EMA update, a row rewritten after adding a
token) does not: `.data` counts its versions apart. So the copy also keeps a sample of each weight's values, one
element of every row (row i's element i mod columns) and every element of a vector, which any update of every
weight and any rewritten row changes. An edit through `.data` of a few elements of a matrix that misses the
sample goes unseen: edit weights in place under `torch.no_grad()` instead, as transformers' own code does.
Checking the sample costs about 0.5 ms a `generate` call for MiniLM's decoder and output layer (160 tensors).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


class WeightsSeen:
    """The state of some tensors when a copy of them was made: `changed(tensors)` says whether they differ now."""

    def __init__(self, tensors: Iterable[torch.Tensor]):
        tensors = [t.detach() for t in tensors]
        self.storage = [(t._version, t.data_ptr(), t.shape) for t in tensors]
        # one element of each row of a matrix (row i's element i mod columns: a swap of two rows changes it too), as
        # flat indices; the vectors, small, whole and in one piece
        self.picks = {i: _wrapped_diagonal(t) for i, t in enumerate(tensors) if t.dim() > 1}
        self.values = self._sample(tensors)

    def changed(self, tensors: Iterable[torch.Tensor]) -> bool:
        tensors = [t.detach() for t in tensors]
        if [(t._version, t.data_ptr(), t.shape) for t in tensors] != self.storage:
            return True
        return not all(torch.equal(now, then) for now, then in zip(self._sample(tensors), self.values))

    def _sample(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        matrices = [torch.take(tensors[i], flat) for i, flat in self.picks.items()]
        vectors = [t.reshape(-1) for i, t in enumerate(tensors) if i not in self.picks]
        return matrices + ([torch.cat(vectors)] if vectors else [])


def _wrapped_diagonal(t: torch.Tensor) -> torch.Tensor:
    """Flat indices of row i's element i mod columns, for each row of `t` (its first dimension)."""
    rows = torch.arange(t.shape[0], device=t.device)
    columns = t[0].numel()
    return rows * columns + rows % columns
