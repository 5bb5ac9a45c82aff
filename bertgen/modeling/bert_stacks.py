"""transformers' BERT and RoBERTa stacks inside an EncoderDecoderModel: the pieces BertGeneration lacks, and
their checkpoint keys.

`EncoderDecoderModel.from_encoder_decoder_pretrained("bert-base-uncased", "bert-base-uncased")` in transformers
builds BertModel + BertLMHeadModel (RoBERTa: RobertaModel + RobertaForCausalLM), and the hub's bert2bert and
roberta2roberta fine-tunes hold those. Their layers are BertGeneration's, module for module; what differs
(a BertConfig / RobertaConfig stack, bertgen.config) is built here:
- a segment table, `embeddings.token_type_embeddings`: row 0 is added to every token (transformers' default
  token_type_ids are zeros, and an encoder-decoder passes none);
- RoBERTa's positions: numbered from padding_idx + 1, a padding token at padding_idx (`roberta_positions`);
- the encoder's pooler (`pooler.dense`), kept so the checkpoint round-trips; EncoderDecoderModel never reads it;
- the decoder head's transform (dense, activation, LayerNorm) before the output layer.
State-dict keys are mapped to bertgen's names on load and back on save (`to_bertgen_keys`, `to_checkpoint_keys`):
BERT's `decoder.cls.predictions.*` and RoBERTa's `decoder.roberta.*`, `decoder.lm_head.{dense,layer_norm}.*`.

Shapes: B batch, T tokens of this call, H hidden.
"""
from __future__ import annotations

import torch
from torch import nn

from bertgen.activations import ACT2FN
from bertgen.config import BertConfig, BertGenerationConfig

# (bertgen, BERT, RoBERTa) names of the decoder's keys that differ, after "decoder.": a name ending in "." is a
# prefix, any other a whole key
_DECODER_KEYS = (
    ("bert.", "bert.", "roberta."),
    ("lm_head.transform.dense.", "cls.predictions.transform.dense.", "lm_head.dense."),
    ("lm_head.transform.LayerNorm.", "cls.predictions.transform.LayerNorm.", "lm_head.layer_norm."),
    ("lm_head.decoder.", "cls.predictions.decoder.", "lm_head.decoder."),
    ("lm_head.bias", "cls.predictions.bias", "lm_head.bias"),
)


def is_bert_stack(config: BertGenerationConfig) -> bool:
    return isinstance(config, BertConfig)


def roberta_positions(input_ids: torch.Tensor, padding_idx: int, past_length: int) -> torch.Tensor:
    """(B, T) ids -> (B, T) RoBERTa position ids, as transformers' create_position_ids_from_input_ids: the i-th
    non-padding token after `past_length` cached ones is at padding_idx + past_length + i; padding at padding_idx."""
    keep = input_ids.ne(padding_idx).long()
    return (keep.cumsum(dim=1) + past_length) * keep + padding_idx


class BertPooler(nn.Module):
    """tanh(dense(first token)): BertModel's pooler. Held for the checkpoint; an encoder-decoder never reads it."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))  # (B, H)


class BertPredictionHeadTransform(nn.Module):
    """dense, activation, LayerNorm: what BERT's and RoBERTa's LM heads do before the output layer. BERT's
    activation is the config's hidden_act; RoBERTa's is always gelu."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN["gelu" if config.model_type == "roberta" else config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(hidden_states)))  # (B, T, H)


def _rename(state: dict, prefix: str, pairs: list[tuple[str, str]]) -> dict:
    out = {}
    for key, value in state.items():
        rest = key[len(prefix):] if key.startswith(prefix) else None
        for source, target in pairs if rest is not None else ():
            if rest == source or (source.endswith(".") and rest.startswith(source)):
                key = prefix + target + rest[len(source):]
                break
        out[key] = value
    return out


def _pairs(config: BertGenerationConfig, to_bertgen: bool) -> list[tuple[str, str]]:
    column = 2 if config.model_type == "roberta" else 1
    pairs = [(row[column], row[0]) if to_bertgen else (row[0], row[column]) for row in _DECODER_KEYS]
    return [(a, b) for a, b in pairs if a != b]


def to_bertgen_keys(state: dict, decoder_config: BertGenerationConfig, prefix: str = "decoder.") -> dict:
    """A checkpoint's keys (BertLMHeadModel or RobertaForCausalLM as the decoder) -> bertgen's; others unchanged."""
    return _rename(state, prefix, _pairs(decoder_config, True)) if is_bert_stack(decoder_config) else state


def to_checkpoint_keys(state: dict, decoder_config: BertGenerationConfig, prefix: str = "decoder.") -> dict:
    """bertgen's keys -> the ones transformers' decoder class has, for save_pretrained."""
    return _rename(state, prefix, _pairs(decoder_config, False)) if is_bert_stack(decoder_config) else state
