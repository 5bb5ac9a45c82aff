"""The GPT-2 rows end to end on tiny random checkpoints that transformers writes in the real layouts (GPT-2 with a
byte-level BPE tokenizer, a BERT with MiniLM's WordPiece, a RoBERTa with its BPE): warm start, training, test
decoding with the decoder's tokenizer, a CSV row; and a config whose checkpoint is absent fails at once."""
from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest
import torch

from bertgen import pipeline
from bertgen.cli.main import main
from bertgen.data.corpora.brown import SAMPLE_DIR
from bertgen.experiments import ExperimentConfig
from bertgen.experiments.run import read_checkpoint
from bertgen.tokenization import TokenizerPair, load_tokenizer
from bertgen.evaluation import SourceIgnoredWarning
from tests.support.tokenizer_vocabs import MINILM, train_byte_level_bpe
from tests.support.warmstart_checkpoints import write_checkpoint

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = """
task = "brown-fusion"
scheme = "{scheme}"
checkpoint = "{checkpoint}"
data_dir = "{data}"
train_examples = 24
validation_examples = 4
test_examples = 4
max_source_length = 40
max_target_length = 40
max_new_tokens = 4
steps = 2
batch_size = 4
schedule = "linear"
learning_rate = 1e-3
warmup_steps = 1
{warm_start}
"""


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpt_rows")
    gpt2 = train_byte_level_bpe(root / "gpt2", special_tokens=["<|endoftext|>"])
    size = len(load_tokenizer(gpt2))
    end = load_tokenizer(gpt2).convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=size, n_positions=96, n_embd=32, n_layer=2, n_head=4, bos_token_id=end, eos_token_id=end,
    )).save_pretrained(gpt2)
    write_checkpoint(root / "bert", "BertForMaskedLM", seed=1, tokenizer=False, vocab_size=30522, hidden_size=48)
    shutil.copy(MINILM / "vocab.txt", root / "bert" / "vocab.txt")
    roberta = train_byte_level_bpe(root / "roberta")
    write_checkpoint(roberta, "RobertaForMaskedLM", seed=2, tokenizer=False, vocab_size=len(load_tokenizer(roberta)),
                     hidden_size=32)
    return root


def write_config(tmp_path: Path, scheme: str, checkpoint: str, decoder: str | None = None) -> Path:
    path = tmp_path / "experiments" / "configs" / "brown-fusion" / f"{scheme}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    warm = f'warm_start = {{ decoder_checkpoint = "{decoder}" }}' if decoder else ""
    path.write_text(CONFIG.format(scheme=scheme, checkpoint=checkpoint, data=SAMPLE_DIR, warm_start=warm))
    return path


@pytest.mark.parametrize("scheme", ["gpt", "rnd2gpt", "bert2gpt", "roberta2gpt"])
def test_a_gpt_row_runs_end_to_end(checkpoints, tmp_path, monkeypatch, scheme):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    encoder = {"gpt": "gpt2", "rnd2gpt": "gpt2", "bert2gpt": "bert", "roberta2gpt": "roberta"}[scheme]
    decoder = None if scheme in ("gpt", "rnd2gpt") else str(checkpoints / "gpt2")
    config = write_config(tmp_path, scheme, str(checkpoints / encoder), decoder)
    tokenizer = read_checkpoint(ExperimentConfig.from_toml(config)).tokenizer
    assert isinstance(tokenizer, TokenizerPair) == (decoder is not None)
    # the encoder reads its input as the shipped config says: [CLS] text [SEP] (<s> text </s>) before BERT and
    # RoBERTa, GPT-2's bare text otherwise
    shipped = ExperimentConfig.from_toml(Path(__file__).resolve().parents[2] / "experiments" / "configs" / "fusion"
                                         / f"{scheme}.toml")
    assert shipped.source_special_tokens == (scheme in ("bert2gpt", "roberta2gpt"))
    with pytest.warns(SourceIgnoredWarning):  # 2 steps teach a random tiny model nothing about its input
        assert main(["experiment", "run", str(config), "--threads", "1",
                     "--set", f"source_special_tokens={str(shipped.source_special_tokens).lower()}"]) == 0
    (row,) = list(csv.DictReader(open(tmp_path / "experiments" / "results" / "brown-fusion.csv")))
    assert row["scheme"] == scheme and row["steps"] == "2"
    assert 0 <= float(row["sari"]) <= 100 and float(row["val_loss"]) > 0
    assert float(row["copy_sari"]) > 50  # the copy baseline went through both tokenizers and still scores


def test_an_absent_checkpoint_fails_at_once_with_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = write_config(tmp_path, "bert2gpt", "minilm-l6", "gpt2")
    start = time.monotonic()
    assert main(["experiment", "run", str(config), "--threads", "1"]) == 2
    assert time.monotonic() - start < 30  # before any data is read or model built
    err = capsys.readouterr().err
    assert "the GPT-2 (decoder) checkpoint 'gpt2' is not here" in err and "hub id 'gpt2'" in err
    assert "--set warm_start.decoder_checkpoint=DIR" in err and "Traceback" not in err


def test_the_shipped_gpt_configs_read_and_name_their_checkpoints():
    root = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "fusion"
    for scheme, checkpoint, decoder in (("gpt", "gpt2", None), ("rnd2gpt", "gpt2", None),
                                        ("bert2gpt", "minilm-l6", "gpt2"), ("roberta2gpt", "roberta-base", "gpt2")):
        config = ExperimentConfig.from_toml(root / f"{scheme}.toml")
        bert2bert = ExperimentConfig.from_toml(root / "bert2bert.toml")
        assert (config.scheme, config.checkpoint, config.warm_start.get("decoder_checkpoint")) == \
            (scheme, checkpoint, decoder)
        # the training recipe: test_the_shipped_paper_configs_train_with_the_searched_recipe
        same = ("max_source_length", "max_target_length", "max_new_tokens")
        assert all(getattr(config, k) == getattr(bert2bert, k) for k in same)


def test_a_trained_bert2gpt_generates_from_the_command_line(checkpoints, tmp_path, monkeypatch, capsys):
    """`bertgen train` saves both tokenizers beside the weights; `bertgen generate` encodes with BERT's WordPiece and
    writes GPT-2's byte-level text."""
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    config = write_config(tmp_path, "bert2gpt", str(checkpoints / "bert"), str(checkpoints / "gpt2"))
    out = tmp_path / "trained"
    with pytest.warns(SourceIgnoredWarning):
        assert main(["train", str(config), "--output-dir", str(out), "--threads", "1"]) == 0
    assert isinstance(load_tokenizer(out / "model"), TokenizerPair)
    source = tmp_path / "inputs.txt"
    source.write_text("The cat sat on the mat.\nIt was warm.\n")
    capsys.readouterr()
    assert main(["generate", "--model", str(out / "model"), "--input", str(source), "--max-new-tokens", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    expected = pipeline("text2text-generation", model=str(out / "model"), max_new_tokens=3)(
        ["The cat sat on the mat.", "It was warm."])
    assert lines == [e["generated_text"] for e in expected]
