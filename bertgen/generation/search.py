"""Decoding: greedy, sampling and beam search over an EncoderDecoderModel, token for token as transformers
(the same loops continue a standalone decoder's prompts: causal.py).

The encoder runs once. The decoder runs one token per step against a KV cache preallocated for the whole
output (cross-attention keys/values are computed at the first step and reused). The first step runs once
per input, not once per beam or returned sequence: every copy of an input sees the same start token, so
the cache is expanded after it (on the fast step, an input's beams share its encoder output and
cross-attention keys/values instead of copying them). An input that is done leaves the batch (its rows of
the cache, the encoder output and the mask go), so finished work stops costing compute; a beam that
continues another beam has its cached keys/values copied over in place (most beams continue themselves).

Beam search follows transformers 5.x (`_beam_search`) step by step, with the same tensors and the same
`-1e9` sentinels; its vocabulary-wide top-k is found from a shortlist of blocks (`block_topk`), the same
values in the same order, ties aside (exact float ties among the best candidates): K = max(2, 1 + #EOS) x beams
candidates per input; the best `num_beams` that did not stop stay running; the top `num_beams` that
stopped (EOS, or the length limit) enter the finished set with score `sum log p / length ** alpha`,
`length` = generated tokens including EOS; an input is done when no running beam can beat its worst
finished one (`early_stopping` False: judged at the current length; "never": at `max_length` when
alpha > 0) or, with `early_stopping=True`, as soon as it has `num_beams` finished hypotheses.

Shapes: B inputs, A inputs still decoding, nb beams, R = A x nb rows, K candidates per input,
t tokens so far (start token included), L = max_length, V vocabulary, S source length, H hidden.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from bertgen.cache import KVCache
from bertgen.generation.config import (DEFAULT_NEW_TOKENS, TOKEN_ID_FIELDS, GenerationConfig,
                                       model_config_settings)
from bertgen.fast.decoder_step import FastDecoder
from bertgen.fast.head import FastHead
from bertgen.generation.validation import check_generate_inputs
from bertgen.generation.processors import apply_processors, build_processors

NEG = -1.0e9  # transformers' "impossible" score; kept so that its ties and roundings are ours too
# what generate asks of every forward, whatever the config says (a transformers 3.x config.json carries
# "return_dict": false; transformers' generate asks for output objects too)
PLAIN_OUTPUTS = dict(return_dict=True, output_attentions=False, output_hidden_states=False)
TOPK_BLOCK = 128  # block_topk's block: measured best for 1-8 inputs x 4 beams over a 30,522-word vocabulary


@dataclass
class GenerateOutput:
    """`return_dict_in_generate=True`: transformers' GenerateEncoderDecoderOutput / ...BeamEncoderDecoderOutput."""

    sequences: torch.Tensor  # (B x num_return_sequences, 1 + generated): start token, tokens, padding
    scores: tuple[torch.Tensor, ...] | None = None  # per step (rows, V) processed scores, with output_scores
    sequences_scores: torch.Tensor | None = None  # beam search with output_scores: (B x n,) final beam scores


class _Decoder:
    """The decoder one step at a time over the rows still decoding, with the encoder output they attend to.

    With a cache, on a CPU model in float32 or bfloat16, the step runs FastDecoder's flat loop over packed
    weights; otherwise the decoder's modules. Each input starts as one row; `expand` gives it several (beams
    or sampled sequences). Where those rows stay together (beam search on the fast step), the encoder output,
    its mask and the cross-attention keys/values stay one row per input (`group` rows share it); otherwise
    they are copied per row."""

    def __init__(self, model, encoder_states: torch.Tensor, encoder_mask: torch.Tensor | None,
                 use_cache: bool, max_length: int):
        self.model = model
        self.states = encoder_states  # (rows / group, S, H)
        self.mask = encoder_mask  # (rows / group, S) or None: no padding anywhere
        self.group = 1  # consecutive rows that share one row of states, mask and cross-attention cache
        layers = model.config.decoder.num_hidden_layers
        self.cache = KVCache(layers, capacity=max_length) if use_cache else None
        # a BERT / RoBERTa head transforms the hidden states first: the decoder's own forward runs it
        transform = getattr(model.decoder.lm_head, "transform", torch.nn.Identity())
        self.head = (FastHead.get(model.decoder.get_output_embeddings())
                     if isinstance(transform, torch.nn.Identity) else None)
        self.fast = FastDecoder.get(model.decoder) if use_cache and self.head is not None else None
        self.cross_mask = self._cross_mask()

    def _cross_mask(self) -> torch.Tensor | None:
        """(rows / group, 1, 1, S) boolean, True = attend (as the modules pass it to SDPA), for the fast step."""
        return self.mask.bool()[:, None, None, :] if self.fast is not None and self.mask is not None else None

    def step(self, sequences: torch.Tensor) -> torch.Tensor:
        """(rows, t) tokens so far -> (rows, V) float32 logits for the next one."""
        if self.head is None:
            return self.model.decoder(self._inputs(sequences), logits_to_keep=1,
                                      **self._body_kwargs()).logits[:, -1].float()
        return self.head(self.hidden(sequences))  # (rows, V), ours to modify in place

    def hidden(self, sequences: torch.Tensor) -> torch.Tensor:
        """(rows, t) tokens so far -> (rows, H) the decoder's last hidden state, for the head (self.head)."""
        if self.fast is not None:
            return self.fast(sequences[:, -1], self.cache, self.states, self.cross_mask, self.group)
        return self.model.decoder.base_model(self._inputs(sequences), **self._body_kwargs()).last_hidden_state[:, -1]

    def _inputs(self, sequences: torch.Tensor) -> torch.Tensor:
        return sequences[:, -1:] if self.cache is not None else sequences  # cached: only the new token

    def greedy_tokens(self, sequences: torch.Tensor, processors: list) -> torch.Tensor:
        """(rows, t) tokens so far -> (rows,) the greedy choice of the next one under mask-only `processors`,
        from the bfloat16 screen of the head where it applies (FastHead.greedy_tokens), else from the logits."""
        hidden = self.hidden(sequences)  # (rows, H)
        tokens = self.head.greedy_tokens(hidden, lambda logits: apply_processors(processors, sequences, logits))
        if tokens is None:
            tokens = apply_processors(processors, sequences, self.head(hidden)).max(-1).indices
        return tokens

    def _body_kwargs(self) -> dict:
        return dict(encoder_hidden_states=self.states, encoder_attention_mask=self.mask,
                    past_key_values=self.cache, use_cache=self.cache is not None, **PLAIN_OUTPUTS)

    def expand(self, copies: int, together: bool) -> None:
        """Each row (one per input, after the first step) becomes `copies` consecutive rows. `together`: they
        stay together to the end (beams), so the fast step can share the input's encoder rows among them."""
        rows = torch.arange(len(self.states), device=self.states.device).repeat_interleave(copies)
        if together and self.fast is not None:
            self.cache.reorder(rows)
            self.group = copies
        else:
            self.select(rows, inputs=rows)

    def select(self, rows: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        """Keep rows `rows` (reordered beams and/or fewer inputs). `inputs`: where the set of inputs changed,
        the inputs kept (indices among the current ones; read only where rows are grouped, else the encoder
        rows follow `rows`); encoder rows move only then, since the rows of one input share its encoder output
        and cross-attention keys/values."""
        if self.cache is not None:
            self.cache.reorder(rows)
        if inputs is not None:
            index = inputs if self.group > 1 else rows  # per input, or per row
            if self.cache is not None:
                self.cache.select_cross(index)
            self.states = self.states.index_select(0, index)
            self.mask = self.mask.index_select(0, index) if self.mask is not None else None
            self.cross_mask = self._cross_mask()


# ------------------------------------------------------------------------------------------------ entry point

def resolve_config(model, generation_config: GenerationConfig | None, kwargs: dict) -> GenerationConfig:
    """What decodes: `kwargs` over `generation_config` (else the model's, with the settings written on
    `model.config` in memory over it, as transformers 4 used them), over transformers' defaults."""
    base = generation_config
    if base is None:
        base = getattr(model, "generation_config", None) or GenerationConfig.from_model_config(model.config)
        # ids set on model.config after the generation config was made (the blog sets them after loading)
        ids = GenerationConfig.from_model_config(model.config, settings=False)
        base = base.update(**{k: getattr(ids, k) for k in TOKEN_ID_FIELDS if getattr(base, k) is None})
        settings = model_config_settings(model.config)
        if settings:
            _note_config_settings(model, settings)
            base = base.update(**settings)
    config = base.update(**kwargs).resolved()
    config.validate("generate()")
    return config


def _note_config_settings(model, settings: dict) -> None:
    """Once per model: generation settings on model.config are used, and where they now belong."""
    if model.__dict__.get("_noted_config_settings") == settings:
        return
    model.__dict__["_noted_config_settings"] = dict(settings)
    assignments = "; ".join(f"model.generation_config.{k} = {v!r}" for k, v in settings.items())
    warnings.warn(f"generate: model.config carries generation settings {settings}; they are used, as transformers 4 "
                  f"used them (transformers 5 refuses them), but they belong on the generation config: "
                  f"{assignments}. save_pretrained writes them to generation_config.json.", UserWarning, stacklevel=5)


def generate(model, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
             generation_config: GenerationConfig | None = None, generator: torch.Generator | None = None,
             **kwargs) -> torch.Tensor | GenerateOutput:
    """`model.generate(...)`: see EncoderDecoderModel.generate."""
    config = resolve_config(model, generation_config, kwargs)
    check_generate_inputs(model, config, input_ids, attention_mask, generator)  # once, before decoding
    eos = config.eos_token_id
    eos_ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    pad = config.pad_token_id if config.pad_token_id is not None else (eos_ids[0] if eos_ids else None)
    start = config.decoder_start_token_id if config.decoder_start_token_id is not None else config.bos_token_id
    if start is None:
        raise ValueError("generate: no decoder_start_token_id (nor bos_token_id) in the model's config or "
                         "generation config; set model.generation_config.decoder_start_token_id ([CLS] for BERT)")
    if pad is None:
        pad = 0  # no pad and no EOS: every sequence runs to max_length, so padding never shows
    max_length = config.max_new_tokens + 1 if config.max_new_tokens is not None else \
        config.max_length if config.max_length is not None else DEFAULT_NEW_TOKENS + 1
    decoder = model.config.decoder
    positions = decoder.max_position_embeddings - decoder.position_offset  # RoBERTa's start at padding_idx + 1
    if max_length > positions:
        offset = f" less the {decoder.position_offset} before position 0" if decoder.position_offset else ""
        raise ValueError(f"generate: max_length {max_length} (start token + new tokens) exceeds the decoder's "
                         f"max_position_embeddings={decoder.max_position_embeddings}{offset}; lower max_new_tokens")
    if max_length < 2:
        raise ValueError(f"generate: max_length {max_length} leaves no room for a token after the start token")
    if attention_mask is None and config.pad_token_id is not None and config.pad_token_id not in eos_ids:
        # as transformers 4.x inferred it (5.x infers it for decoder-only models only, and attends to the padding)
        attention_mask = (input_ids != config.pad_token_id).long()
    if attention_mask is not None and bool(attention_mask.all()):
        attention_mask = None  # nothing masked: SDPA's unmasked kernel is faster

    with torch.inference_mode():
        encoder_states = model.encoder(input_ids, attention_mask=attention_mask,
                                       **PLAIN_OUTPUTS).last_hidden_state  # (B, S, H)
        if hasattr(model, "enc_to_dec_proj"):  # encoder and decoder of different widths, as transformers
            encoder_states = model.enc_to_dec_proj(encoder_states)
        decoder = _Decoder(model, encoder_states, attention_mask, config.use_cache, max_length)
        processors = build_processors(config, eos_ids, beams=config.num_beams > 1)
        eos_tensor = torch.tensor(eos_ids, dtype=torch.long, device=input_ids.device)
        starts = torch.full((input_ids.shape[0], 1), start, dtype=torch.long, device=input_ids.device)  # (B, 1)
        sequences, scores, sequence_scores = search(decoder, starts, config, processors, eos_tensor, pad, max_length,
                                                    generator)
    if not config.return_dict_in_generate:
        return sequences
    return GenerateOutput(sequences=sequences, scores=scores if config.output_scores else None,
                          sequences_scores=sequence_scores if config.output_scores else None)


def search(decoder, prompts: torch.Tensor, config: GenerationConfig, processors: list, eos: torch.Tensor, pad: int,
           max_length: int, generator: torch.Generator | None):
    """Beam search, or greedy search / sampling, from (B, P) prompts (an encoder-decoder's: the start token) to
    (B x num_return_sequences, <= max_length) sequences, their per-step scores, and beam search's final scores.
    `decoder` gives a step's logits (_Decoder here, the standalone decoder's in causal.py)."""
    if config.num_beams > 1:
        return _beam_search(decoder, prompts, config, processors, eos, pad, max_length, generator)
    return (*_greedy_or_sample(decoder, prompts, config, processors, eos, pad, max_length, generator), None)


def _first_step(decoder, prompts: torch.Tensor, copies: int, together: bool = False) -> torch.Tensor:
    """The first step once per input, then `copies` rows per input (beams or sampled sequences)."""
    logits = decoder.step(prompts)  # (B, V)
    if copies > 1:
        decoder.expand(copies, together)
        logits = logits.repeat_interleave(copies, 0)  # (B x copies, V)
    return logits


def _full_rows(scores: torch.Tensor, rows: torch.Tensor, total: int) -> torch.Tensor:
    """Scores of the live rows placed among all rows; rows already done get -inf (they chose nothing)."""
    if len(rows) == total:
        return scores
    full = scores.new_full((total, scores.shape[1]), -float("inf"))
    full[rows] = scores
    return full


# ----------------------------------------------------------------------------------------- greedy, sampling

def _greedy_or_sample(decoder, prompts, config, processors, eos, pad, max_length, generator):
    copies = config.num_return_sequences if config.do_sample else 1
    B, P = len(prompts) * copies, prompts.shape[1]
    out = prompts.new_full((B, max_length), pad)  # (B, L) the answer, rows written as they finish
    seqs = out.clone()  # (A, L) the rows still decoding
    seqs[:, :P] = prompts.repeat_interleave(copies, 0)
    rows = torch.arange(B, device=prompts.device)  # (A,) row of `out` for each live row
    all_scores = [] if config.output_scores else None
    # greedy, with no scores to return and only masking processors: the tokens without the logits
    tokens_only = not config.do_sample and all_scores is None and decoder.head is not None and \
        all(getattr(processor, "masks_only", False) for processor in processors)
    t = P
    while t < max_length:
        history = seqs[:, :t]  # (A, t)
        if tokens_only:
            tokens = decoder.greedy_tokens(history, processors)  # (A,)
        else:
            logits = _first_step(decoder, prompts, copies) if t == P else decoder.step(history)  # (A, V)
            scores = apply_processors(processors, history, logits)
            if all_scores is not None:
                all_scores.append(_full_rows(scores, rows, B))
            if config.do_sample:
                tokens = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)  # (A,)
            else:
                tokens = scores.max(-1).indices  # the first maximum, as argmax does, in ~60% of argmax's time
        seqs[:, t] = tokens
        t += 1
        if len(eos):
            finished = torch.isin(tokens, eos)  # (A,)
            if bool(finished.any()):
                out[rows[finished]] = seqs[finished]
                keep = (~finished).nonzero().squeeze(1)
                if len(keep) == 0:
                    break
                rows, seqs = rows[keep], seqs[keep]
                decoder.select(keep, inputs=keep)
    out[rows] = seqs
    return out[:, :t], tuple(all_scores) if all_scores is not None else None


# ---------------------------------------------------------------------------------------------- beam search

def length_penalty(length: int, alpha: float, style: str) -> float:
    """The divisor of a hypothesis' summed log-probability: length ** alpha, or GNMT's ((5 + length) / 6) ** alpha."""
    return ((5 + length) / 6) ** alpha if style == "gnmt" else length ** alpha


def _gather(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Along dim 1: (A, n, ...) rows picked by (A, m) -> (A, m, ...) (transformers' _gather_beams)."""
    while index.dim() < tensor.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(tensor, index, dim=1)


def block_topk(scores: torch.Tensor, k: int, block: int = TOPK_BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """`scores.topk(k)` over (rows, N) with N >> k, reading most of each row once (a max per block) instead of
    selecting over all of it: the k largest entries lie in the k blocks with the largest maxima, so topk runs
    over those blocks and the row's tail that fills no block. The same values in the same order as topk (NaN
    above all); among exactly equal values the indices may differ from topk's."""
    rows, N = scores.shape
    n = N // block
    if n < 4 * k:  # too few blocks to pay
        return scores.topk(k)
    blocks = scores[:, :n * block].view(rows, n, block)  # (rows, n, block)
    chosen = blocks.amax(-1).topk(k).indices  # (rows, k) blocks that hold the k largest entries
    candidates = torch.cat((_gather(blocks, chosen).flatten(1), scores[:, n * block:]), dim=1)  # (rows, k*block + tail)
    values, picked = candidates.topk(k)  # (rows, k) indices among the candidates, mapped back to `scores` below
    in_block = chosen.gather(1, (picked // block).clamp(max=k - 1)) * block + picked % block
    return values, torch.where(picked < k * block, in_block, picked - k * block + n * block)


def _beam_search(decoder, prompts, config, processors, eos, pad, max_length, generator):
    # lengths count generated tokens: an encoder-decoder's prompt is its start token (P = 1)
    (B, P), nb, n_return = prompts.shape, config.num_beams, config.num_return_sequences
    if pad == 0 and len(eos):  # transformers fills with `pad_token_id or eos_token_id[0]`: a pad id 0 counts as none
        pad = int(eos[0])
    alpha, style, early = config.length_penalty, config.length_penalty_style, config.early_stopping
    K = max(2, 1 + len(eos)) * nb  # enough candidates that nb of them can go on after EOS
    device = prompts.device
    top_nb = torch.arange(K, device=device) < nb  # (K,) only these may enter the finished set

    # state of the live inputs (A of them, all B at first)
    running = prompts.new_full((B, nb, max_length), pad)  # (A, nb, L)
    running[:, :, :P] = prompts[:, None]
    running_scores = torch.zeros(B, nb, device=device)  # (A, nb) summed log-probs
    running_scores[:, 1:] = NEG  # all beams start equal: only the first may expand at step one
    finished = running.clone()  # (A, nb, L) best finished hypotheses, by score
    finished_scores = torch.full((B, nb), NEG, device=device)  # (A, nb) length-penalized
    finished_flags = torch.zeros(B, nb, dtype=torch.bool, device=device)  # (A, nb) slot holds a real one
    finished_lengths = torch.zeros(B, nb, dtype=torch.long, device=device)  # (A, nb) generated tokens
    improvable = torch.ones(B, 1, dtype=torch.bool, device=device)  # (A, 1) can a running beam still win?
    inputs = torch.arange(B, device=device)  # (A,) original index of each live input

    # the answer, per original input
    out = prompts.new_full((B, n_return, max_length), pad)
    out_scores = torch.zeros(B, n_return, device=device)
    out_lengths = torch.zeros(B, n_return, dtype=torch.long, device=device)
    all_scores = [] if config.output_scores else None

    def retire(which: torch.Tensor) -> None:  # write inputs `which` (indices into the live ones) to the answer
        out[inputs[which]] = finished[which, :n_return]
        out_scores[inputs[which]] = finished_scores[which, :n_return]
        out_lengths[inputs[which]] = finished_lengths[which, :n_return]

    t = P
    while True:
        A = running.shape[0]
        history = running.view(A * nb, max_length)[:, :t]  # (R, t)
        logits = _first_step(decoder, prompts, nb, together=True) if t == P else decoder.step(history)  # (R, V)
        V = logits.shape[-1]
        log_probs = apply_processors(processors, history, F.log_softmax(logits, dim=-1))  # (R, V)
        if all_scores is not None:
            score_rows = (inputs[:, None] * nb + torch.arange(nb, device=device)).flatten()  # (R,) among B x nb
            all_scores.append(_full_rows(log_probs.clone(), score_rows, B * nb))
        totals = log_probs.view(A, nb, V).add_(running_scores[:, :, None]).view(A, nb * V)  # (A, nb x V)

        # (A, K) best continuations over all beams of an input (or sampled without replacement)
        if config.do_sample:
            picked = torch.multinomial(totals.softmax(-1), K, generator=generator)
            top_scores = totals.gather(1, picked)
        else:
            top_scores, picked = block_topk(totals, K, TOPK_BLOCK)
        source_beam, tokens = picked // V, picked % V  # (A, K)
        candidates = _gather(running, source_beam)  # (A, K, L)
        candidates[:, :, t] = tokens
        stops = torch.isin(tokens, eos) if len(eos) else torch.zeros_like(tokens, dtype=torch.bool)
        if t + 1 >= max_length:
            stops = torch.ones_like(stops)  # the length limit stops every candidate

        # the best nb that did not stop keep running
        live_scores = top_scores + stops.to(torch.float32) * NEG
        keep = live_scores.topk(nb).indices  # (A, nb)
        running = _gather(candidates, keep)
        running_scores = _gather(live_scores, keep)
        beam_rows = _gather(source_beam, keep)  # (A, nb) which old beam each new one continues

        # the top nb that stopped compete for the finished slots
        just_finished = stops & top_nb
        scores = top_scores / length_penalty(t - P + 1, alpha, style)
        scores += (finished_flags.all(-1, keepdim=True) & (early is True)).to(torch.float32) * NEG
        scores += (~improvable).to(torch.float32) * NEG
        scores += (~just_finished) * NEG
        merged = torch.cat((finished_scores, scores), dim=1)  # (A, nb + K)
        best = merged.topk(nb).indices  # (A, nb)
        finished = _gather(torch.cat((finished, candidates), dim=1), best)
        finished_scores = _gather(merged, best)
        finished_flags = _gather(torch.cat((finished_flags, just_finished), dim=1), best)
        finished_lengths = _gather(torch.cat((finished_lengths, torch.full_like(tokens, t - P + 1)), dim=1), best)
        t += 1
        if bool(stops.all()):
            break

        # transformers' early-stop heuristic: could the best running beam still beat the worst finished one?
        best_length = max_length - P if early == "never" and alpha > 0.0 else t - P
        best_running = running_scores[:, :1] / length_penalty(best_length, alpha, style)
        worst_finished = torch.where(finished_flags, finished_scores.min(1, keepdim=True).values, NEG)
        improvable = improvable & (best_running > worst_finished).any(-1, keepdim=True)
        done = ~improvable.squeeze(1) | (finished_flags.all(-1) & (early is True))  # (A,)

        rows = (beam_rows + torch.arange(A, device=device)[:, None] * nb)  # (A, nb) cache rows to continue
        if bool(done.any()):
            retire(done)
            live = (~done).nonzero().squeeze(1)
            if len(live) == 0:
                break
            inputs, running, running_scores, finished, finished_scores, finished_flags, finished_lengths, \
                improvable = (x[live] for x in (inputs, running, running_scores, finished, finished_scores,
                                                finished_flags, finished_lengths, improvable))
            decoder.select(rows[live].flatten(), inputs=live)
        else:
            decoder.select(rows.flatten())
    if len(inputs):
        retire(torch.arange(len(inputs), device=device))

    length = P + int(out_lengths.max())  # as transformers: the longest returned hypothesis sets the width
    sequences = out.view(B * n_return, max_length)[:, :length]
    scores = tuple(all_scores) if all_scores is not None else None
    return sequences, scores, out_scores.view(B * n_return)
