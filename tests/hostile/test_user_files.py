"""Tokenizer files, experiment configs and metric inputs as a careless or malicious user writes them."""
from __future__ import annotations

import json
import math
import os
import shutil

import pytest

from bertgen.evaluation import metrics
from bertgen.config import ConfigError
from bertgen.data.corpora import fetch
from bertgen.experiments.config import ExperimentConfig
from bertgen.pipelines import Text2TextGenerationPipeline
from bertgen.tokenization import load_tokenizer
from tests.hostile.helpers import snapshot
from tests.support.models import tiny_model
from tests.support.tokenizer_vocabs import MINILM

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "storm", "was", "over", "."]


@pytest.fixture()
def wordpiece(tmp_path):
    directory = tmp_path / "tok"
    directory.mkdir()
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return directory


# ------------------------------------------------------------------------------------------ tokenizer files

TOKENIZER_CASES = [
    ("pad-int", "tokenizer_config.json", {"pad_token": 5}, ValueError, "key 'pad_token' must be a token"),
    ("pad-content-int", "tokenizer_config.json", {"pad_token": {"content": 3}}, ValueError, "key 'pad_token'"),
    ("pad-empty", "tokenizer_config.json", {"pad_token": ""}, ValueError, "key 'pad_token' must be a token"),
    ("cls-list", "special_tokens_map.json", {"cls_token": ["[CLS]"]}, ValueError, "key 'cls_token' must be a token"),
    ("unk-bool", "special_tokens_map.json", {"unk_token": True}, ValueError, "key 'unk_token' must be a token"),
    ("max-length-string", "tokenizer_config.json", {"model_max_length": "512"}, ValueError,
     "key 'model_max_length' must be int, got str"),
    ("max-length-negative", "tokenizer_config.json", {"model_max_length": -1}, ValueError,
     "key 'model_max_length' must be a positive int, got -1"),
    ("max-length-zero", "tokenizer_config.json", {"model_max_length": 0}, ValueError, "must be a positive int"),
    ("max-length-float", "tokenizer_config.json", {"model_max_length": 512.5}, ValueError, "must be int, got float"),
    ("max-length-bool", "tokenizer_config.json", {"model_max_length": True}, ValueError, "must be int, got bool"),
    ("lower-case-string", "tokenizer_config.json", {"do_lower_case": "yes"}, ValueError,
     "key 'do_lower_case' must be bool, got str"),
    ("strip-accents-int", "tokenizer_config.json", {"strip_accents": 1}, ValueError, "key 'strip_accents' must be bool"),
    ("chinese-chars-null-string", "tokenizer_config.json", {"tokenize_chinese_chars": "false"}, ValueError,
     "key 'tokenize_chinese_chars' must be bool"),
    ("class-int", "tokenizer_config.json", {"tokenizer_class": 7}, ValueError, "key 'tokenizer_class' must be str"),
    ("pad-not-in-vocab", "tokenizer_config.json", {"pad_token": "<pad>"}, ValueError,
     "pad_token='<pad>' not in the vocabulary"),
    ("deep", "tokenizer_config.json", {"added_tokens_decoder": json.loads("[" * 40 + "]" * 40)}, ConfigError,
     "levels deep"),
]


@pytest.mark.parametrize("name, data, error, fragment", [c[1:] for c in TOKENIZER_CASES],
                         ids=[c[0] for c in TOKENIZER_CASES])
def test_tokenizer_config(wordpiece, name, data, error, fragment):
    (wordpiece / name).write_text(json.dumps(data), encoding="utf-8")
    before = snapshot(wordpiece)
    with pytest.raises(error) as info:
        load_tokenizer(wordpiece)
    assert fragment in str(info.value)
    if "vocabulary" not in fragment:
        assert name in str(info.value)  # names the file
    assert snapshot(wordpiece) == before


@pytest.mark.parametrize("raw, fragment", [(b"[1, 2]", "expected a JSON object"), (b"\xff\xfe{", "not valid JSON"),
                                           (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper")],
                         ids=["list", "not-utf8", "recursion-bomb"])
def test_tokenizer_config_bytes(wordpiece, raw, fragment):
    (wordpiece / "tokenizer_config.json").write_bytes(raw)
    with pytest.raises(ConfigError, match=fragment):
        load_tokenizer(wordpiece)


def test_a_tokenizer_of_another_model_is_refused_when_paired():
    with pytest.raises(ValueError, match=r"has 30522 tokens but the model's encoder vocabulary only 99: they belong "
                                         r"to different checkpoints"):
        Text2TextGenerationPipeline(tiny_model(), load_tokenizer(MINILM))


# --------------------------------------------------------------------------------------- experiment configs

BASE_TOML = 'task = "brown-fusion"\nscheme = "bert2bert"\n'
EXPERIMENT_CASES = [
    ("name-dotdot", 'name = "../../x"', [], "name '../../x' must be a plain name"),
    ("name-slash", 'name = "a/b"', [], "name 'a/b' must be a plain name"),
    ("name-dots", 'name = ".."', [], "name '..' must be a plain name"),
    ("name-hidden", 'name = ".hidden"', [], "name '.hidden' must be a plain name"),
    ("name-absolute", 'name = "/tmp/x"', [], "must be a plain name"),
    ("name-newline", 'name = "a\\nb"', [], "must be a plain name"),
    ("name-override", "", ["name=../escape"], "name '../escape' must be a plain name"),
    ("task-dotdot", "", ['task="../x"'], "task '../x' must be a plain name"),
    ("task-unknown", "", ['task="nope"'], "unknown task 'nope'"),
    ("scheme-unknown", "", ['scheme="gpt2bert"'], "unknown scheme 'gpt2bert'"),
    ("beams-zero", "num_beams = 0", [], "num_beams must be >= 1, got 0"),
    ("max-new-zero", "max_new_tokens = 0", [], "max_new_tokens must be >= 1"),
    ("steps-zero", "steps = 0", [], "steps must be >= 1"),
    ("steps-string", 'steps = "ten"', [], "field 'steps' must be int"),
    ("batch-zero", "batch_size = 0", [], "batch_size must be >= 1"),
    ("batch-indivisible", "batch_size = 10\ngradient_accumulation_steps = 3", [], "must be divisible by"),
    ("fraction-zero", "fraction = 0.0", [], "fraction must be in (0, 1]"),
    ("fraction-above-one", "fraction = 1.5", [], "fraction must be in (0, 1]"),
    ("lr-negative", "learning_rate = -1.0", [], "learning_rate must be a finite number > 0.0"),
    ("lr-nan", "learning_rate = nan", [], "learning_rate must be a finite number"),
    ("weight-decay-negative", "weight_decay = -0.5", [], "weight_decay must be a finite number >= 0.0"),
    ("grad-norm-negative", "max_grad_norm = -1.0", [], "max_grad_norm must be a finite number > 0.0"),
    ("length-penalty-inf", "length_penalty = inf", [], "length_penalty must be a finite number"),
    ("schedule-unknown", 'schedule = "polynomial"', [], "schedule 'polynomial' is not one of"),
    ("precision-unknown", 'precision = "fp8"', [], "precision 'fp8' is not one of"),
    ("seed-negative", "seed = -1", [], "seed must be >= 0"),
    ("test-examples-zero", "test_examples = 0", [], "test_examples must be >= 1"),
    ("warmup-negative", "warmup_steps = -5", [], "warmup_steps must be >= 0"),
    ("source-length-zero", "max_source_length = 0", [], "max_source_length must be >= 1"),
    ("unknown-key", "num_beam = 4", [], "unknown key(s) ['num_beam']"),
    ("set-without-equals", "", ["steps"], "expected key=value"),
    ("set-into-scalar", "", ["task.x=1"], "'task' is not a table"),
]


@pytest.mark.parametrize("extra, overrides, fragment", [c[1:] for c in EXPERIMENT_CASES],
                         ids=[c[0] for c in EXPERIMENT_CASES])
def test_experiment_config(tmp_path, extra, overrides, fragment):
    path = tmp_path / "configs" / "brown-fusion" / "row.toml"
    path.parent.mkdir(parents=True)
    path.write_text(BASE_TOML + extra + "\n", encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError) as info:
        ExperimentConfig.from_toml(path, overrides)
    assert fragment in str(info.value)
    assert snapshot(tmp_path) == before


RAW_EXPERIMENT_CASES = [
    ("not-toml", b"task = ", ValueError, "not valid TOML"),
    ("not-utf8", b'task = "\xff"', ValueError, "not valid TOML"),
    ("missing-scheme", b'task = "brown-fusion"', ValueError, "missing required key(s) ['scheme']"),
]


@pytest.mark.parametrize("raw, error, fragment", [c[1:] for c in RAW_EXPERIMENT_CASES],
                         ids=[c[0] for c in RAW_EXPERIMENT_CASES])
def test_experiment_config_bytes(tmp_path, raw, error, fragment):
    (tmp_path / "row.toml").write_bytes(raw)
    with pytest.raises(error, match=None) as info:
        ExperimentConfig.from_toml(tmp_path / "row.toml")
    assert fragment in str(info.value)


def test_experiment_config_is_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory; pass a .toml file"):
        ExperimentConfig.from_toml(tmp_path)


# ------------------------------------------------------------------------------------------------- metrics

METRIC_CASES = [
    ("sari-none-reference", lambda: metrics.sari(["a b"], ["a b"], [None]), TypeError, "references[0] is NoneType"),
    ("bleu-none-reference", lambda: metrics.bleu(["a b", "c"], ["a b", None]), TypeError, "references[1] is NoneType"),
    ("rouge-none-in-list", lambda: metrics.rouge(["a b"], [["a b", None]]), TypeError, "references[0][1] is NoneType"),
    ("exact-none-reference", lambda: metrics.exact_match(["a"], [None]), TypeError, "references[0] is NoneType"),
    ("exact-int-reference", lambda: metrics.exact_match(["a"], [3]), TypeError, "references[0] is int"),
    ("bleu-none-prediction", lambda: metrics.bleu([None], ["a"]), TypeError, "predictions[0] is NoneType"),
    ("sari-none-source", lambda: metrics.sari([None], ["a"], ["a"]), TypeError, "sources[0] is NoneType"),
    ("rouge-empty-references", lambda: metrics.rouge(["a"], [[]]), ValueError, "references[0] is an empty list"),
    ("bleu-nan-prediction", lambda: metrics.bleu([math.nan], ["a"]), TypeError, "predictions[0] is float"),
]


@pytest.mark.parametrize("call, error, fragment", [c[1:] for c in METRIC_CASES], ids=[c[0] for c in METRIC_CASES])
def test_metric_inputs(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


# ----------------------------------------------------------------------------------------- data fetch staging

def test_a_failed_fetch_leaves_no_staging_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    sample = os.path.join(os.path.dirname(fetch.__file__), "samples", "brown")
    copies = [0]
    original = shutil.copyfile

    def fail_on_third(src, dst, *args, **kwargs):
        copies[0] += 1
        if copies[0] == 3:
            raise OSError(28, "No space left on device")
        return original(src, dst, *args, **kwargs)

    monkeypatch.setattr(fetch.shutil, "copyfile", fail_on_third)
    with pytest.raises(OSError, match="No space left"):
        fetch.fetch("brown", path=sample, log=lambda message: None)
    assert snapshot(tmp_path / "home" / "raw") == {}


def test_leftovers_of_a_killed_fetch_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    raw = tmp_path / "home" / "raw"
    (raw / ".brown-abc123").mkdir(parents=True)
    (raw / ".brown-scratch-xyz").mkdir()
    sample = os.path.join(os.path.dirname(fetch.__file__), "samples", "brown")
    fetch.fetch("brown", path=sample, log=lambda message: None)
    assert sorted(p.name for p in raw.iterdir()) == ["brown"]
