"""Logits processors: what changes the next-token scores before a token is picked.

Each is a callable `(input_ids, scores) -> scores` with transformers' semantics: `input_ids` (R, t) are
the decoder tokens so far (start token included), `scores` (R, V) the float32 logits (greedy, sampling)
or log-probabilities (beam search), R = rows (batch x beams). They may write into `scores` in place:
the search owns that tensor, and a vocabulary-sized copy per processor per step is what they avoid.
A processor may also say `masks_only = True`: it only sets scores to -inf, by `input_ids` alone, whatever the
scores' values (so greedy search may run it on approximate logits: FastHead.greedy_tokens); without the
attribute it is taken to read the values.
`build_processors` puts them in transformers' order, so both libraries pick the same tokens.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class RepetitionPenalty:
    """CTRL's penalty (Keskar et al. 2019): a score of a token already in `input_ids` is divided by
    `penalty` when positive, multiplied when negative, so penalty > 1 makes repeats less likely."""

    masks_only = False

    def __init__(self, penalty: float):
        self.penalty = penalty

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        seen = scores.gather(1, input_ids)  # (R, t)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return scores.scatter_(1, input_ids, seen)


class NoRepeatNGram:
    """Ban every token that would complete an n-gram already present in `input_ids` (Paulus et al. 2017)."""

    masks_only = True

    def __init__(self, ngram_size: int):
        self.n = ngram_size

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        R, t = input_ids.shape
        if t < self.n:
            return scores
        # Only windows whose first n-1 tokens equal the current (n-1)-token suffix can be completed now:
        # each such window bans its own last token.
        prefix = input_ids[:, t + 1 - self.n:]  # (R, n-1)
        windows = input_ids.unfold(1, self.n, 1)  # (R, t-n+1, n)
        matches = (windows[..., :-1] == prefix[:, None]).all(-1)  # (R, t-n+1)
        V = scores.shape[-1]
        banned = torch.zeros(R, V + 1, dtype=torch.bool, device=scores.device)  # column V: non-matches
        banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=V), V), True)
        return scores.masked_fill_(banned[:, :V], -float("inf"))


class MinLength:
    """No EOS while fewer than `min_length` decoder tokens (start token included) exist."""

    masks_only = True

    def __init__(self, min_length: int, eos_token_ids: list[int]):
        self.min_length, self.eos = min_length, eos_token_ids

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] < self.min_length:
            scores[:, self.eos] = -float("inf")  # one column per EOS id, not a pass over the vocabulary
        return scores


class Temperature:
    masks_only = False

    def __init__(self, temperature: float):
        self.temperature = temperature

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.div_(self.temperature)


class TopK:
    """Keep the `top_k` highest scores (ties with the k-th included), set the rest to -inf."""

    masks_only = False

    def __init__(self, top_k: int, min_tokens_to_keep: int = 1):
        self.top_k = max(top_k, min_tokens_to_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        k = min(self.top_k, scores.shape[-1])
        kth = scores.topk(k).values[..., -1:]  # (R, 1)
        return scores.masked_fill_(scores < kth, -float("inf"))


class TopP:
    """Nucleus sampling (Holtzman et al. 2020): keep the smallest set of tokens whose probabilities sum
    to at least `top_p`."""

    masks_only = False

    def __init__(self, top_p: float, min_tokens_to_keep: int = 1):
        self.top_p, self.min_keep = top_p, min_tokens_to_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        sorted_scores, order = scores.sort(descending=False)  # ascending, as transformers (same tie order)
        cumulative = sorted_scores.softmax(-1).cumsum(-1)
        remove = cumulative <= 1 - self.top_p
        remove[..., -self.min_keep:] = False
        return scores.masked_fill_(remove.scatter(1, order, remove), -float("inf"))


def build_processors(config, eos_token_ids: list[int], beams: bool) -> list[Processor]:
    """transformers' order: repetition penalty, n-gram blocking, minimum length, then (sampling only)
    temperature, top-k, top-p. `config` is a resolved GenerationConfig."""
    processors: list[Processor] = []
    if config.repetition_penalty != 1.0:
        processors.append(RepetitionPenalty(config.repetition_penalty))
    if config.no_repeat_ngram_size > 0:
        processors.append(NoRepeatNGram(config.no_repeat_ngram_size))
    # min_new_tokens counts after the start token and wins over min_length, as in transformers
    min_length = config.min_new_tokens + 1 if config.min_new_tokens is not None else config.min_length
    if min_length > 0 and eos_token_ids:
        processors.append(MinLength(min_length, eos_token_ids))
    if config.do_sample:
        # beams keep one token more than there are EOS ids, so a live continuation always exists
        keep = (len(eos_token_ids) + 1 if eos_token_ids else 2) if beams else 1
        if config.temperature != 1.0:
            processors.append(Temperature(config.temperature))
        if config.top_k:
            processors.append(TopK(config.top_k, keep))
        if config.top_p < 1.0:
            processors.append(TopP(config.top_p, keep))
    return processors


def apply_processors(processors: list[Processor], input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    for processor in processors:
        scores = processor(input_ids, scores)
    return scores
