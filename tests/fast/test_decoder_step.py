"""The decoding step's flat loop over packed weights (FastDecoder) computes what the decoder's modules do, for
both layouts (BertGeneration's post-LN layers, GPT-2's pre-LN blocks), step by step through a KV cache with
padded sources and reordered rows, in float32 and bfloat16; it is taken where it should be, left where it should
not, and rebuilt when a weight changes. With a GPT-2 decoder, generate's tokens are transformers' with the
decoder's modules never running. (Token parity with transformers for BertGeneration is
tests/generation/test_search.py.)"""
from __future__ import annotations

import pytest
import torch

from bertgen.cache import KVCache
from bertgen.fast.decoder_step import BertGenerationStep, FastDecoder, GPT2Step, PackedLinear
from bertgen.generation.quantization import quantize
from tests.support import skip_without_onednn_bf16
from tests.support.generation_models import hf_generation_model, hf_gpt2_generation_model, padded_batch, save_pair

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("one_thread")]

LAYOUTS = {"bert-generation": (lambda: hf_generation_model(seed=1), BertGenerationStep),
           "gpt2": (lambda: hf_gpt2_generation_model(seed=1), GPT2Step),
           # GPT-2's other attention scales: 1 / (layer + 1), without 1 / sqrt(hs)
           "gpt2-scaled": (lambda: hf_gpt2_generation_model(seed=1, scale_attn_weights=False,
                                                            scale_attn_by_inverse_layer_idx=True), GPT2Step)}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def model(request, tmp_path_factory):
    build, step = LAYOUTS[request.param]
    ours = save_pair(build(), tmp_path_factory.mktemp(request.param))
    assert type(FastDecoder.get(ours.decoder)) is step
    return ours


def _encoder_states(model, ids, mask):
    """What the decoder's cross-attention reads: the encoder's output, projected to the decoder's width if needed."""
    states = model.encoder(ids, attention_mask=mask).last_hidden_state
    return model.enc_to_dec_proj(states) if hasattr(model, "enc_to_dec_proj") else states


def _steps_both_ways(model, dtype, steps=6):
    """Hidden states of `steps` cached steps, through the modules and through FastDecoder, with a row
    reorder (as beam search does) after step 2 and an input leaving after step 4."""
    model = model.to(dtype)
    ids, mask = padded_batch(seed=0)
    with torch.inference_mode():
        states = _encoder_states(model, ids, mask)  # (B, S, H)
        fast = FastDecoder.get(model.decoder)
        assert fast is not None
        tokens = torch.randint(5, 40, (ids.shape[0], steps), generator=torch.Generator().manual_seed(0))
        caches = KVCache(len(fast.layers), capacity=4), KVCache(len(fast.layers), capacity=4)  # grows on the way
        slow_mask, fast_mask = mask, mask.bool()[:, None, None, :]
        out = []
        for t in range(steps):
            slow = model.decoder.base_model(tokens[:, t:t + 1], encoder_hidden_states=states,
                                            encoder_attention_mask=slow_mask, past_key_values=caches[0],
                                            use_cache=True).last_hidden_state[:, -1]
            out.append((slow, fast(tokens[:, t], caches[1], states, fast_mask)))
            if t in (2, 4):
                index = torch.arange(len(tokens)).flip(0) if t == 2 else torch.arange(1, len(tokens))
                tokens, states, slow_mask, fast_mask = (x[index] for x in (tokens, states, slow_mask, fast_mask))
                for cache in caches:
                    cache.reorder(index)
                    cache.select_cross(index)
    model.float()
    return out


def test_float32_step_matches_the_modules(model):
    for slow, fast in _steps_both_ways(model, torch.float32):
        torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_bfloat16_step_matches_the_modules_to_bfloat16_rounding(model):
    for slow, fast in _steps_both_ways(model, torch.bfloat16):
        assert fast.dtype == torch.bfloat16
        assert (fast.float() - slow.float()).norm() / slow.float().norm() < 2e-2


def test_rows_grouped_by_input_equal_rows_with_their_own_encoder_copies(model):
    """Beam search's layout: two rows per input attend to one row of encoder states, source mask and
    cross-attention keys/values, and get what rows with a copy each get (the step checked above)."""
    ids, mask = padded_batch(seed=0)
    with torch.inference_mode():
        states = _encoder_states(model, ids, mask)  # (B, S, H)
        fast = FastDecoder.get(model.decoder)
        rows = torch.arange(len(ids)).repeat_interleave(2)  # (2B,) the input of each row
        tokens = torch.randint(5, 40, (len(rows), 4), generator=torch.Generator().manual_seed(1))
        copies, grouped = KVCache(len(fast.layers)), KVCache(len(fast.layers))
        cross_mask = mask.bool()[:, None, None, :]  # (B, 1, 1, S)
        for t in range(4):
            each = fast(tokens[:, t], copies, states[rows], cross_mask[rows])
            shared = fast(tokens[:, t], grouped, states, cross_mask, group=2)
            torch.testing.assert_close(shared, each, rtol=1e-5, atol=1e-5)
        assert grouped.cross[0][0].shape[0] == len(ids)  # one row of keys per input


def test_generate_takes_the_fast_step_only_where_it_applies(model, monkeypatch):
    ids, mask = padded_batch(seed=0)
    used = []
    step_class = type(FastDecoder.get(model.decoder))
    step = step_class.__call__
    monkeypatch.setattr(step_class, "__call__", lambda self, *a: used.append(1) or step(self, *a))
    model.generate(ids, attention_mask=mask, max_new_tokens=4)
    assert used, f"generate no longer runs {step_class.__name__} on a float32 CPU model"
    used.clear()
    model.generate(ids, attention_mask=mask, max_new_tokens=4, use_cache=False)  # no cache: the modules
    quantize(model, "int8").generate(ids, attention_mask=mask, max_new_tokens=4)  # quantized layers: the modules
    assert not used
    assert FastDecoder.get(model.train().decoder) is None  # dropout belongs to the modules
    model.eval()


def test_gpt2_float32_step_reads_the_models_own_weights(tmp_path):
    """Conv1D's (in, out) weights are addmm's layout, and c_attn fuses q/k/v already: no copies to hold."""
    ours = save_pair(hf_gpt2_generation_model(), tmp_path)
    fast, block = FastDecoder.get(ours.decoder), ours.decoder.transformer.h[0]
    assert fast.layers[0].qkv.transposed.data_ptr() == block.attn.c_attn.weight.data_ptr()
    assert fast.layers[0].cross_kv.transposed.data_ptr() == block.crossattention.c_attn.weight.data_ptr()


def test_gpt2_layers_replaced_by_adapters_run_the_modules(tmp_path):
    ours = save_pair(hf_gpt2_generation_model(), tmp_path)
    torch.nn.utils.parametrize.register_parametrization(ours.decoder.transformer.h[1].mlp.c_fc, "weight",
                                                        torch.nn.Identity())
    assert FastDecoder.get(ours.decoder) is None


@pytest.fixture(scope="module", params=[("bert", 32), ("roberta", 32), ("bert", 48)],
                ids=["bert2gpt2", "roberta2gpt2", "bert48-gpt32"])
def gpt2_pair(request, tmp_path_factory):
    encoder, width = request.param
    theirs = hf_gpt2_generation_model(encoder, width)
    with torch.no_grad():
        ids, mask = _gpt2_sources(encoder)
        greedy = theirs.generate(ids, attention_mask=mask, max_new_tokens=12)
    assert (greedy == 1).any(), "no input ends at EOS: the model lost the early finishers the search must handle"
    return encoder, theirs, save_pair(theirs, tmp_path_factory.mktemp(f"{encoder}{width}2gpt2"))


def _gpt2_sources(encoder: str):
    return padded_batch(seed=0, pad=1 if encoder == "roberta" else 0)  # each encoder's padding id


@pytest.mark.parametrize("settings", [dict(num_beams=1), dict(num_beams=4), dict(num_beams=4, length_penalty=2.0)])
def test_gpt2_decoder_generates_transformers_tokens_on_the_fast_step(gpt2_pair, settings, monkeypatch):
    """bert2gpt2, roberta2gpt2 and a wider encoder (enc_to_dec_proj): greedy and beam-4 tokens equal
    transformers', every step through GPT2Step (the decoder's modules would raise)."""
    encoder, theirs, ours = gpt2_pair
    ids, mask = _gpt2_sources(encoder)

    def modules(*args, **kwargs):
        raise AssertionError("the GPT-2 decoder's modules ran: generate fell back from the fast step")

    monkeypatch.setattr(ours.decoder.transformer, "forward", modules)
    ours_tokens = ours.generate(ids, attention_mask=mask, max_new_tokens=12, **settings)
    with torch.no_grad():
        theirs_tokens = theirs.generate(ids, attention_mask=mask, max_new_tokens=12, do_sample=False, **settings)
    assert torch.equal(ours_tokens, theirs_tokens)


def _flip_bert_weight(model):  # in place, as an optimizer step would
    model.decoder.bert.encoder.layer[0].intermediate.dense.weight.mul_(-1.0)


def _replace_gpt2_weight(model):  # a new tensor (GPT-2's float32 step reads the model's own ones in place)
    conv = model.decoder.transformer.h[0].mlp.c_fc
    conv.weight.data = -conv.weight.data


@pytest.mark.parametrize("build, change", [(hf_generation_model, _flip_bert_weight),
                                           (hf_gpt2_generation_model, _replace_gpt2_weight)],
                         ids=["bert-generation", "gpt2"])
def test_changed_decoder_weights_are_seen_between_calls(tmp_path, build, change):
    """generate keeps packed copies of the decoder's weights; an updated weight must not leave them stale."""
    theirs = build(seed=0)
    ours = save_pair(theirs, tmp_path)
    ids, mask = padded_batch(seed=0)
    before = ours.generate(ids, attention_mask=mask, num_beams=3, max_new_tokens=10)
    with torch.no_grad():
        for m in (ours, theirs):
            change(m)
    for num_beams in (1, 3):
        assert torch.equal(ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10),
                           theirs.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10))
    assert not torch.equal(before, ours.generate(ids, attention_mask=mask, num_beams=3, max_new_tokens=10))


def test_bfloat16_weights_take_the_onednn_layout_on_this_torch():
    """A torch upgrade that drops the private oneDNN ops would silently send bfloat16 decoding to a slower GEMM."""
    skip_without_onednn_bf16()
    linear = torch.nn.Linear(48, 96).to(torch.bfloat16)
    packed = PackedLinear(linear.weight, linear.bias)
    assert isinstance(packed.packed, torch.Tensor)
    x = torch.randn(3, 48, dtype=torch.bfloat16)
    torch.testing.assert_close(packed(x), linear(x), rtol=1e-2, atol=1e-2)


def test_beam_cache_reorder_moves_rows_in_place_and_drops_rows_into_new_buffers():
    cache = KVCache(1, capacity=8)
    for t in range(3):
        cache.update(0, torch.full((4, 2, 1, 3), float(t)) + 10 * torch.arange(4.0)[:, None, None, None],
                     torch.zeros(4, 2, 1, 3))
    buffer = cache._keys[0].data_ptr()
    cache.reorder(torch.tensor([3, 3, 0, 1]))  # rows 0 and 2 swap sources: gathered before written
    cache.reorder(torch.tensor([0, 1, 2, 3]))
    assert cache._keys[0].data_ptr() == buffer  # same rows: no new buffer
    keys, _ = cache.update(0, torch.full((4, 2, 1, 3), 9.0), torch.zeros(4, 2, 1, 3))
    assert keys.shape == (4, 2, 4, 3)
    assert keys[:, 0, :, 0].tolist() == [[30, 31, 32, 9], [30, 31, 32, 9], [0, 1, 2, 9], [10, 11, 12, 9]]
    cache.reorder(torch.tensor([2, 0]))  # an input left: two rows remain
    keys, _ = cache.update(0, torch.zeros(2, 2, 1, 3), torch.zeros(2, 2, 1, 3))
    assert keys[:, 1, :4, 0].tolist() == [[0, 1, 2, 9], [30, 31, 32, 9]]
