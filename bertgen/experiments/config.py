"""An experiment: one row of one of the paper's tables, as a TOML config (`ExperimentConfig`).

    experiments/configs/<task>/<row>.toml      task, scheme, data scale, lengths, steps, optimizer, decoding, seed
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bertgen.config import check_types
from bertgen.warmstart.plan import PAPER_SCHEMES

PROJECT = Path(__file__).resolve().parents[2]  # the checkout, when bertgen runs from one
SCHEME_ORDER = PAPER_SCHEMES  # the tables' row order


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
    train_examples: int = 0  # 0: the whole train split
    validation_examples: int = 64  # validation loss during training (learning curves)
    test_examples: int = 200
    max_source_length: int = 40  # examples longer than these (in tokens) are left out, not truncated
    max_target_length: int = 40
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
        except tomllib.TOMLDecodeError as err:
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
        if not 0 < config.fraction <= 1:
            raise ValueError(f"{where}: fraction must be in (0, 1], got {config.fraction}")
        return config

    @property
    def row(self) -> str:
        return self.name or self.scheme

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Of everything that changes the result (not the row's name, the seed or where the corpus is)."""
        relevant = {k: v for k, v in self.to_dict().items() if k not in ("name", "seed", "data_dir", "paper_row")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]
