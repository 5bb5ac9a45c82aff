"""Evaluate a model on a task: generate in batches, decode, and score with the task's metrics.

An uncased tokenizer cannot produce capitals, and every WordPiece tokenizer respaces punctuation, so by
default the sources and references are scored as the tokenizer would write them back (encode, then
decode): the score then measures the model, not the tokenizer's normalization. Pass `round_trip=False`
to score against the raw text.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from bertgen.evaluation import metrics
from bertgen.data.collate import encode_sources
from bertgen.data.registry import Task, get_task
from bertgen.evaluation.diagnostics import collapse_diagnostics
from bertgen.tokenization.pair import source_tokenizer, target_tokenizer

_METRICS: dict[str, Callable[[Sequence[str], Sequence[str], Sequence], dict[str, float]]] = {
    "exact": lambda s, p, r: {"exact": metrics.exact_match(p, r)},
    "sari": lambda s, p, r: {"sari": metrics.sari(s, p, r)},
    "bleu": lambda s, p, r: {"bleu": metrics.bleu(p, r)},
    "bleu_uncased": lambda s, p, r: {"bleu_uncased": metrics.bleu(p, r, lowercase=True)},
    "rouge": lambda s, p, r: metrics.rouge(p, r),
}


def _task(task: str | Task) -> Task:
    return get_task(task) if isinstance(task, str) else task


def score(task: str | Task, sources: Sequence[str], predictions: Sequence[str],
          references: Sequence) -> dict[str, float]:
    """The task's metrics (e.g. exact + sari for fusion, rouge1/2/L for summarization), 0-100 each."""
    out = {}
    for name in _task(task).metrics:
        out.update(_METRICS[name](list(sources), list(predictions), list(references)))
    return out


def breakdown(results: pd.DataFrame, task: str | Task, by: str = "rule") -> pd.DataFrame:
    """Metrics per value of a column of `evaluate`'s DataFrame, e.g. per fusion rule, with the count."""
    if by not in results.columns:
        raise ValueError(f"the results have no {by!r} column (they have {', '.join(results.columns)})")
    rows = {key: {"examples": len(g), **score(task, g["source"], g["prediction"], g["target"])}
            for key, g in results.groupby(by)}
    return pd.DataFrame(rows).T


def tokenizer_round_trip(tokenizer, texts: Sequence[str]) -> list[str]:
    """The texts as the tokenizer writes them back: what a model using it can produce at best."""
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return tokenizer.batch_decode(ids, skip_special_tokens=True)


def _device(model) -> torch.device:
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return param.device if param is not None else torch.device("cpu")


def evaluate(model, tokenizer, dataset, task: str | Task, batch_size: int = 32, max_source_length: int = 128,
             round_trip: bool = True, source_special_tokens: bool = False, progress: bool = True,
             **generate_kwargs) -> tuple[dict[str, float], pd.DataFrame]:
    """Generate for every example of `dataset` (one split, with `source` and `target` or `references`),
    and return (the task's metrics with the collapse diagnostics `distinct` and `input_dependence` of
    bertgen.evaluation.diagnostics, a DataFrame with one row per example).

    Examples are batched longest first, so batches hold similar lengths and an out-of-memory error comes
    at once rather than at the end; the DataFrame is in the dataset's order. Its `source` and `target`
    columns hold the text as scored (see `round_trip` in the module docstring), `prediction` the decoded
    output, and columns such as `rule` are carried over for `breakdown`.
    """
    if len(dataset) == 0:
        raise ValueError("the dataset to evaluate is empty")
    sources = list(dataset["source"])
    references = list(dataset["references"] if "references" in dataset.column_names else dataset["target"])
    order = sorted(range(len(sources)), key=lambda i: -len(sources[i]))
    predictions: list[str] = [""] * len(sources)
    device = _device(model)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), batch_size), desc="generating", unit="batch", disable=not progress):
                idx = order[start:start + batch_size]
                enc = encode_sources(tokenizer, [sources[i] for i in idx], max_source_length, source_special_tokens)
                ids = model.generate(enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device),
                                     **generate_kwargs)
                for i, text in zip(idx, tokenizer.batch_decode(ids, skip_special_tokens=True)):
                    predictions[i] = text.strip()
    finally:
        if was_training:
            model.train()
    if round_trip:
        sources = tokenizer_round_trip(source_tokenizer(tokenizer), sources)
        flat = [r for refs in references for r in ([refs] if isinstance(refs, str) else refs)]
        decoded = iter(tokenizer_round_trip(target_tokenizer(tokenizer), flat))
        references = [next(decoded) if isinstance(refs, str) else [next(decoded) for _ in refs] for refs in references]
    results = pd.DataFrame({"source": sources, "target": references, "prediction": predictions})
    for column in dataset.column_names:
        if column not in ("source", "target", "references"):
            results[column] = dataset[column]
    metrics = score(task, sources, predictions, references)
    if len(sources) > 1:
        metrics.update(collapse_diagnostics(sources, predictions))
    return metrics, results
