"""bertgen: warm-started BERT encoder-decoders (BertGeneration) in plain PyTorch, with transformers' names.

The public names load lazily (PEP 562): `import bertgen` is instant, and `bertgen.EncoderDecoderModel`
imports torch and the model on first use. The package, one folder or module per concept:

    config.py  modeling/  cache.py  loss.py  activations.py   the model core (transformers' names and layout)
    checkpoints.py  hub.py  fileio.py                         reading and writing checkpoints, atomically
    tokenization/   warmstart/   generation/   pipelines.py   tokenizers, the paper's schemes, decoding
    data/   evaluation/                                       tasks and corpora; metrics, evaluate(), diagnostics
    training/   experiments/   cli/                           Trainer, the paper's tables, the `bertgen` command
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "BertGenerationConfig": "bertgen.config", "EncoderDecoderConfig": "bertgen.config", "GPT2Config": "bertgen.config",
    "GenerationConfig": "bertgen.generation",
    "BertGenerationEncoder": "bertgen.modeling", "BertGenerationDecoder": "bertgen.modeling",
    "EncoderDecoderModel": "bertgen.modeling", "GPT2Model": "bertgen.modeling", "GPT2LMHeadModel": "bertgen.modeling",
    "BertGenerationTokenizer": "bertgen.tokenization", "FastTokenizer": "bertgen.tokenization",
    "load_tokenizer": "bertgen.tokenization", "AutoTokenizer": "bertgen.tokenization",
    "BertTokenizer": "bertgen.tokenization", "TokenizerPair": "bertgen.tokenization",
    "warm_start": "bertgen.modeling", "WarmStartReport": "bertgen.warmstart",
    "pipeline": "bertgen.pipelines",
}
# `bertgen.metrics`: the public name of bertgen.evaluation.metrics (SARI, exact match, BLEU, ROUGE)
_MODULES = {"metrics": "bertgen.evaluation.metrics"}
__all__ = [*_EXPORTS, *_MODULES]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    raise AttributeError(f"module 'bertgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
