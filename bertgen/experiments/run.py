"""Running an experiment: its data at the config's scale, training, test evaluation, and one CSV row per run
in experiments/results/<task>.csv (the ledger), with the run's log and predictions under results/<task>/runs/<run_id>/.
Weights and resumable checkpoints go under `$BERTGEN_HOME/experiments/`.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import datasets
import torch
from safetensors.torch import load_file

from bertgen.data import load_task, tokenize_task
from bertgen.data.progress import datasets_progress
from bertgen.evaluation import SourceReading, collapse_diagnostics, evaluate, score, token_loss, tokenizer_round_trip
from bertgen.experiments.config import PROJECT, ExperimentConfig
from bertgen.experiments.ledger import append_row, check_test_split, git_commit, test_split_id
from bertgen.fast.cpu import cpu_description
from bertgen.hub import resolve_checkpoint_dir
from bertgen.paths import bertgen_home
from bertgen.tokenization import TokenizerPair, load_tokenizer
from bertgen.tokenization.pair import source_tokenizer, target_tokenizer
from bertgen.training import Trainer, TrainingArguments, TrainResult, read_log
from bertgen.training.trainer import BEST, CHECKPOINT
from bertgen.warmstart.gpt import is_gpt_scheme, read_gpt2
from bertgen.warmstart.pretrained import PretrainedCheckpoint, read_pretrained
from bertgen.modeling.warm_start import warm_start


# -------------------------------------------------------------------------------------------------- data

def prepare_data(config: ExperimentConfig, tokenizer, progress: bool = True) -> dict[str, datasets.Dataset]:
    """Tokenized train / validation / test splits at the config's scale (see ExperimentConfig); `progress=False`
    hides datasets' progress bars (tokenizing, length filter)."""
    source_length = max_source_ids(config, tokenizer)
    with datasets_progress(progress):
        dsd = load_task(config.task, data_dir=config.data_dir or None)
        # +1: a side that reaches the limit may have been truncated by it, and then does not fit
        tokenized = tokenize_task(dsd, tokenizer, source_length + 1, config.max_target_length + 1,
                                  source_special_tokens=config.source_special_tokens)
        fits = tokenized.filter(lambda ex: len(ex["input_ids"]) <= source_length
                                and len(ex["labels"]) <= config.max_target_length, desc="length filter")

    def subset(split: str, n: int) -> datasets.Dataset:
        ds = fits[split].shuffle(seed=0)
        return ds.select(range(min(n, len(ds)))) if n else ds

    train = subset("train", config.train_examples)
    if config.fraction < 1 and config.subset_seed:
        train = train.shuffle(seed=config.subset_seed)  # another draw of the fraction, not the nested one
    train = train.select(range(max(1, round(len(train) * config.fraction))))
    return {"train": train, "validation": subset("validation", config.validation_examples),
            "test": subset("test", config.test_examples)}


def max_source_ids(config: ExperimentConfig, tokenizer) -> int:
    """The longest input in ids: the text's limit, plus [CLS] and [SEP] where the encoder reads them."""
    special = source_tokenizer(tokenizer).num_special_tokens_to_add() if config.source_special_tokens else 0
    return config.max_source_length + special


# ---------------------------------------------------------------------------------------------- running

def results_dir_for(config_path: Path) -> Path:
    """experiments/configs/<task>/<row>.toml -> experiments/results."""
    return config_path.resolve().parent.parent.parent / "results"


def run_id_for(config: ExperimentConfig) -> str:
    """A run's id, its row in the CSV and its folder: `<row>-seed<seed>[-draw<subset seed>]-<config hash>`."""
    draw = f"-draw{config.subset_seed}" if config.subset_seed else ""
    return f"{config.row}-seed{config.seed}{draw}-{config.hash()}"


def work_dir() -> Path:
    return bertgen_home() / "experiments"


def read_checkpoint(config: ExperimentConfig) -> PretrainedCheckpoint:
    """The config's pretrained checkpoint, read once: its weights warm-start the model, its tokenizer encodes
    the data (a TokenizerPair where encoder and decoder have two vocabularies: bert2gpt, roberta2gpt)."""
    if is_gpt_scheme(config.scheme):
        return _read_gpt_checkpoints(config)
    checkpoint = read_pretrained(config.checkpoint)
    if checkpoint.tokenizer is None:
        raise FileNotFoundError(f"{checkpoint.directory}: no tokenizer files; an experiment needs the checkpoint's "
                                "tokenizer (vocab.txt, tokenizer.json or spiece.model) beside its weights")
    return checkpoint


def _read_gpt_checkpoints(config: ExperimentConfig) -> PretrainedCheckpoint:
    """A GPT scheme's checkpoints, each found before anything else runs (none can be fetched on a machine without
    the hub): GPT-2's (`warm_start.decoder_checkpoint`, or `checkpoint` for gpt and rnd2gpt) and the encoder's."""
    scheme = config.scheme.lower()
    encoder_family = scheme.partition("2")[0] if "2" in scheme else None
    gpt2 = config.warm_start.get("decoder_checkpoint") or \
        (config.checkpoint if encoder_family in (None, "rnd") else None)
    if gpt2 is None:
        raise ValueError(f"experiment {config.row}: {scheme} takes GPT-2 as its decoder: set "
                         "warm_start.decoder_checkpoint (the hub id gpt2, or a local directory of it)")
    key = "warm_start.decoder_checkpoint" if config.warm_start.get("decoder_checkpoint") else "checkpoint"
    gpt2_dir = _checkpoint_dir(gpt2, "GPT-2 (decoder)", key, config)
    # GPT-2's vocabulary has no padding token: <|endoftext|> pads, as the model's config says (bertgen.warmstart.gpt)
    gpt2_tokenizer = load_tokenizer(gpt2_dir, pad_token="<|endoftext|>")
    if encoder_family in (None, "rnd"):
        checkpoint = read_gpt2(gpt2_dir)
        checkpoint.tokenizer = gpt2_tokenizer
        return checkpoint
    encoder_dir = _checkpoint_dir(config.checkpoint, f"{encoder_family.upper()} (encoder)", "checkpoint", config)
    checkpoint = read_pretrained(encoder_dir)
    if checkpoint.tokenizer is None:
        raise FileNotFoundError(f"{encoder_dir}: no tokenizer files; an experiment needs the encoder checkpoint's "
                                "tokenizer beside its weights")
    checkpoint.tokenizer = TokenizerPair(encoder=checkpoint.tokenizer, decoder=gpt2_tokenizer)
    return checkpoint


def _checkpoint_dir(name: str, what: str, key: str, config: ExperimentConfig) -> Path:
    try:
        return resolve_checkpoint_dir(name)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"experiment {config.row} ({config.scheme}): the {what} checkpoint {name!r} is not here: it is neither a "
            f"local directory nor installed, and the Hugging Face hub (hub id {name!r}) cannot be reached. Download "
            f"it where there is a network (huggingface-cli download {name} --local-dir DIR) and pass the directory: "
            f"--set {key}=DIR (or {key} = \"DIR\" in the config)") from err


def build_model(config: ExperimentConfig, checkpoint: PretrainedCheckpoint):
    torch.manual_seed(config.seed)  # the random parts of the model differ per seed
    return warm_start(config.scheme, checkpoint, **config.warm_start)


def kept_model(results_dir: str | os.PathLike, task: str, run_id: str):
    """A landed run's (config, pretrained checkpoint, model with the weights its row was scored with): early
    stopping's best evaluation, kept in $BERTGEN_HOME on the machine that trained the run, never in git."""
    run_dir = Path(results_dir) / task / "runs" / run_id
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")),
                                        where=str(run_dir / "config.json"))
    weights = work_dir() / task / run_id / BEST
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: run {run_id}'s kept weights are not on this machine; they stay on the "
                                "machine that trained it: rerun it here, or pass a run trained here")
    checkpoint = read_checkpoint(config)
    model, _ = build_model(config, checkpoint)
    model.load_state_dict(load_file(weights))
    return config, checkpoint, model


def training_arguments(config: ExperimentConfig, output_dir: Path, progress: bool = True,
                       **extra: Any) -> TrainingArguments:
    """The Trainer's arguments for a config; `extra` sets the rest (max_time_s, log_every, ...). A checkpoint at
    every evaluation: a run killed between evaluations resumes from the last one."""
    eval_every = config.eval_every or max(1, config.steps // 5)
    settings = dict(
        output_dir=str(output_dir), max_steps=config.steps, batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        schedule=config.schedule, warmup_steps=config.warmup_steps, weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm, precision=config.precision,
        eval_every=eval_every, checkpoint_every=eval_every, log_every=max(1, min(10, config.steps // 20)),
        early_stopping_metric=config.early_stopping_metric or None,
        early_stopping_patience=config.early_stopping_patience,
        new_parameters_lr_multiplier=config.new_parameters_lr_multiplier, seed=config.seed, progress=progress)
    return TrainingArguments(**{**settings, **extra})


def train_model(config: ExperimentConfig, output_dir: Path, progress: bool = True, resume: bool = True, **extra: Any):
    """Warm-start, then train on the config's data; returns (model, tokenizer, data, TrainResult).
    `extra` goes to `training_arguments`."""
    checkpoint = read_checkpoint(config)
    tokenizer = checkpoint.tokenizer
    data = prepare_data(config, tokenizer, progress)
    model, report = build_model(config, checkpoint)
    trainer = Trainer(model, training_arguments(config, output_dir, progress, **extra), data["train"],
                      pad_token_id=tokenizer.pad_token_id, eval_dataset=data["validation"],
                      evaluate=validation_callbacks(config, tokenizer, data["validation"]),
                      new_parameters=report.new_names, tokenizer=tokenizer)
    result = trainer.train(resume=resume)
    return trainer.model, tokenizer, data, result


def validation_callbacks(config: ExperimentConfig, tokenizer, validation: datasets.Dataset) -> list:
    """What the Trainer measures on validation besides its loss: whether the decoder reads its input (the source
    gap and the encoder spread, with a warning once past warmup and a tenth of training), and the decoded
    metrics (`validation_decoding`)."""
    reading = SourceReading(validation, tokenizer.pad_token_id, config.batch_size // config.gradient_accumulation_steps,
                            after_step=max(config.warmup_steps, config.steps // 10), learning_rate=config.learning_rate)
    decoding = validation_decoding(config, tokenizer, validation)
    return [reading] if decoding is None else [reading, decoding]


def validation_decoding(config: ExperimentConfig, tokenizer, validation: datasets.Dataset):
    """The Trainer's evaluate function: decode the first `eval_generate_examples` validation examples and
    score them (task metrics and collapse diagnostics), so learning curves show the metric, not only the
    loss; None when the config asks for no decoding during training."""
    n = min(config.eval_generate_examples, len(validation))
    if n < 2:
        return None
    examples = validation.select(range(n)).remove_columns(["input_ids", "labels", "length"])

    def decode(model, step: int) -> dict[str, float]:
        metrics, _ = evaluate(model, tokenizer, examples, config.task, progress=False,
                              **evaluate_kwargs(config, tokenizer))
        return {f"val_{name}": value for name, value in metrics.items()}

    return decode


def evaluate_kwargs(config: ExperimentConfig, tokenizer) -> dict[str, Any]:
    """How `evaluate` encodes and decodes for a config: the inputs as training read them, then its decoding."""
    return {"max_source_length": max_source_ids(config, tokenizer),
            "source_special_tokens": config.source_special_tokens, "num_beams": config.num_beams,
            "max_new_tokens": config.max_new_tokens, "length_penalty": config.length_penalty}


def run_experiment(config: ExperimentConfig | str | os.PathLike, overrides: list[str] = (),
                   results_dir: str | os.PathLike | None = None, progress: bool = True) -> dict[str, Any]:
    """Train, evaluate on the test split, append a row to <results>/<task>.csv and keep the run's log and
    predictions; returns the row. `config` is an ExperimentConfig or a TOML path (then `overrides` apply and
    the results go beside its configs folder unless `results_dir` says otherwise)."""
    if isinstance(config, ExperimentConfig):
        if overrides:
            raise ValueError("run_experiment: overrides apply to a TOML path; use dataclasses.replace on a config")
        results = Path(results_dir) if results_dir is not None else PROJECT / "experiments" / "results"
    else:
        config_path = Path(config)
        config = ExperimentConfig.from_toml(config_path, list(overrides))
        results = Path(results_dir) if results_dir is not None else results_dir_for(config_path)
    run_id = run_id_for(config)
    scratch = work_dir() / config.task / run_id
    commits = record_commit(scratch)
    start = time.perf_counter()
    ledger = results / f"{config.task}.csv"
    with datasets_progress(progress):
        test_split = test_split_id(load_task(config.task, split="test", data_dir=config.data_dir or None)["test"])
    check_test_split(ledger, test_split)  # before anything trains
    model, tokenizer, data, trained = train_model(config, scratch, progress)
    eval_start = time.perf_counter()
    metrics, predictions = evaluate(model, tokenizer, data["test"].remove_columns(["input_ids", "labels", "length"]),
                                    config.task, progress=progress, **evaluate_kwargs(config, tokenizer))
    model.eval()
    metrics["loss"] = token_loss(model, data["test"], tokenizer.pad_token_id)  # sensitive where outputs are not yet
    copy = copy_baseline(config.task, tokenizer, data["test"])
    end = time.perf_counter()

    run_dir = results / config.task / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(trained.log_path, run_dir / "log.jsonl")
    predictions.to_csv(run_dir / "predictions.csv", index=False)
    row = {"run_id": run_id, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "row": config.row,
           "scheme": config.scheme, "paper_row": config.paper_row or config.scheme, "fraction": config.fraction,
           "seed": config.seed, "subset_seed": config.subset_seed, "config_hash": config.hash(), "git_commit": "..".join(dict.fromkeys([commits[0], commits[-1]])),
           "steps": trained.steps, "stop_reason": trained.stop_reason, "batch_size": config.batch_size, "train_examples": len(data["train"]),
           "test_examples": len(data["test"]), "test_split": test_split, "max_length": f"{config.max_source_length}/{config.max_target_length}",
           "decoding": f"beam {config.num_beams}" if config.num_beams > 1 else "greedy",
           "train_loss": round(trained.train_loss, 4), "best_step": trained.best_step,
           **kept_validation(trained, config.early_stopping_metric), "val_source_gap": _round(last_eval(trained).get("val_source_gap"), 4),
           "val_encoder_spread": _round(last_eval(trained).get("val_encoder_spread"), 3),
           "hardware": hardware(next(model.parameters()).device), "cpu": cpu_description(), "precision": trained.precision, "train_s": round(trained.wall_s, 1), "eval_s": round(end - eval_start, 1), "wall_s": round(end - start, 1),
           **{name: round(value, 3 if name == "loss" else 2) for name, value in metrics.items()},
           **{f"copy_{name}": round(value, 2) for name, value in copy.items()}}
    append_row(ledger, row)
    shutil.rmtree(scratch / CHECKPOINT, ignore_errors=True)  # finished: the resumable state is no longer needed
    return row


def record_commit(scratch: Path) -> list[str]:
    """The commits a run has trained under, oldest first, kept in its scratch folder: the processes of a resumed
    run may have run different code, and its row then says so (`<first>..<last>`). A run starting afresh (no
    checkpoint to resume) forgets an earlier attempt's."""
    path = scratch / "commits.txt"
    earlier = path.read_text(encoding="utf-8").split() if (scratch / CHECKPOINT).is_dir() and path.is_file() else []
    commits = list(dict.fromkeys([*earlier, git_commit()]))
    scratch.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(commits) + "\n", encoding="utf-8")
    return commits


def hardware(device: torch.device) -> str:
    """What a run trained on, for the tables: the GPU's name, or the CPU threads torch used."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''}"


def copy_baseline(task: str, tokenizer, test: datasets.Dataset) -> dict[str, float]:
    """The task's metrics and collapse diagnostics of answering every input with itself: the bar a model
    must clear (for fusion, most of the target is the input)."""
    sources = tokenizer_round_trip(source_tokenizer(tokenizer), test["source"])
    copies = tokenizer_round_trip(target_tokenizer(tokenizer), test["source"])  # as the decoder would write them
    return {**score(task, sources, copies, tokenizer_round_trip(target_tokenizer(tokenizer), test["target"])),
            **collapse_diagnostics(sources, copies)}


def last_eval(result: TrainResult) -> dict[str, float]:
    records = [r for r in read_log(result.log_path) if r.get("kind") == "eval"]
    return records[-1] if records else {}


def kept_validation(result: TrainResult, metric: str | None) -> dict[str, float]:
    """The validation figures of the kept weights' evaluation: the loss, the early-stopping metric (e.g. val_sari),
    and the collapse diagnostics of the outputs decoded there, on which a run is judged collapsed before its test
    set is decoded."""
    records = [r for r in read_log(result.log_path) if r.get("kind") == "eval" and r.get("step") == result.best_step]
    record = records[-1] if records else {}
    metric = metric or "val_loss"
    names = dict.fromkeys(["val_loss", metric, "val_distinct", "val_input_dependence"])
    return {name: _round(record[name], 4) for name in names if name in record}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
