"""Checkpoint layouts written by transformers (BERT, RoBERTa, BertGeneration), the paper's ablations, and
warm-started models that transformers loads with identical logits."""
from __future__ import annotations

import shutil

import pytest
import torch

from bertgen.warmstart.pretrained import read_pretrained
from bertgen.modeling import EncoderDecoderModel
from bertgen.modeling.warm_start import warm_start
from tests.support.warmstart_checkpoints import source_ids, write_checkpoint

TOL = 1e-5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Directory and transformers model for each architecture, written once for the module."""
    root = tmp_path_factory.mktemp("pretrained")
    made = {}
    for arch in ("BertModel", "BertForMaskedLM", "BertForPreTraining", "RobertaModel", "RobertaForMaskedLM",
                 "BertGenerationEncoder", "BertGenerationDecoder"):
        made[arch] = (root / arch, write_checkpoint(root / arch, arch))
    made["other BertModel"] = (root / "other", write_checkpoint(root / "other", "BertModel", seed=1))
    return made


def encoder_states(model, ids):
    with torch.no_grad():
        return model.encoder(ids).last_hidden_state


def hf_body(hf_model):
    """The encoder body inside a transformers model with or without a head."""
    return getattr(hf_model, "bert", None) or getattr(hf_model, "roberta", None) or hf_model


@pytest.mark.parametrize("arch", ["BertModel", "BertForMaskedLM", "BertForPreTraining", "RobertaModel",
                                  "RobertaForMaskedLM", "BertGenerationEncoder"])
def test_warm_started_encoder_equals_the_pretrained_encoder(tiny, arch):
    """RoBERTa included: its positions start at padding_idx + 1, so unpadded input lines up with the sliced table."""
    directory, hf_model = tiny[arch]
    scheme = "roberta2roberta" if arch.startswith("Roberta") else "bert2bert"
    model, report = warm_start(scheme, directory)
    ids = source_ids()
    with torch.no_grad():
        theirs = hf_body(hf_model)(input_ids=ids).last_hidden_state
    assert (encoder_states(model, ids) - theirs).abs().max() < TOL
    assert theirs.abs().max() > 0.5
    dropped = " ".join(e.pattern for e in report.dropped)
    heads = {"BertForMaskedLM": "cls.", "BertForPreTraining": "cls.", "RobertaForMaskedLM": "lm_head."}
    assert heads.get(arch, "") in dropped
    assert ("pooler" in dropped) == (arch in ("BertModel", "BertForPreTraining", "RobertaModel"))


@pytest.mark.parametrize("arch", ["BertForMaskedLM", "RobertaModel", "BertGenerationDecoder"])
def test_decoder_takes_embeddings_self_attention_and_ffn(tiny, arch):
    directory, hf_model = tiny[arch]
    scheme = "rnd2roberta" if arch.startswith("Roberta") else "rnd2bert"
    model, report = warm_start(scheme, directory)
    theirs = hf_body(hf_model)
    ours = model.decoder.bert
    offset = 2 if arch.startswith("Roberta") else 0  # RoBERTa's rows 0..padding_idx are skipped
    positions = theirs.embeddings.position_embeddings.weight[offset:]
    if hasattr(theirs.embeddings, "token_type_embeddings"):
        positions = positions + theirs.embeddings.token_type_embeddings.weight[0]
    assert torch.equal(ours.embeddings.position_embeddings.weight, positions)
    assert torch.equal(ours.embeddings.word_embeddings.weight, theirs.embeddings.word_embeddings.weight)
    for mine, pretrained in zip(ours.encoder.layer, theirs.encoder.layer):
        for part in ("attention", "intermediate", "output"):
            for name, tensor in getattr(mine, part).state_dict().items():
                assert torch.equal(tensor, getattr(pretrained, part).state_dict()[name]), (part, name)
    # rnd2bert: the encoder is random, but with one vocabulary its word embeddings are the decoder's
    assert model.encoder.embeddings.word_embeddings.weight is ours.embeddings.word_embeddings.weight
    assert report.loaded[0].pattern == "encoder.embeddings.word_embeddings.weight"


def test_token_ids_follow_the_vocabulary(tiny):
    bert, _ = warm_start("bert2bert", tiny["BertModel"][0])
    roberta, _ = warm_start("robertashare", tiny["RobertaModel"][0])
    ids = lambda m: (m.config.decoder_start_token_id, m.config.eos_token_id, m.config.pad_token_id)  # noqa: E731
    assert ids(bert) == (2, 3, 0)  # [CLS] [SEP] [PAD]
    assert ids(roberta) == (0, 2, 1)  # <s> </s> <pad>
    assert roberta.config.encoder.max_position_embeddings == 64  # 66 rows less the two RoBERTa skips


@pytest.mark.parametrize("scheme", ["bert2bert", "bertshare"])
def test_saved_warm_started_model_loads_in_transformers_with_identical_logits(tiny, tmp_path, scheme):
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    model, _ = warm_start(scheme, tiny["BertForPreTraining"][0])
    model.save_pretrained(tmp_path)
    theirs = HFEncoderDecoderModel.from_pretrained(tmp_path).eval()
    batch = dict(input_ids=source_ids(), labels=source_ids(length=6, seed=1))
    with torch.no_grad():
        ours_logits, their_logits = model(**batch).logits, theirs(**batch).logits
    assert (ours_logits - their_logits).abs().max() < TOL
    again = EncoderDecoderModel.from_pretrained(tmp_path)
    assert again.config.tie_encoder_decoder == (scheme == "bertshare")
    with torch.no_grad():
        assert torch.equal(again(**batch).logits, ours_logits)


# ------------------------------------------------------------------------------------------- ablations

def test_fold_token_type_false_is_transformers_drop(tiny):
    directory, hf_model = tiny["BertModel"]
    model, report = warm_start("bert2bert", directory, fold_token_type=False)
    assert torch.equal(model.encoder.embeddings.position_embeddings.weight,
                       hf_model.embeddings.position_embeddings.weight)
    assert report.folded == []
    assert any(e.pattern == "embeddings.token_type_embeddings.weight" for e in report.dropped)


def test_embeddings_only(tiny):
    directory, hf_model = tiny["BertModel"]
    model, report = warm_start("bert2bert", directory, embeddings_only=True)
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight, hf_model.embeddings.word_embeddings.weight)
    query = model.encoder.encoder.layer[0].attention.self.query.weight
    assert not torch.equal(query, hf_model.encoder.layer[0].attention.self.query.weight)
    assert all(".embeddings." in e.pattern for e in report.loaded)
    assert report.encoder_source.endswith("(bert, embeddings only)")


def test_drop_embeddings(tiny):
    directory, hf_model = tiny["BertModel"]
    model, report = warm_start("bertshare", directory, drop_embeddings=True)
    word = hf_model.embeddings.word_embeddings.weight
    assert not torch.equal(model.encoder.embeddings.word_embeddings.weight, word)
    dense = hf_model.encoder.layer[1].output.dense.weight
    assert torch.equal(model.encoder.encoder.layer[1].output.dense.weight, dense)
    assert report.folded == []
    assert any(e.pattern.startswith("embeddings.") and e.detail == "not used by this scheme" for e in report.dropped)


@pytest.mark.parametrize("layers, expected", [(1, [0]), ([1], [1]), ([1, 0], [1, 0])])
def test_layer_subsets(tiny, layers, expected):
    directory, hf_model = tiny["BertModel"]
    model, report = warm_start("bert2bert", directory, layers=layers)
    assert model.config.encoder.num_hidden_layers == model.config.decoder.num_hidden_layers == len(expected)
    for mine, source in zip(model.encoder.encoder.layer, expected):
        assert torch.equal(mine.attention.self.key.weight, hf_model.encoder.layer[source].attention.self.key.weight)
    if expected == [1]:
        assert any(e.pattern == "encoder.layer.0.*" for e in report.dropped)


def test_decoder_layers_differ_from_encoder_layers(tiny):
    directory, hf_model = tiny["BertModel"]
    model, _ = warm_start("bert2bert", directory, layers=[0, 1], decoder_layers=[1])
    assert len(model.decoder.bert.encoder.layer) == 1
    assert torch.equal(model.decoder.bert.encoder.layer[0].intermediate.dense.weight,
                       hf_model.encoder.layer[1].intermediate.dense.weight)


def test_encoder_and_decoder_from_different_checkpoints(tiny):
    (enc_dir, enc_hf), (dec_dir, dec_hf) = tiny["BertModel"], tiny["other BertModel"]
    model = EncoderDecoderModel.from_encoder_decoder_pretrained(enc_dir, dec_dir)
    assert not model.config.share_encoder_decoder_embeddings  # two checkpoints: two embedding matrices
    assert torch.equal(model.encoder.encoder.layer[0].attention.self.query.weight,
                       enc_hf.encoder.layer[0].attention.self.query.weight)
    assert torch.equal(model.decoder.bert.encoder.layer[0].attention.self.query.weight,
                       dec_hf.encoder.layer[0].attention.self.query.weight)
    assert torch.equal(model.decoder.lm_head.decoder.weight, dec_hf.embeddings.word_embeddings.weight)
    _, report = warm_start("bert2bert", enc_dir, decoder_checkpoint=dec_dir, share_embeddings=False)
    assert "other" in report.decoder_source and report.dropped[0].detail.endswith("BertModel)")


def test_from_encoder_decoder_pretrained_with_one_checkpoint_shares(tiny):
    directory, _ = tiny["BertModel"]
    model = EncoderDecoderModel.from_encoder_decoder_pretrained(directory, directory, tie_encoder_decoder=True)
    assert model.config.tie_encoder_decoder and model.config.share_encoder_decoder_embeddings


def test_overrides_reach_both_stacks_and_rnd2rnd_may_change_the_architecture(tiny):
    directory, _ = tiny["BertModel"]
    model, _ = warm_start("bert2bert", directory, hidden_dropout_prob=0.3, num_hidden_layers=1)
    assert model.config.encoder.hidden_dropout_prob == model.config.decoder.hidden_dropout_prob == 0.3
    assert model.config.decoder.num_hidden_layers == 1
    small, report = warm_start("rnd2rnd", directory, hidden_size=16, num_attention_heads=2, num_hidden_layers=3)
    assert small.config.encoder.hidden_size == 16 and len(small.decoder.bert.encoder.layer) == 3
    assert report.from_checkpoint == 0 and report.loaded == []


def test_checkpoint_read_once_is_reused(tiny):
    ckpt = read_pretrained(tiny["BertModel"][0])
    first, _ = warm_start("bert2rnd", ckpt)
    second, _ = warm_start("rnd2bert", ckpt)
    assert torch.equal(first.encoder.encoder.layer[0].output.dense.bias,
                       second.decoder.bert.encoder.layer[0].output.dense.bias)


def test_tensorflow_era_layer_norm_names(tiny, tmp_path):
    """bert-base-uncased's pytorch_model.bin still says LayerNorm.gamma / .beta."""
    from safetensors.torch import load_file, save_file

    directory, hf_model = tiny["BertForMaskedLM"]
    shutil.copytree(directory, tmp_path, dirs_exist_ok=True)
    weights = load_file(directory / "model.safetensors")
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in weights.items()}
    save_file(renamed, tmp_path / "model.safetensors")
    model, _ = warm_start("bert2bert", tmp_path)
    with torch.no_grad():
        theirs = hf_model.bert(input_ids=source_ids()).last_hidden_state
    assert (encoder_states(model, source_ids()) - theirs).abs().max() < TOL
