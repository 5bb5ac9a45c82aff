"""Generation: greedy, beam search and sampling with transformers' arguments and outputs.

`config` (GenerationConfig, generation_config.json), `processors` (what changes the scores),
`search` (the decoding loops), `causal` (a standalone decoder continuing a prompt), `quantization` (int8 and
4-bit weights for decoding). The CPU fast path that `search` takes where it can is in `bertgen.fast`.
"""
from bertgen.generation.config import GenerationConfig
from bertgen.generation.processors import (MinLength, NoRepeatNGram, RepetitionPenalty, Temperature, TopK, TopP,
                                           build_processors)
from bertgen.generation.search import GenerateOutput, generate, length_penalty
from bertgen.generation.causal import generate_causal  # noqa: I001 (after search, which it uses)

__all__ = ["GenerationConfig", "GenerateOutput", "generate", "generate_causal", "length_penalty", "build_processors",
           "MinLength", "NoRepeatNGram", "RepetitionPenalty", "Temperature", "TopK", "TopP"]
