"""benchmarks/ort_anchor.py: transformers' model exported to ONNX decodes the same tokens under ONNX Runtime."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from tests.conftest import hf_tiny_encoder_decoder
from tests.support import ROOT

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytestmark = pytest.mark.usefixtures("one_thread")

_spec = importlib.util.spec_from_file_location("bench_ort_anchor", ROOT / "benchmarks" / "ort_anchor.py")
ort_anchor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ort_anchor)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = hf_tiny_encoder_decoder(seed=3)
    directory = tmp_path_factory.mktemp("onnx")
    ort_anchor.export(model, str(directory))
    return model, str(directory)


def test_export_leaves_the_model_in_eval_mode(exported):
    model, _ = exported
    assert not any(m.training for m in model.modules())


# eos 60: this model's favourite token, so rows end at different steps (later rows padded, as transformers
# pads them) unless min_new_tokens holds the end token back; eos 1 never comes up.
@pytest.mark.parametrize("batch, source, new, least, eos", [(1, 7, 12, 12, 60), (3, 5, 9, 0, 60), (2, 11, 6, 6, 1),
                                                             (3, 5, 9, 4, 60)])
def test_onnx_runtime_greedy_returns_transformers_tokens(exported, batch, source, new, least, eos):
    model, directory = exported
    ids = torch.randint(3, 99, (batch, source), generator=torch.Generator().manual_seed(batch + source))
    theirs = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=least,
                            num_beams=1, do_sample=False, eos_token_id=eos)
    ours = ort_anchor.OrtGreedy(directory, 1, start_id=2, eos_id=eos).generate(ids, new, least)
    assert torch.equal(ours, theirs), (ours, theirs)


@pytest.mark.parametrize("batch, source, new, least, eos, beams", [(1, 7, 10, 10, 60, 4), (3, 5, 9, 0, 60, 3),
                                                                   (2, 11, 6, 0, 1, 2), (3, 5, 8, 3, 23, 4)])
def test_onnx_runtime_beam_search_returns_transformers_tokens(exported, batch, source, new, least, eos, beams):
    # pad 5, not the model's 0: transformers 5.23's beam search fills finished beams with
    # `pad_token_id or eos_token_id[0]`, and a pad id of 0 is falsy there, so it pads with the end token
    model, directory = exported
    ids = torch.randint(3, 99, (batch, source), generator=torch.Generator().manual_seed(batch + source))
    theirs = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=least,
                            num_beams=beams, do_sample=False, eos_token_id=eos, pad_token_id=5)
    ours = ort_anchor.OrtGreedy(directory, 1, start_id=2, eos_id=eos, pad_id=5).beam_search(ids, beams, new, least)
    assert torch.equal(ours, theirs), (ours, theirs)
