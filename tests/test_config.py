"""Configs: transformers' fields and defaults, config.json in and out, clear errors for bad values."""
from __future__ import annotations

import dataclasses
import json

import pytest

from bertgen.config import BertGenerationConfig, ConfigError, EncoderDecoderConfig


def test_defaults_and_fields_equal_transformers():
    from transformers import BertGenerationConfig as HFConfig

    ours = BertGenerationConfig().to_dict()
    theirs = HFConfig().to_dict()
    for name, value in ours.items():
        if name != "extra":
            assert theirs.get(name, value) == value, name
    # every BertGeneration-specific field transformers has, bertgen has too
    hf_fields = set(HFConfig.__annotations__)
    assert hf_fields <= set(ours), hf_fields - set(ours)


def test_transformers_config_json_round_trips_with_unknown_keys_kept(hf_dir, tmp_path):
    config = EncoderDecoderConfig.from_pretrained(hf_dir)
    original = json.loads((hf_dir / "config.json").read_text())
    assert config.extra["transformers_version"] == original["transformers_version"]
    assert config.decoder_start_token_id == 2 and config.decoder.is_decoder and not config.encoder.is_decoder
    config.extra["my_note"] = {"kept": True}
    config.save_pretrained(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["my_note"] == {"kept": True}
    for key, value in original.items():
        if key not in ("encoder", "decoder"):
            assert written[key] == value, key
    for side in ("encoder", "decoder"):
        for key, value in original[side].items():
            assert written[side][key] == value, (side, key)
    assert EncoderDecoderConfig.from_pretrained(tmp_path) == config


def test_written_config_loads_in_transformers(tmp_path):
    from transformers import EncoderDecoderConfig as HFConfig

    config = EncoderDecoderConfig(encoder=BertGenerationConfig(hidden_size=64, num_attention_heads=4),
                                  decoder=BertGenerationConfig(hidden_size=64, num_attention_heads=4, is_decoder=True,
                                                               add_cross_attention=True),
                                  decoder_start_token_id=101, pad_token_id=0, tie_encoder_decoder=True)
    config.save_pretrained(tmp_path)
    theirs = HFConfig.from_pretrained(tmp_path)
    assert theirs.decoder.hidden_size == 64 and theirs.decoder.add_cross_attention
    assert theirs.decoder_start_token_id == 101
    assert theirs.tie_encoder_decoder is True


@pytest.mark.parametrize("field, value, message", [
    ("hidden_size", "384", "field 'hidden_size' must be int, got str"),
    ("hidden_size", 100, "hidden_size (100) must be divisible by num_attention_heads (16)"),
    ("num_hidden_layers", 0, "'num_hidden_layers' must be positive"),
    ("is_decoder", 1, "field 'is_decoder' must be bool, got int"),
    ("hidden_dropout_prob", 1.5, "'hidden_dropout_prob' must be in [0, 1)"),
    ("hidden_act", "tanh", "hidden_act 'tanh' is not one of"),
    ("position_embedding_type", "relative_key", "'relative_key' is not supported"),
    ("pad_token_id", 60000, "pad_token_id 60000 is outside the vocabulary"),
])
def test_bad_values_are_clear_errors(field, value, message):
    with pytest.raises(ConfigError) as err:
        BertGenerationConfig(**{field: value})
    assert message in str(err.value)


def test_bad_config_file_names_the_file_and_field(tmp_path):
    data = EncoderDecoderConfig().to_dict()
    data["decoder"]["num_attention_heads"] = 7
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"config\.json \[decoder\]: hidden_size \(1024\) must be divisible"):
        EncoderDecoderConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        EncoderDecoderConfig.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="needs a config.json"):
        EncoderDecoderConfig.from_pretrained(tmp_path / "nowhere")


def test_a_bert_model_config_points_to_warm_start():
    with pytest.raises(ConfigError, match=r"model_type is 'bert'.*warm_start"):
        BertGenerationConfig.from_dict({"model_type": "bert", "hidden_size": 768})


def test_encoder_decoder_consistency_checks():
    encoder = BertGenerationConfig(hidden_size=64, num_attention_heads=4)
    decoder = BertGenerationConfig(hidden_size=64, num_attention_heads=4, is_decoder=True, add_cross_attention=True)
    with pytest.raises(ConfigError, match="decoder_start_token_id 99999 is outside the decoder vocabulary"):
        EncoderDecoderConfig(encoder=encoder, decoder=decoder, decoder_start_token_id=99999)
    with pytest.raises(ConfigError, match="is_decoder and add_cross_attention must both be True"):
        EncoderDecoderConfig(encoder=encoder, decoder=encoder)
    with pytest.raises(ConfigError, match="needs encoder and decoder to agree on 'num_hidden_layers'"):
        EncoderDecoderConfig(encoder=encoder, decoder=dataclasses.replace(decoder, num_hidden_layers=3),
                             tie_encoder_decoder=True)
    with pytest.raises(ConfigError, match="share_encoder_decoder_embeddings=True needs one vocabulary"):
        EncoderDecoderConfig(encoder=encoder, decoder=dataclasses.replace(decoder, vocab_size=100),
                             share_encoder_decoder_embeddings=True)
    # from_encoder_decoder_configs sets the decoder flags, as transformers does
    config = EncoderDecoderConfig.from_encoder_decoder_configs(encoder, encoder)
    assert config.decoder.is_decoder and config.decoder.add_cross_attention and not config.encoder.is_decoder
