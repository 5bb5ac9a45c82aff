"""Model configuration: dataclasses with transformers' field names, read from and written to `config.json`.

`BertGenerationConfig` describes one stack (encoder or decoder); `EncoderDecoderConfig` holds two of them
plus the decoding ids. Keys bertgen does not know (`architectures`, `transformers_version`, ...) are kept in
`extra` and written back unchanged, so a config survives a round trip through either library.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bertgen.activations import ACT2FN
from bertgen.fileio import write_json_atomic

CONFIG_NAME = "config.json"
ACTIVATIONS = tuple(ACT2FN)
# Sizes past these are typos or hostile files, not models: refused before any memory is allocated.
MAX_DIM = 2**24  # vocab_size, hidden_size, intermediate_size, max_position_embeddings
MAX_LAYERS = 1024
MAX_MATRIX = 2**33  # elements of the largest weight matrix (32 GiB in float32)
MAX_JSON_DEPTH = 32  # config files are a few levels deep; deeper is refused rather than recursed into


class ConfigError(ValueError):
    """A config value of the wrong type or an impossible combination; the message names the field."""


def _type_matches(value: Any, annotation: Any) -> bool:
    """Does a JSON value fit a field annotation such as `int | None` or `float | int | list[int]`?"""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_matches(value, arm) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_matches(v, item) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:  # JSON true/false are not ids or sizes
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, annotation)


def check_types(config: Any, where: str) -> None:
    """A ConfigError naming the first dataclass field whose value does not fit its annotation."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        if f.name == "extra":
            continue
        value = getattr(config, f.name)
        if not _type_matches(value, hints[f.name]):
            raise ConfigError(
                f"{where}: field '{f.name}' must be {_describe(hints[f.name])}, got {type(value).__name__} {value!r}"
            )


def _describe(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def read_json_object(path: Path, fix: str) -> dict:
    """A JSON file that holds an object; a ConfigError naming the file and `fix` (what to do) when it does not."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); {fix}") from err
    except RecursionError:
        raise ConfigError(f"{path}: nested deeper than Python can read; a config is a few levels deep, so the file "
                          f"is damaged or hostile; {fix}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    _check_depth(data, path)
    return data


def _check_depth(data: Any, path: Path) -> None:
    """A ConfigError naming the first key path nested deeper than MAX_JSON_DEPTH (walked without recursion)."""
    stack = [(data, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ConfigError(f"{path}: key '{where}' is nested {depth} levels deep (at most {MAX_JSON_DEPTH}); "
                              "the file is damaged or not a config; restore it from the source")
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in items)


class _JsonConfig:
    """`from_dict`/`to_dict`, `from_pretrained`/`save_pretrained` shared by both configs."""

    model_type: ClassVar[str]

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> Any:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file; a model directory needs a {CONFIG_NAME}")
        data = read_json_object(path, "re-save the config or restore it from the source")
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, subfolder: str = "", **overrides: Any) -> Any:
        """config.json of a directory (or of its `subfolder`, as transformers' argument); `overrides` replace
        fields, e.g. `output_attentions=True`."""
        config = cls.from_json_file(Path(directory) / subfolder / CONFIG_NAME)
        return config.replace(**overrides) if overrides else config

    def replace(self, **overrides: Any) -> Any:
        """A copy with some fields replaced; an error naming any that is not a field."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)} - {"extra"}
        if unknown:
            raise ConfigError(f"{type(self).__name__}: unknown field(s) {sorted(unknown)}; the fields are "
                              f"{', '.join(f.name for f in dataclasses.fields(self) if f.name != 'extra')}")
        return dataclasses.replace(self, **overrides)

    @property
    def use_return_dict(self) -> bool:
        return self.return_dict

    def to_json_file(self, path: str | os.PathLike) -> None:
        write_json_atomic(Path(path), self.to_dict())

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        self.to_json_file(Path(directory) / CONFIG_NAME)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


@dataclass
class BertGenerationConfig(_JsonConfig):
    """One BertGeneration stack. Defaults are transformers' (the L-24 checkpoints of the paper)."""

    model_type: ClassVar[str] = "bert-generation"

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
    # what forward() returns when its arguments do not say (transformers' PretrainedConfig fields)
    output_attentions: bool = False
    output_hidden_states: bool = False
    return_dict: bool = True
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.validate()

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

    @classmethod
    def from_dict(cls, data: dict, where: str = "BertGenerationConfig") -> BertGenerationConfig:
        data = dict(data)
        model_type = data.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ConfigError(
                f"{where}: model_type is {model_type!r}, expected {cls.model_type!r}; a BERT or RoBERTa "
                "checkpoint is converted with bertgen.warm_start(...)"
            )
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: data.pop(k) for k in list(data) if k in names}
        config = cls.__new__(cls)
        for f in dataclasses.fields(cls):  # defaults first, then the file's values, then one validation
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(config, f.name, known.get(f.name, default))
        config.extra = data
        config.validate(where)
        return config

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **data, "model_type": self.model_type}

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads



@dataclass
class GPT2Config(_JsonConfig):
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
    output_attentions: bool = False
    output_hidden_states: bool = False
    return_dict: bool = True
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    # transformers' attribute_map: the generic names of the fields
    hidden_size = property(lambda self: self.n_embd)
    max_position_embeddings = property(lambda self: self.n_positions)
    num_attention_heads = property(lambda self: self.n_head)
    num_hidden_layers = property(lambda self: self.n_layer)
    hidden_act = property(lambda self: self.activation_function)

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

    @classmethod
    def from_dict(cls, data: dict, where: str = "GPT2Config") -> GPT2Config:
        data = dict(data)
        model_type = data.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ConfigError(f"{where}: model_type is {model_type!r}, expected {cls.model_type!r}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: data.pop(k) for k in list(data) if k in names}
        config = cls.__new__(cls)
        for f in dataclasses.fields(cls):  # defaults first, then the file's values, then one validation
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(config, f.name, known.get(f.name, default))
        config.extra = data
        config.validate(where)
        return config

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **data, "model_type": self.model_type}


# the decoder stacks an EncoderDecoderConfig holds, by config.json's model_type
DECODER_CONFIGS = {"bert-generation": BertGenerationConfig, "gpt2": GPT2Config}

@dataclass
class EncoderDecoderConfig(_JsonConfig):
    """Two stacks and the ids that connect them (decoder start, pad, eos).

    `tie_encoder_decoder` is BERTShare: one set of embedding, self-attention and FFN weights serves both
    stacks (transformers 5.x reads the flag but ignores it; bertgen makes it real).
    `share_encoder_decoder_embeddings` shares only the word-embedding matrix (encoder input, decoder input
    and, tied, the output layer), as the paper does whenever both sides use one vocabulary; transformers
    does not know the key and loads two equal copies.
    """

    model_type: ClassVar[str] = "encoder-decoder"

    encoder: BertGenerationConfig = field(default_factory=BertGenerationConfig)
    decoder: BertGenerationConfig | GPT2Config = field(
        default_factory=lambda: BertGenerationConfig(is_decoder=True, add_cross_attention=True)
    )
    decoder_start_token_id: int | None = None
    pad_token_id: int | None = None
    eos_token_id: int | None = None
    tie_encoder_decoder: bool = False
    share_encoder_decoder_embeddings: bool = False
    is_encoder_decoder: bool = True
    # as transformers: only return_dict is read from here; attentions and hidden states follow the stacks' configs
    output_attentions: bool = False
    output_hidden_states: bool = False
    return_dict: bool = True
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, where: str = "EncoderDecoderConfig") -> None:
        if not isinstance(self.encoder, BertGenerationConfig):
            raise ConfigError(f"{where}: field 'encoder' must be a BertGenerationConfig")
        if not isinstance(self.decoder, (BertGenerationConfig, GPT2Config)):
            raise ConfigError(f"{where}: field 'decoder' must be a BertGenerationConfig or a GPT2Config")
        check_types(self, where)
        self.encoder.validate(f"{where}.encoder")
        self.decoder.validate(f"{where}.decoder")
        if self.encoder.is_decoder:
            raise ConfigError(f"{where}.encoder: is_decoder must be False for the encoder stack")
        if not (self.decoder.is_decoder and self.decoder.add_cross_attention):
            raise ConfigError(
                f"{where}.decoder: is_decoder and add_cross_attention must both be True for the decoder stack"
            )
        cross_width = self.decoder.extra.get("cross_attention_hidden_size")
        if cross_width is not None and not cross_width == self.encoder.hidden_size == self.decoder.hidden_size:
            # as transformers: widths that differ are joined by enc_to_dec_proj only when this is unset
            raise ConfigError(
                f"{where}.decoder: cross_attention_hidden_size is {cross_width}, but bertgen's cross-attention reads "
                f"states of the decoder's width ({self.decoder.hidden_size}); remove the field so that "
                f"enc_to_dec_proj maps the encoder's {self.encoder.hidden_size} to it")
        vocab = self.decoder.vocab_size
        for name in ("decoder_start_token_id", "pad_token_id", "eos_token_id"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < vocab:
                raise ConfigError(f"{where}: {name} {value} is outside the decoder vocabulary (0..{vocab - 1})")
        if self.share_encoder_decoder_embeddings and self.encoder.vocab_size != self.decoder.vocab_size:
            raise ConfigError(
                f"{where}: share_encoder_decoder_embeddings=True needs one vocabulary, but the encoder has "
                f"{self.encoder.vocab_size} ids and the decoder {self.decoder.vocab_size}"
            )
        if self.tie_encoder_decoder and not isinstance(self.decoder, BertGenerationConfig):
            raise ConfigError(f"{where}: tie_encoder_decoder=True needs two BertGeneration stacks; a "
                              f"{self.decoder.model_type} decoder shares no layers with the encoder")
        if self.tie_encoder_decoder:
            shared = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                      "intermediate_size", "max_position_embeddings", "hidden_act", "layer_norm_eps")
            for name in shared:
                if getattr(self.encoder, name) != getattr(self.decoder, name):
                    raise ConfigError(
                        f"{where}: tie_encoder_decoder=True needs encoder and decoder to agree on '{name}' "
                        f"({getattr(self.encoder, name)} != {getattr(self.decoder, name)})"
                    )

    @classmethod
    def from_encoder_decoder_configs(cls, encoder: BertGenerationConfig, decoder: BertGenerationConfig | GPT2Config,
                                     **kwargs: Any) -> EncoderDecoderConfig:
        decoder = dataclasses.replace(decoder, is_decoder=True, add_cross_attention=True)
        encoder = dataclasses.replace(encoder, is_decoder=False, add_cross_attention=False)
        return cls(encoder=encoder, decoder=decoder, **kwargs)

    @classmethod
    def from_dict(cls, data: dict, where: str = "EncoderDecoderConfig") -> EncoderDecoderConfig:
        data = dict(data)
        model_type = data.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ConfigError(f"{where}: model_type is {model_type!r}, expected {cls.model_type!r}")
        for side in ("encoder", "decoder"):
            if not isinstance(data.get(side), dict):
                raise ConfigError(f"{where}: needs an '{side}' object (a BertGeneration config)")
        encoder = BertGenerationConfig.from_dict(data.pop("encoder"), where=f"{where} [encoder]")
        decoder_type = data["decoder"].get("model_type", BertGenerationConfig.model_type)
        if decoder_type not in DECODER_CONFIGS:
            raise ConfigError(f"{where} [decoder]: model_type {decoder_type!r} is not a decoder bertgen builds "
                              f"({', '.join(DECODER_CONFIGS)})")
        decoder = DECODER_CONFIGS[decoder_type].from_dict(data.pop("decoder"), where=f"{where} [decoder]")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "encoder", "decoder"}
        known = {k: data.pop(k) for k in list(data) if k in names}
        config = cls.__new__(cls)
        config.encoder, config.decoder = encoder, decoder
        for f in dataclasses.fields(cls):
            if f.name not in ("encoder", "decoder", "extra"):
                setattr(config, f.name, known.get(f.name, f.default))
        config.extra = data
        config.validate(where)
        return config

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("extra", "encoder", "decoder")}
        extra = {"architectures": ["EncoderDecoderModel"], **self.extra}
        return {**extra, **data, "encoder": self.encoder.to_dict(), "decoder": self.decoder.to_dict(),
                "model_type": self.model_type}
