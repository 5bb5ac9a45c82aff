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


def _encoder_outputs(model: torch.nn.Module, dataset, pad_token_id: int, batch_size: int, caller: str):
    """The encoder's top-layer output for every non-padding source token of a tokenized dataset (`input_ids`), in
    order, a batch at a time: (hidden (n, D) float64, token ids (n,))."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    if not lengths or min(lengths) == 0:
        raise ValueError(f"{caller}: needs source tokens, got {len(lengths)} examples"
                         + (" with an empty input_ids" if lengths else ""))
    encoder = model.get_encoder()
    device = next(encoder.parameters()).device
    collate = Seq2SeqCollator(pad_token_id)
    for start in range(0, len(dataset), batch_size):
        batch = collate([{"input_ids": ids, "labels": []} for ids in dataset[start:start + batch_size]["input_ids"]])
        mask = batch["attention_mask"].to(device).bool()
        input_ids = batch["input_ids"].to(device)
        hidden = encoder(input_ids=input_ids, attention_mask=mask.long())
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden.last_hidden_state  # either return_dict
        yield hidden[mask].double().cpu(), input_ids[mask].cpu()  # padding left out


@torch.no_grad()
def encoder_spread(model: torch.nn.Module, dataset, pad_token_id: int, batch_size: int = 32) -> float:
    """How much the encoder's outputs differ between tokens, 0-1: sqrt(1 - |mean h|^2 / mean |h|^2) over every
    non-padding source token h of a tokenized dataset (`input_ids`); its square is the share of the outputs'
    mean square that is not one vector shared by all tokens. A pretrained encoder scores near 1; an encoder that
    training has collapsed to one output for every token of every input scores 0, and no decoder can read it
    (above). A high spread is necessary for a readable encoder, not sufficient: outputs that
    depend only on a token's position also spread."""
    total = total_square = 0.0
    count = 0
    for tokens, _ in _encoder_outputs(model, dataset, pad_token_id, batch_size, "encoder_spread"):
        total = total + tokens.sum(0)
        total_square = total_square + tokens.square().sum()
        count += tokens.shape[0]
    mean_square = total_square / count
    if mean_square == 0:
        return 0.0  # every output is the zero vector
    mean = total / count
    return float((1.0 - mean.square().sum() / mean_square).clamp(min=0.0).sqrt())


@torch.no_grad()
def token_identity(model: torch.nn.Module, dataset, pad_token_id: int, batch_size: int = 32, ridge: float = 1e-3,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Can each source token's identity be read back from the encoder's output for it, as copying it needs? A
    linear probe: the first half of the examples fits a least-squares map from each output (and a bias) to a
    random vector for its token id; on the second half, a token counts as read when the mapped output is nearest
    (cosine) its own id's vector among the ids the first half holds. Returns the second half's token ids and
    whether each was read (False for an id the first half never saw), so a caller can split them (by word, by
    frequency). A trained random encoder or the embeddings alone read back nearly every token; outputs that mix a
    token with its context lose the rare ones first."""
    if len(dataset) < 2:
        raise ValueError(f"token_identity: needs 2 or more examples to fit on one half and test on the other, "
                         f"got {len(dataset)}")
    half = len(dataset) // 2
    fit = list(_encoder_outputs(model, dataset.select(range(half)), pad_token_id, batch_size, "token_identity"))
    test = list(_encoder_outputs(model, dataset.select(range(half, len(dataset))), pad_token_id, batch_size,
                                 "token_identity"))
    fit_hidden, fit_ids = torch.cat([h for h, _ in fit]), torch.cat([i for _, i in fit])
    test_hidden, test_ids = torch.cat([h for h, _ in test]), torch.cat([i for _, i in test])
    seen = fit_ids.unique()  # (k,) sorted
    generator = torch.Generator().manual_seed(seed)
    targets = torch.nn.functional.normalize(torch.randn(len(seen), fit_hidden.shape[1], generator=generator,
                                                        dtype=torch.float64), dim=1)  # (k, D)
    x = _with_bias(fit_hidden)  # (n, D + 1)
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ targets[torch.searchsorted(seen, fit_ids)])  # (D + 1, D)
    mapped = torch.nn.functional.normalize(_with_bias(test_hidden) @ weights, dim=1)  # (m, D)
    nearest = torch.cat([(chunk @ targets.T).argmax(dim=1) for chunk in mapped.split(2048)])  # (m,), in chunks
    return test_ids, seen[nearest] == test_ids


@torch.no_grad()  # parameters straight from a module: no graph for a measurement
def weights_moved(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor]) -> float:
    """How far training moved a module's weights, relative to where they started: ||end - start|| / ||start|| over
    all the parameters together, in %. A warm encoder that moved little kept more of its checkpoint."""
    if missing := sorted(set(start) ^ set(end)):
        raise ValueError(f"weights_moved: the two sets of weights differ in their names, e.g. {missing[:3]}; pass "
                         "the same module's parameters before and after training")
    if shapes := [name for name in start if start[name].shape != end[name].shape]:
        raise ValueError(f"weights_moved: {shapes[0]} is {tuple(start[shapes[0]].shape)} at the start and "
                         f"{tuple(end[shapes[0]].shape)} at the end; pass the same module's parameters")
    distance = sum(float((end[name].double() - weight.double()).pow(2).sum()) for name, weight in start.items())
    size = sum(float(weight.double().pow(2).sum()) for weight in start.values())
    if size == 0:
        raise ValueError("weights_moved: the starting weights are all 0, so no change is relative to them")
    return 100 * (distance / size) ** 0.5


def _with_bias(hidden: torch.Tensor) -> torch.Tensor:
    return torch.cat([hidden, torch.ones(len(hidden), 1, dtype=hidden.dtype)], dim=1)


class SourceReading:
    """A Trainer `evaluate=` callback, `(model, step) -> metrics`: does the decoder read its input? On a tokenized
    validation set (`input_ids`, `labels`) it returns the source gap (`val_source_gap`: the teacher-forced loss with
    each example's source swapped for the next one's, minus the loss with its own) and, for a model with an
    encoder, `val_encoder_spread`; once per run, past `after_step`, a gap below MIN_SOURCE_GAP raises a
    SourceIgnoredWarning that says which side failed and what to try (the Trainer logs it with the step)."""

    teacher_forced = True  # its passes are val_loss's kind: the Trainer runs them in its training precision

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
