"""The Trainer on data prepared as transformers' recipes prepare it (the warm-starting blog: sources padded to
max_length with an attention_mask, labels padded with -100), against transformers on the same batches:
the same losses and the same weights after each update, and checkpoint folders that are model folders.

transformers' Trainer itself runs in `test_three_updates_equal_transformers_trainer` (it needs `accelerate`, in the
dev extra); the other tests spell its update out with transformers' pieces: `model(**batch).loss` of transformers'
EncoderDecoderModel, AdamW with no decay on biases and LayerNorm weights, clipping at max_grad_norm,
get_linear_schedule_with_warmup.
"""
from __future__ import annotations

import json
import warnings

import datasets
import pytest
import torch

from bertgen import EncoderDecoderModel
from bertgen.training.trainer import Trainer, TrainingArguments, read_log
from tests.support.models import tiny_model

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")
PAD, MAX_SOURCE, MAX_TARGET = 0, 12, 10
ARGS = dict(batch_size=6, learning_rate=3e-3, warmup_steps=0, schedule="linear", log_every=1, progress=False,
            precision="fp32", weight_decay=0.01, max_grad_norm=1.0)


def informative_model(seed: int = 0) -> EncoderDecoderModel:
    """std 0.02 weights leave every loss at log(V); larger ones make masks and paddings show in it."""
    model = tiny_model(seed, dropout=0.0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" not in name:
                p.normal_(0, 0.2)
    return model


def blog_data(n: int = 6, seed: int = 0, pad_labels: bool = True) -> datasets.Dataset:
    """As the blog's `process_data_to_model_inputs`: inputs padded to max_length with [PAD] and an
    attention_mask, labels padded to max_length with -100."""
    g = torch.Generator().manual_seed(seed)
    rows = {"input_ids": [], "attention_mask": [], "labels": []}
    for _ in range(n):
        source = torch.randint(3, 99, (int(torch.randint(3, MAX_SOURCE, (1,), generator=g)),), generator=g).tolist()
        target = source[:int(torch.randint(2, MAX_TARGET - 1, (1,), generator=g))] + [1]
        rows["input_ids"].append(source + [PAD] * (MAX_SOURCE - len(source)))
        rows["attention_mask"].append([1] * len(source) + [0] * (MAX_SOURCE - len(source)))
        rows["labels"].append(target + [-100] * (MAX_TARGET - len(target)) if pad_labels else target)
    return datasets.Dataset.from_dict(rows)


def their_model(model, tmp_path):
    model.save_pretrained(tmp_path / "start")
    return transformers.EncoderDecoderModel.from_pretrained(tmp_path / "start")


def their_batch(data: datasets.Dataset) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(data[k]) for k in ("input_ids", "attention_mask", "labels")}


def train(model, data, tmp_path, steps: int = 1, tokenizer=None, **overrides):
    args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=steps, **{**ARGS, **overrides})
    trainer = Trainer(model, args, data, pad_token_id=PAD, tokenizer=tokenizer)
    trainer.train(resume=False)
    return [r for r in read_log(tmp_path / "run" / "log.jsonl") if r["kind"] == "train"]


def test_the_datasets_attention_mask_is_honoured(tmp_path):
    """Sources padded to max_length: the [PAD] positions are masked as the dataset says, so the first loss is
    transformers' on the same batch (attending to them gives another loss)."""
    model, data = informative_model(), blog_data()
    theirs = their_model(model, tmp_path).train()
    batch = their_batch(data)
    with torch.no_grad():
        expected = theirs(**batch).loss.item()
        unmasked = theirs(**{**batch, "attention_mask": torch.ones_like(batch["attention_mask"])}).loss.item()
    assert abs(expected - unmasked) > 1e-3  # the mask matters on this batch
    assert train(model, data, tmp_path)[0]["loss"] == pytest.approx(expected, abs=1e-5)


def test_the_loss_is_the_mean_over_labelled_tokens(tmp_path):
    """Labels padded with -100 count for nothing: the logged loss is transformers' (a mean over labelled
    tokens), the same as on the unpadded labels."""
    model, data = informative_model(), blog_data()
    theirs = their_model(model, tmp_path).train()
    with torch.no_grad():
        expected = theirs(**their_batch(data)).loss.item()
    padded = train(model, data, tmp_path / "padded")[0]["loss"]
    unpadded = train(informative_model(), blog_data(pad_labels=False), tmp_path / "unpadded")[0]["loss"]
    assert padded == pytest.approx(expected, abs=1e-5)
    assert unpadded == pytest.approx(expected, abs=1e-5)


def test_updates_and_rates_are_transformers(tmp_path):
    """Three updates on the blog's batches: each logged loss and rate, and the final weights, as transformers'
    update (AdamW without decay on biases and LayerNorm weights, clipping, the linear schedule)."""
    model, data = informative_model(), blog_data()
    theirs = their_model(model, tmp_path).train()
    decay = [p for n, p in theirs.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in theirs.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=ARGS["learning_rate"])
    scheduler = transformers.get_linear_schedule_with_warmup(optimizer, 1, 3)
    expected = []
    for _ in range(3):
        expected.append((theirs(**their_batch(data)).loss, scheduler.get_last_lr()[0]))
        expected[-1][0].backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    records = train(model, data, tmp_path, steps=3, warmup_steps=1)
    assert [r["lr"] for r in records] == pytest.approx([lr for _, lr in expected], abs=1e-12)
    assert [r["loss"] for r in records] == pytest.approx([loss.item() for loss, _ in expected], abs=1e-5)
    their_state = theirs.state_dict()
    for name, tensor in model.state_dict().items():
        # a key bias shifts every score of a query alike: its gradient is zero but for rounding, which Adam
        # scales up to +-lr in either library; every other weight agrees
        if not name.endswith("key.bias"):
            assert (tensor - their_state[name]).abs().max() < 1e-5, name


def test_checkpoint_folder_is_a_model_folder(tmp_path):
    """As transformers' checkpoint-N/: config.json, weights, generation config and the tokenizer, loaded by
    bertgen's from_pretrained and load_tokenizer and by transformers, with the same logits."""
    from bertgen import load_tokenizer
    from tests.support.tokenizer_vocabs import train_spiece

    tokenizer = load_tokenizer(train_spiece(tmp_path / "tokenizer", vocab_size=200))
    model, data = informative_model(), blog_data()
    model.generation_config.num_beams = 3
    train(model, data, tmp_path, steps=2, tokenizer=tokenizer)
    folder = tmp_path / "run" / "checkpoint"
    loaded = EncoderDecoderModel.from_pretrained(folder)
    assert loaded.generation_config.num_beams == 3
    assert load_tokenizer(folder).get_vocab() == tokenizer.get_vocab()
    theirs = transformers.EncoderDecoderModel.from_pretrained(folder).eval()
    batch = their_batch(data)
    with torch.no_grad():
        reference = theirs(**batch).logits
        assert (loaded(**batch).logits - reference).abs().max() < 1e-5
        assert (model.eval()(**batch).logits - reference).abs().max() < 1e-5
    assert json.loads((folder / "config.json").read_text())["model_type"] == "encoder-decoder"


def test_decoder_inputs_equal_to_labels_warn_once(tmp_path):
    """The old recipe's variant passes decoder_input_ids = labels: the decoder then learns to copy. Said once."""
    data = blog_data(pad_labels=False)
    data = data.add_column("decoder_input_ids", data["labels"])
    with pytest.warns(UserWarning, match="decoder_input_ids equal labels in training.*Pass labels only"):
        train(informative_model(), data, tmp_path, steps=2)
    model = informative_model()
    labels = torch.tensor(data["labels"][:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(input_ids=labels, labels=labels)  # labels alone: shifted by the model, no warning
        model.eval()(input_ids=labels, decoder_input_ids=labels, labels=labels)  # not training


def test_a_config_with_return_dict_false_trains(tmp_path):
    """A transformers 3.x config says "return_dict": false: the Trainer reads the loss from the tuple."""
    model = informative_model()
    model.config.return_dict = False
    records = train(model, blog_data(), tmp_path)
    assert records[0]["loss"] > 0


def test_three_updates_equal_transformers_trainer(tmp_path):
    """transformers' own Trainer (where `accelerate` is installed) on the same model, batches and settings: the same
    logged losses (transformers rounds them to 4 decimals), the same rates and the same weights after 3 updates."""
    pytest.importorskip("accelerate")
    model, data = informative_model(), blog_data()
    theirs = their_model(model, tmp_path).train()
    settings = transformers.TrainingArguments(
        output_dir=str(tmp_path / "theirs"), per_device_train_batch_size=ARGS["batch_size"], max_steps=3,
        learning_rate=ARGS["learning_rate"], warmup_steps=1, lr_scheduler_type="linear", weight_decay=0.01,
        max_grad_norm=1.0, logging_steps=1, report_to=[], use_cpu=True, save_strategy="no", optim="adamw_torch",
        disable_tqdm=True)
    trainer = transformers.Trainer(model=theirs, args=settings, train_dataset=data)
    trainer.train()
    logged = [r for r in trainer.state.log_history if "loss" in r]
    records = train(model, data, tmp_path, steps=3, warmup_steps=1)
    assert [r["loss"] for r in records] == pytest.approx([r["loss"] for r in logged], abs=1e-4)
    assert [r["lr"] for r in records] == pytest.approx([r["learning_rate"] for r in logged], abs=1e-12)
    their_state = theirs.state_dict()
    for name, tensor in model.state_dict().items():
        if not name.endswith("key.bias"):  # as in test_updates_and_rates_are_transformers
            assert (tensor - their_state[name]).abs().max() < 1e-5, name
