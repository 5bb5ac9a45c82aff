"""Test helpers shared across the suite: tiny model sizes, models and checkpoints written by transformers (the
reference implementation), tokenizer vocabularies. Fixtures are in tests/conftest.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]  # the checkout: test files run as worker scripts import from it

# The tiny architecture every parity and training test builds (no dropout: outputs are deterministic).
TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a test file run as a worker process (one thread; `tests` importable)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
               **extra)
    return env


def skip_without_onednn_bf16() -> None:
    """Skip a test that builds oneDNN's bfloat16 weights: a torch without oneDNN, or a CPU where oneDNN refuses
    bfloat16 (AVX2 alone)."""
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch build has no oneDNN")
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        pytest.skip("oneDNN has no bfloat16 kernels on this CPU")
