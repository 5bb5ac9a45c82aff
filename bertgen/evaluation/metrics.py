"""The paper's metrics: SARI, exact match, BLEU (sacrebleu), ROUGE (rouge-score). All return 0-100.

`references` is either one string per example or a list of strings per example (several references).
Lengths must match and inputs must be non-empty; anything else is a ValueError that says which argument.

SARI follows the tensor2tensor / HF-evaluate definition (Xu et al. 2016 as fixed there): sentences are
lowercased and 13a-tokenized, n-grams of order 1-4 are counted with the source and prediction counts
multiplied by the number of references, keep is an F1 whose recall uses reference counts, delete is
precision only, add is an F1 over n-gram sets, and 0/0 counts as 1 (a perfect copy of a reference scores high).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

References = Sequence[str | Sequence[str]]

_TOKENIZE_13A = Tokenizer13a()


def _as_lists(references: References) -> list[list[str]]:
    """One list of references per example, whatever form they came in."""
    out = []
    for i, refs in enumerate(references):
        if not isinstance(refs, (str, list, tuple)):
            raise TypeError(f"references[{i}] is {type(refs).__name__} ({refs!r:.40}); each reference is a str or a "
                            "list of str (several references)")
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs:
            raise ValueError(f"references[{i}] is an empty list: every example needs at least one reference")
        for j, ref in enumerate(refs):
            if not isinstance(ref, str):
                raise TypeError(f"references[{i}][{j}] is {type(ref).__name__} ({ref!r:.40}), not a str; drop the "
                                "example or give it a reference")
        out.append(refs)
    return out


def _check(predictions: Sequence[str], **others: Sequence) -> None:
    if isinstance(predictions, str):
        raise ValueError("predictions must be a list of strings, not one string")
    if len(predictions) == 0:
        raise ValueError("predictions is empty: there is nothing to score")
    for name, seq in others.items():
        if isinstance(seq, str):
            raise ValueError(f"{name} must be a list, not one string")
        if len(seq) != len(predictions):
            raise ValueError(f"{name} has {len(seq)} entries but predictions has {len(predictions)}: "
                             "pass one entry per prediction")
    for name, seq in {"predictions": predictions, **others}.items():
        if name == "references":
            continue  # _as_lists checks each reference
        for i, item in enumerate(seq):
            if not isinstance(item, str):
                raise TypeError(f"{name}[{i}] is {type(item).__name__} ({item!r:.40}), not a str")


# ---------------------------------------------------------------------------------------------- SARI

def _ngrams(tokens: list[str], n: int) -> list[str]:
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _sari_ngram(source: list[str], prediction: list[str], references: list[list[str]]) -> tuple[float, float, float]:
    """Keep F1, delete precision and add F1 for one n-gram order."""
    num_refs = len(references)
    ref_counts = Counter(g for ref in references for g in ref)
    # Source and prediction counts are scaled by the number of references so they compare with the
    # pooled reference counts.
    src_rep = Counter({g: c * num_refs for g, c in Counter(source).items()})
    pred_rep = Counter({g: c * num_refs for g, c in Counter(prediction).items()})

    kept = src_rep & pred_rep
    kept_good = kept & ref_counts
    kept_all = src_rep & ref_counts
    keep_p = sum(kept_good[g] / kept[g] for g in kept) / len(kept) if kept else 1.0
    keep_r = sum(kept_good.values()) / sum(kept_all.values()) if kept_all else 1.0
    keep = 2 * keep_p * keep_r / (keep_p + keep_r) if keep_p + keep_r > 0 else 0.0

    deleted = src_rep - pred_rep
    deleted_good = deleted - ref_counts
    delete_p = sum(deleted_good[g] / deleted[g] for g in deleted) / len(deleted) if deleted else 1.0

    added = set(pred_rep) - set(src_rep)
    added_good = added & set(ref_counts)
    added_all = set(ref_counts) - set(src_rep)
    add_p = len(added_good) / len(added) if added else 1.0
    add_r = len(added_good) / len(added_all) if added_all else 1.0
    add = 2 * add_p * add_r / (add_p + add_r) if add_p + add_r > 0 else 0.0
    return keep, delete_p, add


def _normalize(sentence: str) -> list[str]:
    # split(" ") and not split(): the reference implementation keeps the empty token of an empty string.
    return _TOKENIZE_13A(sentence.lower()).split(" ")


def sari_operations(source: str, prediction: str, references: Sequence[str]) -> tuple[float, float, float]:
    """SARI's three operation scores for one example, each in [0, 1] and the mean over n = 1..4: keep F1 (the
    source n-grams the output keeps, against those the references keep), delete precision (of the source n-grams the
    output drops, the share the references drop too) and add F1 (the output's n-grams not in the source, against the
    references'). SARI is their mean; apart, they say which operation a system gets wrong."""
    src, pred = _normalize(source), _normalize(prediction)
    refs = [_normalize(r) for r in references]
    scores = [_sari_ngram(_ngrams(src, n), _ngrams(pred, n), [_ngrams(r, n) for r in refs]) for n in range(1, 5)]
    keep, delete, add = (sum(s[k] for s in scores) / 4 for k in range(3))
    return keep, delete, add


def sari_sentence(source: str, prediction: str, references: Sequence[str]) -> float:
    """SARI of one example in [0, 1] (the mean over n = 1..4 of (keep + delete + add) / 3)."""
    return sum(sari_operations(source, prediction, references)) / 3


def sari(sources: Sequence[str], predictions: Sequence[str], references: References) -> float:
    """Mean sentence SARI, 0-100."""
    _check(predictions, sources=sources, references=references)
    refs = _as_lists(references)
    return 100 * sum(sari_sentence(s, p, r) for s, p, r in zip(sources, predictions, refs)) / len(predictions)


# ------------------------------------------------------------------------------ exact, BLEU, ROUGE

def exact_match(predictions: Sequence[str], references: References) -> float:
    """Percentage of predictions equal to one of their references (surrounding whitespace ignored)."""
    _check(predictions, references=references)
    refs = _as_lists(references)
    hits = sum(p.strip() in {r.strip() for r in rs} for p, rs in zip(predictions, refs))
    return 100 * hits / len(predictions)


def bleu(predictions: Sequence[str], references: References, lowercase: bool = False) -> float:
    """sacrebleu corpus BLEU with its standard settings (13a tokenization, exp smoothing).

    `lowercase=True` gives uncased BLEU, the number the paper reports for WMT14.
    """
    _check(predictions, references=references)
    refs = _as_lists(references)
    counts = {len(r) for r in refs}
    if len(counts) > 1:
        raise ValueError(f"bleu needs the same number of references for every example, got {sorted(counts)}")
    streams = [list(stream) for stream in zip(*refs)]  # sacrebleu wants one stream per reference position
    return sacrebleu.corpus_bleu(list(predictions), streams, lowercase=lowercase).score


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge(predictions: Sequence[str], references: References) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 over examples (rouge-score, Porter stemming); with several references the
    best-scoring one counts, as rouge-score's `score_multi` does."""
    _check(predictions, references=references)
    refs = _as_lists(references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for pred, rs in zip(predictions, refs):
        scores = scorer.score_multi(rs, pred)
        for key in ROUGE_TYPES:
            totals[key] += scores[key].fmeasure
    return {key: 100 * total / len(predictions) for key, total in totals.items()}
