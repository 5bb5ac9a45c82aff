"""The arguments of one `generate()` call, checked once at entry (never per decoding step): the inputs'
type, shape and ids, the attention mask's shape and values, and the special ids against the decoder's
vocabulary. A bad value is a ValueError or TypeError naming the argument and what to pass instead; the
settings themselves (`num_beams`, `length_penalty`, ...) are checked by `GenerationConfig.validate`.
"""
from __future__ import annotations

import torch

from bertgen.generation.config import GenerationConfig


def check_generate_inputs(model, config: GenerationConfig, input_ids, attention_mask,
                          generator: torch.Generator | None = None) -> None:
    # an empty source (length 0) is decoded from the start token alone, as transformers decodes it
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.shape[0] == 0:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"generate: input_ids must be a 2-D tensor (batch >= 1, length), got {shape}")
    if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
        raise TypeError(f"generate: input_ids must hold integer token ids, got dtype {input_ids.dtype}; "
                        "pass the tokenizer's input_ids (torch.long)")
    vocab = model.config.encoder.vocab_size
    low, high = (int(input_ids.min()), int(input_ids.max())) if input_ids.numel() else (0, 0)  # one host sync
    if low < 0 or high >= vocab:
        bad = low if low < 0 else high
        raise ValueError(f"generate: input_ids holds the id {bad}, outside the encoder vocabulary (0..{vocab - 1}); "
                         "was the text encoded with this model's tokenizer?")
    if attention_mask is not None:
        _check_mask(attention_mask, input_ids)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generate: generator must be a torch.Generator, got {type(generator).__name__}")
    vocab = model.config.decoder.vocab_size
    start = config.decoder_start_token_id if config.decoder_start_token_id is not None else config.bos_token_id
    eos = config.eos_token_id
    named = [("decoder_start_token_id" if config.decoder_start_token_id is not None else "bos_token_id", start),
             ("pad_token_id", config.pad_token_id),
             *(("eos_token_id", e) for e in (eos if isinstance(eos, list) else [eos]))]
    for name, value in named:
        if value is not None and not 0 <= value < vocab:
            raise ValueError(f"generate: {name} {value} is outside the decoder vocabulary (0..{vocab - 1}); "
                             f"set generation_config.{name} (or pass {name}=) to an id of this model's vocabulary")


def _check_mask(mask, input_ids: torch.Tensor) -> None:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"generate: attention_mask must be a tensor like input_ids, got {type(mask).__name__}")
    if mask.shape != input_ids.shape:
        raise ValueError(f"generate: attention_mask has shape {tuple(mask.shape)} but input_ids "
                         f"{tuple(input_ids.shape)}; pass the mask the tokenizer returned with these ids")
    if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("generate: attention_mask must hold only 0 (padding) and 1 (token), got other values; "
                         "pass the tokenizer's attention_mask")
    # a row that masks every token is an empty input: decoded from the start token, as transformers does
