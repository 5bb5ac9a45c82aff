"""The paper's GPT-2 schemes on tiny stand-in checkpoints transformers writes: gpt (GPT-2 reading the input as a
prefix), rnd2gpt, bert2gpt, roberta2gpt. What each loads, shares and leaves new; the prefix model against
transformers' GPT2LMHeadModel on the concatenated sequence; Table 1's GPT rows from configs alone; a few
training steps for every scheme."""
from __future__ import annotations

import pytest
import torch

from bertgen.config import GPT2Config
from bertgen.modeling import EncoderDecoderModel, GPT2LMHeadModel
from bertgen.modeling.prefix_lm import PrefixLMModel
from bertgen.modeling.warm_start import warm_start
from bertgen.warmstart.gpt import meta_gpt2, read_gpt2
from bertgen.experiments.table1 import table1
from tests.support.warmstart_checkpoints import write_checkpoint

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

TINY_GPT2 = dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=98, eos_token_id=98,
                 resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
SEP = 98


def write_gpt2(directory, seed: int = 0, base: bool = False):
    """A tiny GPT-2 saved by transformers (GPT2LMHeadModel, or GPT2Model with base=True), visible weights."""
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**TINY_GPT2))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" not in name:
                p.normal_(0, 0.2)
    (model.transformer if base else model).save_pretrained(directory)
    return model.eval()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt_schemes")
    hf_gpt2 = write_gpt2(root / "gpt2")
    write_checkpoint(root / "bert", "BertForMaskedLM", seed=1, hidden_size=32)
    write_checkpoint(root / "roberta", "RobertaForMaskedLM", seed=2, hidden_size=32)
    return root, hf_gpt2


def build(scheme, root):
    if scheme in ("gpt", "rnd2gpt"):
        return warm_start(scheme, root / "gpt2")
    return warm_start(scheme, root / scheme.removesuffix("2gpt"), decoder_checkpoint=root / "gpt2")


@pytest.mark.parametrize("scheme", ["gpt", "rnd2gpt", "bert2gpt", "roberta2gpt"])
def test_gpt2_tensors_are_loaded_and_cross_attention_is_new(checkpoints, scheme):
    root, hf_gpt2 = checkpoints
    model, report = build(scheme, root)
    gpt2 = model if scheme == "gpt" else model.decoder
    assert isinstance(model, PrefixLMModel if scheme == "gpt" else EncoderDecoderModel)
    for name, tensor in hf_gpt2.state_dict().items():
        assert torch.equal(gpt2.state_dict()[name], tensor), name
    new = set(report.new_names)
    cross = {n for n in model.state_dict() if ".crossattention." in n or ".ln_cross_attn." in n}
    assert cross <= new and len(cross) == (0 if scheme == "gpt" else 2 * 8)
    assert not any("transformer.h.0.attn." in n or n.endswith("wte.weight") for n in new)
    # the ids are GPT-2's: <|endoftext|> starts, ends and pads the output
    assert report.token_ids["decoder"] == {"decoder_start_token_id": SEP, "bos_token_id": SEP, "eos_token_id": SEP,
                                           "pad_token_id": SEP}
    assert "decoder <- " in str(report) and "gpt2 (gpt2, layers [0-1])" in str(report)


def test_rnd2gpt_shares_gpt2s_embedding_matrix_with_a_random_encoder(checkpoints):
    root, hf_gpt2 = checkpoints
    model, report = build("rnd2gpt", root)
    assert model.encoder.embeddings.word_embeddings.weight is model.decoder.transformer.wte.weight
    assert model.decoder.lm_head.weight is model.decoder.transformer.wte.weight
    assert model.encoder.config.pad_token_id is None  # <|endoftext|> is no padding row: it must train
    assert report.embeddings == 99 * 32
    assert any("encoder.encoder.layer.[0-1].attention" in e.pattern for e in report.initialized)
    assert {e.pattern for e in report.shared} == {"decoder.transformer.wte.weight", "decoder.lm_head.weight"}


def test_bert2gpt_keeps_two_vocabularies_and_drops_berts_heads(checkpoints):
    root, _ = checkpoints
    model, report = build("bert2gpt", root)
    assert model.encoder.embeddings.word_embeddings.weight is not model.decoder.transformer.wte.weight
    assert model.config.share_encoder_decoder_embeddings is False
    assert report.embeddings == 2 * 99 * 32
    dropped = " ".join(f"{e.pattern} {e.detail}" for e in report.dropped)
    assert "cls." in dropped and "pre-training heads" in dropped


def test_a_gpt_scheme_refuses_the_wrong_checkpoints(checkpoints):
    root, _ = checkpoints
    with pytest.raises(ValueError, match="takes two checkpoints"):
        warm_start("bert2gpt", root / "bert")
    with pytest.raises(ValueError, match="model_type is 'bert'.*GPT-2 checkpoint"):
        warm_start("rnd2gpt", root / "bert")
    with pytest.raises(ValueError, match="takes BERT weights for the encoder"):
        warm_start("bert2gpt", root / "roberta", decoder_checkpoint=root / "gpt2")
    with pytest.raises(ValueError, match="cross_attention='self' is for BERT decoders|starts its cross-attention"):
        warm_start("bert2gpt", root / "bert", decoder_checkpoint=root / "gpt2", cross_attention="self")
    with pytest.raises(TypeError, match=r"\['layers'\] are options of the BERT and RoBERTa schemes"):
        warm_start("rnd2gpt", root / "gpt2", layers=1)


def test_gpt2model_layout_reads_as_the_same_body(tmp_path):
    hf = write_gpt2(tmp_path / "base", base=True)
    ckpt = read_gpt2(tmp_path / "base")
    assert set(ckpt.state) == set(hf.transformer.state_dict())
    assert ckpt.family == "gpt" and ckpt.dropped == {}


# ------------------------------------------------------------------------------------------ the prefix model

def test_prefix_model_is_gpt2_on_the_concatenated_sequence(checkpoints):
    root, hf_gpt2 = checkpoints
    model, _ = build("gpt", root)
    source = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    labels = torch.tensor([[20, 21, 22, SEP], [23, 24, SEP, -100]])
    with torch.no_grad():
        out = model(input_ids=source, labels=labels)
        decoder_inputs = torch.tensor([[SEP, 20, 21, 22], [SEP, 23, 24, SEP]])
        theirs = hf_gpt2(torch.cat([source, decoder_inputs], 1)).logits[:, 4:]
        assert (out.logits - theirs).abs().max() < 1e-5
        loss = torch.nn.functional.cross_entropy(theirs.reshape(-1, 99), labels.reshape(-1), ignore_index=-100)
        assert abs(out.loss.item() - loss.item()) < 1e-5
        # padding in the source changes nothing: positions count the tokens kept
        padded = torch.tensor([[5, 6, 7, 8, 0, 0], [9, 10, 11, 12, 0, 0]])
        mask = torch.tensor([[1, 1, 1, 1, 0, 0]] * 2)
        again = model(input_ids=padded, attention_mask=mask, labels=labels)
    assert (again.logits - out.logits).abs().max() < 1e-5


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=4), dict(num_beams=4, length_penalty=2.0)])
def test_prefix_generation_matches_transformers_continuation(checkpoints, settings):
    root, hf_gpt2 = checkpoints
    model, _ = build("gpt", root)
    source = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    with torch.no_grad():
        ours = model.generate(source, max_new_tokens=8, **settings)
        prompt = torch.cat([source, torch.full((2, 1), SEP)], 1)
        theirs = hf_gpt2.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=SEP, **settings)
    # ours: the separator and up to 8 tokens after it; theirs: the prompt (separator last), then the same tokens
    assert torch.equal(ours, theirs[:, 4:])


def test_prefix_generation_of_padded_and_unpadded_inputs_agrees(checkpoints):
    root, _ = checkpoints
    model, _ = build("gpt", root)
    source = torch.tensor([[5, 6, 7, 8, 9], [9, 10, 11, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        batch = model.generate(source, attention_mask=mask, max_new_tokens=6, num_beams=3)
        alone = model.generate(source[1:, :3], max_new_tokens=6, num_beams=3)
    assert torch.equal(batch[1, :alone.shape[1]], alone[0])


# ---------------------------------------------------------------------------------------------- training

@pytest.mark.parametrize("scheme", ["gpt", "rnd2gpt", "bert2gpt", "roberta2gpt"])
def test_every_gpt_scheme_trains(checkpoints, scheme):
    root, _ = checkpoints
    model, _ = build(scheme, root)
    model.train()
    torch.manual_seed(0)
    source = torch.randint(5, 90, (4, 7))
    labels = torch.randint(5, 90, (4, 5))
    labels[:, -1] = SEP
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = model(input_ids=source, attention_mask=torch.ones_like(source), labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


# ---------------------------------------------------------------------------------------------- Table 1

@pytest.fixture(scope="module")
def rows():
    return {row["scheme"]: row for row in table1()}


def test_table1_has_the_ten_rows_and_the_gpt_counts(rows):
    assert list(rows) == ["rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare", "robertashare", "gpt",
                          "rnd2gpt", "bert2gpt", "roberta2gpt"]
    with torch.device("meta"):  # transformers' own count of gpt2, the tied head once
        reference = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    assert rows["gpt"]["total"] == round(sum(p.numel() for p in reference.parameters()) / 1e6, 1) == 124.4
    assert rows["gpt"]["random"] == 0.0


@pytest.mark.parametrize("scheme", ["robertashare", "gpt", "rnd2gpt", "roberta2gpt"])
def test_table1_rows_within_one_million_of_the_paper(rows, scheme):
    row = rows[scheme]
    assert abs(row["total"] - row["paper total"]) <= 1.0
    assert abs(row["embeddings"] - row["paper embeddings"]) <= 1.0
    assert abs(row["from checkpoint"] - row["paper from checkpoint"]) <= 1.6  # roberta-base: 124.1 against 125


def test_bert_rows_differ_by_the_cross_attention_convention(rows):
    """bert2gpt is bert2bert's 1.7M over the paper: BERT without pooler (-0.6M) and a 28.3M cross-attention
    where the paper's random column says 26M."""
    assert rows["bert2gpt"]["total - paper"] == rows["bert2bert"]["total - paper"] == 1.7
    assert rows["bert2gpt"]["random"] == rows["bert2bert"]["random"] == 28.4


def test_gpt2_meta_checkpoint_holds_no_memory():
    ckpt = meta_gpt2(GPT2Config())
    assert {t.device.type for t in ckpt.state.values()} == {"meta"}
    model, _ = warm_start("gpt", ckpt, device="meta")
    assert isinstance(model, GPT2LMHeadModel) and {p.device.type for p in model.parameters()} == {"meta"}
