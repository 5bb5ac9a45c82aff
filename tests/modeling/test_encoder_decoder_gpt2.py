"""EncoderDecoderModel with a GPT-2 decoder (bert2gpt2), both ways with transformers: a checkpoint transformers
saves loads in bertgen with the same logits and the same greedy and beam-4 tokens; bertgen's save loads unchanged
in transformers; encoder and decoder of different widths are joined by enc_to_dec_proj, as transformers does."""
from __future__ import annotations

import json

import pytest
import torch

from bertgen.config import ConfigError, EncoderDecoderConfig
from bertgen.modeling import EncoderDecoderModel, GPT2LMHeadModel

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

TOL = 1e-5
ENCODER = dict(vocab_size=50, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
               max_position_embeddings=40, pad_token_id=0, bos_token_id=2, eos_token_id=1,
               hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
DECODER = dict(vocab_size=99, n_positions=40, n_embd=32, n_layer=2, n_head=4, bos_token_id=98, eos_token_id=98,
               resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def hf_bert2gpt2(encoder_width: int = 32, seed: int = 0):
    """transformers' EncoderDecoderModel: a BertGeneration encoder and a GPT-2 decoder with cross-attention."""
    torch.manual_seed(seed)
    encoder = transformers.BertGenerationEncoder(transformers.BertGenerationConfig(hidden_size=encoder_width,
                                                                                   **ENCODER))
    decoder = transformers.GPT2LMHeadModel(transformers.GPT2Config(**DECODER, add_cross_attention=True))
    model = transformers.EncoderDecoderModel(encoder=encoder, decoder=decoder)
    with torch.no_grad():  # std 0.02 leaves every logit near zero; larger weights make differences visible
        for name, p in model.named_parameters():
            if "LayerNorm" not in name and ".ln_" not in name:
                p.normal_(0, 0.2)
    model.config.decoder_start_token_id = 98  # GPT-2 starts from <|endoftext|>
    model.config.pad_token_id = 97
    model.config.eos_token_id = 98
    return model.eval()


def batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 50, (3, 8), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    ids[1, 5:] = 0
    labels = torch.randint(0, 97, (3, 6), generator=g)
    labels[2, 4:] = -100
    return dict(input_ids=ids, attention_mask=mask, labels=labels)


@pytest.fixture(scope="module", params=[32, 48], ids=["same-width", "bert48-gpt32"])
def pair(request, tmp_path_factory):
    theirs = hf_bert2gpt2(encoder_width=request.param)
    path = tmp_path_factory.mktemp("bert2gpt2")
    theirs.save_pretrained(path)
    return theirs, EncoderDecoderModel.from_pretrained(path)


def test_widths_project_as_transformers(pair):
    theirs, ours = pair
    assert hasattr(ours, "enc_to_dec_proj") == hasattr(theirs, "enc_to_dec_proj")
    assert isinstance(ours.decoder, GPT2LMHeadModel)
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_logits_and_loss_match_transformers(pair):
    theirs, ours = pair
    with torch.no_grad():
        a, b = ours(**batch()), theirs(**batch())
    assert (a.logits - b.logits).abs().max() < TOL
    assert abs(a.loss.item() - b.loss.item()) < TOL
    assert a.logits.abs().max() > 1
    assert (a.encoder_last_hidden_state - b.encoder_last_hidden_state).abs().max() < TOL


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=4), dict(num_beams=4, length_penalty=2.0,
                                                                                 no_repeat_ngram_size=2)])
def test_greedy_and_beam_tokens_match_transformers(pair, settings):
    theirs, ours = pair
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    with torch.no_grad():
        a = ours.generate(**inputs, max_new_tokens=10, **settings)
        b = theirs.generate(**inputs, max_new_tokens=10, do_sample=False, **settings)
    assert torch.equal(a, b)


def test_save_pretrained_loads_unchanged_in_transformers(pair, tmp_path):
    _, ours = pair
    ours.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["decoder"]["model_type"] == "gpt2"
    theirs = transformers.EncoderDecoderModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert (ours(**batch()).logits - theirs(**batch()).logits).abs().max() < TOL


def test_training_step_reaches_every_parameter(pair):
    _, ours = pair
    model = EncoderDecoderModel(EncoderDecoderConfig.from_dict(ours.config.to_dict())).train()
    model.load_state_dict(ours.state_dict())
    model.fused_loss = True  # the Trainer's switch: GPT-2 has no fused loss, so the logits are computed
    out = model(**batch())
    out.loss.backward()
    assert out.logits is not None
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_cross_attention_width_that_bertgen_cannot_read_is_refused():
    data = hf_bert2gpt2(encoder_width=48).config.to_dict()
    data["decoder"]["cross_attention_hidden_size"] = 48
    with pytest.raises(ConfigError, match="cross_attention_hidden_size is 48"):
        EncoderDecoderConfig.from_dict(data)


def test_tied_stacks_need_two_bert_generation_stacks():
    data = hf_bert2gpt2().config.to_dict()
    data["tie_encoder_decoder"] = True
    with pytest.raises(ConfigError, match="tie_encoder_decoder=True needs two BertGeneration stacks"):
        EncoderDecoderConfig.from_dict(data)


def test_start_token_that_is_also_the_padding_id_is_attended():
    """GPT-2's <|endoftext|> starts, ends and pads: the mask built from labels must keep position 0."""
    theirs = hf_bert2gpt2()
    theirs.config.pad_token_id = 98  # = decoder_start_token_id
    ours = EncoderDecoderModel(EncoderDecoderConfig.from_dict(theirs.config.to_dict())).eval()
    ours.load_state_dict(theirs.state_dict())
    inputs = batch()
    decoder_input_ids = ours.prepare_decoder_input_ids_from_labels(inputs["labels"])
    with torch.no_grad():
        a = ours(**inputs)
        b = theirs(**inputs, decoder_input_ids=decoder_input_ids)  # transformers builds no decoder mask
    labelled = inputs["labels"] != -100  # bertgen masks the padding after the labels, transformers attends to it
    assert (a.logits - b.logits)[labelled].abs().max() < TOL
    assert abs(a.loss.item() - b.loss.item()) < TOL


# ------------------------------------------------------------- transformers' own bert2gpt2 and roberta2gpt2

def hf_body2gpt2(layout: str, encoder_width: int = 32, seed: int = 3):
    """transformers' EncoderDecoderModel with its BertModel or RobertaModel encoder (segment embeddings, pooler;
    RoBERTa's positions from padding_idx + 1) and a GPT-2 decoder: what from_encoder_decoder_pretrained builds."""
    torch.manual_seed(seed)
    sizes = dict(vocab_size=50, hidden_size=encoder_width, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    if layout == "roberta":
        encoder = transformers.RobertaModel(transformers.RobertaConfig(**sizes, max_position_embeddings=42,
                                                                       pad_token_id=1, type_vocab_size=1))
    else:
        encoder = transformers.BertModel(transformers.BertConfig(**sizes, max_position_embeddings=40, pad_token_id=0))
    decoder = transformers.GPT2LMHeadModel(transformers.GPT2Config(**DECODER, add_cross_attention=True))
    model = transformers.EncoderDecoderModel(encoder=encoder, decoder=decoder)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name and ".ln_" not in name:
                p.normal_(0, 0.2)
    model.config.decoder_start_token_id = 98
    model.config.pad_token_id = 97
    model.config.eos_token_id = 98
    return model.eval()


def body_batch(layout: str):
    inputs = batch()
    inputs["input_ids"][1, 5:] = 1 if layout == "roberta" else 0  # each encoder's own padding id, right padding
    return inputs


@pytest.fixture(scope="module", params=[("bert", 32), ("roberta", 32), ("bert", 48)],
                ids=["bert2gpt2", "roberta2gpt2", "bert48-gpt32"])
def body_pair(request, tmp_path_factory):
    layout, width = request.param
    theirs = hf_body2gpt2(layout, width)
    path = tmp_path_factory.mktemp(f"{layout}2gpt2")
    theirs.save_pretrained(path)
    ours = EncoderDecoderModel.from_pretrained(path)  # the encoder a BERT / RoBERTa stack (bertgen.modeling.bert_stacks)
    return layout, theirs, ours


def test_transformers_bert2gpt2_and_roberta2gpt2_give_the_same_logits(body_pair):
    layout, theirs, ours = body_pair
    inputs = body_batch(layout)
    with torch.no_grad():
        a, b = ours(**inputs), theirs(**inputs)
    assert (a.logits - b.logits).abs().max() < TOL
    assert abs(a.loss.item() - b.loss.item()) < TOL
    kept = inputs["attention_mask"].bool()  # padded positions differ (RoBERTa numbers padding apart): unread
    assert (a.encoder_last_hidden_state - b.encoder_last_hidden_state)[kept].abs().max() < TOL


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=4)])
def test_transformers_bert2gpt2_and_roberta2gpt2_give_the_same_tokens(body_pair, settings):
    layout, theirs, ours = body_pair
    inputs = {k: v for k, v in body_batch(layout).items() if k != "labels"}
    with torch.no_grad():
        a = ours.generate(**inputs, max_new_tokens=10, **settings)
        b = theirs.generate(**inputs, max_new_tokens=10, do_sample=False, **settings)
    assert torch.equal(a, b)


def test_a_loaded_bert2gpt2_saves_for_transformers(body_pair, tmp_path):
    layout, theirs, ours = body_pair
    ours.save_pretrained(tmp_path)
    again = transformers.EncoderDecoderModel.from_pretrained(tmp_path).eval()
    assert type(again.encoder).__name__ == f"{layout.capitalize()}Model"  # the layout it came in
    inputs = body_batch(layout)
    with torch.no_grad():
        assert (again(**inputs).logits - theirs(**inputs).logits).abs().max() < TOL
