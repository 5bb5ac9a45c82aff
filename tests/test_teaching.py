"""bertgen.teaching: the model the notebooks teach on, and the pictures they draw."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bertgen import BertGenerationConfig, EncoderDecoderConfig, EncoderDecoderModel, warm_start  # noqa: E402
from bertgen import teaching  # noqa: E402


def tiny_model(seed=0):
    side = BertGenerationConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=20, max_position_embeddings=32)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(side, side, decoder_start_token_id=2, eos_token_id=1,
                                                               pad_token_id=0)
    torch.manual_seed(seed)
    return EncoderDecoderModel(config).eval()


def test_sequence_logprob_is_the_sum_of_stepwise_log_probabilities():
    model = tiny_model()
    batch = {"input_ids": torch.tensor([[5, 6, 7, 8]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    ids = torch.tensor([[2, 9, 4, 11, 1]])
    expected = 0.0
    with torch.no_grad():
        for t in range(1, ids.shape[1]):  # one forward per prefix: no reuse of the batched computation
            logits = model(**batch, decoder_input_ids=ids[:, :t]).logits[0, -1]
            expected += logits.log_softmax(-1)[ids[0, t]].item()
    assert teaching.sequence_logprob(model, batch, ids, pad_token_id=0).item() == pytest.approx(expected, abs=1e-5)


def test_sequence_logprob_ignores_padding_after_the_end():
    model = tiny_model()
    batch = {"input_ids": torch.tensor([[5, 6, 7], [5, 6, 7]]), "attention_mask": torch.ones(2, 3, dtype=torch.long)}
    ids = torch.tensor([[2, 9, 1, 0, 0], [2, 9, 1, 4, 4]])
    scores = teaching.sequence_logprob(model, batch, ids, pad_token_id=0)
    short = teaching.sequence_logprob(model, {k: v[:1] for k, v in batch.items()},
                                      ids[:1, :3], pad_token_id=0)
    assert scores[0].item() == pytest.approx(short.item(), abs=1e-5)
    assert scores[1].item() < scores[0].item()  # two more tokens, each with log-probability below 0


def test_words_in_order():
    assert teaching.words_in_order("the cat sat", "the cat sat") == 3
    assert teaching.words_in_order("a cat sat down", "the cat sat") == 2
    assert teaching.words_in_order("sat cat the", "the cat sat") == 1
    assert teaching.words_in_order("", "the cat") == 0


def test_diagonality():
    assert teaching.diagonality(torch.eye(4)) == pytest.approx(1.0)
    assert teaching.diagonality(torch.full((4, 4), 0.25)) == pytest.approx(0.25)


def test_plot_attention_keeps_a_fixed_colour_scale():
    ax = teaching.plot_attention(torch.full((3, 4), 0.25), list("abcd"), list("xyz"))
    assert ax.images[0].get_clim() == (0.0, 1.0)  # a flat map must not be stretched into false structure
    plt.close("all")


@pytest.mark.parametrize("scheme, expected", [
    ("rnd2rnd", {"encoder": "random", "self": "random", "cross": "random"}),
    ("bert2rnd", {"encoder": "checkpoint", "self": "random", "cross": "random"}),
    ("bert2bert", {"encoder": "checkpoint", "self": "checkpoint", "cross": "random"}),
    ("bertshare", {"encoder": "checkpoint", "self": "shared", "cross": "random"}),
])
def test_part_sources_read_off_the_warm_start_report(scheme, expected):
    sources = teaching.part_sources(warm_start(scheme, "minilm-l6", device="meta")[1])
    assert sources["encoder"]["self-attention"] == expected["encoder"]
    assert sources["decoder"]["causal self-attention"] == expected["self"]
    assert sources["decoder"]["cross-attention"] == expected["cross"]
    teaching.draw_scheme(warm_start(scheme, "minilm-l6", device="meta")[1])
    plt.close("all")


def test_cross_attention_copied_from_self_attention_counts_as_checkpoint():
    report = warm_start("bert2bert", "minilm-l6", device="meta", cross_attention="self")[1]
    assert teaching.part_sources(report)["decoder"]["cross-attention"] == "checkpoint"


def test_copy_task_holds_out_its_first_sentences():
    from bertgen import load_tokenizer

    train, held_out = teaching.copy_task(load_tokenizer("minilm-l6"), max_tokens=14, held_out=8)
    assert len(held_out) == 8 and all(a == b for a, b in train + held_out)
    assert not set(held_out) & set(train)


def test_teaching_model_trains_once_then_loads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path))
    settings = dict(steps=2, layers=1, held_out=3)
    first = teaching.teaching_model(progress=False, **settings)
    assert first.name == "copy" and first.directory == teaching.copy_model_dir(**settings)
    assert (first.directory / "config.json").is_file() and len(first.examples) == 3
    assert not list(first.directory.parent.glob(".partial-*"))  # the scratch directory was renamed, not left
    stamp = (first.directory / "config.json").stat().st_mtime_ns
    again = teaching.teaching_model(progress=False, **settings)
    assert (again.directory / "config.json").stat().st_mtime_ns == stamp  # loaded, not retrained
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    table = teaching.compare_decoding(again, num_beams=2, max_new_tokens=4)
    assert list(table["source"]) == [s for s, _ in again.examples]
    assert (table["log p beam"] <= 0).all() and (table["log p greedy"] <= 0).all()
