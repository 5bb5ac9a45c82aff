"""`TrainingArguments`, and the checks of what enters the Trainer: each argument's value and range, and the
training set's token ids against the model's vocabularies (once, before the first step)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from bertgen.data.collate import LABEL_PAD
from bertgen.training import schedules

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainingArguments:
    output_dir: str
    max_steps: int = 1000
    batch_size: int = 32  # global: examples per optimizer step, over all processes and accumulation steps
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-5  # for `rsqrt` a dimensionless constant (the paper's 0.05); see training/schedules.py
    schedule: str = "linear"  # rsqrt (the paper's), linear, cosine, constant
    warmup_steps: int = 0
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = 1.0  # None: no clipping (the norm is still logged)
    precision: str = "auto"  # fp32, bf16 (autocast), auto: bf16 where it is faster (see resolve_precision)
    eval_every: int = 0  # steps between evaluations; 0: only at the end
    early_stopping_metric: str | None = None  # e.g. "sari" or "val_loss"; the best weights are restored at the end
    early_stopping_patience: int = 0  # evaluations without improvement before stopping; 0: never stop early
    # beyond the paper: the learning rate of the Trainer's `new_parameters` (e.g. a warm start's random
    # cross-attention) is this many times the rest's, so what starts random catches up with what was pretrained
    new_parameters_lr_multiplier: float = 1.0
    checkpoint_every: int = 0  # steps between checkpoints; 0: only at the end
    max_time_s: float | None = None  # stop after this much training time (the schedule still spans max_steps)
    log_every: int = 10
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_training_arguments(self)
        if self.schedule not in schedules.SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: expected one of {', '.join(schedules.SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")


def check_training_arguments(args: TrainingArguments) -> None:
    """Each value where it enters: a ValueError naming the argument, its value and the accepted range."""
    at_least = {"max_steps": 1, "batch_size": 1, "gradient_accumulation_steps": 1, "log_every": 1,
                "warmup_steps": 0, "eval_every": 0, "checkpoint_every": 0, "early_stopping_patience": 0}
    for name, low in at_least.items():
        value = getattr(args, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"TrainingArguments.{name} must be an int >= {low}, got {value!r}"
                             + (" (log every step: 1)" if name == "log_every" else ""))
    finite = {"learning_rate": (0.0, False), "weight_decay": (0.0, True), "adam_epsilon": (0.0, False),
              "new_parameters_lr_multiplier": (0.0, False)}
    for name, (low, inclusive) in finite.items():
        value = getattr(args, name)
        if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
                or value < low or (value == low and not inclusive)):
            raise ValueError(f"TrainingArguments.{name} must be a finite number {'>=' if inclusive else '>'} {low}, "
                             f"got {value!r}" + (" (negative decay pushes weights away from zero)"
                                                 if name == "weight_decay" else ""))
    for name in ("adam_beta1", "adam_beta2"):
        value = getattr(args, name)
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"TrainingArguments.{name} must be in [0, 1), got {value!r}")
    if args.max_grad_norm is not None and (not isinstance(args.max_grad_norm, (int, float))
                                           or not math.isfinite(args.max_grad_norm) or args.max_grad_norm <= 0):
        raise ValueError(f"TrainingArguments.max_grad_norm must be a finite number > 0 (or None: no clipping), got "
                         f"{args.max_grad_norm!r}; a negative norm would flip the gradient (gradient ascent)")
    if args.max_time_s is not None and (not isinstance(args.max_time_s, (int, float)) or args.max_time_s < 0
                                        or math.isnan(args.max_time_s)):
        raise ValueError(f"TrainingArguments.max_time_s must be >= 0 seconds (or None), got {args.max_time_s!r}")
    if not isinstance(args.output_dir, (str, os.PathLike)) or not str(args.output_dir):
        raise ValueError(f"TrainingArguments.output_dir must be a directory path, got {args.output_dir!r}")


def check_training_data(data, model, where: str = "train_dataset") -> None:
    """Every input id inside the encoder's vocabulary, every label inside the decoder's or -100 (skipped):
    a negative label would silently pick a wrapped-around row in training; an id past the vocabulary fails
    deep inside the embedding. Refused here, naming the example."""
    config = getattr(model, "config", None)
    for column, pairs_with in (("attention_mask", "input_ids"), ("decoder_attention_mask", "labels"),
                               ("decoder_input_ids", "labels")):
        if column in data.column_names:
            for i, (a, b) in enumerate(zip(data[column], data[pairs_with])):
                if len(a) != len(b):
                    raise ValueError(f"{where}: example {i} has {len(a)} '{column}' values for {len(b)} "
                                     f"'{pairs_with}'; tokenize both in one call so they pair position by position")
    for column, side in (("input_ids", "encoder"), ("labels", "decoder")):
        vocab = getattr(getattr(config, side, config), "vocab_size", None)
        rows = data[column]
        if vocab is None or not len(rows):
            continue
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        if not lengths.all():
            raise ValueError(f"{where}: example {int(np.argmin(lengths))} has an empty '{column}'; drop it")
        flat = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
        bad = (flat >= vocab) | ((flat < 0) & ~((flat == LABEL_PAD) if column == "labels" else False))
        if bad.any():
            position = int(np.argmax(bad))
            example = int(np.searchsorted(np.cumsum(lengths), position, side="right"))
            allowed = f"0..{vocab - 1}" + (" or -100 (ignored by the loss)" if column == "labels" else "")
            raise ValueError(f"{where}: example {example} has the {column} value {int(flat[position])}, outside "
                             f"{allowed} ({side} vocabulary of {vocab}); was it tokenized for this model?")
