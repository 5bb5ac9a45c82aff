"""When a fast layout's copy of some weights is stale.

The fast layouts (the output layer's packed and bfloat16 copies, the decoder step's packed weights) are copies of a
model's weights, kept beside it and rebuilt when the weights change. Most changes show in a tensor's version
counter or its storage: optimizer steps, in-place edits under `torch.no_grad()`, `load_state_dict`, `p.data = t`.
An in-place edit through `p.data` (`p.data.mul_(0.5)`, an old-style EMA update, a row rewritten after adding a
token) does not: `.data` counts its versions apart. So the copy also keeps a sample of each weight's values, an
element of every row and every column of a matrix and every element of a vector, which any update of every weight
and any rewritten row or column changes. An edit through `.data` of a few elements of a matrix that misses the
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
        self.storage = [_storage(t) for t in tensors]
        # one element of each row and each column of a matrix, as flat indices; the vectors whole, in one piece
        self.picks = {i: _wrapped_diagonal(t) for i, t in enumerate(tensors) if t.dim() > 1 and t.numel() > 0}
        self.values = self._sample(tensors)

    def changed(self, tensors: Iterable[torch.Tensor]) -> bool:
        tensors = [t.detach() for t in tensors]
        if [_storage(t) for t in tensors] != self.storage:
            return True
        return not all(torch.equal(_bits(now), _bits(then)) for now, then in zip(self._sample(tensors), self.values))

    def _sample(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        matrices = [torch.take(tensors[i], flat) for i, flat in self.picks.items()]
        vectors = [t.reshape(-1) for i, t in enumerate(tensors) if i not in self.picks]
        return matrices + ([torch.cat(vectors)] if vectors else [])


def _storage(t: torch.Tensor) -> tuple:
    # a tensor made in inference mode keeps no version counter; its values are still sampled
    version = -1 if t.is_inference() else t._version
    return version, t.data_ptr(), t.shape, t.stride(), t.dtype


def _wrapped_diagonal(t: torch.Tensor) -> torch.Tensor:
    """Flat indices of the elements (k mod rows, k mod columns), k < max(rows, columns), of `t` as a (rows, columns)
    matrix (rows: its first dimension): every row and every column is sampled, and a swap of two rows or two
    columns moves a sampled element."""
    rows, columns = t.shape[0], t[0].numel()
    k = torch.arange(max(rows, columns), device=t.device)
    return (k % rows) * columns + k % columns


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The values as integers of their width: a NaN equals itself, so a NaN weight is not a change at every call."""
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])
