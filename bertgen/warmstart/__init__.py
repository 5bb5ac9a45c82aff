"""Warm-starting (Rothe et al. 2020): the paper's schemes, reading pretrained checkpoints in their own layouts,
the reference pass that checks a warm-started encoder, and the report of what a warm start did.

    schemes.py    warm_start(scheme, checkpoint, ...): the public entry point
    plan.py       StackPlan / WarmStartPlan: what each stack takes; apply_plan copies it into a model
    pretrained.py BERT / RoBERTa / BertGeneration checkpoints read as one encoder body (was layouts.py)
    reference.py  the checkpoint's own forward pass with plain torch ops
    report.py     WarmStartReport: loaded / new / shared / folded / dropped, the paper's Table 1 columns

Names are imported lazily (PEP 562): `bertgen.modeling` imports `bertgen.warmstart.plan`, and this package
must not import the model back.
"""
from __future__ import annotations

import importlib

_EXPORTS = {"warm_start": "schemes", "SCHEMES": "plan", "StackPlan": "plan", "WarmStartPlan": "plan",
            "plan_warm_start": "plan", "parse_scheme": "plan", "PretrainedCheckpoint": "pretrained",
            "read_pretrained": "pretrained", "meta_checkpoint": "pretrained",
            "reference_hidden_states": "reference", "WarmStartReport": "report"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"bertgen.warmstart.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'bertgen.warmstart' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
