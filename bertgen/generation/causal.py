"""`BertGenerationDecoder.generate`: a decoder on its own continues a prompt (greedy, sampling, beam search).

transformers lets the page's standalone decoder (a causal LM) generate; so does bertgen, with the same
arguments, processors and searches as the encoder-decoder's (`search.py`, from the whole prompt instead of a
start token), the same `max_length` rule (prompt included; `max_new_tokens` counts after it) and the KV cache.
Prompts of unequal length are left-padded, as transformers wants them: the attention mask (given, or inferred
from pad_token_id as transformers infers it) hides the padding, and positions count only the tokens it keeps
(transformers' position_ids for decoder-only generation), so a padded prompt continues as it would alone.

Shapes: B prompts, R rows (prompts x beams or returned sequences), P prompt length, t tokens so far, L
max_length, V vocabulary.
"""
from __future__ import annotations

import torch

from bertgen.cache import KVCache
from bertgen.generation.config import DEFAULT_NEW_TOKENS, GenerationConfig
from bertgen.generation.search import PLAIN_OUTPUTS, GenerateOutput, SearchSpec, generate_output, search
from bertgen.generation.resolve import resolve_config


class _CausalDecoder:
    """The standalone decoder one step at a time over the rows still decoding, for search.py's loops: the
    KV cache, and each row's attention mask and position ids over prompt + generated tokens."""

    head = None  # no fast head: each step's logits come from the model

    def __init__(self, model, mask: torch.Tensor, use_cache: bool, max_length: int):
        R, P = mask.shape
        self.model = model
        self.cache = KVCache(model.config.num_hidden_layers, capacity=max_length) if use_cache else None
        self.mask = torch.cat([mask, mask.new_ones(R, max_length - P)], dim=1)  # (R, L): generated tokens attend
        prompt_positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)  # (R, P), as transformers
        after = prompt_positions[:, -1:] + torch.arange(1, max_length - P + 1, device=mask.device)  # (R, L - P)
        self.positions = torch.cat([prompt_positions, after], dim=1)  # (R, L)
        self.padded = not bool(mask.all())  # else mask and positions are the defaults: not passed

    def step(self, sequences: torch.Tensor) -> torch.Tensor:
        """(R, t) tokens so far -> (R, V) float32 logits for the next one."""
        t = sequences.shape[1]
        past = self.cache.get_seq_length() if self.cache is not None else 0
        extra = dict(attention_mask=self.mask[:, :t], position_ids=self.positions[:, past:t]) if self.padded else {}
        out = self.model(sequences[:, past:], past_key_values=self.cache, use_cache=self.cache is not None,
                         logits_to_keep=1, **extra, **PLAIN_OUTPUTS)
        return out.logits[:, -1].float()

    def expand(self, copies: int, together: bool) -> None:
        self.select(torch.arange(len(self.mask), device=self.mask.device).repeat_interleave(copies))

    def select(self, rows: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        """Keep rows `rows` (reordered beams and/or fewer prompts); each row carries its own mask and positions."""
        if self.cache is not None:
            self.cache.reorder(rows)
        self.mask, self.positions = self.mask[rows], self.positions[rows]


def inferred_mask(input_ids: torch.Tensor, pad: int | None, eos_ids: list[int]) -> torch.Tensor:
    """transformers' attention mask for a prompt given none: 0 at pad_token_id when the prompts hold it and it
    is not an EOS id, else all ones."""
    if pad is None or pad in eos_ids or not bool((input_ids == pad).any()):
        return torch.ones_like(input_ids)
    return (input_ids != pad).long()


def generate_causal(model, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None = None,
                    generation_config: GenerationConfig | None = None, generator: torch.Generator | None = None,
                    **kwargs) -> torch.Tensor | GenerateOutput:
    """(B, P) prompts -> (B x n, P + generated) sequences, prompts included (as transformers' decoder-only
    generate); rows that stop early are padded with pad_token_id (else the first EOS id)."""
    config = resolve_config(model, generation_config, kwargs)
    if config.num_return_sequences > 1 and not (config.do_sample or config.num_beams > 1):
        raise ValueError("generate: num_return_sequences > 1 needs do_sample=True or num_beams > 1 (greedy "
                         "search returns one sequence per prompt)")
    if input_ids is None:  # transformers starts an empty prompt from bos_token_id
        if config.bos_token_id is None:
            raise ValueError("generate: no input_ids and no bos_token_id to start from; pass input_ids")
        input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long, device=model.device)
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.numel() == 0:
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"generate: input_ids must be a non-empty 2-D tensor (batch, length), got {shape}; an "
                         "empty prompt: pass input_ids=None to start from bos_token_id")
    if attention_mask is not None and tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(f"generate: attention_mask has shape {tuple(attention_mask.shape)}, input_ids "
                         f"{tuple(input_ids.shape)}; pass the mask the tokenizer returned with these ids")
    eos = config.eos_token_id
    eos_ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    pad = config.pad_token_id if config.pad_token_id is not None else (eos_ids[0] if eos_ids else None)
    P = input_ids.shape[1]
    max_length = P + config.max_new_tokens if config.max_new_tokens is not None else \
        config.max_length if config.max_length is not None else P + DEFAULT_NEW_TOKENS
    positions = model.config.max_position_embeddings - model.config.position_offset
    if max_length > positions:
        raise ValueError(f"generate: max_length {max_length} (prompt + new tokens) exceeds "
                         f"max_position_embeddings={model.config.max_position_embeddings}; lower max_new_tokens")
    if config.min_new_tokens is not None:  # counted after the prompt, not after a start token
        config = config.update(min_length=P + config.min_new_tokens)
        config.min_new_tokens = None
    mask = attention_mask if attention_mask is not None else inferred_mask(input_ids, pad, eos_ids)
    spec = SearchSpec.build(config, eos_ids, pad if pad is not None else 0, max_length, generator, input_ids.device)
    with torch.inference_mode():
        decoder = _CausalDecoder(model, mask.to(input_ids.device), config.use_cache, max(max_length, P + 1))
        if max_length <= P:  # nothing to add: transformers returns the prompts
            sequences, scores, sequence_scores = input_ids.repeat_interleave(config.num_return_sequences, 0), (), None
        else:
            sequences, scores, sequence_scores = search(decoder, input_ids, spec)
    return generate_output(config, sequences, scores, sequence_scores)
