"""Every way warm-starting can be asked for something impossible ends in a message that says what, where,
and what to do."""
from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file, save_file

from bertgen.checkpoints import CheckpointError
from bertgen.config import ConfigError
from bertgen.modeling.warm_start import warm_start
from tests.support.warmstart_checkpoints import write_checkpoint


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    write_checkpoint(root / "bert", "BertModel")
    write_checkpoint(root / "bert-other", "BertModel", seed=1)
    write_checkpoint(root / "bert-120", "BertModel", vocab_size=120)
    write_checkpoint(root / "roberta", "RobertaModel")
    write_checkpoint(root / "no-tokenizer", "BertModel", tokenizer=False)
    return root


@pytest.fixture()
def bert_copy(pretrained, tmp_path):
    """A private copy of the BERT checkpoint to break."""
    return shutil.copytree(pretrained / "bert", tmp_path / "bert")


def edit_config(directory, **changes):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("scheme", ["bert2xlnet", "share", "bert-2-bert", "rnd"])
def test_unknown_scheme_lists_the_schemes(pretrained, scheme):
    with pytest.raises(ValueError, match=rf"unknown scheme '{scheme}'; the paper's schemes are rnd2rnd, bert2rnd"):
        warm_start(scheme, pretrained / "bert")


@pytest.mark.parametrize("scheme, directory, suggestion", [
    ("bert2bert", "roberta", "roberta2roberta"), ("rnd2bert", "roberta", "rnd2roberta"),
    ("robertashare", "bert", "bertshare"),
])
def test_scheme_family_must_match_the_checkpoint(pretrained, scheme, directory, suggestion):
    with pytest.raises(ValueError, match=rf"is a {directory} checkpoint; use '{suggestion}'"):
        warm_start(scheme, pretrained / directory)


def test_rnd2rnd_takes_any_family(pretrained):
    warm_start("rnd2rnd", pretrained / "roberta")


def test_unknown_override_names_the_valid_fields(pretrained):
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['hidden_sise'\]; overrides are config fields"):
        warm_start("bert2bert", pretrained / "bert", hidden_sise=64)


def test_embeddings_only_and_drop_embeddings_exclude_each_other(pretrained):
    with pytest.raises(ValueError, match="leave nothing to load; pick one"):
        warm_start("bert2bert", pretrained / "bert", embeddings_only=True, drop_embeddings=True)


@pytest.mark.parametrize("options, message", [
    ({"decoder_checkpoint": "bert-other"}, "takes one checkpoint; drop decoder_checkpoint or use 'bert2bert'"),
    ({"share_embeddings": False}, "share_embeddings=False contradicts it"),
    ({"layers": [0, 1], "decoder_layers": [1]}, "uses the same layers in both stacks; pass `layers` only"),
])
def test_bertshare_needs_one_set_of_weights(pretrained, options, message):
    if "decoder_checkpoint" in options:
        options = dict(options, decoder_checkpoint=pretrained / options["decoder_checkpoint"])
    with pytest.raises(ValueError, match=message):
        warm_start("bertshare", pretrained / "bert", **options)


@pytest.mark.parametrize("options, message", [
    ({"layers": [0, 5]}, r"has layers 0..1, so the encoder cannot take layer\(s\) \[5\]; pick from that range"),
    ({"num_hidden_layers": 4}, r"cannot take layer\(s\) \[2, 3\]"),
    ({"decoder_layers": [-1]}, r"the decoder cannot take layer\(s\) \[-1\]"),
    ({"layers": []}, "the encoder needs at least one layer"),
    ({"layers": [0, 1], "num_hidden_layers": 1}, "num_hidden_layers=1 disagrees with the 2 layers selected"),
])
def test_layer_selection_must_fit_the_checkpoint(pretrained, options, message):
    with pytest.raises(ValueError, match=message):
        warm_start("bert2bert", pretrained / "bert", **options)


def test_layers_of_the_wrong_type(pretrained):
    with pytest.raises(TypeError, match=r"layers must be an int \(the first k\) or a list of layer indices"):
        warm_start("bert2bert", pretrained / "bert", layers="first two")


@pytest.mark.parametrize("override, part", [("hidden_size", "embeddings"), ("vocab_size", "embeddings"),
                                            ("max_position_embeddings", "embeddings"),
                                            ("intermediate_size", "layers")])
def test_overrides_that_change_loaded_shapes_are_refused(pretrained, override, part):
    value = {"hidden_size": 64, "vocab_size": 500, "max_position_embeddings": 128, "intermediate_size": 64}[override]
    with pytest.raises(ValueError, match=rf"{override}={value} does not fit the encoder's checkpoint .*, whose "
                                         rf"{part} have {override}="):
        warm_start("bert2bert", pretrained / "bert", num_attention_heads=4, **{override: value})


def test_sharing_embeddings_needs_one_vocabulary(pretrained):
    with pytest.raises(ValueError, match=r"needs one vocabulary, but .* has 99 ids and .* 120; "
                                         r"pass share_embeddings=False"):
        warm_start("bert2bert", pretrained / "bert", decoder_checkpoint=pretrained / "bert-120")
    warm_start("bert2bert", pretrained / "bert", decoder_checkpoint=pretrained / "bert-120", share_embeddings=False)


def test_sharing_embeddings_from_two_checkpoints_is_ambiguous(pretrained):
    with pytest.raises(ValueError, match=r"each bring word embeddings, but share_embeddings=True keeps one matrix"):
        warm_start("bert2bert", pretrained / "bert", decoder_checkpoint=pretrained / "bert-other")
    # one side random: its vocabulary is the other's, and sharing is unambiguous
    warm_start("bert2rnd", pretrained / "bert", decoder_checkpoint=pretrained / "bert-other")


def test_checkpoint_without_tokenizer_needs_explicit_ids(pretrained):
    with pytest.raises(ValueError, match=r"has no tokenizer files, so the decoder's decoder_start_token_id, "
                                         r"eos_token_id, pad_token_id are unknown; .* pass them"):
        warm_start("bert2bert", pretrained / "no-tokenizer")
    model, _ = warm_start("bert2bert", pretrained / "no-tokenizer", decoder_start_token_id=2, eos_token_id=3,
                          pad_token_id=0)
    assert model.config.decoder_start_token_id == 2


def test_missing_tensor_is_named_with_its_file(bert_copy):
    weights = load_file(bert_copy / "model.safetensors")
    del weights["encoder.layer.1.output.dense.weight"]
    save_file(weights, bert_copy / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors: no tensor '\[bert\.\]encoder\.layer\.1\.output"
                                              r"\.dense\.weight' in this bert checkpoint; it is incomplete"):
        warm_start("bert2bert", bert_copy)


def test_config_with_more_layers_than_weights(bert_copy):
    edit_config(bert_copy, num_hidden_layers=3)
    with pytest.raises(CheckpointError, match=r"no tensor '\[bert\.\]encoder\.layer\.2\..*config\.json "
                                              r"\(num_hidden_layers, \.\.\.\) does not match its weights"):
        warm_start("bert2bert", bert_copy)


def test_config_with_other_shapes_than_weights(bert_copy):
    edit_config(bert_copy, intermediate_size=40)
    with pytest.raises(CheckpointError, match=r"has shape \(37, 32\) but the model expects \(40, 32\); "
                                              r"the config\.json does not match these weights"):
        warm_start("bert2bert", bert_copy)


@pytest.mark.parametrize("changes, error, message", [
    ({"model_type": "gpt2"}, ConfigError, r"model_type 'gpt2' cannot be warm-started from; bertgen reads bert, "),
    ({"model_type": "encoder-decoder"}, ConfigError, r"already an encoder-decoder; load it with "
                                                     r"EncoderDecoderModel\.from_pretrained"),
    ({"position_embedding_type": "relative_key"}, ConfigError, r"position_embedding_type 'relative_key' is not "
                                                               r"supported"),
    ({"hidden_size": None}, ConfigError, r"config\.json lacks \['hidden_size'\]; it does not describe a BERT"),
])
def test_configs_bertgen_cannot_warm_start_from(bert_copy, changes, error, message):
    edit_config(bert_copy, **changes)
    if changes.get("hidden_size", 0) is None:
        config = json.loads((bert_copy / "config.json").read_text())
        del config["hidden_size"]
        (bert_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(error, match=message):
        warm_start("bert2bert", bert_copy)


def test_unreadable_or_missing_files(bert_copy):
    (bert_copy / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json: not valid JSON"):
        warm_start("bert2bert", bert_copy)
    (bert_copy / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"no config\.json; a checkpoint directory needs the config"):
        warm_start("bert2bert", bert_copy)


def test_directory_without_weights(pretrained, tmp_path):
    shutil.copy(pretrained / "bert" / "config.json", tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="no weights found"):
        warm_start("bert2bert", tmp_path)


def test_unreachable_hub_id_says_to_download_elsewhere(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"'google/bert_uncased_L-2_H-128_A-2' is not a local directory.*"
                                                r"download it where there is a network"):
        warm_start("bert2bert", "google/bert_uncased_L-2_H-128_A-2")
