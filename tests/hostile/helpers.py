"""Shared pieces of the hostile-input suite: a snapshot of a folder (to assert that a refused input changed
nothing on disk), the tiny model every case loads, and a way to edit one key of a JSON file."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from bertgen.config import BertGenerationConfig, EncoderDecoderConfig
from bertgen.modeling import EncoderDecoderModel
from tests.support import TINY


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root` (hidden ones too) with a hash of its bytes, or '<dir>' / '-> target'."""
    out = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = f"-> {path.readlink()}"
        elif path.is_dir():
            out[rel] = "<dir>"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def tiny_config(**top: Any) -> EncoderDecoderConfig:
    side = BertGenerationConfig(**TINY)
    settings = dict(decoder_start_token_id=2, pad_token_id=0, eos_token_id=1, **top)
    return EncoderDecoderConfig.from_encoder_decoder_configs(side, side, **settings)


def tiny_model(seed: int = 0, **top: Any) -> EncoderDecoderModel:
    torch.manual_seed(seed)
    return EncoderDecoderModel(tiny_config(**top)).eval()


def set_key(data: dict, dotted: str, value: Any) -> dict:
    """data with `a.b.c` set to value (a copy); value DELETE removes the key."""
    data = json.loads(json.dumps(data))
    *parents, leaf = dotted.split(".")
    target = data
    for part in parents:
        target = target[part]
    if value is DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return data


DELETE = object()


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
