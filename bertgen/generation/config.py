"""`GenerationConfig`: how `generate` decodes, with transformers' field names, read from and written to
`generation_config.json` next to a checkpoint's `config.json`.

A field left at `None` falls back to transformers' global default when `generate` runs (`max_length`: 20
new tokens, `num_beams` 1, `top_k` 50, ...), so a file written by either library means the same in both.
Keys bertgen does not use (`_from_model_config`, `transformers_version`, ...) are kept in `extra` and
written back unchanged.
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertgen.config import ConfigError, check_types, read_json_object
from bertgen.fileio import write_json_atomic

GENERATION_CONFIG_NAME = "generation_config.json"
LENGTH_PENALTY_STYLES = ("hf", "gnmt")

# transformers' `GenerationConfig._get_default_generation_params()` for the fields bertgen implements.
DEFAULTS: dict[str, Any] = {
    "min_length": 0, "do_sample": False, "use_cache": True, "early_stopping": False, "num_beams": 1,
    "temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0, "length_penalty": 1.0,
    "no_repeat_ngram_size": 0, "num_return_sequences": 1, "output_scores": False,
    "return_dict_in_generate": False, "length_penalty_style": "hf",
}
# transformers' settings that change which tokens come out and that bertgen does not implement, each with the values
# that leave decoding as it is (None is transformers' "unset"): a generation config that sets one otherwise would
# decode differently here than in transformers, so reading it from a file warns and passing it to generate is an error
UNSUPPORTED_SETTINGS: dict[str, tuple] = {
    "bad_words_ids": (None, []), "force_words_ids": (None, []), "constraints": (None, []),
    "sequence_bias": (None, {}), "forced_bos_token_id": (None,), "forced_eos_token_id": (None,),
    "suppress_tokens": (None, []), "begin_suppress_tokens": (None, []), "encoder_no_repeat_ngram_size": (None, 0),
    "encoder_repetition_penalty": (None, 1.0), "exponential_decay_length_penalty": (None,),
    "renormalize_logits": (None, False), "remove_invalid_values": (None, False), "token_healing": (None, False),
    "typical_p": (None, 1.0), "epsilon_cutoff": (None, 0.0), "eta_cutoff": (None, 0.0), "min_p": (None, 0.0),
    "top_h": (None,), "num_beam_groups": (None, 1), "diversity_penalty": (None, 0.0), "penalty_alpha": (None,),
    "dola_layers": (None,), "guidance_scale": (None, 1.0), "max_time": (None,), "stop_strings": (None, []),
    "watermarking_config": (None,),
}
DEFAULT_NEW_TOKENS = 20  # what transformers generates when neither max_length nor max_new_tokens is set
TOKEN_ID_FIELDS = ("decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id")


@dataclass
class GenerationConfig:
    """Decoding settings. `None` means "not set here": `resolved()` fills transformers' defaults.

    `length_penalty_style` is bertgen's: "hf" divides a finished beam's log-probability by
    `length ** length_penalty` (transformers), "gnmt" by `((5 + length) / 6) ** length_penalty` (Wu et al.
    2016, the form the paper's translation results used). `length` counts generated tokens, EOS included.
    """

    max_length: int | None = None  # decoder tokens including the start token
    max_new_tokens: int | None = None  # wins over max_length when both are set
    min_length: int | None = None
    min_new_tokens: int | None = None
    early_stopping: bool | str | None = None  # True, False or "never"
    do_sample: bool | None = None
    num_beams: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    length_penalty: float | None = None
    length_penalty_style: str | None = None
    no_repeat_ngram_size: int | None = None
    num_return_sequences: int | None = None
    output_scores: bool | None = None
    return_dict_in_generate: bool | None = None
    use_cache: bool | None = None
    decoder_start_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, where: str = "GenerationConfig") -> None:
        check_types(self, where)
        positive = ("max_length", "max_new_tokens", "num_beams", "num_return_sequences", "temperature")
        for name in positive:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{where}: {name} must be positive, got {value}")
        for name in ("min_length", "min_new_tokens", "top_k", "no_repeat_ngram_size"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{where}: {name} must be >= 0, got {value}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"{where}: top_p must be in (0, 1], got {self.top_p}")
        for name in ("temperature", "top_p", "repetition_penalty", "length_penalty"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"{where}: {name} must be a finite number, got {value}")
        for name in ("decoder_start_token_id", "bos_token_id", "pad_token_id", "eos_token_id"):
            value = getattr(self, name)
            if value == []:
                raise ConfigError(f"{where}: {name} is an empty list; give at least one id or None")
            for token_id in value if isinstance(value, list) else [value]:
                if token_id is not None and token_id < 0:
                    raise ConfigError(f"{where}: {name} must be a token id >= 0, got {token_id}")
        if self.repetition_penalty is not None and self.repetition_penalty <= 0:
            raise ConfigError(f"{where}: repetition_penalty must be positive, got {self.repetition_penalty}")
        if self.early_stopping not in (None, True, False, "never"):
            raise ConfigError(f"{where}: early_stopping must be True, False or 'never', got {self.early_stopping!r}")
        if self.length_penalty_style not in (None, *LENGTH_PENALTY_STYLES):
            raise ConfigError(f"{where}: length_penalty_style must be one of {LENGTH_PENALTY_STYLES}, "
                              f"got {self.length_penalty_style!r}")
        beams, returned = self.num_beams or 1, self.num_return_sequences or 1
        if returned > beams and (beams > 1 or not self.do_sample):  # greedy sampling may draw several
            raise ConfigError(f"{where}: num_return_sequences ({returned}) must be <= num_beams ({beams}) "
                              "(or sample with num_beams=1); raise num_beams or lower num_return_sequences")

    # -------------------------------------------------------------------------------------------- updates

    def update(self, **kwargs: Any) -> GenerationConfig:
        """A copy with `kwargs` set (only those not None); an unknown name is an error that lists the known."""
        names = {f.name for f in dataclasses.fields(self)} - {"extra"}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"generate() got unknown argument(s) {unknown}; generation settings are: "
                            f"{', '.join(sorted(names))}")
        config = dataclasses.replace(self, **{k: v for k, v in kwargs.items() if v is not None})
        config.extra = dict(self.extra)
        return config

    def unsupported(self) -> dict[str, Any]:
        """The transformers settings kept in `extra` that change decoding there and that bertgen does not
        implement: UNSUPPORTED_SETTINGS away from the values that leave decoding as it is."""
        return {k: v for k, v in self.extra.items()
                if k in UNSUPPORTED_SETTINGS and not _no_op(v, UNSUPPORTED_SETTINGS[k])}

    def resolved(self) -> GenerationConfig:
        """Every field that transformers defaults filled in (ids and lengths stay as they are)."""
        return self.update(**{k: v for k, v in DEFAULTS.items() if getattr(self, k) is None})

    @classmethod
    def from_model_config(cls, config: Any, settings: bool = True) -> GenerationConfig:
        """A generation config from a model config, as transformers derives one from a `config.json` without a
        `generation_config.json`: special tokens, top-level first, then the decoder's (bos, eos and pad live
        there in BertGeneration configs); and, with `settings`, the generation settings the config carries
        (checkpoints fine-tuned before transformers 4.26 keep `num_beams`, `max_length`, ... there)."""
        decoder = getattr(config, "decoder", config)

        def pick(name: str) -> Any:
            value = getattr(config, name, None)
            return value if value is not None else getattr(decoder, name, None)

        ids = {name: pick(name) for name in TOKEN_ID_FIELDS}
        ids["decoder_start_token_id"] = getattr(config, "decoder_start_token_id", None)
        found = model_config_settings(config) if settings else {}
        return cls.from_dict({**found, **ids}, where=f"{type(config).__name__}'s generation settings")

    # ------------------------------------------------------------------------------------------- JSON in/out

    @classmethod
    def from_dict(cls, data: dict, where: str = "GenerationConfig") -> GenerationConfig:
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        config = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            setattr(config, f.name, known.get(f.name))
        config.extra = extra
        config.validate(where)
        return config

    def to_dict(self) -> dict:
        """The fields that are set (transformers writes only what differs from its defaults as well)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "extra" and getattr(self, f.name) is not None}
        return {**self.extra, **data}

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> GenerationConfig:
        path = Path(directory) / GENERATION_CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no {GENERATION_CONFIG_NAME} here; use "
                                    "GenerationConfig.from_model_config(model.config) for the defaults")
        config = cls.from_dict(read_json_object(path, "fix or delete the file"), where=str(path))
        if unsupported := config.unsupported():
            warnings.warn(f"{path}: bertgen does not implement {unsupported}; transformers decodes with them, bertgen "
                          "without, so the two may give other tokens. Delete them from the file to silence this, or "
                          "decode this checkpoint with transformers", UserWarning, stacklevel=2)
        return config

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        write_json_atomic(Path(directory) / GENERATION_CONFIG_NAME, self.to_dict())


def _no_op(value: Any, no_ops: tuple) -> bool:
    return not hasattr(value, "shape") and value in no_ops  # an array or tensor, which == cannot decide, is not


def _settings_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(GenerationConfig)
                 if f.name not in (*TOKEN_ID_FIELDS, "extra", "use_cache"))


def model_config_settings(config: Any) -> dict[str, Any]:
    """The generation settings (`num_beams`, `max_length`, `no_repeat_ngram_size`, ...) a model config carries:
    read from its config.json, or set on it in memory as the warm-starting blog does (`model.config.num_beams
    = 4`). As transformers' from_model_config: the top level's, then, for a setting unset or at transformers'
    default there, the decoder's. (`use_cache` is a model field, not counted.)"""
    decoder = getattr(config, "decoder", None)
    top, inner = getattr(config, "extra", {}), getattr(decoder, "extra", {})
    settings = {}
    for name in _settings_names():
        value = top.get(name)
        if (value is None or value == DEFAULTS.get(name)) and inner.get(name) is not None:
            value = inner[name]
        if value is not None:
            settings[name] = value
    return settings


def pop_model_config_settings(config: Any) -> dict[str, Any]:
    """Remove the generation settings from a model config (top level and stacks) once they are in a generation
    config, as transformers 5 pops them from config.json at load time; returns what model_config_settings read."""
    settings = model_config_settings(config)
    names = set(_settings_names())
    for section in (config, getattr(config, "encoder", None), getattr(config, "decoder", None)):
        if section is not None and hasattr(section, "extra"):
            section.extra = {k: v for k, v in section.extra.items() if k not in names}
    return settings


def loaded_generation_config(found: GenerationConfig | None, config: Any) -> GenerationConfig:
    """A checkpoint's decoding defaults, as transformers 5 reads them at load time: its generation_config.json
    (`found`, None where it has none), else the settings and ids of its config.json (`config`). The settings then
    leave `config`, so that what is found on `model.config` later was set there in memory (see
    bertgen.generation.resolve.resolve_config)."""
    generation = found if found is not None else GenerationConfig.from_model_config(config)
    pop_model_config_settings(config)
    return generation
