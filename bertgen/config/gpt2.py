"""`GPT2Config`: transformers' GPT-2 fields and defaults, with its generic names (`hidden_size`, ...) read through."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from bertgen.config.base import ACTIVATIONS, MAX_DIM, MAX_LAYERS, MAX_MATRIX, ConfigError, JsonConfig, check_types

@dataclass
class GPT2Config(JsonConfig):
    """GPT-2 (Radford et al. 2019): transformers' fields and defaults (gpt2, the 124M model).

    transformers' generic names read through to GPT-2's own (`hidden_size` is `n_embd`, as its attribute_map), so
    code written for either config reads both. `summary_*` serve transformers' GPT2DoubleHeadsModel only: kept
    so that a config.json survives a round trip."""

    model_type: ClassVar[str] = "gpt2"

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    summary_type: str = "cls_index"
    summary_use_proj: bool = True
    summary_activation: str | None = None
    summary_proj_to_labels: bool = True
    summary_first_dropout: float = 0.1
    scale_attn_weights: bool = True
    use_cache: bool = True
    bos_token_id: int | None = 50256
    eos_token_id: int | list[int] | None = 50256
    pad_token_id: int | None = None
    scale_attn_by_inverse_layer_idx: bool = False
    reorder_and_upcast_attn: bool = False
    add_cross_attention: bool = False
    tie_word_embeddings: bool = True
    is_decoder: bool = False  # transformers' PretrainedConfig field; GPT-2 is causal either way

    # transformers' attribute_map: the generic names of the fields
    hidden_size = property(lambda self: self.n_embd)
    max_position_embeddings = property(lambda self: self.n_positions)
    num_attention_heads = property(lambda self: self.n_head)
    num_hidden_layers = property(lambda self: self.n_layer)
    hidden_act = property(lambda self: self.activation_function)
    position_offset = 0  # the position table's row of position 0, as BertGenerationConfig's

    @property
    def intermediate_size(self) -> int:
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def validate(self, where: str = "GPT2Config") -> None:
        check_types(self, where)
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{where}: field '{name}' must be positive, got {getattr(self, name)}")
        if self.n_inner is not None and self.n_inner <= 0:
            raise ConfigError(f"{where}: field 'n_inner' must be positive or null (4 * n_embd), got {self.n_inner}")
        for name in ("vocab_size", "n_positions", "n_embd", "intermediate_size"):
            if getattr(self, name) > MAX_DIM:
                raise ConfigError(f"{where}: field '{name}' is {getattr(self, name)}, past the {MAX_DIM} bertgen "
                                  "accepts; a typo or a damaged config.json (no such model fits in memory)")
        if self.n_layer > MAX_LAYERS:
            raise ConfigError(f"{where}: field 'n_layer' is {self.n_layer}, past the {MAX_LAYERS} bertgen accepts")
        largest = max(self.vocab_size, self.intermediate_size, self.n_positions) * self.n_embd
        if largest > MAX_MATRIX:
            raise ConfigError(f"{where}: a weight matrix of {largest:,} elements is past the {MAX_MATRIX:,} bertgen "
                              "accepts; check the sizes in the config")
        if not (math.isfinite(self.layer_norm_epsilon) and self.layer_norm_epsilon > 0):
            raise ConfigError(f"{where}: field 'layer_norm_epsilon' must be a finite number > 0, got "
                              f"{self.layer_norm_epsilon}; GPT-2 uses 1e-5")
        if not (math.isfinite(self.initializer_range) and self.initializer_range >= 0):
            raise ConfigError(f"{where}: field 'initializer_range' must be a finite number >= 0, got "
                              f"{self.initializer_range}; GPT-2 uses 0.02")
        if self.n_embd % self.n_head:
            raise ConfigError(f"{where}: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}); pick a "
                              "head count that divides it")
        for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{where}: field '{name}' must be in [0, 1), got {getattr(self, name)}")
        if self.activation_function not in ACTIVATIONS:
            raise ConfigError(f"{where}: activation_function {self.activation_function!r} is not one of "
                              f"{', '.join(ACTIVATIONS)}")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            for token_id in value if isinstance(value, list) else [value]:
                if token_id is not None and not 0 <= token_id < self.vocab_size:
                    raise ConfigError(f"{where}: {name} {token_id} is outside the vocabulary "
                                      f"(0..{self.vocab_size - 1}); set it to the id of that token (GPT-2's "
                                      "<|endoftext|> is 50256)")
