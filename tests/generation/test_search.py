"""Generation against transformers' `generate` (the oracle), token for token, on tiny models it saved."""
from __future__ import annotations

import itertools

import pytest
import torch

from bertgen.generation import search
from tests.support import skip_without_onednn_bf16
from tests.support.generation_models import hf_generation_model, padded_batch, save_pair

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.usefixtures("one_thread")]


@pytest.fixture(scope="module", params=[0, 1], ids=["seed0", "seed1"])
def pair(request, tmp_path_factory):
    hf = hf_generation_model(seed=request.param)
    return hf, save_pair(hf, tmp_path_factory.mktemp(f"gen{request.param}"))


@pytest.fixture(scope="module")
def batch():
    return padded_batch(seed=0)


def both(pair, batch, **kwargs):
    hf, ours = pair
    ids, mask = batch
    return hf.generate(ids, attention_mask=mask, **kwargs), ours.generate(ids, attention_mask=mask, **kwargs)


def test_models_are_worth_comparing(pair, batch):
    """The sweep can only fail if outputs vary: several distinct tokens, EOS at different lengths, and
    beam search choosing differently from greedy."""
    greedy, _ = both(pair, batch, max_new_tokens=14)
    beams, _ = both(pair, batch, max_new_tokens=14, num_beams=4)
    assert max(len(set(row.tolist())) for row in greedy) >= 6
    lengths = (greedy != 3).sum(1)  # 3 is the pad id
    assert len(set(lengths.tolist())) >= 3
    assert not torch.equal(greedy[:, :beams.shape[1]], beams)


@pytest.mark.parametrize("no_repeat_ngram_size", [0, 2, 3])
@pytest.mark.parametrize("min_new_tokens", [0, 6])
def test_greedy_matches_transformers(pair, batch, no_repeat_ngram_size, min_new_tokens):
    expected, got = both(pair, batch, max_new_tokens=14, no_repeat_ngram_size=no_repeat_ngram_size,
                         min_new_tokens=min_new_tokens)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("rows", [1, 4])
def test_greedy_through_the_bfloat16_screen_matches_transformers(pair, batch, rows, monkeypatch):
    """Greedy steps of at most SCREEN_MAX_ROWS rows pick their tokens from the bfloat16 head and a float32
    rescoring of the candidates (fast_head.BfloatScreen), built here even on a CPU that would emulate bfloat16."""
    from bertgen.fast import head as fast_head

    skip_without_onednn_bf16()
    monkeypatch.setattr(fast_head, "cpu_multiplies_bf16", lambda: True)
    screened = []
    call = fast_head.BfloatScreen.__call__
    monkeypatch.setattr(fast_head.BfloatScreen, "__call__", lambda self, h: screened.append(len(h)) or call(self, h))
    ids, mask = batch
    hf, ours = pair
    fast_head.FastHead.get(ours.decoder.lm_head.decoder).screen = None  # built afresh under the patched CPU
    settings = dict(max_new_tokens=14, no_repeat_ngram_size=2, min_new_tokens=4)
    expected = hf.generate(ids[:rows], attention_mask=mask[:rows], **settings)
    assert torch.equal(ours.generate(ids[:rows], attention_mask=mask[:rows], **settings), expected)
    assert len(screened) >= expected.shape[1] - 1  # every step went through the screen
    fast_head.FastHead.get(ours.decoder.lm_head.decoder).screen = None


@pytest.mark.parametrize("num_beams", [3, 4])
@pytest.mark.parametrize("early_stopping", [False, True, "never"])
def test_beam_search_matches_transformers(pair, batch, num_beams, early_stopping):
    for alpha, ngram, min_new in itertools.product([0.6, 1.0, 2.0], [0, 2, 3], [0, 5]):
        settings = dict(num_beams=num_beams, early_stopping=early_stopping, length_penalty=alpha,
                        no_repeat_ngram_size=ngram, min_new_tokens=min_new, max_new_tokens=14)
        expected, got = both(pair, batch, **settings)
        assert torch.equal(got, expected), settings


def test_beam_search_through_the_block_shortlist_matches_transformers(pair, batch, monkeypatch):
    """The tiny vocabulary is too short for block_topk's shortlist at its usual block; with blocks of 4 ids it
    runs on every step (40 blocks per input at 4 beams)."""
    monkeypatch.setattr(search, "TOPK_BLOCK", 4)
    for early_stopping, min_new in itertools.product([False, True], [0, 5]):
        settings = dict(num_beams=4, early_stopping=early_stopping, min_new_tokens=min_new, max_new_tokens=14)
        expected, got = both(pair, batch, **settings)
        assert torch.equal(got, expected), settings


def test_block_topk_equals_topk_with_ties_infinities_and_nan():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 203, generator=g)  # 203 = 50 blocks of 4 and a tail of 3
    scores[0, 17] = scores[0, 190] = 9.0  # a tie at the top, one in a block and one far away
    scores[1] = -float("inf")
    scores[1, 201] = 1.0  # the best entry only in the tail
    scores[2, 60] = float("nan")  # NaN ranks above everything, as in topk
    scores[3] = scores[3].round()  # many ties
    for k in (1, 8):
        values, indices = search.block_topk(scores, k, block=4)
        expected_values, expected_indices = scores.topk(k)
        torch.testing.assert_close(values, expected_values, equal_nan=True)  # the same values in the same order
        unique = (scores[:, None, :] == expected_values[..., None]).sum(-1) == 1  # (rows, k) held by one id
        assert torch.equal(indices[unique], expected_indices[unique])
        tied = ~unique & ~values.isnan()  # ties may come in another order, each at an id that holds the value
        assert torch.equal(scores.gather(1, indices)[tied], values[tied])
        assert indices[2, 0] == 60 and indices[1, 0] == 201


def test_beam_scores_and_return_sequences_match(pair, batch):
    settings = dict(num_beams=4, num_return_sequences=3, max_new_tokens=12, return_dict_in_generate=True,
                    output_scores=True, length_penalty=0.6)
    expected, got = both(pair, batch, **settings)
    assert torch.equal(got.sequences, expected.sequences)
    torch.testing.assert_close(got.sequences_scores, expected.sequences_scores)
    assert len(got.scores) == len(expected.scores)
    for ours, theirs in zip(got.scores, expected.scores):
        live = ours[:, 0] > -float("inf")  # rows of inputs already done are -inf here, junk there
        torch.testing.assert_close(ours[live], theirs[live])


def test_greedy_scores_match(pair, batch):
    expected, got = both(pair, batch, max_new_tokens=10, return_dict_in_generate=True, output_scores=True,
                         repetition_penalty=1.3)
    assert torch.equal(got.sequences, expected.sequences)
    for ours, theirs in zip(got.scores, expected.scores, strict=True):
        live = ours.isfinite().any(1)  # rows that were still decoding
        torch.testing.assert_close(ours[live], theirs[live])


@pytest.mark.parametrize("num_beams", [1, 3])
def test_repetition_penalty_and_length_limits_match(pair, batch, num_beams):
    for settings in (dict(repetition_penalty=1.5, max_new_tokens=12), dict(max_length=9),
                     dict(min_length=7, max_length=12), dict()):  # dict(): transformers' 20 new tokens
        expected, got = both(pair, batch, num_beams=num_beams, **settings)
        assert torch.equal(got, expected), settings


def test_sampling_matches_transformers_with_the_same_seed(pair):
    """One input: both draw one multinomial sample per step from the same global generator state."""
    ids, mask = padded_batch(seed=2, batch=1)
    for settings in (dict(), dict(temperature=0.7, top_k=5), dict(top_p=0.8, top_k=0)):
        torch.manual_seed(11)
        expected = pair[0].generate(ids, attention_mask=mask, do_sample=True, max_new_tokens=14, **settings)
        torch.manual_seed(11)
        got = pair[1].generate(ids, attention_mask=mask, do_sample=True, max_new_tokens=14, **settings)
        assert torch.equal(got, expected), settings


def test_seeded_generator_reproduces_and_varies(pair, batch):
    ids, mask = batch
    run = lambda seed: pair[1].generate(ids, attention_mask=mask, do_sample=True, max_new_tokens=12,  # noqa: E731
                                        num_return_sequences=2, generator=torch.Generator().manual_seed(seed))
    first = run(3)
    assert first.shape[0] == 2 * ids.shape[0]
    assert torch.equal(first, run(3))
    assert not torch.equal(first, run(4))


MODES = {
    "greedy": dict(),
    "greedy-ngram": dict(no_repeat_ngram_size=2, repetition_penalty=1.2),
    "beam": dict(num_beams=4, length_penalty=2.0, num_return_sequences=2),
    "beam-early": dict(num_beams=3, early_stopping=True, no_repeat_ngram_size=3),
    "sample": dict(do_sample=True, top_k=8, temperature=0.8),
    "beam-sample": dict(do_sample=True, num_beams=3, top_p=0.9),
}


@pytest.mark.parametrize("mode", MODES)
def test_cache_on_equals_cache_off(pair, batch, mode):
    ids, mask = batch
    outputs = [pair[1].generate(ids, attention_mask=mask, max_new_tokens=12, use_cache=use_cache,
                                generator=torch.Generator().manual_seed(5), **MODES[mode])
               for use_cache in (True, False)]
    assert torch.equal(*outputs)


@pytest.mark.parametrize("mode", ["greedy", "beam", "beam-early"])
def test_one_input_alone_equals_it_inside_a_padded_batch(pair, batch, mode):
    ids, mask = batch
    together = pair[1].generate(ids, attention_mask=mask, max_new_tokens=12, **MODES[mode])
    n = together.shape[0] // ids.shape[0]
    for b in range(ids.shape[0]):
        alone = pair[1].generate(ids[b:b + 1, :int(mask[b].sum())], max_new_tokens=12, **MODES[mode])
        rows = together[b * n:(b + 1) * n]
        assert torch.equal(rows[:, :alone.shape[1]], alone)
        assert (rows[:, alone.shape[1]:] == 3).all()  # the rest is padding


def _sum_log_probs(model, ids, mask, sequences):
    """Teacher-forced sum of log p(token) over each sequence's generated tokens (up to its EOS)."""
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=sequences[:, :-1]).logits
    log_probs = logits.log_softmax(-1).gather(2, sequences[:, 1:, None]).squeeze(2)  # (B, T-1)
    ended = (sequences[:, 1:] == 1).long().cumsum(1)
    real = (ended == 0) | ((ended == 1) & (sequences[:, 1:] == 1))  # tokens up to and including EOS
    return (log_probs * real).sum(1), real.sum(1)


@pytest.mark.parametrize("style", ["hf", "gnmt"])
def test_sequence_scores_are_length_penalized_log_probs(pair, batch, style):
    ids, mask = batch
    alpha = 0.8
    out = pair[1].generate(ids, attention_mask=mask, num_beams=3, max_new_tokens=12, length_penalty=alpha,
                           length_penalty_style=style, return_dict_in_generate=True, output_scores=True)
    total, length = _sum_log_probs(pair[1], ids, mask, out.sequences)
    divisor = ((5 + length) / 6) ** alpha if style == "gnmt" else length.double() ** alpha
    torch.testing.assert_close(out.sequences_scores.double(), total.double() / divisor, atol=1e-4, rtol=1e-4)


def test_gnmt_changes_what_wins(pair, batch):
    ids, mask = batch
    runs = {style: pair[1].generate(ids, attention_mask=mask, num_beams=4, max_new_tokens=14, length_penalty=2.0,
                                    length_penalty_style=style) for style in ("hf", "gnmt")}
    zero = {style: pair[1].generate(ids, attention_mask=mask, num_beams=4, max_new_tokens=14, length_penalty=0.0,
                                    length_penalty_style=style) for style in ("hf", "gnmt")}
    assert torch.equal(zero["hf"], zero["gnmt"])  # alpha 0: no penalty in either form
    assert runs["hf"].shape != runs["gnmt"].shape or not torch.equal(runs["hf"], runs["gnmt"])
