"""`BertGenerationDecoder.generate`: a decoder on its own continues a prompt (greedy search or sampling).

transformers lets the page's standalone decoder (a causal LM) generate; so does bertgen, with the same
arguments and processors as the encoder-decoder's search (`search.py`), the same `max_length` rule (prompt
included; `max_new_tokens` counts after it) and the KV cache. Beam search is the encoder-decoder's: a
standalone decoder asking for beams gets an error that says so. Prompts of one batch must have the same
length (bertgen gives no position ids for left padding); an attention mask may mask tokens inside them.

Shapes: B prompts (x num_return_sequences), P prompt length, t tokens so far, V vocabulary.
"""
from __future__ import annotations

import torch

from bertgen.cache import KVCache
from bertgen.generation.config import DEFAULT_NEW_TOKENS, GenerationConfig
from bertgen.generation.processors import apply_processors, build_processors
from bertgen.generation.search import PLAIN_OUTPUTS, GenerateOutput, resolve_config


def generate_causal(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None = None,
                    generation_config: GenerationConfig | None = None, generator: torch.Generator | None = None,
                    **kwargs) -> torch.Tensor | GenerateOutput:
    """(B, P) prompts -> (B x n, P + generated) sequences, prompts included (as transformers' decoder-only
    generate); rows that stop early are padded with pad_token_id (else the first EOS id)."""
    config = resolve_config(model, generation_config, kwargs)
    if config.num_beams > 1:
        raise ValueError("BertGenerationDecoder.generate: beam search is implemented for EncoderDecoderModel; "
                         "a standalone decoder decodes greedily or samples (num_beams=1)")
    if config.num_return_sequences > 1 and not config.do_sample:
        raise ValueError("generate: num_return_sequences > 1 needs do_sample=True (greedy search returns one)")
    if input_ids is None:  # transformers starts an empty prompt from bos_token_id
        if config.bos_token_id is None:
            raise ValueError("generate: no input_ids and no bos_token_id to start from; pass input_ids")
        input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long, device=model.device)
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.numel() == 0:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"generate: input_ids must be a non-empty 2-D tensor (batch, length), got {shape}")
    eos = config.eos_token_id
    eos_ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    pad = config.pad_token_id if config.pad_token_id is not None else (eos_ids[0] if eos_ids else 0)
    P = input_ids.shape[1]
    max_length = P + config.max_new_tokens if config.max_new_tokens is not None else \
        config.max_length if config.max_length is not None else P + DEFAULT_NEW_TOKENS
    if max_length > model.config.max_position_embeddings:
        raise ValueError(f"generate: max_length {max_length} (prompt + new tokens) exceeds "
                         f"max_position_embeddings={model.config.max_position_embeddings}; lower max_new_tokens")
    if config.min_new_tokens is not None:  # counted after the prompt, not after a start token
        config = config.update(min_length=P + config.min_new_tokens)
        config.min_new_tokens = None
    copies = config.num_return_sequences
    ids = input_ids.repeat_interleave(copies, 0)  # (B, P)
    mask = None if attention_mask is None else attention_mask.repeat_interleave(copies, 0)
    processors = build_processors(config, eos_ids, beams=False)
    eos_tensor = torch.tensor(eos_ids, dtype=torch.long, device=ids.device)
    cache = KVCache(model.config.num_hidden_layers, capacity=max_length) if config.use_cache else None
    done = torch.zeros(len(ids), dtype=torch.bool, device=ids.device)  # (B,)
    all_scores = []
    with torch.inference_mode():
        step_ids = ids
        while ids.shape[1] < max_length:
            out = model(step_ids, attention_mask=mask, past_key_values=cache, use_cache=cache is not None,
                        logits_to_keep=1, **PLAIN_OUTPUTS)
            scores = apply_processors(processors, ids, out.logits[:, -1].float())  # (B, V)
            all_scores.append(scores)
            if config.do_sample:
                tokens = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)  # (B,)
            else:
                tokens = scores.argmax(-1)
            tokens = tokens.masked_fill(done, pad)  # finished rows only pad
            ids = torch.cat([ids, tokens[:, None]], dim=1)  # (B, t + 1)
            if mask is not None:
                mask = torch.cat([mask, mask.new_ones(len(ids), 1)], dim=1)
            if len(eos_tensor):
                done |= torch.isin(tokens, eos_tensor)
                if bool(done.all()):
                    break
            step_ids = tokens[:, None] if cache is not None else ids
    if not config.return_dict_in_generate:
        return ids
    return GenerateOutput(sequences=ids, scores=tuple(all_scores) if config.output_scores else None)
