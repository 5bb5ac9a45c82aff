"""Collapse diagnostics: does a sequence-to-sequence model read its input?

A warm-started decoder is a strong language model before it has learnt to attend to the source. Trained on
too little data or for too few steps, it settles on the answers that are most likely *regardless of the
input* (transformers users report it again and again for bert2bert: "generates the same output regardless
of the input"). Task metrics hide it: a fusion model that answers one memorized sentence still gets some
SARI. Three numbers expose it:

- `distinct`: the share (0-100) of distinct outputs among the distinct inputs; a collapsed model has a
  handful of outputs for hundreds of inputs.
- `input_dependence`: how much more an output overlaps its own source than other examples' sources, in
  word overlap (the share of the output's word types found in a source, 0-1), averaged over examples.
  About 0 for a model that ignores its input; copying the input, or a reference, scores well above it.
- `source_gap`: during training, the teacher-forced validation loss with every example's source replaced
  by another example's, minus the loss with the right sources (nats per token). Near 0 while the decoder
  ignores the source; it opens up once cross-attention carries information. Cheap: no generation.
- `encoder_spread`: helps say which side failed when the gap stays shut. Near 1 for a
  pretrained encoder; near 0 when training has collapsed the *encoder* to one output vector for every token
  of every input, so there is nothing left for cross-attention to read. Measured on this project's fusion
  runs: bert2rnd seed 1 (gap 1e-7 from step 500 on) had spread 0.00, while a collapsed bert2bert (constant
  5e-4) kept 0.86 and runs that read their input 0.93-0.97.

The paper's recipe starts cross-attention at random, so every warm-started row has to learn it from scratch.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import torch


from bertgen.data.collate import Seq2SeqCollator
from bertgen.evaluation.losses import token_loss

MIN_SOURCE_GAP = 0.05  # nats per token: below it, validation says the decoder ignores its source
MIN_ENCODER_SPREAD = 0.2  # below it, the encoder's outputs barely differ between tokens or inputs
MIN_INPUT_DEPENDENCE = 0.2  # below it, a run has not learnt to read its input (issue 11's bar)
_WORD = re.compile(r"\w+")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def distinct_share(sources: Sequence[str], predictions: Sequence[str]) -> float:
    """Distinct outputs per distinct input, 0-100."""
    if not sources:
        raise ValueError("distinct_share: no examples")
    return 100.0 * min(1.0, len(set(predictions)) / len(set(sources)))


def input_dependence(sources: Sequence[str], predictions: Sequence[str], max_examples: int = 2000) -> float:
    """Mean over examples of overlap(output, own source) - mean overlap(output, each other source); overlap is
    the share of the output's word types found in the source. Needs two examples or more; the first
    `max_examples` are used (the comparison is quadratic)."""
    if len(sources) != len(predictions):
        raise ValueError(f"input_dependence: {len(sources)} sources but {len(predictions)} predictions")
    if len(sources) < 2:
        raise ValueError("input_dependence compares each output with other examples' sources: pass two or more")
    source_words = [_words(s) for s in sources[:max_examples]]
    total = 0.0
    for i, prediction in enumerate(predictions[:max_examples]):
        words = _words(prediction)
        if not words:
            continue  # an empty output overlaps nothing, its own source included: it scores 0
        overlaps = [len(words & s) / len(words) for s in source_words]
        own = overlaps[i]
        others = (sum(overlaps) - own) / (len(overlaps) - 1)
        total += own - others
    return total / len(source_words)


def collapse_diagnostics(sources: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    return {"distinct": distinct_share(sources, predictions),
            "input_dependence": input_dependence(sources, predictions)}


class SourceIgnoredWarning(UserWarning):
    """Validation shows the decoder predicting its targets as well from other examples' inputs."""


def collapsed(diagnostics: dict[str, float]) -> bool:
    """Issue 11's bar for a run that reads its input: distinct outputs for >= 90% of distinct inputs and an
    input dependence of at least 0.2."""
    return diagnostics["distinct"] < 90.0 or diagnostics["input_dependence"] < MIN_INPUT_DEPENDENCE


def ignoring_source_advice(gap: float, step: int, encoder_spread: float | None = None,
                           learning_rate: float | None = None) -> str:
    """What SourceReading's warning says: which side failed (by the encoder spread) and what to try."""
    gentler = ("a lower rate for the warm parts with the new ones kept at today's"
               + (f" (learning_rate={learning_rate / 3:.3g}, new_parameters_lr_multiplier=3)" if learning_rate else "")
               + ", which let fusion bert2rnd seeds that collapsed at 3e-4 read their input (experiments/RECIPE.md)")
    if encoder_spread is not None and encoder_spread < MIN_ENCODER_SPREAD:
        return (f"step {step}: the encoder has collapsed: its outputs are nearly one vector for every token of "
                f"every input (spread {encoder_spread:.3f}, a pretrained encoder's is near 1), so the decoder "
                f"has nothing to read (source gap {gap:.3f} nats/token). Try: {gentler}; a longer warmup; or "
                "another seed.")
    return (f"step {step}: the decoder ignores its input (validation loss with other examples' sources is only "
            f"{gap:.3f} nats/token above the loss with the right ones; it learns a language model of the targets). "
            "Try: more training pairs (the 100% column should be tens of thousands); more steps with early "
            f"stopping on val_loss; {gentler}; or (beyond the paper) warm_start(..., cross_attention='self').")


@torch.no_grad()
def encoder_spread(model: torch.nn.Module, dataset, pad_token_id: int, batch_size: int = 32) -> float:
    """How much the encoder's outputs differ between tokens, 0-1: sqrt(1 - |mean h|^2 / mean |h|^2) over every
    non-padding source token h of a tokenized dataset (`input_ids`); its square is the share of the outputs'
    mean square that is not one vector shared by all tokens. A pretrained encoder scores near 1; an encoder that
    training has collapsed to one output for every token of every input scores 0, and no decoder can read it
    (above). A high spread is necessary for a readable encoder, not sufficient: outputs that
    depend only on a token's position also spread."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    if not lengths or min(lengths) == 0:
        raise ValueError(f"encoder_spread: needs source tokens, got {len(lengths)} examples"
                         + (" with an empty input_ids" if lengths else ""))
    encoder = model.get_encoder()
    device = next(encoder.parameters()).device
    collate = Seq2SeqCollator(pad_token_id)
    total = total_square = 0.0
    count = 0
    for start in range(0, len(dataset), batch_size):
        batch = collate([{"input_ids": ids, "labels": []} for ids in dataset[start:start + batch_size]["input_ids"]])
        mask = batch["attention_mask"].to(device).bool()
        hidden = encoder(input_ids=batch["input_ids"].to(device), attention_mask=mask.long())
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden.last_hidden_state  # either return_dict
        tokens = hidden[mask].double()  # (n, D): padding left out
        total = total + tokens.sum(0)
        total_square = total_square + tokens.square().sum()
        count += tokens.shape[0]
    mean_square = total_square / count
    if mean_square == 0:
        return 0.0  # every output is the zero vector
    mean = total / count
    return float((1.0 - mean.square().sum() / mean_square).clamp(min=0.0).sqrt())


class SourceReading:
    """A Trainer `evaluate=` callback, `(model, step) -> metrics`: does the decoder read its input? On a tokenized
    validation set (`input_ids`, `labels`) it returns the source gap (`val_source_gap`: the teacher-forced loss with
    each example's source swapped for the next one's, minus the loss with its own) and, for a model with an
    encoder, `val_encoder_spread`; once per run, past `after_step`, a gap below MIN_SOURCE_GAP raises a
    SourceIgnoredWarning that says which side failed and what to try (the Trainer logs it with the step)."""

    def __init__(self, dataset, pad_token_id: int, batch_size: int = 32, after_step: int = 0,
                 learning_rate: float | None = None):
        self.dataset, self.pad_token_id, self.batch_size = dataset, pad_token_id, batch_size
        self.after_step, self.learning_rate = after_step, learning_rate
        self.warned = False

    def __call__(self, model: torch.nn.Module, step: int) -> dict[str, float]:
        if len(self.dataset) < 2:  # one example has no other source to swap in
            return {}
        own = token_loss(model, self.dataset, self.pad_token_id, self.batch_size)
        gap = token_loss(model, self.dataset, self.pad_token_id, self.batch_size, source_shift=1) - own
        metrics = {"val_source_gap": gap}
        if hasattr(model, "get_encoder"):  # which side failed, if the gap stays shut
            metrics["val_encoder_spread"] = encoder_spread(model, self.dataset, self.pad_token_id, self.batch_size)
        if gap < MIN_SOURCE_GAP and step >= self.after_step and not self.warned:
            self.warned = True
            warnings.warn(ignoring_source_advice(gap, step, metrics.get("val_encoder_spread"), self.learning_rate),
                          SourceIgnoredWarning, stacklevel=2)
        return metrics
