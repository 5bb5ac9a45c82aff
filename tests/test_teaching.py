"""bertgen.teaching: the model the notebooks teach on, and the pictures they draw."""
from __future__ import annotations

import dataclasses

import matplotlib
import matplotlib.colors
import matplotlib.transforms

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bertgen import (BertGenerationConfig, EncoderDecoderConfig, EncoderDecoderModel, load_tokenizer,  # noqa: E402
                     warm_start)
from bertgen import teaching  # noqa: E402
from bertgen.evaluation import tokenizer_round_trip  # noqa: E402
from bertgen.teaching import RUNNING_EXAMPLE  # noqa: E402
from bertgen.teaching import figures  # noqa: E402


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


def test_sequence_logprob_scores_nothing_after_the_end():
    model = tiny_model()  # eos_token_id=1, pad_token_id=0
    batch = {"input_ids": torch.tensor([[5, 6, 7]] * 4), "attention_mask": torch.ones(4, 3, dtype=torch.long)}
    # padding after the end (greedy), end tokens after the end (beam search's filler), other tokens after the end
    ids = torch.tensor([[2, 9, 1, 0, 0], [2, 9, 1, 1, 1], [2, 9, 1, 4, 4], [2, 9, 4, 1, 0]])
    scores = teaching.sequence_logprob(model, batch, ids, pad_token_id=0)
    short = teaching.sequence_logprob(model, {k: v[:1] for k, v in batch.items()}, ids[:1, :3], pad_token_id=0)
    assert scores[:3].tolist() == pytest.approx([short.item()] * 3, abs=1e-5)
    assert scores[3].item() < scores[0].item() - 1e-3  # one more token before its end, with log-probability below 0


def test_words_in_order():
    assert teaching.words_in_order("the cat sat", "the cat sat") == 3
    assert teaching.words_in_order("a cat sat down", "the cat sat") == 2
    assert teaching.words_in_order("sat cat the", "the cat sat") == 1
    assert teaching.words_in_order("", "the cat") == 0


def test_diagonality():
    assert teaching.diagonality(torch.eye(4)) == pytest.approx(1.0)
    assert teaching.diagonality(torch.full((4, 4), 0.25)) == pytest.approx(0.25)
    shifted = torch.eye(5)[1:]  # (4, 5): row t on key t + 1, as when the source starts with [CLS]
    assert teaching.diagonality(shifted, offset=1) == pytest.approx(1.0) and teaching.diagonality(shifted) == 0.0


def test_plot_attention_keeps_a_fixed_colour_scale():
    ax = teaching.plot_attention(torch.full((3, 4), 0.25), list("abcd"), list("xyz"))
    assert ax.images[0].get_clim() == (0.0, 1.0)  # a flat map must not be stretched into false structure
    plt.close("all")


def test_copy_task_holds_out_its_first_sentences():
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
    # two steps leave the model near its warm start, writing almost any word: only the fixed bias keeps these out
    never = teaching.never_written_ids(again.tokenizer)
    assert (again.model.decoder.lm_head.bias[never] == teaching.NEVER).all()
    batch = again.encode([s for s, _ in again.examples])
    assert batch["input_ids"][0, 0] == again.tokenizer.cls_token_id  # read as [CLS] ... [SEP], as trained
    ids = again.model.generate(**batch, do_sample=True, top_k=0, temperature=2.0, max_new_tokens=16,
                               num_return_sequences=8, generator=torch.Generator().manual_seed(0))
    assert not set(ids[:, 1:].flatten().tolist()) & set(never) - {again.tokenizer.pad_token_id}


def test_never_written_ids_are_the_unused_rows_and_the_special_tokens_but_the_end():
    tok = load_tokenizer("minilm-l6")
    never, vocab = set(teaching.never_written_ids(tok)), tok.get_vocab()
    unused = {i for t, i in vocab.items() if t.startswith("[unused")}
    assert len(unused) == 994 and never == unused | {tok.cls_token_id, tok.pad_token_id, tok.mask_token_id,
                                                     tok.unk_token_id}
    assert tok.sep_token_id not in never and vocab["the"] not in never


def test_random_words_are_whole_vocabulary_words_drawn_by_the_generator():
    words = teaching.whole_words(load_tokenizer("minilm-l6"))
    assert "the" in words and "sunday" in words
    assert not [w for w in words if w.startswith(("##", "[")) or not w.isalpha()]
    first = teaching.random_words(words, 3, 7, torch.Generator().manual_seed(0))
    assert first == teaching.random_words(words, 3, 7, torch.Generator().manual_seed(0))
    assert [len(s.split()) for s in first] == [7, 7, 7] and set(" ".join(first).split()) <= set(words)


@pytest.fixture(scope="module")
def copy_model():
    """The notebooks' copy model (COPY's settings), loaded from the cache under $BERTGEN_HOME; where it is not cached
    yet it is trained there first (minutes, once per machine), and notebooks 03 and 06 load it from there after."""
    return teaching.teaching_model(use_demo=False, progress=False)


def test_the_copy_model_copies_held_out_sentences_greedily(copy_model):
    held_out = [s for s, _ in copy_model.examples]
    sources = [RUNNING_EXAMPLE[0], *held_out, f"{held_out[0]} {held_out[1]}"]  # two sentences: past a full stop
    ids = copy_model.model.generate(**copy_model.encode(sources), max_new_tokens=48)
    written = [t.strip() for t in copy_model.tokenizer.batch_decode(ids, skip_special_tokens=True)]
    assert written == tokenizer_round_trip(copy_model.tokenizer, sources)


def test_the_copy_models_samples_hold_no_unused_tokens(copy_model):
    tok = copy_model.tokenizer
    batch = copy_model.encode([RUNNING_EXAMPLE[0]] + [s for s, _ in copy_model.examples])
    ids = copy_model.model.generate(**batch, do_sample=True, top_k=0, temperature=1.5, max_new_tokens=32,
                                    num_return_sequences=4, generator=torch.Generator().manual_seed(0))
    samples = tok.batch_decode(ids[:, 1:])  # special tokens kept, padding after the end included
    assert not [s for s in samples if "[unused" in s or "[UNK]" in s or "[MASK]" in s or "[CLS]" in s]


SCHEMES = ["rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare"]
C, R = "checkpoint", "random"
# what each scheme of the paper's Table 1 takes, part by part: (origin, shared with another part)
EXPECTED_DECODER = {
    "rnd2rnd": {"word embeddings": (R, True), "positions, LayerNorm": (R, False), "causal self-attention": (R, False),
                "cross-attention": (R, False), "feed-forward": (R, False), "LM head (tied)": (R, True)},
    "bert2rnd": {"word embeddings": (C, True), "positions, LayerNorm": (R, False), "causal self-attention": (R, False),
                 "cross-attention": (R, False), "feed-forward": (R, False), "LM head (tied)": (C, True)},
    "rnd2bert": {"word embeddings": (C, True), "positions, LayerNorm": (C, False), "causal self-attention": (C, False),
                 "cross-attention": (R, False), "feed-forward": (C, False), "LM head (tied)": (C, True)},
    "bert2bert": {"word embeddings": (C, True), "positions, LayerNorm": (C, False), "causal self-attention": (C, False),
                  "cross-attention": (R, False), "feed-forward": (C, False), "LM head (tied)": (C, True)},
    "bertshare": {"word embeddings": (C, True), "positions, LayerNorm": (C, True), "causal self-attention": (C, True),
                  "cross-attention": (R, False), "feed-forward": (C, True), "LM head (tied)": (C, True)},
}
EXPECTED_ENCODER = {  # word embeddings, positions + LayerNorm, self-attention, feed-forward
    "rnd2rnd": (R, R, R, R), "bert2rnd": (C, C, C, C), "rnd2bert": (C, R, R, R), "bert2bert": (C, C, C, C),
    "bertshare": (C, C, C, C)}


@pytest.fixture(scope="module")
def reports():
    return {s: warm_start(s, "minilm-l6", device="meta")[1] for s in SCHEMES}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_part_sources_read_each_part_off_the_report(scheme, reports):
    sources = teaching.part_sources(reports[scheme])
    assert {part: tuple(s) for part, s in sources["decoder"].items()} == EXPECTED_DECODER[scheme]
    assert tuple(s.origin for s in sources["encoder"].values()) == EXPECTED_ENCODER[scheme]
    assert not any(s.shared for s in sources["encoder"].values())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_scheme_diagram_colours_follow_the_report(scheme, reports):
    ax = teaching.draw_scheme(reports[scheme])
    boxes = {p.get_gid(): p for p in ax.patches if p.get_gid() and not p.get_gid().endswith(":label")}
    sources = teaching.part_sources(reports[scheme])
    assert set(boxes) == {f"{side}:{part}" for side in sources for part in sources[side]}
    for side in sources:
        for part, source in sources[side].items():
            box = boxes[f"{side}:{part}"]
            assert matplotlib.colors.to_hex(box.get_facecolor()) == teaching.SOURCE_COLOURS[source.origin], part
            assert bool(box.get_hatch()) == source.shared, part
    plt.close("all")


def test_a_shared_part_takes_the_origin_of_the_tensor_it_is():
    report = warm_start("bert2bert", "minilm-l6", device="meta", cross_attention="self")[1]
    assert teaching.part_sources(report)["decoder"]["cross-attention"] == ("checkpoint", False)
    broken = dataclasses.replace(report, loaded=[e for e in report.loaded if "word_embeddings" not in e.pattern])
    with pytest.raises(ValueError, match="word_embeddings"):
        teaching.part_sources(broken)


def labels_outside_their_boxes(fig) -> list[str]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = {p.get_gid(): p.get_window_extent(renderer) for ax in fig.axes for p in ax.patches if p.get_gid()}
    assert any(gid.endswith(":label") for gid in boxes), "no labelled boxes drawn"
    outside = []
    for gid, label in boxes.items():
        if gid.endswith(":label"):
            box = boxes[gid.removesuffix(":label")]
            if not (box.x0 <= label.x0 and label.x1 <= box.x1 and box.y0 <= label.y0 and label.y1 <= box.y1):
                outside.append(gid)
    return outside


@pytest.mark.parametrize("figsize", [(18, 4.2), (8, 2.5), (30, 6)])
def test_no_scheme_label_is_wider_than_its_box(figsize, reports):
    fig, axes = plt.subplots(1, len(SCHEMES), figsize=figsize)
    for ax, scheme in zip(axes, SCHEMES):
        teaching.draw_scheme(reports[scheme], ax=ax)
    fig.tight_layout()
    assert labels_outside_their_boxes(fig) == []
    plt.close("all")


@pytest.mark.parametrize("decoder", [False, True])
@pytest.mark.parametrize("figsize", [(4.8, 5.2), (2.5, 3), (9, 8)])
def test_no_layer_label_is_wider_than_its_box(decoder, figsize):
    fig, ax = plt.subplots(figsize=figsize)
    teaching.draw_layer(decoder=decoder, ax=ax)
    assert labels_outside_their_boxes(fig) == []
    plt.close("all")


def test_a_label_too_long_for_its_box_is_caught():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.set(xlim=(0, 2), ylim=(0, 2))
    figures._box(ax, 0, 0, "a label", "#000000", gid="box")
    assert labels_outside_their_boxes(fig) == []
    ax.text(0.1, 0.1, "x").set_gid("unused")  # a text artist is not a patch: ignored
    ax.patches[-1].set_transform(matplotlib.transforms.Affine2D().scale(3) + ax.transData)  # stretch the label
    assert labels_outside_their_boxes(fig) == ["box:label"]
    plt.close("all")


def test_median_seconds_times_repeats_after_the_warmup(monkeypatch):
    clock = iter([0.0, 1.0, 10.0, 10.5, 20.0, 29.0])  # three timed calls: 1.0, 0.5, 9.0 seconds
    monkeypatch.setattr(teaching.time, "perf_counter", lambda: next(clock))
    calls = []
    assert teaching.median_seconds(lambda: calls.append(1), repeats=3, warmup=2) == 1.0
    assert len(calls) == 5


@pytest.mark.parametrize("sizes", [None, {"B": 2, "S": 11, "T": 13, "H": 384, "V": 30522, "L": 6}])
@pytest.mark.parametrize("figsize", [(9, 5.6), (5, 3)])
def test_the_data_flow_names_every_shape_and_fits_its_labels(sizes, figsize):
    fig, ax = plt.subplots(figsize=figsize)
    figures.draw_data_flow(sizes, ax=ax)
    assert labels_outside_their_boxes(fig) == []
    plt.close("all")
    assert figures._shape("B, T, V", sizes) == ("(B, T, V)" if sizes is None else "(B, T, V) = (2, 13, 30522)")


def test_folded_report_is_one_summary_line_over_the_full_report(reports):
    html = teaching.folded(reports["bertshare"]).data
    summary = html[html.index("<summary>"):html.index("</summary>")]
    assert html.startswith("<details>") and " open" not in html.split(">")[0]
    assert "bertshare" in summary and "22.6M of 26.1M" in summary and "102 shared" in summary
    assert reports["bertshare"]._repr_html_() in html


@pytest.mark.parametrize("cross_attention", ["self", "random"])
def test_starting_point_is_the_teaching_models_warm_start(cross_attention):
    start = teaching.starting_point(teaching.TeachingModel(tiny_model(), None, "copy", ""), cross_attention)
    layer = start.decoder.bert.encoder.layer[0]
    assert len(start.decoder.bert.encoder.layer) == 1  # as deep as the teaching model
    copied = torch.equal(layer.crossattention.self.query.weight, layer.attention.self.query.weight)
    assert copied == (cross_attention == "self")
