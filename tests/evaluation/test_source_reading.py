"""SourceReading, the Trainer callback that says whether a decoder reads its input: the source gap, the encoder
spread, and one warning that tells a blind decoder from a collapsed encoder."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bertgen.evaluation import SourceIgnoredWarning, SourceReading, token_loss
from bertgen.modeling import EncoderDecoderModel
from bertgen.training.trainer import Trainer, TrainingArguments, read_log
from tests.support.models import tiny_model
from tests.training.test_trainer import tiny_data

pytestmark = pytest.mark.usefixtures("one_thread")


def reading(args: TrainingArguments) -> SourceReading:
    """As the experiments wire it: warn only past warmup and a tenth of training."""
    return SourceReading(tiny_data(16, seed=1), pad_token_id=0, batch_size=8,
                         after_step=max(args.warmup_steps, args.max_steps // 10), learning_rate=args.learning_rate)


def blind_model() -> EncoderDecoderModel:
    """A decoder that cannot read its source: every cross-attention output is zero and stays zero."""
    model = tiny_model(dropout=0.0)
    for layer in model.decoder.bert.encoder.layer:
        dense = layer.crossattention.output.dense
        torch.nn.init.zeros_(dense.weight)
        torch.nn.init.zeros_(dense.bias)
        dense.requires_grad_(False)
    return model


def collapsed_encoder_model() -> EncoderDecoderModel:
    """An encoder that gives one output vector for every token of every input: its last LayerNorm keeps only
    its bias, and stays so."""
    model = tiny_model(dropout=0.0)
    norm = model.encoder.encoder.layer[-1].output.LayerNorm
    torch.nn.init.zeros_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    norm.requires_grad_(False)
    return model


def eval_records(out: Path) -> list[dict]:
    return [r for r in read_log(out / "log.jsonl") if r["kind"] == "eval"]


def test_a_decoder_blind_to_its_source_is_flagged_during_training(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=8, batch_size=8, learning_rate=3e-3, warmup_steps=2,
                             eval_every=2, log_every=2, progress=False, precision="fp32")
    trainer = Trainer(blind_model(), args, tiny_data(), pad_token_id=0, evaluate=reading(args))
    with pytest.warns(SourceIgnoredWarning, match="the decoder ignores its input"):
        trainer.train()
    gaps = [r["val_source_gap"] for r in eval_records(tmp_path)]
    assert len(gaps) == 4 and all(abs(g) < 1e-6 for g in gaps)
    warnings = [r for r in read_log(tmp_path / "log.jsonl") if r["kind"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["step"] == 2  # once, as soon as warmup is over
    assert all(r["val_encoder_spread"] > 0.5 for r in eval_records(tmp_path)), "the encoder is fine: say the decoder"


def test_a_collapsed_encoder_is_told_apart_from_a_blind_decoder(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=4, batch_size=8, learning_rate=3e-3, warmup_steps=2,
                             eval_every=2, log_every=2, progress=False, precision="fp32")
    trainer = Trainer(collapsed_encoder_model(), args, tiny_data(), pad_token_id=0, evaluate=reading(args))
    with pytest.warns(SourceIgnoredWarning, match=r"encoder has collapsed.*learning_rate=0\.001, new_parameters_lr_multiplier=3"):
        trainer.train()
    records = eval_records(tmp_path)
    assert all(r["val_encoder_spread"] < 1e-3 and abs(r["val_source_gap"]) < 1e-5 for r in records), records


def test_a_decoder_that_learnt_to_copy_is_not_flagged(tmp_path, recwarn):
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=150, batch_size=8, learning_rate=3e-3,
                             warmup_steps=10, eval_every=150, log_every=50, progress=False, precision="fp32")
    Trainer(tiny_model(dropout=0.0), args, tiny_data(), pad_token_id=0, evaluate=reading(args)).train()
    gaps = [r["val_source_gap"] for r in eval_records(tmp_path)]
    assert all(g > 0.05 for g in gaps), gaps
    assert not [w for w in recwarn if issubclass(w.category, SourceIgnoredWarning)]


def test_teacher_forced_callbacks_run_in_the_training_precision(tmp_path):
    """In a bf16 run, a callback marked teacher-forced (as SourceReading is) computes its losses as val_loss is
    computed, to the last bit; an unmarked one (decoding) runs in the model's float32."""
    validation, losses = tiny_data(16, seed=1), {}

    def loss_callback(name: str, teacher_forced: bool):
        def callback(model, step):
            losses[name] = token_loss(model, validation, 0, 8)
            return {}
        callback.teacher_forced = teacher_forced
        return callback

    args = TrainingArguments(output_dir=str(tmp_path), max_steps=2, batch_size=8, learning_rate=3e-3, warmup_steps=0,
                             eval_every=2, log_every=2, progress=False, precision="bf16")
    Trainer(tiny_model(dropout=0.0), args, tiny_data(), pad_token_id=0, eval_dataset=validation,
            evaluate=[loss_callback("marked", True), loss_callback("unmarked", False)]).train()
    val_loss = eval_records(tmp_path)[-1]["val_loss"]
    assert losses["marked"] == val_loss
    assert losses["unmarked"] != val_loss and abs(losses["unmarked"] - val_loss) < 0.05  # float32, not bf16
    assert SourceReading.teacher_forced
