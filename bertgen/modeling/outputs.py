"""What the models return: transformers' output classes, with the same field names.

Shapes: B batch, S source length, T target length, L key length (cached + T), H hidden, nh heads, V vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from bertgen.cache import KVCache


@dataclass
class BaseModelOutput:
    last_hidden_state: torch.Tensor  # (B, S or T, H)
    past_key_values: KVCache | None = None
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (B, nh, T, L)
    cross_attentions: tuple[torch.Tensor, ...] | None = None  # per layer (B, nh, T, S)


@dataclass
class CausalLMOutput:
    logits: torch.Tensor | None  # (B, T, V); None in training mode with labels (see BertGenerationDecoder)
    loss: torch.Tensor | None = None
    past_key_values: KVCache | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    cross_attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class Seq2SeqLMOutput:
    logits: torch.Tensor | None  # (B, T, V); None in training mode with labels (see BertGenerationDecoder)
    loss: torch.Tensor | None = None
    past_key_values: KVCache | None = None
    encoder_last_hidden_state: torch.Tensor | None = None  # (B, S, H)
    encoder_attentions: tuple[torch.Tensor, ...] | None = None
    decoder_attentions: tuple[torch.Tensor, ...] | None = None
    cross_attentions: tuple[torch.Tensor, ...] | None = None
