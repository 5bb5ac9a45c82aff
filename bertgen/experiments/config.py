"""An experiment: one row of one of the paper's tables, as a TOML config (`ExperimentConfig`).

    experiments/configs/<task>/<row>.toml      task, scheme, data scale, lengths, steps, optimizer, decoding, seed
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bertgen.config import check_types
from bertgen.data.registry import TASKS
from bertgen.training.arguments import PRECISIONS
from bertgen.training.schedules import SCHEDULES
from bertgen.warmstart.gpt import is_gpt_scheme
from bertgen.warmstart.plan import PAPER_SCHEMES, parse_scheme

PROJECT = Path(__file__).resolve().parents[2]  # the checkout, when bertgen runs from one
SCHEME_ORDER = PAPER_SCHEMES  # the tables' row order
# `task` and `name` become folder and file names under experiments/results and $BERTGEN_HOME: one plain name
SIMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
# (field, lowest value, what the field is): checked before any training, so a bad value costs nothing
AT_LEAST = (("steps", 1), ("batch_size", 1), ("gradient_accumulation_steps", 1), ("num_beams", 1),
            ("max_new_tokens", 1), ("max_source_length", 1), ("max_target_length", 1), ("test_examples", 1),
            ("validation_examples", 0), ("train_examples", 0), ("warmup_steps", 0), ("eval_every", 0), ("seed", 0),
            ("subset_seed", 0))

# fields that are not part of a config's identity (its hash): a row's name, a source of spread, where the corpus is
NOT_IDENTITY = ("name", "seed", "subset_seed", "data_dir", "paper_row")
# fields added after results existed, with the default that leaves them out of the config's hash
ADDED_LATER = {"source_special_tokens": False}
# values hashed as another: the sweep's runs were made under precision "auto", which picked bf16 on the AMX machine
# they trained on; configs that now pin bf16 (so that no machine's "auto" picks fp32) keep those runs' identity
HASHED_AS = {("precision", "bf16"): "auto"}


@dataclass
class ExperimentConfig:
    """One table row. `train_examples` fixes the workbench's "100%": a random subset of the train split
    (fixed, seed 0) that `fraction` then subsamples (nested), so the 10% column uses a tenth of the data the
    100% column used, for the same number of steps, as in the paper."""

    task: str
    scheme: str
    checkpoint: str = "minilm-l6"
    name: str = ""  # the row's name in the table; default: the config file's stem
    paper_row: str = ""  # the row of paper_results.toml to compare with; default: the scheme
    warm_start: dict = field(default_factory=dict)  # keyword arguments for bertgen.warmstart.warm_start
    fraction: float = 1.0
    # which subset a fraction < 1 takes: 0 is the nested one (the first tenth of the 100% column's shuffled pairs);
    # another value draws another subset. Like the seed, a source of spread, not part of the config's identity
    subset_seed: int = 0
    train_examples: int = 0  # 0: the whole train split
    validation_examples: int = 64  # validation loss during training (learning curves)
    test_examples: int = 200
    max_source_length: int = 40  # examples longer than these (in tokens) are left out, not truncated
    max_target_length: int = 40
    # beyond the paper's bare text: the encoder reads [CLS] text [SEP], as BERT-style checkpoints were pretrained
    # (their first position is [CLS]'s: a word placed there is read as alike whatever it is). The lengths above
    # count the text's tokens either way
    source_special_tokens: bool = False
    steps: int = 100
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 0.025  # the rsqrt schedule's constant (see bertgen/training/schedules.py)
    schedule: str = "rsqrt"
    warmup_steps: int = 20
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    eval_every: int = 0
    # the weights kept are the best by this validation metric (evaluated every eval_every steps), not the last
    early_stopping_metric: str = "val_loss"
    early_stopping_patience: int = 0  # evaluations without improvement before stopping; 0: train all steps
    eval_generate_examples: int = 0  # validation examples decoded and scored at each evaluation (learning curves)
    # beyond the paper: newly initialized parameters (a warm start's random cross-attention, ...) learn this many
    # times faster than the pretrained ones; 1.0 is the paper's single learning rate
    new_parameters_lr_multiplier: float = 1.0
    precision: str = "auto"
    num_beams: int = 1
    max_new_tokens: int = 40
    length_penalty: float = 1.0
    seed: int = 0
    data_dir: str = ""  # offline tasks: a raw corpus directory instead of $BERTGEN_HOME's (tests use the sample)

    @classmethod
    def from_toml(cls, path: str | os.PathLike, overrides: list[str] = ()) -> ExperimentConfig:
        """Read a config; `overrides` are `key=value` strings with TOML values (`steps=50`, `scheme="rnd2rnd"`,
        `warm_start.fold_token_type=false`; a bare word is taken as a string)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such experiment config") from None
        except IsADirectoryError:
            raise IsADirectoryError(f"{path}: is a directory; pass a .toml file such as "
                                    "experiments/configs/bible-modern/bert2bert.toml") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not valid TOML ({err})") from err
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"--set {item!r}: expected key=value")
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
            *parents, leaf = key.strip().split(".")
            target = data
            for part in parents:
                target = target.setdefault(part, {})
                if not isinstance(target, dict):
                    raise ValueError(f"--set {item!r}: {part!r} is not a table in {path}")
            target[leaf] = value
        data.setdefault("name", path.stem)
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "experiment config") -> ExperimentConfig:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; known: {', '.join(fields)}")
        missing = [n for n in ("task", "scheme") if n not in data]
        if missing:
            raise ValueError(f"{where}: missing required key(s) {missing}")
        config = cls(**data)
        check_types(config, where)
        for f in dataclasses.fields(config):  # 1 and 1.0 are one learning rate: one config hash
            if f.type == "float":
                setattr(config, f.name, float(getattr(config, f.name)))
        config.check(where)
        return config

    def check(self, where: str = "experiment config") -> None:
        """Every value before any training: a bad one is a ValueError naming the key and the file."""
        for key in ("task", "name"):
            value = getattr(self, key)
            if (value or key == "task") and (not SIMPLE_NAME.fullmatch(value) or ".." in value):
                raise ValueError(f"{where}: {key} {value!r} must be a plain name (letters, digits, . _ + -, no "
                                 "'/' or '..'): it names folders and files under experiments/results and "
                                 "$BERTGEN_HOME")
        if self.task not in TASKS:
            raise ValueError(f"{where}: unknown task {self.task!r}; the tasks are {', '.join(TASKS)}")
        try:
            if not is_gpt_scheme(self.scheme):
                parse_scheme(self.scheme)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        for key, low in AT_LEAST:
            if getattr(self, key) < low:
                raise ValueError(f"{where}: {key} must be >= {low}, got {getattr(self, key)}")
        if not 0 < self.fraction <= 1:
            raise ValueError(f"{where}: fraction must be in (0, 1], got {self.fraction}")
        for key, low, inclusive in (("learning_rate", 0.0, False), ("weight_decay", 0.0, True),
                                    ("max_grad_norm", 0.0, False), ("length_penalty", -math.inf, False)):
            value = getattr(self, key)
            if not math.isfinite(value) or value < low or (value == low and not inclusive):
                raise ValueError(f"{where}: {key} must be a finite number {'>=' if inclusive else '>'} {low}, "
                                 f"got {value}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"{where}: schedule {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"{where}: precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(f"{where}: batch_size {self.batch_size} must be divisible by gradient_accumulation_steps "
                             f"{self.gradient_accumulation_steps}")

    @property
    def row(self) -> str:
        return self.name or self.scheme

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Of everything that changes the result (not the row's name, the seed, the subset draw or where the corpus
        is; bf16 hashes as "auto", see HASHED_AS). A field added after results existed enters only when it is set, so
        those runs keep their identity."""
        relevant = {k: v for k, v in self.to_dict().items()
                    if k not in NOT_IDENTITY and not (k in ADDED_LATER and v == ADDED_LATER[k])}
        for (key, value), hashed in HASHED_AS.items():
            if relevant.get(key) == value:
                relevant[key] = hashed
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]
