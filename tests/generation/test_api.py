"""Generation beyond token parity: generation_config.json both ways, argument errors, the work skipped for
finished inputs, lower precision and quantization."""
from __future__ import annotations

import importlib.util
import json
import warnings

import pytest
import torch

from bertgen import EncoderDecoderModel
from bertgen.config import ConfigError
from bertgen.generation import GenerationConfig
from bertgen.generation.quantization import QuantizationError, quantize
from tests.support.generation_models import hf_generation_model, padded_batch, save_pair

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("one_thread")]


@pytest.fixture(scope="module")
def hf_model():
    return hf_generation_model(seed=0)


@pytest.fixture(scope="module")
def model(hf_model, tmp_path_factory):
    return save_pair(hf_model, tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def batch():
    return padded_batch(seed=0)


# ------------------------------------------------------------------------------------ generation_config.json

def test_defaults_from_transformers_generation_config(hf_model, batch, tmp_path):
    """Settings saved in generation_config.json by transformers are the defaults of bertgen's generate."""
    hf_model.generation_config.num_beams, hf_model.generation_config.length_penalty = 3, 0.6
    hf_model.generation_config.no_repeat_ngram_size, hf_model.generation_config.max_new_tokens = 2, 11
    try:
        ours = save_pair(hf_model, tmp_path)
        assert ours.generation_config.num_beams == 3
        ids, mask = batch
        assert torch.equal(ours.generate(ids, attention_mask=mask), hf_model.generate(ids, attention_mask=mask))
    finally:
        hf_model.generation_config.num_beams, hf_model.generation_config.length_penalty = 1, 1.0
        hf_model.generation_config.no_repeat_ngram_size, hf_model.generation_config.max_new_tokens = 0, None


def test_saved_generation_config_loads_in_transformers(model, tmp_path):
    from transformers import GenerationConfig as HFGenerationConfig

    model.generation_config = model.generation_config.update(num_beams=4, length_penalty=2.0, early_stopping=True)
    try:
        model.save_pretrained(tmp_path)
    finally:
        model.generation_config = model.generation_config.update(num_beams=1, length_penalty=1.0,
                                                                 early_stopping=False)
    theirs = HFGenerationConfig.from_pretrained(tmp_path)
    assert (theirs.num_beams, theirs.length_penalty, theirs.early_stopping) == (4, 2.0, True)
    assert (theirs.decoder_start_token_id, theirs.eos_token_id, theirs.pad_token_id) == (2, 1, 3)
    assert EncoderDecoderModel.from_pretrained(tmp_path).generation_config.num_beams == 4


def test_unknown_keys_survive_a_round_trip(tmp_path):
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"num_beams": 2, "transformers_version": "5.23.0", "forced_bos_token_id": None, "_from_model_config": True}))
    config = GenerationConfig.from_pretrained(tmp_path)
    config.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "generation_config.json").read_text())
    assert data == {"num_beams": 2, "transformers_version": "5.23.0", "forced_bos_token_id": None,
                    "_from_model_config": True}


def test_bad_generation_config_file_names_the_file_and_field(tmp_path):
    (tmp_path / "generation_config.json").write_text(json.dumps({"num_beams": "four"}))
    with pytest.raises(ConfigError, match=r"generation_config.json.*num_beams"):
        GenerationConfig.from_pretrained(tmp_path)
    (tmp_path / "generation_config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        GenerationConfig.from_pretrained(tmp_path)


# ---------------------------------------------------------------------------------------------- argument errors

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_beam=4), TypeError, "unknown argument.*num_beam"),
    (dict(num_beams=2, num_return_sequences=3), ConfigError, "num_return_sequences"),
    (dict(num_beams=2, num_return_sequences=3, do_sample=True), ConfigError, "num_return_sequences"),
    (dict(max_new_tokens=200), ValueError, "max_position_embeddings"),
    (dict(early_stopping="sometimes"), ConfigError, "early_stopping"),
    (dict(top_p=1.5, do_sample=True), ConfigError, "top_p"),
    (dict(length_penalty_style="log"), ConfigError, "length_penalty_style"),
    (dict(bad_words_ids=[[5]]), TypeError, r"does not implement \{'bad_words_ids': \[\[5\]\]\}"),
    (dict(logits_processor=[lambda ids, scores: scores]), TypeError,
     r"does not take transformers' \['logits_processor'\]"),
])
def test_bad_arguments_say_what_is_wrong(model, batch, kwargs, error, message):
    with pytest.raises(error, match=message):
        model.generate(batch[0], attention_mask=batch[1], **kwargs)


def test_transformers_arguments_that_change_nothing_are_accepted(model, hf_model, batch):
    """Code that wraps transformers' generate passes its hooks as None and settings at their defaults; both
    libraries decode as without them."""
    ids, mask = batch
    neutral = dict(logits_processor=None, stopping_criteria=None, streamer=None, assistant_model=None,
                   synced_gpus=False, bad_words_ids=None, num_beam_groups=1, renormalize_logits=False,
                   guidance_scale=1.0, suppress_tokens=[])  # Seq2SeqTrainer passes synced_gpus=False
    ours = model.generate(ids, attention_mask=mask, num_beams=2, max_new_tokens=8, **neutral)
    assert torch.equal(ours, model.generate(ids, attention_mask=mask, num_beams=2, max_new_tokens=8))
    assert torch.equal(ours, hf_model.generate(ids, attention_mask=mask, num_beams=2, max_new_tokens=8, **neutral))


def test_no_start_token_is_an_error(model, batch, monkeypatch):
    monkeypatch.setattr(model, "generation_config", GenerationConfig(eos_token_id=1))
    monkeypatch.setattr(model.config, "decoder_start_token_id", None)
    monkeypatch.setattr(model.config.decoder, "bos_token_id", None)
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        model.generate(batch[0])


@pytest.mark.parametrize("library", ["bertgen", "transformers"])
def test_a_passed_generation_config_goes_over_the_models_as_in_transformers(model, hf_model, batch, library,
                                                                           monkeypatch):
    """transformers 5 fills what a passed generation config leaves unset from the model's own (ids, edited
    settings): a config that sets only the length decodes with the model's EOS and its beams."""
    from transformers import GenerationConfig as HFGenerationConfig

    for m in (model, hf_model):
        monkeypatch.setattr(m.generation_config, "num_beams", 3)
        monkeypatch.setattr(m.generation_config, "no_repeat_ngram_size", 2)
    passed = (GenerationConfig if library == "bertgen" else HFGenerationConfig)(max_new_tokens=9, length_penalty=0.5)
    ids, mask = batch
    ours = model.generate(ids, attention_mask=mask, generation_config=passed)
    assert torch.equal(ours, hf_model.generate(ids, attention_mask=mask, generation_config=HFGenerationConfig(
        max_new_tokens=9, length_penalty=0.5)))
    assert (ours == model.generation_config.eos_token_id).any()  # the model's EOS ended some rows


def test_a_passed_generation_config_with_a_setting_bertgen_lacks_is_an_error(model, batch):
    from transformers import GenerationConfig as HFGenerationConfig

    with pytest.raises(TypeError, match=r"does not implement \{'bad_words_ids': \[\[5\]\]\}"):
        model.generate(batch[0], generation_config=HFGenerationConfig(bad_words_ids=[[5]]))
    with pytest.raises(TypeError, match="must be a GenerationConfig .* got dict"):
        model.generate(batch[0], generation_config={"num_beams": 2})


def test_a_saved_setting_bertgen_lacks_warns_at_load_time(hf_model, batch, tmp_path):
    hf_model.generation_config.forced_eos_token_id = 1
    try:
        hf_model.save_pretrained(tmp_path)
    finally:
        hf_model.generation_config.forced_eos_token_id = None
    with pytest.warns(UserWarning, match=r"generation_config.json: bertgen does not implement \{'forced_eos_token_id'"):
        model = EncoderDecoderModel.from_pretrained(tmp_path)
    ids = batch[0]
    # warned once: the model's own config passed back decodes as the model does
    assert torch.equal(model.generate(ids, generation_config=model.generation_config.update(num_beams=2)),
                       model.generate(ids, num_beams=2))


# ------------------------------------------------------------------------------------------- work skipped

def _rows_per_step(model, monkeypatch):
    """Record how many rows each decoding step processes, and how many encoder calls there are."""
    from bertgen.generation import search

    calls = {"encoder": 0, "decoder": []}
    hidden = search._Decoder.hidden  # every step of a CPU model runs it: greedy's token-only steps too

    def counted(decoder, sequences):
        calls["decoder"].append(sequences.shape[0])
        return hidden(decoder, sequences)

    monkeypatch.setattr(search._Decoder, "hidden", counted)
    hook = model.encoder.register_forward_hook(lambda *a: calls.__setitem__("encoder", calls["encoder"] + 1))
    return calls, hook


@pytest.mark.parametrize("num_beams", [1, 3])
def test_encoder_runs_once_and_finished_inputs_leave_the_batch(model, batch, num_beams, monkeypatch):
    ids, mask = batch
    calls, hook = _rows_per_step(model, monkeypatch)
    try:
        out = model.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=14)
    finally:
        hook.remove()
    B, rows = ids.shape[0], calls["decoder"]
    assert calls["encoder"] == 1
    assert rows[0] == B  # the first step once per input, whatever the beam count
    assert all(a >= b for a, b in zip(rows[1:], rows[2:]))  # rows only ever leave
    assert rows[1] <= B * num_beams and rows[-1] < B * num_beams  # some inputs finished before the end
    assert sum(rows) < B * num_beams * len(rows)
    assert len(rows) >= out.shape[1] - 1  # a decoder call per position (beams may search past the winner)


# --------------------------------------------------------------------------------------- precision, quantized

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_end_to_end_matches_transformers(hf_model, batch, dtype, tmp_path):
    ours = save_pair(hf_model, tmp_path).to(dtype)
    theirs = hf_generation_model(seed=0).to(dtype)
    ids, mask = batch
    for num_beams in (1, 3):
        assert torch.equal(ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=12),
                           theirs.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=12))


def test_generated_tensors_can_be_edited_and_trained_on(model, batch):
    """As transformers' generate returns them: the search runs in inference mode, whose tensors could neither be
    modified in place nor saved for backward, so what comes back must be ordinary tensors."""
    ids, mask = batch
    out = model.generate(ids, attention_mask=mask, num_beams=2, max_new_tokens=6, return_dict_in_generate=True,
                         output_scores=True)
    assert not any(t.is_inference() for t in (out.sequences, out.sequences_scores, *out.scores))
    out.sequences_scores += 1.0
    labels = out.sequences[:, 1:].clone()
    labels[labels == model.generation_config.pad_token_id] = -100
    model.train()
    try:
        model(ids, attention_mask=mask, decoder_input_ids=out.sequences[:, :-1], labels=labels).loss.backward()
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)  # the module's shared model stays as the other tests expect it


@pytest.mark.parametrize("kwargs", [dict(eos_token_id=None), dict(eos_token_id=None, num_beams=3),
                                    dict(do_sample=True, top_k=None, eos_token_id=None), dict(pad_token_id=None)])
def test_an_argument_passed_as_none_unsets_it_as_in_transformers(model, hf_model, batch, kwargs):
    """transformers 5 reads `eos_token_id=None` as "no EOS" and `top_k=None` as "no top-k filter", not as "the
    model's"; sampling draws the same numbers in both while no row has finished (no EOS here)."""
    ids, mask = batch
    torch.manual_seed(0)
    ours = model.generate(ids, attention_mask=mask, **kwargs)
    torch.manual_seed(0)
    assert torch.equal(ours, hf_model.generate(ids, attention_mask=mask, **kwargs))


def test_generate_output_reads_as_transformers(model, hf_model, batch):
    """By field, by key and by position, in transformers' order (sequences, then beam search's sequences_scores)."""
    ids, mask = batch
    kwargs = dict(attention_mask=mask, num_beams=2, max_new_tokens=6, return_dict_in_generate=True, output_scores=True)
    ours, theirs = model.generate(ids, **kwargs), hf_model.generate(ids, **kwargs)
    assert torch.equal(ours["sequences"], theirs["sequences"]) and torch.equal(ours[0], theirs[0])
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-4, atol=1e-4)
    assert set(ours.keys()) == {"sequences", "sequences_scores", "scores"} <= set(theirs.keys())


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_under_cpu_autocast_matches_transformers(model, hf_model, batch, num_beams, use_cache):
    """Under bf16 autocast a float32 model decodes as transformers' does under it: the CPU fast paths (packed
    head and decoder step), which would compute in float32 or fail on bfloat16 inputs, step aside."""
    ids, mask = batch
    kwargs = dict(attention_mask=mask, num_beams=num_beams, max_new_tokens=12, use_cache=use_cache)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(model.generate(ids, **kwargs), hf_model.generate(ids, **kwargs))


def test_int8_quantization_keeps_outputs_close(model, batch):
    ids, mask = batch
    quantized = quantize(model, "int8")
    assert isinstance(quantized.decoder.lm_head.decoder, torch.ao.nn.quantized.dynamic.Linear)
    assert type(model.decoder.lm_head.decoder) is torch.nn.Linear  # the original is left as it was
    reference = model.generate(ids, attention_mask=mask, max_new_tokens=14)
    with torch.no_grad():
        exact = model(input_ids=ids, attention_mask=mask, decoder_input_ids=reference).logits
        approx = quantized(input_ids=ids, attention_mask=mask, decoder_input_ids=reference).logits
    assert (approx - exact).norm() / exact.norm() < 0.1  # int8 error: a few percent of the logits
    assert (approx.argmax(-1) == exact.argmax(-1)).float().mean() > 0.8
    generated = quantized.generate(ids, attention_mask=mask, num_beams=3, max_new_tokens=14)
    assert generated.shape[0] == ids.shape[0] and (generated[:, 0] == 2).all()


def test_quantization_errors_say_what_is_missing(model):
    with pytest.raises(QuantizationError, match="float32"):
        quantize(EncoderDecoderModel(model.config).to(torch.bfloat16), "int8")
    with pytest.raises(ValueError, match="int8, nf4"):
        quantize(model, "int3")
    if not (torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes")):
        with pytest.raises(QuantizationError, match="bitsandbytes|CUDA"):
            quantize(model, "nf4")


def test_output_layer_changes_are_seen_between_calls(batch, tmp_path):
    """generate keeps a faster layout of the output layer beside the model; training must not leave it stale."""
    theirs = hf_generation_model(seed=1)
    ours = save_pair(theirs, tmp_path)
    ids, mask = batch
    for num_beams in (1, 3):
        ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10)
    with torch.no_grad():
        for model in (ours, theirs):
            model.decoder.lm_head.decoder.weight.mul_(-1.0)  # an in-place update, as an optimizer step is
    for num_beams in (1, 3):
        assert torch.equal(ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10),
                           theirs.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10))
    one = ids[:1, :int(mask[0].sum())]  # one row: the other layout
    assert torch.equal(ours.generate(one, max_new_tokens=10), theirs.generate(one, max_new_tokens=10))


@pytest.mark.parametrize("edit", ["every weight", "one row"])
def test_edits_through_data_are_seen_between_calls(batch, tmp_path, edit):
    """`p.data` counts its versions apart from `p`, so an edit through it (an old-style EMA update, a token's row
    rewritten) must show in the values the fast layouts keep a sample of: the tokens stay transformers'."""
    theirs = hf_generation_model(seed=1)
    ours = save_pair(theirs, tmp_path)
    ids, mask = batch
    for num_beams in (1, 3):
        ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10)
    for model in (ours, theirs):
        if edit == "every weight":
            for p in model.decoder.parameters():
                p.data.mul_(0.5).add_(p.data.roll(1, 0), alpha=0.5)
        else:
            head = model.decoder.lm_head.decoder.weight
            head.data[1] = head.data[1] + 5.0 * head.data[7]  # EOS made likely
    for num_beams in (1, 3):
        assert torch.equal(ours.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10),
                           theirs.generate(ids, attention_mask=mask, num_beams=num_beams, max_new_tokens=10))
    one = ids[:1, :int(mask[0].sum())]
    assert torch.equal(ours.generate(one, max_new_tokens=10), theirs.generate(one, max_new_tokens=10))


# ------------------------------------------------------------------------- what config.json says of outputs

@pytest.mark.parametrize("flags", [dict(), dict(output_attentions=True), dict(output_hidden_states=True)])
def test_output_flags_in_config_json_leave_generate_unchanged(hf_model, batch, flags, tmp_path):
    """transformers' generate asks the stacks for output objects whatever the config says; so does bertgen's:
    a transformers 3.x config.json ("return_dict": false, ...) decodes the same tokens, greedy and beam-4."""
    from tests.support.released_checkpoints import as_transformers_3

    hf_model.save_pretrained(tmp_path)
    as_transformers_3(tmp_path, **flags)
    hf_model.generation_config.save_pretrained(tmp_path)  # the ids: the settings of config.json stay default
    ours = EncoderDecoderModel.from_pretrained(tmp_path)
    assert ours.config.return_dict is False and ours.config.decoder.return_dict is False  # 3.x wrote false
    ids, mask = batch
    for beams in (1, 4):
        expected = hf_model.generate(ids, attention_mask=mask, num_beams=beams, max_new_tokens=9)
        assert torch.equal(ours.generate(ids, attention_mask=mask, num_beams=beams, max_new_tokens=9), expected)
    with torch.no_grad():  # a direct call still follows the config, as transformers
        out = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=ids[:, :3])
    assert isinstance(out, tuple)


# --------------------------------------------------------------- generation settings kept on the model config

SETTINGS = dict(num_beams=4, max_length=9, min_length=4, no_repeat_ngram_size=2, length_penalty=2.0,
                early_stopping=True)


def test_settings_in_an_old_config_json_are_read_at_load_time(hf_model, batch, tmp_path):
    """A checkpoint fine-tuned before transformers 4.26 keeps its settings in config.json (no
    generation_config.json): read at load time into the generation config, as transformers 5 reads them."""
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel

    from tests.support.released_checkpoints import as_transformers_3

    hf_model.save_pretrained(tmp_path)
    as_transformers_3(tmp_path)
    old = json.loads((tmp_path / "config.json").read_text())
    old.update(SETTINGS, decoder_start_token_id=2, eos_token_id=1, pad_token_id=3)
    (tmp_path / "config.json").write_text(json.dumps(old))
    ours = EncoderDecoderModel.from_pretrained(tmp_path)
    assert {k: getattr(ours.generation_config, k) for k in SETTINGS} == SETTINGS
    assert "num_beams" not in ours.config.extra  # moved, as transformers 5 pops them from the model config
    theirs = HFEncoderDecoderModel.from_pretrained(tmp_path).eval()
    assert theirs.generation_config.num_beams == 4
    ids, mask = batch
    expected = theirs.generate(ids, attention_mask=mask)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # read at load time: no note about model.config
        assert torch.equal(ours.generate(ids, attention_mask=mask), expected)
    assert not torch.equal(ours.generate(ids, attention_mask=mask, num_beams=1, max_length=9, min_length=0,
                                         no_repeat_ngram_size=0), expected)  # the settings matter here


def test_settings_written_on_model_config_are_used_noted_and_saved(hf_model, batch, tmp_path):
    """The warm-starting blog sets `model.config.num_beams = 4` etc.: transformers 4 used them; bertgen uses them
    too, says once where they belong, and save_pretrained writes them to generation_config.json (which
    transformers 5 then reads)."""
    from transformers import EncoderDecoderModel as HFEncoderDecoderModel
    from transformers import GenerationConfig as HFGenerationConfig

    ours = save_pair(hf_model, tmp_path / "saved")
    for name, value in SETTINGS.items():
        setattr(ours.config, name, value)
    assert ours.config.num_beams == 4
    ids, mask = batch
    reference = hf_model.generate(ids, attention_mask=mask, **SETTINGS)
    with pytest.warns(UserWarning, match=r"model.config carries generation settings .*num_beams.*"
                                         r"model.generation_config.num_beams = 4"):
        assert torch.equal(ours.generate(ids, attention_mask=mask), reference)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per model
        assert torch.equal(ours.generate(ids, attention_mask=mask), reference)
        assert ours.generate(ids, attention_mask=mask, num_beams=1, max_new_tokens=3).shape[1] <= 4  # kwargs win
    ours.save_pretrained(tmp_path / "resaved")
    written = json.loads((tmp_path / "resaved" / "config.json").read_text())
    assert not set(SETTINGS) & set(written)  # transformers 5 refuses a config.json that carries them
    saved = HFGenerationConfig.from_pretrained(tmp_path / "resaved")
    assert {k: getattr(saved, k) for k in SETTINGS} == SETTINGS
    theirs = HFEncoderDecoderModel.from_pretrained(tmp_path / "resaved").eval()
    assert torch.equal(theirs.generate(ids, attention_mask=mask), reference)
    assert torch.equal(EncoderDecoderModel.from_pretrained(tmp_path / "resaved").generate(ids, attention_mask=mask),
                       reference)
