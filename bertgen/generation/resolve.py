"""What `generate` decodes with, as transformers 5 resolves it: its keyword arguments, over the settings a passed
`generation_config` sets, over the model's generation config, over transformers' defaults; and what it does with
transformers' arguments that bertgen does not implement (accepted where they leave decoding as it is, an error
that names them where they would not).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from bertgen.generation.config import (TOKEN_ID_FIELDS, UNSUPPORTED_SETTINGS, GenerationConfig,
                                       model_config_settings)


def resolve_config(model, generation_config: Any, kwargs: dict) -> GenerationConfig:
    """What decodes, as transformers 5 resolves it: `kwargs` over the settings `generation_config` sets (bertgen's
    GenerationConfig or transformers', whose unset fields are None), over the model's generation config, over
    transformers' defaults. Without a `generation_config`, the settings written on `model.config` in memory come
    between the model's generation config and `kwargs`, as transformers 4 used them."""
    base = getattr(model, "generation_config", None)
    base = GenerationConfig.from_model_config(model.config) if base is None else as_generation_config(base)
    # ids set on model.config after the generation config was made (the blog sets them after loading)
    ids = GenerationConfig.from_model_config(model.config, settings=False)
    base = base.update(**{k: getattr(ids, k) for k in TOKEN_ID_FIELDS if getattr(base, k) is None})
    if generation_config is not None:
        passed = as_generation_config(generation_config)
        # the model's own unimplemented settings warned when it loaded; a passed config may carry them back
        if unsupported := {k: v for k, v in passed.unsupported().items() if base.extra.get(k) != v}:
            raise TypeError(f"generate(generation_config=...): bertgen does not implement {unsupported}; unset them "
                            "(transformers' defaults leave decoding as it is), or decode with transformers")
        base = base.update(**{k: v for k, v in passed.to_dict().items() if k not in passed.extra})
    elif settings := model_config_settings(model.config):
        _note_config_settings(model, settings)
        base = base.update(**settings)
    arguments = bertgen_arguments(kwargs)
    config = base.update(**arguments).resolved()
    # an argument passed as None unsets what the configs set, as in transformers 5 (eos_token_id=None: no EOS ends a
    # sequence; top_k=None: no top-k filter, which top_k=0 says here); update() reads None as "not given"
    unset = {k: 0 if k == "top_k" else None for k, v in arguments.items() if v is None and k in EXPLICIT_NONE}
    config = dataclasses.replace(config, **unset)
    config.validate("generate()")
    return config


# the settings whose None, passed to generate, transformers 5 decodes as "none" rather than as its default
EXPLICIT_NONE = (*TOKEN_ID_FIELDS, "top_k", "max_new_tokens")


def as_generation_config(config: Any) -> GenerationConfig:
    """`config` as a bertgen GenerationConfig: itself, or read from the `to_dict()` of transformers' (or any such)."""
    if isinstance(config, GenerationConfig):
        return config
    if not callable(getattr(config, "to_dict", None)):
        raise TypeError(f"generate: a generation config must be a GenerationConfig (bertgen's or transformers'), "
                        f"got {type(config).__name__}")
    return GenerationConfig.from_dict(config.to_dict(), where=f"{type(config).__module__}.GenerationConfig")


# transformers' generate arguments that hook in code (processors, streamers, assisted decoding), which bertgen's
# does not take, with the values that leave decoding as it is (callers that wrap generate pass them)
TRANSFORMERS_HOOKS: dict[str, tuple] = {
    "logits_processor": (None,), "stopping_criteria": (None,), "prefix_allowed_tokens_fn": (None,),
    "synced_gpus": (None, False), "assistant_model": (None,), "streamer": (None,), "negative_prompt_ids": (None,),
    "negative_prompt_attention_mask": (None,), "use_model_defaults": (None, True), "custom_generate": (None,),
    "assistant_tokenizer": (None,), "tokenizer": (None,),
}


def bertgen_arguments(kwargs: dict) -> dict:
    """generate's keyword arguments less transformers' that leave decoding as it is (a hook passed as None, a
    setting bertgen does not implement at its no-op value), as transformers accepts them; one that would change
    decoding is an error that says so."""
    hooks = sorted(k for k, v in kwargs.items()
                   if k in TRANSFORMERS_HOOKS and not any(v is n or v == n for n in TRANSFORMERS_HOOKS[k]))
    if hooks:
        raise TypeError(f"generate: bertgen does not take transformers' {hooks}; leave them out (or None), "
                        "or decode with transformers")
    if unsupported := GenerationConfig(extra=kwargs).unsupported():
        raise TypeError(f"generate: bertgen does not implement {unsupported}; leave them out (or at transformers' "
                        "defaults, which leave decoding as it is), or decode with transformers")
    return {k: v for k, v in kwargs.items() if k not in TRANSFORMERS_HOOKS and k not in UNSUPPORTED_SETTINGS}


def _note_config_settings(model, settings: dict) -> None:
    """Once per model: generation settings on model.config are used, and where they now belong."""
    if model.__dict__.get("_noted_config_settings") == settings:
        return
    model.__dict__["_noted_config_settings"] = dict(settings)
    assignments = "; ".join(f"model.generation_config.{k} = {v!r}" for k, v in settings.items())
    warnings.warn(f"generate: model.config carries generation settings {settings}; they are used, as transformers 4 "
                  f"used them (transformers 5 refuses them), but they belong on the generation config: "
                  f"{assignments}. save_pretrained writes them to generation_config.json.", UserWarning, stacklevel=5)
