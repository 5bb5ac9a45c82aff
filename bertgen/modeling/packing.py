"""Training on the positions the loss needs: a padded batch packed to its real tokens between attentions.

A collator pads every row of a batch to its longest, and a Transformer spends most of its time in the
position-wise layers (the q/k/v/output projections, the feed-forward, LayerNorm, dropout) on every position,
padding included. The loss never reads most of that padding:
- an encoder position whose attention mask is 0 is masked as a key in the encoder's self-attention and in the
  decoder's cross-attention, so nothing downstream reads its output;
- a decoder position after a row's last label is in the future of every position that has a label (causal
  attention), so nothing the loss reads depends on it (a decoder alone, whose position t predicts label t + 1,
  needs positions up to the one before its last label).

So, as BERT's "unpadding" training recipes do (NVIDIA's and MosaicBERT's), the position-wise layers run on the
kept positions only, packed into (N, H); each attention scatters its queries, keys and values back onto the
padded (B, L) grid (zeros where dropped, which the masks hide), attends there, and gathers its output again.
The loss and every gradient are those of the padded batch (with dropout, in distribution: the masks are drawn
for the kept positions only, so a seeded run draws other ones than unpacked). Only the loss is computed this way
(the fused loss in training mode): outputs that show the dropped positions (logits, hidden states, attentions,
cache) are not. Not packed: the positions a row with no label at all still has in its source, and anything
given precomputed (encoder_outputs, or encoder_hidden_states to a decoder alone).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# Pack only when at least this share of the grid is dropped: below it the scatters and gathers cost about what the
# skipped work saves (the break-even measured on a MiniLM-sized training step).
MIN_DROPPED_SHARE = 1 / 16


class Packing:
    """The kept positions of a padded (B, L) batch, and the moves between the padded and the packed layout."""

    def __init__(self, keep: torch.Tensor):
        self.shape = tuple(keep.shape)  # (B, L)
        self.index = keep.reshape(-1).nonzero().squeeze(1)  # (N,) flat positions kept, in row order

    @classmethod
    def of(cls, keep: torch.Tensor) -> Packing | None:
        """A Packing of `keep` (B, L), or None where it would drop too little to pay (or nothing is kept)."""
        kept = int(keep.sum())
        if kept == 0 or kept > (1 - MIN_DROPPED_SHARE) * keep.numel():
            return None
        return cls(keep)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, ...) -> (N, ...): the kept positions, row after row."""
        return x.reshape(-1, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (B, L, ...), zeros at the dropped positions."""
        grid = x.new_zeros(self.shape[0] * self.shape[1], *x.shape[1:])
        return grid.index_copy(0, self.index, x).view(*self.shape, *x.shape[1:])


def position_targets(labels: torch.Tensor, shift: int) -> torch.Tensor:
    """(B, T) labels -> (B, T) the label each decoder position predicts: label t + shift (-100 past the end)."""
    return labels if shift == 0 else F.pad(labels[:, shift:], (0, shift), value=-100)


def decoder_keep(labels: torch.Tensor) -> torch.Tensor:
    """(B, T) labels -> (B, T) bool: the positions up to each row's last label that is not -100."""
    labelled = labels != -100
    return labelled.flip(1).cumsum(1).flip(1) > 0  # a label at or after the position


def pack(x: torch.Tensor, packing: Packing | None) -> torch.Tensor:
    return x if packing is None else packing.pack(x)


def unpack(x: torch.Tensor, packing: Packing | None) -> torch.Tensor:
    return x if packing is None else packing.unpack(x)
