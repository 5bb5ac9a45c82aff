"""generate() arguments, checked once at entry: the exact error and a fragment of its message for each."""
from __future__ import annotations

import math

import pytest
import torch

from bertgen.config import ConfigError
from tests.support.models import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

IDS = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])


@pytest.fixture(scope="module")
def model():
    return tiny_model()


# (case id, input_ids, attention_mask, kwargs, error, fragment)
CASES = [
    ("mask-wrong-shape", IDS, MASK[:1], {}, ValueError, "attention_mask has shape (1, 5) but input_ids (2, 5)"),
    ("mask-transposed", IDS, MASK.t(), {}, ValueError, "attention_mask has shape (5, 2)"),
    ("mask-value-two", IDS, MASK * 2, {}, ValueError, "must hold only 0 (padding) and 1 (token)"),
    ("mask-negative", IDS, -MASK, {}, ValueError, "must hold only 0 (padding) and 1 (token)"),
    ("mask-fractional", IDS, MASK * 0.5, {}, ValueError, "must hold only 0 (padding) and 1 (token)"),
    ("mask-list", IDS, MASK.tolist(), {}, TypeError, "attention_mask must be a tensor"),
    ("ids-float", IDS.float(), MASK, {}, TypeError, "input_ids must hold integer token ids, got dtype torch.float32"),
    ("ids-bool", IDS > 6, MASK, {}, TypeError, "got dtype torch.bool"),
    ("ids-1d", IDS[0], None, {}, ValueError, "input_ids must be a 2-D tensor (batch >= 1, length), got (5,)"),
    ("ids-3d", IDS[None], None, {}, ValueError, "got (1, 2, 5)"),
    ("ids-empty-batch", IDS[:0], None, {}, ValueError, "got (0, 5)"),
    ("ids-list", IDS.tolist(), None, {}, ValueError, "got list"),
    ("ids-negative", IDS - 20, None, {}, ValueError, "input_ids holds the id -20, outside the encoder vocabulary (0..98)"),
    ("ids-past-vocab", IDS + 90, None, {}, ValueError, "input_ids holds the id 102, outside the encoder vocabulary"),
    ("eos-negative", IDS, MASK, {"eos_token_id": -1}, ConfigError, "eos_token_id must be a token id >= 0, got -1"),
    ("eos-past-vocab", IDS, MASK, {"eos_token_id": 99}, ValueError,
     "eos_token_id 99 is outside the decoder vocabulary (0..98)"),
    ("eos-list-past-vocab", IDS, MASK, {"eos_token_id": [1, 500]}, ValueError, "eos_token_id 500 is outside"),
    ("pad-negative", IDS, MASK, {"pad_token_id": -2}, ConfigError, "pad_token_id must be a token id >= 0"),
    ("pad-past-vocab", IDS, MASK, {"pad_token_id": 1000}, ValueError, "pad_token_id 1000 is outside the decoder"),
    ("start-past-vocab", IDS, MASK, {"decoder_start_token_id": 99}, ValueError,
     "decoder_start_token_id 99 is outside the decoder vocabulary"),
    ("start-negative", IDS, MASK, {"decoder_start_token_id": -1}, ConfigError,
     "decoder_start_token_id must be a token id >= 0"),
    ("start-float", IDS, MASK, {"decoder_start_token_id": 2.0}, ConfigError, "'decoder_start_token_id' must be"),
    ("length-penalty-nan", IDS, MASK, {"num_beams": 2, "length_penalty": math.nan}, ConfigError,
     "length_penalty must be a finite number, got nan"),
    ("length-penalty-inf", IDS, MASK, {"num_beams": 2, "length_penalty": math.inf}, ConfigError,
     "length_penalty must be a finite number, got inf"),
    ("temperature-nan", IDS, MASK, {"do_sample": True, "temperature": math.nan}, ConfigError,
     "temperature must be a finite number"),
    ("temperature-zero", IDS, MASK, {"do_sample": True, "temperature": 0.0}, ConfigError,
     "temperature must be positive"),
    ("temperature-negative", IDS, MASK, {"do_sample": True, "temperature": -1.0}, ConfigError,
     "temperature must be positive"),
    ("top-p-nan", IDS, MASK, {"do_sample": True, "top_p": math.nan}, ConfigError, "top_p must be in (0, 1]"),
    ("top-p-zero", IDS, MASK, {"do_sample": True, "top_p": 0.0}, ConfigError, "top_p must be in (0, 1]"),
    ("top-p-two", IDS, MASK, {"do_sample": True, "top_p": 2.0}, ConfigError, "top_p must be in (0, 1]"),
    ("top-k-negative", IDS, MASK, {"do_sample": True, "top_k": -1}, ConfigError, "top_k must be >= 0"),
    ("repetition-nan", IDS, MASK, {"repetition_penalty": math.nan}, ConfigError,
     "repetition_penalty must be a finite number"),
    ("repetition-zero", IDS, MASK, {"repetition_penalty": 0.0}, ConfigError, "repetition_penalty must be positive"),
    ("beams-zero", IDS, MASK, {"num_beams": 0}, ConfigError, "num_beams must be positive, got 0"),
    ("beams-negative", IDS, MASK, {"num_beams": -1}, ConfigError, "num_beams must be positive, got -1"),
    ("beams-string", IDS, MASK, {"num_beams": "4"}, ConfigError, "'num_beams' must be"),
    ("returns-over-beams", IDS, MASK, {"num_beams": 2, "num_return_sequences": 3}, ConfigError,
     "num_return_sequences (3) must be <= num_beams (2)"),
    ("max-new-zero", IDS, MASK, {"max_new_tokens": 0}, ConfigError, "max_new_tokens must be positive"),
    ("max-new-past-positions", IDS, MASK, {"max_new_tokens": 1000}, ValueError,
     "exceeds the decoder's max_position_embeddings=64"),
    ("max-length-one", IDS, MASK, {"max_length": 1, "max_new_tokens": None}, ValueError, "leaves no room for a token"),
    ("ngram-negative", IDS, MASK, {"no_repeat_ngram_size": -1}, ConfigError, "no_repeat_ngram_size must be >= 0"),
    ("min-new-negative", IDS, MASK, {"min_new_tokens": -1}, ConfigError, "min_new_tokens must be >= 0"),
    ("early-stopping", IDS, MASK, {"num_beams": 2, "early_stopping": "sometimes"}, ConfigError,
     "early_stopping must be True, False or 'never'"),
    ("unknown-argument", IDS, MASK, {"beam_size": 4}, TypeError, "unknown argument(s) ['beam_size']"),
    ("generator-not-generator", IDS, MASK, {"do_sample": True, "generator": 1234}, TypeError,
     "generator must be a torch.Generator"),
]


@pytest.mark.parametrize("input_ids, attention_mask, kwargs, error, fragment", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_generate_arguments(model, input_ids, attention_mask, kwargs, error, fragment):
    before = model.generation_config.to_dict()
    kwargs = {"max_new_tokens": 4, **kwargs}
    with pytest.raises(error) as info:
        model.generate(input_ids, attention_mask=attention_mask, **kwargs)
    assert fragment in str(info.value)
    assert model.generation_config.to_dict() == before  # a refused call changes no defaults


def test_a_valid_mask_of_bools_decodes_as_ints(model):
    """The checks accept every honest form of a mask: bool, int and float 0/1 give the same tokens."""
    out = [model.generate(IDS, attention_mask=m, max_new_tokens=4) for m in (MASK, MASK.bool(), MASK.float())]
    assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])
