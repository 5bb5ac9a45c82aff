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
The live inputs' beams and finished hypotheses are a `BeamState`; what a search reads besides the decoder and
the prompts (settings, processors, EOS and pad ids, max_length, generator) is a `SearchSpec`, the same for all.

Shapes: B inputs, A inputs still decoding, nb beams, R = A x nb rows, K candidates per input,
t tokens so far (start token included), L = max_length, V vocabulary, S source length, H hidden.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from bertgen.cache import KVCache
from bertgen.generation.config import DEFAULT_NEW_TOKENS, GenerationConfig
from bertgen.fast.decoder_step import FastDecoder
from bertgen.fast.head import FastHead
from bertgen.model_output import ModelOutput
from bertgen.generation.resolve import resolve_config
from bertgen.generation.validation import check_generate_inputs
from bertgen.generation.processors import apply_processors, build_processors

NEG = -1.0e9  # transformers' "impossible" score; kept so that its ties and roundings are ours too
# what generate asks of every forward, whatever the config says (a transformers 3.x config.json carries
# "return_dict": false; transformers' generate asks for output objects too)
PLAIN_OUTPUTS = dict(return_dict=True, output_attentions=False, output_hidden_states=False)
TOPK_BLOCK = 128  # block_topk's block: measured best for 1-8 inputs x 4 beams over a 30,522-word vocabulary


@dataclass
class GenerateOutput(ModelOutput):
    """`return_dict_in_generate=True`: transformers' GenerateEncoderDecoderOutput / ...BeamEncoderDecoderOutput, its
    fields in their order (`out.sequences`, `out["sequences"]`, `out[0]`; `out.to_tuple()`)."""

    sequences: torch.Tensor  # (B x num_return_sequences, 1 + generated): start token, tokens, padding
    sequences_scores: torch.Tensor | None = None  # beam search with output_scores: (B x n,) final beam scores
    scores: tuple[torch.Tensor, ...] | None = None  # per step (rows, V) processed scores, with output_scores


@dataclass(frozen=True)
class SearchSpec:
    """What every search reads besides the decoder and the prompts: the resolved settings, the score processors
    and the ids and limits that end a sequence. Shared by greedy search, sampling and beam search."""

    config: GenerationConfig
    processors: list
    eos: torch.Tensor  # (n,) ids that end a sequence; empty: none does
    pad: int  # fills a sequence after it ended
    max_length: int  # prompt + generated tokens
    generator: torch.Generator | None = None  # sampling's random numbers

    @classmethod
    def build(cls, config: GenerationConfig, eos_ids: list[int], pad: int, max_length: int,
              generator: torch.Generator | None, device: torch.device) -> SearchSpec:
        processors = build_processors(config, eos_ids, beams=config.num_beams > 1)
        return cls(config, processors, torch.tensor(eos_ids, dtype=torch.long, device=device), pad, max_length,
                   generator)


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
        spec = SearchSpec.build(config, eos_ids, pad, max_length, generator, input_ids.device)
        starts = torch.full((input_ids.shape[0], 1), start, dtype=torch.long, device=input_ids.device)  # (B, 1)
        sequences, scores, sequence_scores = search(decoder, starts, spec)
    return generate_output(config, sequences, scores, sequence_scores)


def generate_output(config: GenerationConfig, sequences: torch.Tensor, scores: tuple[torch.Tensor, ...],
                    sequence_scores: torch.Tensor | None = None) -> torch.Tensor | GenerateOutput:
    """What generate returns, as ordinary tensors: the search ran in inference mode, whose tensors a caller could
    neither modify in place (`ids[ids == pad] = -100`) nor train on; transformers' generate returns ordinary ones."""
    sequences = sequences.clone()  # outside inference mode, a clone is an ordinary tensor
    if not config.return_dict_in_generate:
        return sequences
    if not config.output_scores:
        return GenerateOutput(sequences=sequences)
    return GenerateOutput(sequences=sequences, scores=tuple(step.clone() for step in scores),
                          sequences_scores=None if sequence_scores is None else sequence_scores.clone())


def search(decoder, prompts: torch.Tensor, spec: SearchSpec):
    """Beam search, or greedy search / sampling, from (B, P) prompts (an encoder-decoder's: the start token) to
    (B x num_return_sequences, <= max_length) sequences, their per-step scores, and beam search's final scores.
    `decoder` gives a step's logits (_Decoder here, the standalone decoder's in causal.py)."""
    if spec.config.num_beams > 1:
        return _beam_search(decoder, prompts, spec)
    return (*_greedy_or_sample(decoder, prompts, spec), None)


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

def _greedy_or_sample(decoder, prompts: torch.Tensor, spec: SearchSpec):
    config, processors, eos = spec.config, spec.processors, spec.eos
    copies = config.num_return_sequences if config.do_sample else 1
    B, P = len(prompts) * copies, prompts.shape[1]
    out = prompts.new_full((B, spec.max_length), spec.pad)  # (B, L) the answer, rows written as they finish
    seqs = out.clone()  # (A, L) the rows still decoding
    seqs[:, :P] = prompts.repeat_interleave(copies, 0)
    rows = torch.arange(B, device=prompts.device)  # (A,) row of `out` for each live row
    all_scores = [] if config.output_scores else None
    # greedy, with no scores to return and only masking processors: the tokens without the logits
    tokens_only = not config.do_sample and all_scores is None and decoder.head is not None and \
        all(getattr(processor, "masks_only", False) for processor in processors)
    t = P
    while t < spec.max_length:
        history = seqs[:, :t]  # (A, t)
        if tokens_only:
            tokens = decoder.greedy_tokens(history, processors)  # (A,)
        else:
            logits = _first_step(decoder, prompts, copies) if t == P else decoder.step(history)  # (A, V)
            scores = apply_processors(processors, history, logits)
            if all_scores is not None:
                all_scores.append(_full_rows(scores, rows, B))
            if config.do_sample:
                tokens = torch.multinomial(scores.softmax(-1), 1, generator=spec.generator).squeeze(1)  # (A,)
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


@dataclass
class BeamState:
    """Beam search's state for the A inputs still decoding: nb running beams and the nb best finished hypotheses
    of each input (transformers' running_* and *_beam_* tensors)."""

    inputs: torch.Tensor  # (A,) original index of each live input
    running: torch.Tensor  # (A, nb, L) tokens of the running beams
    running_scores: torch.Tensor  # (A, nb) their summed log-probs
    finished: torch.Tensor  # (A, nb, L) best finished hypotheses, by score
    finished_scores: torch.Tensor  # (A, nb) length-penalized
    finished_flags: torch.Tensor  # (A, nb) slot holds a real hypothesis
    finished_lengths: torch.Tensor  # (A, nb) its generated tokens
    improvable: torch.Tensor  # (A, 1) can a running beam still beat the worst finished one?

    @classmethod
    def start(cls, prompts: torch.Tensor, nb: int, max_length: int, pad: int) -> BeamState:
        """All inputs live, each with nb copies of its (P,) prompt; only the first may expand at step one."""
        B, P = prompts.shape
        device = prompts.device
        running = prompts.new_full((B, nb, max_length), pad)
        running[:, :, :P] = prompts[:, None]
        running_scores = torch.zeros(B, nb, device=device)
        running_scores[:, 1:] = NEG  # all beams start equal: one is enough
        return cls(inputs=torch.arange(B, device=device), running=running, running_scores=running_scores,
                   finished=running.clone(), finished_scores=torch.full((B, nb), NEG, device=device),
                   finished_flags=torch.zeros(B, nb, dtype=torch.bool, device=device),
                   finished_lengths=torch.zeros(B, nb, dtype=torch.long, device=device),
                   improvable=torch.ones(B, 1, dtype=torch.bool, device=device))

    def select(self, live: torch.Tensor) -> None:
        """Keep the inputs `live` (indices among the live ones), in that order."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name)[live])

    def keep_running(self, candidates: torch.Tensor, scores: torch.Tensor, stops: torch.Tensor,
                     source_beam: torch.Tensor) -> torch.Tensor:
        """The best nb of the (A, K) candidates that did not stop run on; returns (A, nb) the beam each continues."""
        live_scores = scores + stops.to(torch.float32) * NEG
        keep = live_scores.topk(self.running.shape[1]).indices  # (A, nb)
        self.running = _gather(candidates, keep)
        self.running_scores = _gather(live_scores, keep)
        return _gather(source_beam, keep)

    def add_finished(self, candidates: torch.Tensor, scores: torch.Tensor, stopped: torch.Tensor, length: int,
                     early: bool | str) -> None:
        """The (A, K) candidates that `stopped`, with length-penalized `scores`, compete for the finished slots;
        none enter an input that cannot improve, or that is full under early_stopping=True."""
        scores = scores + (self.finished_flags.all(-1, keepdim=True) & (early is True)).to(torch.float32) * NEG
        scores += (~self.improvable).to(torch.float32) * NEG
        scores += (~stopped) * NEG
        merged = torch.cat((self.finished_scores, scores), dim=1)  # (A, nb + K)
        best = merged.topk(self.finished.shape[1]).indices  # (A, nb)
        self.finished = _gather(torch.cat((self.finished, candidates), dim=1), best)
        self.finished_scores = _gather(merged, best)
        self.finished_flags = _gather(torch.cat((self.finished_flags, stopped), dim=1), best)
        lengths = torch.full_like(stopped, length, dtype=torch.long)
        self.finished_lengths = _gather(torch.cat((self.finished_lengths, lengths), dim=1), best)

    def done(self, best_divisor: float, early: bool | str) -> torch.Tensor:
        """(A,) inputs whose search is over. transformers' early-stop heuristic: the best running beam, its score
        divided by `best_divisor` (its best possible length penalty), can no longer beat the worst finished one;
        or, with early_stopping=True, nb hypotheses have finished."""
        best_running = self.running_scores[:, :1] / best_divisor
        worst_finished = torch.where(self.finished_flags, self.finished_scores.min(1, keepdim=True).values, NEG)
        self.improvable = self.improvable & (best_running > worst_finished).any(-1, keepdim=True)
        return ~self.improvable.squeeze(1) | (self.finished_flags.all(-1) & (early is True))


@dataclass
class _BeamAnswer:
    """The best `n` finished hypotheses of each original input, written as its search ends."""

    sequences: torch.Tensor  # (B, n, L)
    scores: torch.Tensor  # (B, n)
    lengths: torch.Tensor  # (B, n) generated tokens

    def write(self, state: BeamState, which: torch.Tensor) -> None:
        """Inputs `which` (indices among the live ones) are done."""
        n, rows = self.scores.shape[1], state.inputs[which]
        self.sequences[rows] = state.finished[which, :n]
        self.scores[rows] = state.finished_scores[which, :n]
        self.lengths[rows] = state.finished_lengths[which, :n]


def _beam_search(decoder, prompts: torch.Tensor, spec: SearchSpec):
    # lengths count generated tokens: an encoder-decoder's prompt is its start token (P = 1)
    config, eos, max_length = spec.config, spec.eos, spec.max_length
    (B, P), nb, n_return = prompts.shape, config.num_beams, config.num_return_sequences
    # transformers fills with `pad_token_id or eos_token_id[0]`: a pad id 0 counts as none
    pad = int(eos[0]) if spec.pad == 0 and len(eos) else spec.pad
    alpha, style, early = config.length_penalty, config.length_penalty_style, config.early_stopping
    K = max(2, 1 + len(eos)) * nb  # enough candidates that nb of them can go on after EOS
    device = prompts.device
    top_nb = torch.arange(K, device=device) < nb  # (K,) only these may enter the finished set

    state = BeamState.start(prompts, nb, max_length, pad)
    answer = _BeamAnswer(prompts.new_full((B, n_return, max_length), pad), torch.zeros(B, n_return, device=device),
                         torch.zeros(B, n_return, dtype=torch.long, device=device))
    all_scores = [] if config.output_scores else None
    t = P
    while True:
        A = len(state.inputs)
        history = state.running.view(A * nb, max_length)[:, :t]  # (R, t)
        logits = _first_step(decoder, prompts, nb, together=True) if t == P else decoder.step(history)  # (R, V)
        V = logits.shape[-1]
        log_probs = apply_processors(spec.processors, history, F.log_softmax(logits, dim=-1))  # (R, V)
        if all_scores is not None:
            score_rows = (state.inputs[:, None] * nb + torch.arange(nb, device=device)).flatten()  # (R,) among B x nb
            all_scores.append(_full_rows(log_probs.clone(), score_rows, B * nb))
        totals = log_probs.view(A, nb, V).add_(state.running_scores[:, :, None]).view(A, nb * V)  # (A, nb x V)

        # (A, K) best continuations over all beams of an input (or sampled without replacement)
        if config.do_sample:
            picked = torch.multinomial(totals.softmax(-1), K, generator=spec.generator)
            top_scores = totals.gather(1, picked)
        else:
            top_scores, picked = block_topk(totals, K, TOPK_BLOCK)
        source_beam, tokens = picked // V, picked % V  # (A, K)
        candidates = _gather(state.running, source_beam)  # (A, K, L)
        candidates[:, :, t] = tokens
        stops = torch.isin(tokens, eos) if len(eos) else torch.zeros_like(tokens, dtype=torch.bool)
        if t + 1 >= max_length:
            stops = torch.ones_like(stops)  # the length limit stops every candidate

        beam_rows = state.keep_running(candidates, top_scores, stops, source_beam)  # (A, nb)
        state.add_finished(candidates, top_scores / length_penalty(t - P + 1, alpha, style), stops & top_nb,
                           t - P + 1, early)
        t += 1
        if bool(stops.all()):
            break

        best_length = max_length - P if early == "never" and alpha > 0.0 else t - P
        done = state.done(length_penalty(best_length, alpha, style), early)  # (A,)
        rows = beam_rows + torch.arange(A, device=device)[:, None] * nb  # (A, nb) cache rows to continue
        if bool(done.any()):
            answer.write(state, done)
            live = (~done).nonzero().squeeze(1)
            if len(live) == 0:
                break
            state.select(live)
            decoder.select(rows[live].flatten(), inputs=live)
        else:
            decoder.select(rows.flatten())
    if len(state.inputs):
        answer.write(state, torch.arange(len(state.inputs), device=device))

    length = P + int(answer.lengths.max())  # as transformers: the longest returned hypothesis sets the width
    sequences = answer.sequences.view(B * n_return, max_length)[:, :length]
    scores = tuple(all_scores) if all_scores is not None else None
    return sequences, scores, answer.scores.view(B * n_return)
