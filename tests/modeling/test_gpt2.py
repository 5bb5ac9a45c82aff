"""GPT-2 against transformers on the same tiny random weights: logits, cache, loss, generation, both checkpoint
layouts (GPT2LMHeadModel, GPT2Model) from safetensors and pytorch_model.bin, and config.json both ways."""
from __future__ import annotations

import json

import pytest
import torch

from bertgen.checkpoints import CheckpointError
from bertgen.config import ConfigError, GPT2Config
from bertgen.modeling import GPT2LMHeadModel, GPT2Model

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("one_thread")

TOL = 1e-5
TINY_GPT2 = dict(vocab_size=99, n_positions=40, n_embd=32, n_layer=2, n_head=4, bos_token_id=98, eos_token_id=98,
                 resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def hf_gpt2(seed: int = 0, **overrides):
    """transformers' GPT2LMHeadModel with weights large enough that differences show (std 0.02 leaves logits ~0)."""
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**{**TINY_GPT2, **overrides}))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" not in name:
                p.normal_(0, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    theirs = hf_gpt2(add_cross_attention=True)
    path = tmp_path_factory.mktemp("gpt2")
    theirs.save_pretrained(path)
    return theirs, GPT2LMHeadModel.from_pretrained(path), path


def test_config_fields_and_defaults_are_transformers(tmp_path):
    ours, theirs = GPT2Config(), transformers.GPT2Config()
    for name, value in ours.to_dict().items():
        if name != "is_decoder":  # a PretrainedConfig field of transformers 4.x; bertgen keeps it for the decoder
            assert getattr(theirs, name) == value, name
    assert (ours.hidden_size, ours.num_hidden_layers, ours.num_attention_heads, ours.max_position_embeddings) == \
        (768, 12, 12, 1024)
    transformers.GPT2Config(**TINY_GPT2, n_inner=48).save_pretrained(tmp_path)
    loaded = GPT2Config.from_pretrained(tmp_path)
    assert (loaded.n_inner, loaded.intermediate_size, loaded.extra["architectures"] if "architectures" in
            loaded.extra else None) == (48, 48, None)
    loaded.save_pretrained(tmp_path / "back")
    again = transformers.GPT2Config.from_pretrained(tmp_path / "back")
    assert (again.n_inner, again.n_embd, again.vocab_size) == (48, 32, 99)


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="n_embd .30. must be divisible by n_head .4."):
        GPT2Config(n_embd=30, n_head=4)
    with pytest.raises(ConfigError, match="eos_token_id 50256 is outside the vocabulary"):
        GPT2Config(vocab_size=99, bos_token_id=1)
    with pytest.raises(ConfigError, match="activation_function 'tanh'"):
        GPT2Config(activation_function="tanh")


def test_parameter_names_and_conv1d_layout(pair):
    theirs, ours, _ = pair
    assert set(ours.state_dict()) == set(theirs.state_dict())
    assert ours.transformer.h[0].attn.c_attn.weight.shape == (32, 96)  # (in, out)
    assert ours.transformer.h[0].crossattention.q_attn.weight.shape == (32, 32)
    assert ours.lm_head.weight is ours.transformer.wte.weight


def test_logits_cache_and_loss_match_transformers(pair):
    theirs, ours, _ = pair
    torch.manual_seed(1)
    ids = torch.randint(0, 98, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    states = torch.randn(3, 5, 32)
    enc_mask = torch.ones(3, 5, dtype=torch.long)
    enc_mask[2, 3:] = 0
    labels = ids.clone()
    labels[0, 5:] = -100
    kwargs = dict(attention_mask=mask, encoder_hidden_states=states, encoder_attention_mask=enc_mask, labels=labels)
    with torch.no_grad():
        a, b = ours(ids, **kwargs), theirs(ids, **kwargs)
        assert (a.logits - b.logits)[mask.bool()].abs().max() < TOL
        assert abs(a.loss.item() - b.loss.item()) < TOL
        assert a.logits.abs().max() > 1  # not a degenerate comparison
        # cached: the first 6 tokens, then 3 one at a time, equal the uncached logits
        first = ours(ids[:, :6], encoder_hidden_states=states, encoder_attention_mask=enc_mask, use_cache=True)
        steps, cache = [first.logits], first.past_key_values
        for t in range(6, 9):
            out = ours(ids[:, t:t + 1], past_key_values=cache, encoder_hidden_states=states,
                       encoder_attention_mask=enc_mask, use_cache=True)
            steps.append(out.logits)
        full = theirs(ids, encoder_hidden_states=states, encoder_attention_mask=enc_mask).logits
        assert (torch.cat(steps, 1) - full).abs().max() < TOL


def test_attentions_and_hidden_states_match_transformers(pair):
    theirs, ours, _ = pair
    ids = torch.randint(0, 98, (2, 7), generator=torch.Generator().manual_seed(2))
    states = torch.randn(2, 4, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = ours(ids, encoder_hidden_states=states, output_attentions=True, output_hidden_states=True)
        b = theirs(ids, encoder_hidden_states=states, output_attentions=True, output_hidden_states=True)
    assert len(a.hidden_states) == len(b.hidden_states) == 3
    for x, y in zip(a.hidden_states + a.attentions + a.cross_attentions,
                    b.hidden_states + b.attentions + b.cross_attentions):
        assert (x - y).abs().max() < TOL


@pytest.mark.parametrize("settings", [dict(), dict(do_sample=False, no_repeat_ngram_size=2, min_new_tokens=4)])
def test_greedy_generation_matches_transformers(pair, settings):
    theirs, ours, _ = pair
    ids = torch.randint(0, 98, (2, 4), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a = ours.generate(ids, max_new_tokens=12, **settings)
        b = theirs.generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=98,
                            **{k: v for k, v in settings.items() if k != "do_sample"})
    assert torch.equal(a, b)


def test_sampling_is_seeded():
    ours = GPT2LMHeadModel(GPT2Config(**TINY_GPT2)).eval()
    ids = torch.tensor([[1, 2, 3]])
    a = ours.generate(ids, do_sample=True, max_new_tokens=8, generator=torch.Generator().manual_seed(0))
    b = ours.generate(ids, do_sample=True, max_new_tokens=8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape[1] > 3


@pytest.mark.parametrize("layout", ["lm_head", "base"])
@pytest.mark.parametrize("safe", [True, False])
def test_both_layouts_load_from_safetensors_and_bin(tmp_path, layout, safe):
    theirs = hf_gpt2(seed=5)
    source = theirs if layout == "lm_head" else theirs.transformer
    source.save_pretrained(tmp_path)
    if not safe:  # transformers 5 writes safetensors only: the .bin as transformers 4.x wrote it, tied head left out
        state = {k: v for k, v in source.state_dict().items() if k != "lm_head.weight"}
        (tmp_path / "model.safetensors").unlink()
        torch.save(state, tmp_path / "pytorch_model.bin")
    ids = torch.randint(0, 98, (2, 6), generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        lm = GPT2LMHeadModel.from_pretrained(tmp_path)
        assert (lm(ids).logits - theirs(ids).logits).abs().max() < TOL
        body = GPT2Model.from_pretrained(tmp_path)
        assert (body(ids).last_hidden_state - theirs.transformer(ids).last_hidden_state).abs().max() < TOL


def test_old_causal_mask_buffers_are_ignored_and_strangers_refused(tmp_path):
    theirs = hf_gpt2(seed=7)
    state = {k: v.contiguous() for k, v in theirs.state_dict().items() if k != "lm_head.weight"}
    state["transformer.h.0.attn.bias"] = torch.ones(1, 1, 40, 40).tril()  # what transformers 4.x saved
    state["transformer.h.0.attn.masked_bias"] = torch.tensor(-1e4)
    theirs.config.save_pretrained(tmp_path)
    torch.save(state, tmp_path / "pytorch_model.bin")
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        assert (GPT2LMHeadModel.from_pretrained(tmp_path)(ids).logits - theirs(ids).logits).abs().max() < TOL
    state["transformer.h.0.attn.q_proj.weight"] = torch.zeros(32, 32)
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="q_proj"):
        GPT2LMHeadModel.from_pretrained(tmp_path)


def test_cross_attention_added_to_a_plain_checkpoint_is_new_and_said(tmp_path):
    hf_gpt2(seed=8).save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match="no cross-attention; 16 tensors .* newly initialized"):
        model = GPT2LMHeadModel.from_pretrained(tmp_path, add_cross_attention=True, is_decoder=True)
    assert model.transformer.h[1].crossattention.c_attn.weight.abs().max() > 0
    with pytest.warns(UserWarning, match="no cross-attention; 16 tensors"):  # the body alone, keys without prefix
        body = GPT2Model.from_pretrained(tmp_path, add_cross_attention=True)
    assert torch.equal(body.h[0].attn.c_attn.weight, model.transformer.h[0].attn.c_attn.weight)


def test_save_pretrained_loads_unchanged_in_transformers(pair, tmp_path):
    _, ours, _ = pair
    ours.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["add_cross_attention"] is True
    theirs = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    ids = torch.randint(0, 98, (2, 5), generator=torch.Generator().manual_seed(9))
    states = torch.randn(2, 3, 32, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        assert (ours(ids, encoder_hidden_states=states).logits
                - theirs(ids, encoder_hidden_states=states).logits).abs().max() < TOL


@pytest.mark.parametrize("settings", [dict(num_beams=4), dict(num_beams=3, length_penalty=2.0, num_return_sequences=2)])
def test_beam_search_continues_left_padded_prompts_as_transformers(pair, settings):
    theirs, ours, _ = pair
    ids = torch.randint(0, 98, (3, 6), generator=torch.Generator().manual_seed(11))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0  # left padding, as decoder-only batches are padded
    mask[2, :5] = 0  # a prompt of one token
    ids[mask == 0] = 98
    with torch.no_grad():
        a = ours.generate(ids, attention_mask=mask, max_new_tokens=9, **settings)
        b = theirs.generate(ids, attention_mask=mask, max_new_tokens=9, do_sample=False, pad_token_id=98, **settings)
    assert torch.equal(a, b)


def test_beam_search_returns_its_sequence_scores_as_transformers(pair):
    theirs, ours, _ = pair
    ids = torch.randint(0, 98, (2, 5), generator=torch.Generator().manual_seed(12))
    kwargs = dict(max_new_tokens=6, num_beams=3, num_return_sequences=2, return_dict_in_generate=True,
                  output_scores=True)
    with torch.no_grad():
        a, b = ours.generate(ids, **kwargs), theirs.generate(ids, do_sample=False, pad_token_id=98, **kwargs)
    assert torch.equal(a.sequences, b.sequences)
    torch.testing.assert_close(a.sequences_scores, b.sequences_scores, rtol=1e-4, atol=1e-4)
