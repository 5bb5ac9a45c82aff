"""config.json and generation_config.json as a careless or malicious user writes them: each case names the
exact error and a fragment of its message, and the file is left as it was."""
from __future__ import annotations

import json
import math

import pytest

from bertgen.config import ConfigError, EncoderDecoderConfig
from bertgen.generation import GenerationConfig
from tests.hostile.helpers import DELETE, set_key, snapshot
from tests.support.models import tiny_config

BASE = tiny_config().to_dict()


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"x": value}
    return value


# (case id, key to set, value, error type, message fragment)
CONFIG_CASES = [
    ("eps-negative", "encoder.layer_norm_eps", -1.0, ConfigError, "layer_norm_eps' must be a finite number > 0"),
    ("eps-zero", "decoder.layer_norm_eps", 0.0, ConfigError, "layer_norm_eps"),
    ("eps-nan", "decoder.layer_norm_eps", math.nan, ConfigError, "got nan"),
    ("eps-inf", "encoder.layer_norm_eps", math.inf, ConfigError, "got inf"),
    ("eps-string", "encoder.layer_norm_eps", "1e-12", ConfigError, "'layer_norm_eps' must be float"),
    ("vocab-huge", "encoder.vocab_size", 10**13, ConfigError, "past the 16777216"),
    ("vocab-zero", "decoder.vocab_size", 0, ConfigError, "'vocab_size' must be positive"),
    ("vocab-bool", "encoder.vocab_size", True, ConfigError, "'vocab_size' must be int"),
    ("vocab-float", "encoder.vocab_size", 99.5, ConfigError, "'vocab_size' must be int"),
    ("hidden-zero", "encoder.hidden_size", 0, ConfigError, "'hidden_size' must be positive"),
    ("hidden-huge", "encoder.hidden_size", 2**30, ConfigError, "'hidden_size' is 1073741824"),
    ("matrix-huge", "encoder", {**BASE["encoder"], "vocab_size": 2**23, "hidden_size": 4096}, ConfigError,
     "a weight matrix of 34,359,738,368 elements"),
    ("layers-negative", "encoder.num_hidden_layers", -1, ConfigError, "'num_hidden_layers' must be positive"),
    ("layers-huge", "decoder.num_hidden_layers", 10**6, ConfigError, "'num_hidden_layers' is 1000000"),
    ("ffn-huge", "encoder.intermediate_size", 10**9, ConfigError, "'intermediate_size' is 1000000000"),
    ("positions-zero", "encoder.max_position_embeddings", 0, ConfigError, "'max_position_embeddings' must be positive"),
    ("heads-indivisible", "encoder.num_attention_heads", 5, ConfigError, "must be divisible by num_attention_heads"),
    ("heads-null", "encoder.num_attention_heads", None, ConfigError, "'num_attention_heads' must be int"),
    ("dropout-above-one", "encoder.hidden_dropout_prob", 1.5, ConfigError, "'hidden_dropout_prob' must be in [0, 1)"),
    ("dropout-negative", "decoder.attention_probs_dropout_prob", -0.1, ConfigError, "attention_probs_dropout_prob"),
    ("dropout-nan", "decoder.hidden_dropout_prob", math.nan, ConfigError, "hidden_dropout_prob"),
    ("activation-unknown", "encoder.hidden_act", "relu6", ConfigError, "hidden_act 'relu6' is not one of"),
    ("activation-list", "encoder.hidden_act", ["gelu"], ConfigError, "'hidden_act' must be str"),
    ("position-type", "encoder.position_embedding_type", "relative_key", ConfigError, "is not supported"),
    ("init-range-negative", "encoder.initializer_range", -1.0, ConfigError, "'initializer_range' must be"),
    ("init-range-inf", "decoder.initializer_range", math.inf, ConfigError, "initializer_range"),
    ("stack-pad-outside", "encoder.pad_token_id", 99, ConfigError, "pad_token_id 99 is outside the vocabulary"),
    ("stack-eos-negative", "decoder.eos_token_id", -1, ConfigError, "eos_token_id -1 is outside the vocabulary"),
    ("stack-bos-outside", "decoder.bos_token_id", 1000, ConfigError, "bos_token_id 1000 is outside"),
    ("stack-eos-list-outside", "decoder.eos_token_id", [1, 500], ConfigError, "eos_token_id 500 is outside"),
    ("stack-eos-list-strings", "decoder.eos_token_id", ["1"], ConfigError, "'eos_token_id' must be"),
    ("use-cache-string", "decoder.use_cache", "yes", ConfigError, "'use_cache' must be bool"),
    ("tie-null", "decoder.tie_word_embeddings", None, ConfigError, "'tie_word_embeddings' must be bool"),
    ("start-outside", "decoder_start_token_id", 99, ConfigError, "decoder_start_token_id 99 is outside the decoder"),
    ("start-negative", "decoder_start_token_id", -3, ConfigError, "decoder_start_token_id -3 is outside"),
    ("top-eos-negative", "eos_token_id", -5, ConfigError, "eos_token_id -5 is outside"),
    ("top-pad-outside", "pad_token_id", 1000, ConfigError, "pad_token_id 1000 is outside"),
    ("top-start-string", "decoder_start_token_id", "2", ConfigError, "'decoder_start_token_id' must be"),
    ("model-type", "model_type", "bert", ConfigError, "model_type is 'bert', expected 'encoder-decoder'"),
    ("stack-model-type", "encoder.model_type", "t5", ConfigError, "model_type is 't5'"),
    ("encoder-missing", "encoder", DELETE, ConfigError, "needs an 'encoder' object"),
    ("decoder-list", "decoder", [1, 2], ConfigError, "needs an 'decoder' object"),
    ("encoder-is-decoder", "encoder.is_decoder", True, ConfigError, "is_decoder must be False"),
    ("decoder-no-cross", "decoder.add_cross_attention", False, ConfigError, "must both be True"),
    ("cross-without-decoder", "encoder.add_cross_attention", True, ConfigError, "needs is_decoder=True"),
    ("cross-width", "decoder.cross_attention_hidden_size", 64, ConfigError, "cross_attention_hidden_size is 64"),
    ("deep-extra", "extra_key", nested(40), ConfigError, "levels deep (at most 32)"),
]


@pytest.mark.parametrize("key, value, error, fragment", [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_config_json(tmp_path, key, value, error, fragment):
    data = set_key(BASE, key, value)
    (tmp_path / "config.json").write_text(json.dumps(data), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(error) as info:
        EncoderDecoderConfig.from_pretrained(tmp_path)
    assert fragment in str(info.value)
    assert str(tmp_path / "config.json") in str(info.value)  # names the file
    assert snapshot(tmp_path) == before


# (case id, raw bytes of config.json, error, fragment)
RAW_CASES = [
    ("not-json", b"{ this is not json", ConfigError, "not valid JSON"),
    ("not-utf8", b'{"a": "\xff\xfe"}', ConfigError, "not valid JSON"),
    ("top-level-list", b"[1, 2, 3]", ConfigError, "expected a JSON object at the top level, got list"),
    ("top-level-string", b'"config"', ConfigError, "got str"),
    ("empty-file", b"", ConfigError, "not valid JSON"),
    ("recursion-bomb", b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", ConfigError, "nested deeper than"),
]


@pytest.mark.parametrize("raw, error, fragment", [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES])
def test_config_json_bytes(tmp_path, raw, error, fragment):
    (tmp_path / "config.json").write_bytes(raw)
    before = snapshot(tmp_path)
    with pytest.raises(error, match=None) as info:
        EncoderDecoderConfig.from_pretrained(tmp_path)
    assert fragment in str(info.value)
    assert snapshot(tmp_path) == before


def test_missing_config_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such config file"):
        EncoderDecoderConfig.from_pretrained(tmp_path)
    assert snapshot(tmp_path) == {}


def test_tie_encoder_decoder_with_different_stacks(tmp_path):
    data = set_key(set_key(BASE, "tie_encoder_decoder", True), "decoder.intermediate_size", 40)
    (tmp_path / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="tie_encoder_decoder=True needs encoder and decoder to agree on "
                                          "'intermediate_size'"):
        EncoderDecoderConfig.from_pretrained(tmp_path)


def test_shared_embeddings_with_two_vocabularies(tmp_path):
    data = set_key(set_key(BASE, "share_encoder_decoder_embeddings", True), "encoder.vocab_size", 120)
    (tmp_path / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="needs one vocabulary"):
        EncoderDecoderConfig.from_pretrained(tmp_path)


# ------------------------------------------------------------------------------------ generation_config.json

GENERATION_CASES = [
    ("beams-zero", {"num_beams": 0}, "num_beams must be positive"),
    ("beams-negative", {"num_beams": -4}, "num_beams must be positive"),
    ("beams-string", {"num_beams": "4"}, "'num_beams' must be"),
    ("length-penalty-nan", {"length_penalty": math.nan}, "length_penalty must be a finite number"),
    ("length-penalty-inf", {"length_penalty": -math.inf}, "length_penalty must be a finite number"),
    ("temperature-zero", {"temperature": 0.0}, "temperature must be positive"),
    ("temperature-nan", {"temperature": math.nan}, "temperature must be a finite number"),
    ("temperature-inf", {"temperature": math.inf}, "temperature must be a finite number"),
    ("top-p-zero", {"top_p": 0.0}, "top_p must be in (0, 1]"),
    ("top-p-above-one", {"top_p": 1.5}, "top_p must be in (0, 1]"),
    ("top-p-nan", {"top_p": math.nan}, "top_p must be in (0, 1]"),
    ("top-k-negative", {"top_k": -1}, "top_k must be >= 0"),
    ("repetition-zero", {"repetition_penalty": 0.0}, "repetition_penalty must be positive"),
    ("repetition-nan", {"repetition_penalty": math.nan}, "repetition_penalty must be a finite number"),
    ("eos-negative", {"eos_token_id": -1}, "eos_token_id must be a token id >= 0, got -1"),
    ("eos-list-negative", {"eos_token_id": [1, -2]}, "eos_token_id must be a token id >= 0, got -2"),
    ("eos-empty-list", {"eos_token_id": []}, "eos_token_id is an empty list"),
    ("pad-negative", {"pad_token_id": -3}, "pad_token_id must be a token id >= 0"),
    ("start-negative", {"decoder_start_token_id": -1}, "decoder_start_token_id must be a token id >= 0"),
    ("bos-negative", {"bos_token_id": -7}, "bos_token_id must be a token id >= 0"),
    ("early-stopping", {"early_stopping": "sometimes"}, "early_stopping must be True, False or 'never'"),
    ("returns-over-beams", {"num_beams": 2, "num_return_sequences": 3}, "must be <= num_beams"),
    ("max-new-zero", {"max_new_tokens": 0}, "max_new_tokens must be positive"),
    ("max-length-string", {"max_length": "20"}, "'max_length' must be"),
    ("ngram-negative", {"no_repeat_ngram_size": -1}, "no_repeat_ngram_size must be >= 0"),
    ("min-new-negative", {"min_new_tokens": -1}, "min_new_tokens must be >= 0"),
    ("style-unknown", {"length_penalty_style": "ibm"}, "length_penalty_style must be one of"),
]


@pytest.mark.parametrize("data, fragment", [c[1:] for c in GENERATION_CASES], ids=[c[0] for c in GENERATION_CASES])
def test_generation_config_json(tmp_path, data, fragment):
    (tmp_path / "generation_config.json").write_text(json.dumps(data), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError) as info:
        GenerationConfig.from_pretrained(tmp_path)
    assert fragment in str(info.value)
    assert "generation_config.json" in str(info.value)
    assert snapshot(tmp_path) == before
