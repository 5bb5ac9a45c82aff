"""The registry: document-level splits, deduplication, `fraction`, the on-disk cache and its errors."""
import collections

import pytest

from bertgen.data import SPLITS, load_task, registry

from bertgen.data.corpora import brown
from bertgen.data.registry import Task


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_split_of_is_stable_and_80_10_10():
    # fixed values: a change here reshuffles every offline task's splits
    assert [registry.split_of(d) for d in ("ca01", "cn05", "cp05", "cg41")] == ["test", "train", "validation", "test"]
    counts = collections.Counter(registry.split_of(f"doc{i}") for i in range(20_000))
    assert abs(counts["train"] / 20_000 - 0.8) < 0.01 and abs(counts["test"] / 20_000 - 0.1) < 0.01


def toy_task(rows):
    return Task("toy", "toy task", ("exact",), ("toy",), lambda roots: iter(rows), ("source", "target", "doc"))


def test_build_dedups_sources_and_keeps_documents_together(tmp_path):
    rows = [{"source": f"s{i}", "target": f"t{i}", "doc": f"d{i % 30}"} for i in range(300)]
    rows += [{"source": "s5", "target": "another target", "doc": "d99"}]  # a repeated source
    dsd = registry.build(toy_task(rows), {"toy": tmp_path})
    assert sum(len(ds) for ds in dsd.values()) == 300
    for split, ds in dsd.items():
        assert {registry.split_of(d) for d in ds["doc"]} <= {split}
    assert set(dsd) == set(SPLITS)


def test_build_with_nothing_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="toy corpus .* yields no examples"):
        registry.build(toy_task([]), {"toy": tmp_path})


def test_load_task_caches_on_disk_under_bertgen_home(home):
    first = load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)
    cached = list((home / "tasks").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("brown-fusion-")
    again = load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)
    assert list((home / "tasks").iterdir()) == cached
    assert again["train"]["source"] == first["train"]["source"]
    assert again["train"].cache_files  # memory-mapped arrow files, so `map` results can be cached too


def test_fraction_subsamples_train_only_and_is_seeded():
    full = load_task("brown-fusion", data_dir=brown.SAMPLE_DIR)
    half = load_task("brown-fusion", fraction=0.5, seed=1, data_dir=brown.SAMPLE_DIR)
    assert len(half["train"]) == round(len(full["train"]) / 2)
    assert len(half["test"]) == len(full["test"]) and len(half["validation"]) == len(full["validation"])
    assert set(half["train"]["source"]) < set(full["train"]["source"])
    same = load_task("brown-fusion", fraction=0.5, seed=1, data_dir=brown.SAMPLE_DIR)
    other = load_task("brown-fusion", fraction=0.5, seed=2, data_dir=brown.SAMPLE_DIR)
    assert same["train"]["source"] == half["train"]["source"] != other["train"]["source"]


def test_split_selects_one():
    dsd = load_task("brown-split", split="validation", data_dir=brown.SAMPLE_DIR)
    assert list(dsd) == ["validation"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(name="no-such-task"), ValueError, "unknown task 'no-such-task'; tasks: brown-fusion"),
    (dict(name="brown-fusion", split="dev"), ValueError, "unknown split 'dev'"),
    (dict(name="brown-fusion", fraction=0), ValueError, r"fraction must be in \(0, 1\]"),
    (dict(name="ding-en-de"), FileNotFoundError, "run `bertgen data fetch ding`"),
    (dict(name="bible-modern"), FileNotFoundError, "run `bertgen data fetch bible`"),
])
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_task(**kwargs)


def test_every_task_has_metrics_the_evaluator_knows():
    from bertgen.evaluation.decoding import _METRICS
    for task in registry.TASKS.values():
        assert task.metrics and set(task.metrics) <= set(_METRICS), task.name
