"""The decoder's key/value cache: what incremental decoding keeps from one step to the next.

Self-attention keys/values grow by the new positions each step and live in preallocated buffers
(doubling when full), so a step writes in place instead of concatenating a new tensor per layer.
Cross-attention keys/values depend only on the encoder output: computed at the first step, reused after.
Beam search reorders rows every step, but most beams continue themselves: only the rows whose source changed
are copied, in place, and only their cached positions.

Shapes: B batch (x beams), nh heads, L cached length, S source length, hs head size.
"""
from __future__ import annotations

import torch


class KVCache:
    def __init__(self, num_layers: int, capacity: int = 64):
        self.num_layers = num_layers
        self.capacity = capacity  # positions preallocated at the first write; doubled when exceeded
        self._keys: list[torch.Tensor | None] = [None] * num_layers  # (B, nh, capacity, hs)
        self._values: list[torch.Tensor | None] = [None] * num_layers
        self._lengths = [0] * num_layers
        self.cross: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * num_layers  # (B, nh, S, hs) x2

    def get_seq_length(self) -> int:
        """Positions already cached (transformers' name), i.e. the position of the next token."""
        return self._lengths[0]

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append (B, nh, T, hs) keys/values for `layer`; return all cached ones, (B, nh, L + T, hs) views."""
        start, new = self._lengths[layer], key.shape[2]
        end = start + new
        buffer = self._keys[layer]
        if buffer is None or end > buffer.shape[2] or buffer.shape[0] != key.shape[0]:
            self._grow(layer, key, value, end)
        self._keys[layer][:, :, start:end] = key
        self._values[layer][:, :, start:end] = value
        self._lengths[layer] = end
        return self._keys[layer][:, :, :end], self._values[layer][:, :, :end]

    def _grow(self, layer: int, key: torch.Tensor, value: torch.Tensor, needed: int) -> None:
        B, nh, _, hs = key.shape
        size = max(self.capacity, needed)
        old_keys, old_values = self._keys[layer], self._values[layer]
        if old_keys is not None:
            size = max(size, 2 * old_keys.shape[2])
        keys = key.new_empty(B, nh, size, hs)
        values = value.new_empty(B, nh, size, hs)
        cached = self._lengths[layer]
        if old_keys is not None and cached:
            keys[:, :, :cached] = old_keys[:, :, :cached]
            values[:, :, :cached] = old_values[:, :, :cached]
        self._keys[layer], self._values[layer] = keys, values

    def reorder(self, index: torch.Tensor) -> None:
        """Keep self-attention rows `index` (beam search keeps the best beams; finished inputs are dropped).

        With as many rows as before, the moved rows are written into the same buffers, so key/value views
        that `update` returned earlier change too. Cross-attention rows move with `select_cross`: the beams of
        one input hold the same encoder keys/values, so reordering them needs no copy.
        """
        same_rows = self._keys[0] is not None and len(index) == self._keys[0].shape[0]
        moved = (index != torch.arange(len(index), device=index.device)).nonzero().squeeze(1) if same_rows else None
        sources = index[moved] if same_rows else None  # the rows that now continue another row, and that row
        for layer in range(self.num_layers):
            keys, values, L = self._keys[layer], self._values[layer], self._lengths[layer]
            if keys is None:
                continue
            if not same_rows:  # rows dropped or repeated: new buffers of the new row count
                shape = (len(index),) + keys.shape[1:]
                self._keys[layer], self._values[layer] = keys.new_empty(shape), values.new_empty(shape)
                torch.index_select(keys[:, :, :L], 0, index, out=self._keys[layer][:, :, :L])  # (rows, nh, L, hs)
                torch.index_select(values[:, :, :L], 0, index, out=self._values[layer][:, :, :L])
            elif len(moved):  # gathered before written: a row may be both a source and a target
                keys[:, :, :L].index_copy_(0, moved, keys[:, :, :L].index_select(0, sources))
                values[:, :, :L].index_copy_(0, moved, values[:, :, :L].index_select(0, sources))

    def select_cross(self, index: torch.Tensor) -> None:
        """Keep cross-attention rows `index` (the inputs still decoding, where rows are per input)."""
        for layer, cached in enumerate(self.cross):
            if cached is not None:
                self.cross[layer] = (cached[0].index_select(0, index), cached[1].index_select(0, index))
