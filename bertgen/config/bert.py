"""`BertGenerationConfig`, one stack of an encoder-decoder (encoder or decoder), and transformers' BERT and RoBERTa
stacks (`BertConfig`, `RobertaConfig`), which add a segment table, a pooler and a head transform."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from bertgen.config.base import ACTIVATIONS, MAX_DIM, MAX_LAYERS, MAX_MATRIX, ConfigError, JsonConfig, check_types

@dataclass
class BertGenerationConfig(JsonConfig):
    """One BertGeneration stack. Defaults are transformers' (the L-24 checkpoints of the paper)."""

    model_type: ClassVar[str] = "bert-generation"
    model_type_hint: ClassVar[str] = "; a BERT or RoBERTa checkpoint is converted with bertgen.warm_start(...)"

    vocab_size: int = 50358
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 1
    position_embedding_type: str = "absolute"
    use_cache: bool = True
    is_decoder: bool = False
    add_cross_attention: bool = False
    tie_word_embeddings: bool = True

    def validate(self, where: str = "BertGenerationConfig") -> None:
        check_types(self, where)
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}: field '{name}' must be positive, got {getattr(self, name)}")
        for name in ("vocab_size", "hidden_size", "intermediate_size", "max_position_embeddings"):
            if getattr(self, name) > MAX_DIM:
                raise ConfigError(f"{where}: field '{name}' is {getattr(self, name)}, past the {MAX_DIM} bertgen "
                                  "accepts; a typo or a damaged config.json (no such model fits in memory)")
        if self.num_hidden_layers > MAX_LAYERS:
            raise ConfigError(f"{where}: field 'num_hidden_layers' is {self.num_hidden_layers}, past the "
                              f"{MAX_LAYERS} bertgen accepts; a typo or a damaged config.json")
        largest = max(self.vocab_size, self.intermediate_size, self.max_position_embeddings) * self.hidden_size
        if largest > MAX_MATRIX:
            raise ConfigError(f"{where}: a weight matrix of {largest:,} elements (vocab_size {self.vocab_size}, "
                              f"hidden_size {self.hidden_size}, intermediate_size {self.intermediate_size}) is past "
                              f"the {MAX_MATRIX:,} bertgen accepts; check the sizes in the config")
        if not (math.isfinite(self.layer_norm_eps) and self.layer_norm_eps > 0):
            raise ConfigError(f"{where}: field 'layer_norm_eps' must be a finite number > 0, got {self.layer_norm_eps} "
                              "(LayerNorm divides by sqrt(variance + eps): NaN outputs); BERT uses 1e-12")
        if not (math.isfinite(self.initializer_range) and self.initializer_range >= 0):
            raise ConfigError(f"{where}: field 'initializer_range' must be a finite number >= 0, got "
                              f"{self.initializer_range}; BERT uses 0.02")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"{where}: hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads}); pick a head count that divides it"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{where}: field '{name}' must be in [0, 1), got {getattr(self, name)}")
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"{where}: hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.position_embedding_type != "absolute":
            raise ConfigError(
                f"{where}: position_embedding_type {self.position_embedding_type!r} is not supported; "
                "BertGeneration uses 'absolute'"
            )
        if self.add_cross_attention and not self.is_decoder:
            raise ConfigError(f"{where}: add_cross_attention=True needs is_decoder=True")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            for token_id in value if isinstance(value, list) else [value]:
                if token_id is not None and not 0 <= token_id < self.vocab_size:
                    raise ConfigError(f"{where}: {name} {token_id} is outside the vocabulary (0..{self.vocab_size - 1}); "
                                      "set it to the id of that token in this model's vocabulary")

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def position_offset(self) -> int:
        """The position table's row of position 0 (RoBERTa numbers positions from padding_idx + 1)."""
        return 0


@dataclass
class BertConfig(BertGenerationConfig):
    """A stack of transformers' BERT classes inside an encoder-decoder checkpoint (BertModel as the encoder,
    BertLMHeadModel as the decoder, as `from_encoder_decoder_pretrained("bert-base-uncased", ...)` writes them):
    BertGeneration's layers plus a segment table (every token is segment 0, as transformers' default
    token_type_ids), the encoder's pooler, and the MLM head's transform (dense, activation, LayerNorm) before
    the decoder's output layer. Defaults are transformers' BertConfig."""

    model_type: ClassVar[str] = "bert"
    model_type_hint: ClassVar[str] = ""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    type_vocab_size: int = 2

    def validate(self, where: str = "BertConfig") -> None:
        super().validate(where)
        if self.type_vocab_size < 1:
            raise ConfigError(f"{where}: field 'type_vocab_size' must be >= 1 (segment 0's row is added to every "
                              f"token), got {self.type_vocab_size}")
        if self.position_offset >= self.max_position_embeddings:
            raise ConfigError(f"{where}: positions start at padding_idx + 1 = {self.position_offset}, past "
                              f"max_position_embeddings={self.max_position_embeddings}; check pad_token_id")


@dataclass
class RobertaConfig(BertConfig):
    """transformers' RoBERTa stacks (RobertaModel, RobertaForCausalLM): BERT's, with positions numbered from
    padding_idx + 1 (a padding token gets position padding_idx) and a head that always uses gelu."""

    model_type: ClassVar[str] = "roberta"

    vocab_size: int = 50265
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2

    @property
    def position_offset(self) -> int:
        return self.pad_token_id + 1 if self.pad_token_id is not None else 0


STACK_CONFIGS = {c.model_type: c for c in (BertGenerationConfig, BertConfig, RobertaConfig)}



