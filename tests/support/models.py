"""The tiny encoder-decoder the suite builds (tests.support.TINY's sizes), and copies of a model's weights."""
from __future__ import annotations

from typing import Any

import torch

from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.modeling import EncoderDecoderModel
from tests.support import TINY


def tiny_config(dropout: float = 0.0, **top: Any) -> EncoderDecoderConfig:
    side = BertGenerationConfig(**{**TINY, "hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout})
    settings = dict(decoder_start_token_id=2, pad_token_id=0, eos_token_id=1, **top)
    return EncoderDecoderConfig.from_encoder_decoder_configs(side, side, **settings)


def tiny_model(seed: int = 0, dropout: float = 0.0, **top: Any) -> EncoderDecoderModel:
    """In eval mode (a Trainer switches it to training); `top` sets EncoderDecoderConfig fields."""
    torch.manual_seed(seed)
    return EncoderDecoderModel(tiny_config(dropout, **top)).eval()


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
