"""The configs' common ground: a dataclass with transformers' field names read from and written to `config.json`
(`JsonConfig`), unknown keys kept in `extra` and written back unchanged so a config survives a round trip through
either library; type checks, size limits and the one safe way to read a JSON object from a file."""
from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from bertgen.activations import ACT2FN
from bertgen.fileio import write_json_atomic

CONFIG_NAME = "config.json"
ACTIVATIONS = tuple(ACT2FN)
# Sizes past these are typos or hostile files, not models: refused before any memory is allocated.
MAX_DIM = 2**24  # vocab_size, hidden_size, intermediate_size, max_position_embeddings
MAX_LAYERS = 1024
MAX_MATRIX = 2**33  # elements of the largest weight matrix (32 GiB in float32)
MAX_JSON_DEPTH = 32  # config files are a few levels deep; deeper is refused rather than recursed into


class ConfigError(ValueError):
    """A config value of the wrong type or an impossible combination; the message names the field."""


def _type_matches(value: Any, annotation: Any) -> bool:
    """Does a JSON value fit a field annotation such as `int | None` or `float | int | list[int]`?"""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_matches(value, arm) for arm in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_matches(v, item) for v in value)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:  # JSON true/false are not ids or sizes
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, annotation)


def check_types(config: Any, where: str) -> None:
    """A ConfigError naming the first dataclass field whose value does not fit its annotation."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        if f.name == "extra":
            continue
        value = getattr(config, f.name)
        if not _type_matches(value, hints[f.name]):
            raise ConfigError(
                f"{where}: field '{f.name}' must be {_describe(hints[f.name])}, got {type(value).__name__} {value!r}"
            )


def _describe(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def read_json_object(path: Path, fix: str) -> dict:
    """A JSON file that holds an object; a ConfigError naming the file and `fix` (what to do) when it does not."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid JSON ({err}); {fix}") from err
    except RecursionError:
        raise ConfigError(f"{path}: nested deeper than Python can read; a config is a few levels deep, so the file "
                          f"is damaged or hostile; {fix}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    _check_depth(data, path)
    return data


def _check_depth(data: Any, path: Path) -> None:
    """A ConfigError naming the first key path nested deeper than MAX_JSON_DEPTH (walked without recursion)."""
    stack = [(data, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ConfigError(f"{path}: key '{where}' is nested {depth} levels deep (at most {MAX_JSON_DEPTH}); "
                              "the file is damaged or not a config; restore it from the source")
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in items)


@dataclass
class JsonConfig:
    """`from_dict`/`to_dict`, `from_pretrained`/`save_pretrained` and the fields every config shares.

    As transformers' PretrainedConfig, an attribute that is not a field is kept: `config.num_beams = 4` lands in
    `extra` (written to config.json, read back as `config.num_beams`), the way older recipes set generation
    settings on `model.config` (bertgen.generation.config.model_config_settings finds them there)."""

    model_type: ClassVar[str]
    # what a config.json of another model_type should do instead (said after the mismatch)
    model_type_hint: ClassVar[str] = ""

    _: KW_ONLY  # after each config's own fields in __init__, so their positional order is transformers'
    # what forward() returns when its arguments do not say (transformers' PretrainedConfig fields)
    output_attentions: bool = False
    output_hidden_states: bool = False
    return_dict: bool = True
    extra: dict = field(default_factory=dict, repr=False)  # keys that are not fields, kept for the round trip

    def __post_init__(self) -> None:
        self.validate()  # each config's own checks

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in self.__dataclass_fields__:
            object.__setattr__(self, name, value)
        else:
            self.extra[name] = value

    def __getattr__(self, name: str) -> Any:  # only called for names that are not fields
        extra = self.__dict__.get("extra")
        if name.startswith("_") or extra is None or name not in extra:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return extra[name]

    @classmethod
    def from_dict(cls, data: dict, where: str = "") -> Any:
        """A config from config.json's object: defaults first, then the file's values, then one validation; keys
        that are not fields go to `extra`."""
        where = where or cls.__name__
        data = dict(data)
        model_type = data.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ConfigError(f"{where}: model_type is {model_type!r}, expected {cls.model_type!r}"
                              + cls.model_type_hint)
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: data.pop(k) for k in list(data) if k in names}
        config = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(config, f.name, known.get(f.name, default))
        config.extra = data
        config.validate(where)
        return config

    def to_dict(self) -> dict:
        shared = [f for f in dataclasses.fields(self) if f.kw_only]  # JsonConfig's: written after the config's own
        own = [f for f in dataclasses.fields(self) if not f.kw_only]
        data = {f.name: getattr(self, f.name) for f in own + shared if f.name != "extra"}
        return {**self.extra, **data, "model_type": self.model_type}

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> Any:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file; a model directory needs a {CONFIG_NAME}")
        data = read_json_object(path, "re-save the config or restore it from the source")
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, subfolder: str = "", **overrides: Any) -> Any:
        """config.json of a directory (or of its `subfolder`, as transformers' argument); `overrides` replace
        fields, e.g. `output_attentions=True`."""
        config = cls.from_json_file(Path(directory) / subfolder / CONFIG_NAME)
        return config.replace(**overrides) if overrides else config

    def replace(self, **overrides: Any) -> Any:
        """A copy with some fields replaced; an error naming any that is not a field."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)} - {"extra"}
        if unknown:
            raise ConfigError(f"{type(self).__name__}: unknown field(s) {sorted(unknown)}; the fields are "
                              f"{', '.join(f.name for f in dataclasses.fields(self) if f.name != 'extra')}")
        return dataclasses.replace(self, **{"extra": dict(self.extra), **overrides})  # extra: not shared

    @property
    def use_return_dict(self) -> bool:
        return self.return_dict

    def to_json_file(self, path: str | os.PathLike) -> None:
        write_json_atomic(Path(path), self.to_dict())

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        self.to_json_file(Path(directory) / CONFIG_NAME)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


