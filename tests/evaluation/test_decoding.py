"""evaluate(): the batching / decoding / scoring loop, with a real tokenizer and a test double for the model
whose generate() copies its input (so every expected prediction is known); the metrics themselves are
tested against their references in test_metrics.py."""

import math
from types import SimpleNamespace

import datasets
import pytest
import torch
from torch import nn

from bertgen.evaluation import metrics
from bertgen.evaluation.diagnostics import collapse_diagnostics
from bertgen.data import load_task
from bertgen.data.corpora import brown
from bertgen.evaluation import (breakdown, encoder_spread, evaluate, score, token_identity, tokenizer_round_trip,
                                weights_moved)


class CopyModel(nn.Module):
    """generate() returns the input ids: a copy "model" whose outputs are the round-tripped sources."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = []

    def generate(self, input_ids, attention_mask=None, **kwargs):
        assert not torch.is_grad_enabled() and not self.training
        self.calls.append((input_ids.shape, kwargs))
        return input_ids.masked_fill(attention_mask == 0, 0)


@pytest.fixture
def test_split(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    return load_task("brown-fusion", split="test", data_dir=brown.SAMPLE_DIR)["test"]


def test_evaluate_batches_decodes_and_scores(tok, test_split):
    model = CopyModel().train()
    scores, results = evaluate(model, tok, test_split, "brown-fusion", batch_size=8, max_source_length=256,
                               num_beams=4, max_new_tokens=64)
    assert model.training  # restored
    assert len(model.calls) == -(-len(test_split) // 8)
    assert all(kwargs == {"num_beams": 4, "max_new_tokens": 64} for _, kwargs in model.calls)
    # the results are in dataset order and hold what was scored
    sources = tokenizer_round_trip(tok, test_split["source"])
    assert results["source"].tolist() == sources
    assert results["prediction"].tolist() == sources  # the copy model returns its input
    assert results["target"].tolist() == tokenizer_round_trip(tok, test_split["target"])
    assert results["rule"].tolist() == test_split["rule"]
    assert scores == pytest.approx({"exact": metrics.exact_match(sources, results["target"].tolist()),
                                    "sari": metrics.sari(sources, sources, results["target"].tolist()),
                                    **collapse_diagnostics(sources, sources)})
    assert 0 < scores["sari"] < 100 and scores["exact"] == 0
    assert scores["distinct"] == 100.0 and scores["input_dependence"] > 0.5  # copying reads its input


def test_evaluate_without_round_trip_scores_raw_text(tok, test_split):
    _, results = evaluate(CopyModel(), tok, test_split, "brown-fusion", round_trip=False)
    assert results["target"].tolist() == test_split["target"]


def test_breakdown_by_rule(tok, test_split):
    _, results = evaluate(CopyModel(), tok, test_split, "brown-fusion")
    table = breakdown(results, "brown-fusion", by="rule")
    assert set(table.index) == set(test_split["rule"])
    assert table["examples"].sum() == len(test_split) and set(table.columns) == {"examples", "exact", "sari"}
    with pytest.raises(ValueError, match="no 'genre' column"):
        breakdown(results, "brown-fusion", by="genre")


def test_score_uses_the_task_metrics():
    assert set(score("xsum", ["a b"], ["a b"], ["a b"])) == {"rouge1", "rouge2", "rougeL"}
    assert set(score("wmt14-de-en", ["x"], ["a b c d"], ["a b c d"])) == {"bleu", "bleu_uncased"}


def test_evaluating_nothing_is_an_error(tok, test_split):
    with pytest.raises(ValueError, match="empty"):
        evaluate(CopyModel(), tok, test_split.select([]), "brown-fusion")


class LookupEncoder(nn.Module):
    """An "encoder" whose output for a token is a fixed vector per id: the spread is computable by hand."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(table)

    def get_encoder(self):
        return self

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(last_hidden_state=self.table[input_ids])


def test_encoder_spread_counts_every_source_token_and_no_padding():
    table = torch.tensor([[100.0, -50.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])  # id 0 (padding) is far away
    sources = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [1]]})
    tokens = table[[1, 2, 3, 1]].double()
    expected = math.sqrt(1 - tokens.mean(0).square().sum() / tokens.square().sum(1).mean())
    for batch_size in (1, 2):  # padding appears only when both sources share a batch
        assert encoder_spread(LookupEncoder(table), sources, pad_token_id=0, batch_size=batch_size) == \
            pytest.approx(expected, rel=1e-12)
    one_vector = datasets.Dataset.from_dict({"input_ids": [[1, 1], [1]]})
    assert encoder_spread(LookupEncoder(table), one_vector, pad_token_id=0) == 0.0


def test_encoder_spread_needs_source_tokens():
    with pytest.raises(ValueError, match="needs source tokens, got 0 examples"):
        encoder_spread(LookupEncoder(torch.eye(2)), datasets.Dataset.from_dict({"input_ids": []}), pad_token_id=0)


def test_token_identity_reads_back_distinct_outputs_and_not_outputs_shared_by_several_tokens():
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(50, 64, generator=generator)  # id 0 is padding
    ids = torch.randint(1, 50, (40, 12), generator=generator).tolist()
    sources = datasets.Dataset.from_dict({"input_ids": ids})
    tokens, read = token_identity(LookupEncoder(table), sources, pad_token_id=0)
    assert tokens.tolist() == [token for source in ids[20:] for token in source]  # the second half, in order
    fitted = {token for source in ids[:20] for token in source}
    assert all(read[i] == (token in fitted) for i, token in enumerate(tokens.tolist()))  # each seen id read back
    blurred = table.clone()
    blurred[10:20] = blurred[10]  # ten ids share one output, as a context that swamps the token would make them
    tokens, read = token_identity(LookupEncoder(blurred), sources, pad_token_id=0)
    shared = (tokens >= 10) & (tokens < 20)
    assert read[~shared & torch.tensor([t in fitted for t in tokens.tolist()])].all()
    assert read[shared].float().mean() < 0.3  # one answer for ten ids
    with pytest.raises(ValueError, match="needs 2 or more examples"):
        token_identity(LookupEncoder(table), sources.select([0]), pad_token_id=0)


def test_weights_moved_is_the_relative_distance_over_all_parameters_and_refuses_other_modules():
    start = {"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([[4.0]])}  # ||start|| = 5
    assert weights_moved(start, start) == 0.0
    assert weights_moved(start, {"a": torch.tensor([3.0, 1.0]), "b": torch.tensor([[4.0]])}) == pytest.approx(20.0)
    assert weights_moved(start, {k: 1.5 * v for k, v in start.items()}) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="differ in their names, e.g. \\['c'\\]"):
        weights_moved(start, {"a": start["a"], "c": start["b"]} | {"b": start["b"]})
    with pytest.raises(ValueError, match="b is \\(1, 1\\) at the start and \\(1,\\) at the end"):
        weights_moved(start, {"a": start["a"], "b": torch.tensor([4.0])})
