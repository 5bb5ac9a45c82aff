"""`EncoderDecoderConfig`: two stacks (a BertGeneration, BERT or RoBERTa encoder; one of those or GPT-2 as the
decoder) plus the decoding ids, as transformers' EncoderDecoderConfig."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bertgen.config.base import ConfigError, JsonConfig, check_types
from bertgen.config.bert import STACK_CONFIGS, BertGenerationConfig
from bertgen.config.gpt2 import GPT2Config

# the decoder stacks an EncoderDecoderConfig holds, by config.json's model_type
DECODER_CONFIGS = {**STACK_CONFIGS, GPT2Config.model_type: GPT2Config}


@dataclass
class EncoderDecoderConfig(JsonConfig):
    """Two stacks and the ids that connect them (decoder start, pad, eos).

    `tie_encoder_decoder` is BERTShare: one set of embedding, self-attention and FFN weights serves both
    stacks (transformers 5.x reads the flag but ignores it; bertgen makes it real).
    `share_encoder_decoder_embeddings` shares only the word-embedding matrix (encoder input, decoder input
    and, tied, the output layer), as the paper does whenever both sides use one vocabulary; transformers
    does not know the key and loads two equal copies.
    As transformers, only `return_dict` is read from this config; attentions and hidden states follow the stacks'.
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
        encoder = _stack_from_dict(data.pop("encoder"), f"{where} [encoder]", STACK_CONFIGS)
        decoder = _stack_from_dict(data.pop("decoder"), f"{where} [decoder]", DECODER_CONFIGS)
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


def _stack_from_dict(data: dict, where: str, configs: dict) -> BertGenerationConfig | GPT2Config:
    """One stack of an encoder-decoder config.json, by its model_type: BertGeneration, BERT or RoBERTa (and, for a
    decoder, GPT-2)."""
    model_type = data.get("model_type", BertGenerationConfig.model_type)
    if model_type not in configs:
        raise ConfigError(f"{where}: model_type is {model_type!r}; bertgen builds this side from "
                          f"{', '.join(map(repr, configs))} stacks")
    return configs[model_type].from_dict(data, where=where)
