"""Encoder-decoder checkpoints whose encoder is transformers' BertModel or RobertaModel: bert2gpt2 and roberta2gpt2
as transformers' EncoderDecoderModel saves them (`encoder.embeddings.token_type_embeddings`, `encoder.pooler`).

bertgen's encoder is BertGeneration's, so the encoder is read as warm-starting reads a BERT or RoBERTa body
(bertgen.warmstart.pretrained): segment A's vector folded into the position table (what BertModel adds to every
token when no token_type_ids are given, as EncoderDecoderModel calls it), RoBERTa's position rows before
padding_idx + 1 left out (its tokens at 0, 1, ... read rows padding_idx + 1, ...), the pooler not used (the decoder
reads the last hidden states). The logits are BertModel's to float rounding on right-padded input; `save_pretrained`
then writes a BertGeneration encoder, which transformers loads as such.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from bertgen.checkpoints import load_state_dict_strict, read_state_dict, resolve_dtype
from bertgen.config import CONFIG_NAME, EncoderDecoderConfig, read_json_object
from bertgen.generation import GenerationConfig
from bertgen.warmstart.pretrained import LAYOUTS, POSITIONS, convert_body

BODY_ENCODERS = ("bert", "roberta", "xlm-roberta")  # encoder model_types read through convert_body


def encoder_model_type(directory: Path) -> str | None:
    """The encoder's model_type in an encoder-decoder config.json (None for anything else)."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        return None
    data = read_json_object(path, "restore it from the checkpoint's source")
    encoder = data.get("encoder") if data.get("model_type") == "encoder-decoder" else None
    return encoder.get("model_type") if isinstance(encoder, dict) else None


def load_with_body_encoder(cls, directory: Path, dtype, device, **config_overrides):
    """An EncoderDecoderModel (`cls`) from a checkpoint whose encoder is a BertModel or RobertaModel."""
    data = read_json_object(directory / CONFIG_NAME, "restore it from the checkpoint's source")
    state, origin = read_state_dict(directory)
    raw = {key.removeprefix("encoder."): tensor for key, tensor in state.items() if key.startswith("encoder.")}
    raw_origin = {key.removeprefix("encoder."): path for key, path in origin.items() if key.startswith("encoder.")}
    body = convert_body(str(directory), directory, data["encoder"], raw, raw_origin)
    encoder_state = dict(body.state)
    if body.token_type is not None:
        encoder_state[POSITIONS] = body.folded_positions
    config = EncoderDecoderConfig.from_dict({**data, "encoder": body.config.to_dict()},
                                            where=str(directory / CONFIG_NAME))
    if config_overrides:
        config = config.replace(**config_overrides)
    decoder_state = {key: tensor for key, tensor in state.items() if not key.startswith("encoder.")}
    state = {**{f"encoder.{key}": tensor for key, tensor in encoder_state.items()}, **decoder_state}
    origin = {**{f"encoder.{key}": path for key, path in body.origin.items()},
              **{key: path for key, path in origin.items() if key in decoder_state}}
    model = cls(config)
    model.to(resolve_dtype(dtype, config.extra, state))
    load_state_dict_strict(model, state, origin)
    unused = [f"{n} tensor(s) of {why}" for why, n in _count_dropped(body).items()]
    warnings.warn(f"{cls.__name__}.from_pretrained({str(directory)!r}): the encoder is transformers' "
                  f"{LAYOUTS[data['encoder']['model_type']].capitalize()}Model, loaded as a BertGeneration encoder: "
                  "segment embedding 0 folded into the position embeddings"
                  + (f"; not used: {', '.join(unused)}" if unused else ""), stacklevel=3)
    if (directory / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(directory)
    if device is not None:
        model.to(device)
    return model.eval()


def _count_dropped(body) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, why in body.dropped.values():
        counts[why] = counts.get(why, 0) + 1
    return counts
