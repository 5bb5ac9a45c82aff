"""What the models return: transformers' output classes, with the same field names, in the same order.

As transformers' `ModelOutput`, an output is a dataclass that also reads like a dict of the fields that are
set: `out.logits`, `out["logits"]` and `out[0]` (the first field that is not None: the loss when there is
one) all work, `"attentions" in out` is False unless they were asked for, and `out.to_tuple()` is what
`return_dict=False` returns.

Shapes: B batch, S source length, T target length, L key length (cached + T), H hidden, nh heads, V vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from bertgen.cache import KVCache
from bertgen.model_output import ModelOutput


def loss_of(outputs: Any) -> torch.Tensor:
    """The loss of a forward called with labels, whatever its config's `return_dict` (a transformers 3.x
    config.json says false): `outputs["loss"]` of an output object, else the tuple's first element, as
    transformers' Trainer reads it."""
    return outputs["loss"] if isinstance(outputs, (ModelOutput, dict)) else outputs[0]


@dataclass
class BaseModelOutput(ModelOutput):
    """transformers' BaseModelOutputWithPastAndCrossAttentions."""

    last_hidden_state: torch.Tensor | None = None  # (B, S or T, H)
    past_key_values: KVCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings, then each layer: (B, T, H) each
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (B, nh, T, L)
    cross_attentions: tuple[torch.Tensor, ...] | None = None  # per layer (B, nh, T, S)


@dataclass
class CausalLMOutput(ModelOutput):
    """transformers' CausalLMOutputWithCrossAttentions."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (B, T, V); None only with the fused loss (see BertGenerationDecoder)
    past_key_values: KVCache | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    cross_attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class Seq2SeqLMOutput(ModelOutput):
    """transformers' Seq2SeqLMOutput."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (B, T, V); None only with the fused loss (see BertGenerationDecoder)
    past_key_values: KVCache | None = None
    decoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    decoder_attentions: tuple[torch.Tensor, ...] | None = None
    cross_attentions: tuple[torch.Tensor, ...] | None = None
    encoder_last_hidden_state: torch.Tensor | None = None  # (B, S, H)
    encoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    encoder_attentions: tuple[torch.Tensor, ...] | None = None
