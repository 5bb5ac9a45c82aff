"""Metrics against independent computations: sacrebleu and rouge-score called directly, SARI worked by hand
from its definition, and the published SARI example."""
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from bertgen.evaluation import metrics

# The example in the HF-evaluate SARI metric card (from the tensor2tensor tests).
CARD_SOURCE = "About 95 species are currently accepted ."
CARD_PREDICTION = "About 95 you now get in ."
CARD_REFERENCES = ["About 95 species are currently known .", "About 95 species are now accepted .",
                   "95 species are now accepted ."]


def test_sari_reproduces_the_published_example():
    assert metrics.sari([CARD_SOURCE], [CARD_PREDICTION], [CARD_REFERENCES]) == pytest.approx(26.953601953601954,
                                                                                             abs=1e-12)


def test_sari_of_a_wrong_deletion_by_hand():
    # source "a b", prediction "a", reference "a b" (numref 1):
    #   unigrams: keep P = 1 (a kept, a in ref), R = 1/2 (of a, b only a kept) -> F1 2/3;
    #             delete P = 0 (b deleted but the reference keeps it); add: nothing added, nothing to add -> 1
    #   bigrams:  keep: nothing kept -> P = 1 by 0/0, R = 0/1 -> F1 0; delete P = 0; add 1
    #   3-, 4-grams: all empty -> 1, 1, 1
    # keep (2/3 + 0 + 1 + 1) / 4 = 2/3, delete (0 + 0 + 1 + 1) / 4 = 1/2, add 1 -> (2/3 + 1/2 + 1) / 3 = 13/18
    assert metrics.sari(["a b"], ["a"], [["a b"]]) == pytest.approx(100 * 13 / 18)


def test_sari_operations_split_the_hand_computed_example_and_average_to_sari():
    # the example above: keep 2/3, delete 1/2, add 1
    assert metrics.sari_operations("a b", "a", ["a b"]) == pytest.approx((2 / 3, 1 / 2, 1))
    # copying a source the reference adds a word to: every n-gram kept rightly, nothing deleted, the new one missed
    assert metrics.sari_operations("a b c", "a b c", ["a b c d"]) == pytest.approx((1, 1, 0))
    # a substituted word ("x" for "b") is a wrong deletion and a wrong addition
    keep, delete, add = metrics.sari_operations("a b c", "a x c", ["a b c"])
    assert keep < 1 and delete < 1 and add < 1
    for source, prediction, reference in [("a b", "a", "a b"), (CARD_SOURCE, CARD_PREDICTION, CARD_REFERENCES[0])]:
        operations = metrics.sari_operations(source, prediction, [reference])
        assert sum(operations) / 3 == pytest.approx(metrics.sari_sentence(source, prediction, [reference]))


def test_sari_scales_counts_by_the_number_of_references():
    # source "a", prediction "a", references "a" and "b" (numref 2, so source and prediction count a twice):
    #   unigrams: kept {a: 2}, of which the references hold 1 -> P 1/2; R = 1/1 -> F1 2/3;
    #             delete: nothing deleted -> 1; add: b was there to add but wasn't -> P 1, R 0 -> F1 0
    #   2- to 4-grams: empty -> 1, 1, 1
    # keep (2/3 + 3) / 4 = 11/12, delete 1, add 3/4 -> (11/12 + 1 + 3/4) / 3 = 8/9
    assert metrics.sari(["a"], ["a"], [["a", "b"]]) == pytest.approx(100 * 8 / 9)


def test_sari_is_100_for_a_perfect_copy_and_lowercases():
    assert metrics.sari(["He left ."], ["he left."], ["He left."]) == pytest.approx(100)


def test_sari_averages_over_examples():
    one = metrics.sari(["a b"], ["a"], [["a b"]])
    two = metrics.sari([CARD_SOURCE], [CARD_PREDICTION], [CARD_REFERENCES])
    both = metrics.sari(["a b", CARD_SOURCE], ["a", CARD_PREDICTION], [["a b"], CARD_REFERENCES])
    assert both == pytest.approx((one + two) / 2)


def test_exact_match():
    assert metrics.exact_match(["a b", "c", "d "], ["a b", "x", ["y", "d"]]) == pytest.approx(200 / 3)


PREDICTIONS = ["the cat sat on the mat", "a quick brown fox jumps", "Hello there , General Kenobi"]
REFERENCES = ["the cat is on the mat", "the quick brown fox jumped over", "hello there general kenobi"]


def test_bleu_is_sacrebleu_corpus_bleu():
    assert metrics.bleu(PREDICTIONS, REFERENCES) == pytest.approx(
        sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES]).score)
    assert metrics.bleu(PREDICTIONS, REFERENCES, lowercase=True) == pytest.approx(
        sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES], lowercase=True).score)
    assert metrics.bleu(PREDICTIONS, REFERENCES, lowercase=True) > metrics.bleu(PREDICTIONS, REFERENCES)


def test_bleu_with_several_references_per_example():
    second = ["a cat sat on a mat", "a fast brown fox jumps", "hi there general kenobi"]
    refs = [[a, b] for a, b in zip(REFERENCES, second)]
    assert metrics.bleu(PREDICTIONS, refs) == pytest.approx(
        sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES, second]).score)
    with pytest.raises(ValueError, match="same number of references"):
        metrics.bleu(PREDICTIONS[:2], [[REFERENCES[0]], [REFERENCES[1], second[1]]])


def test_rouge_is_rouge_score_with_stemming():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = {k: 100 * sum(scorer.score(r, p)[k].fmeasure for p, r in zip(PREDICTIONS, REFERENCES)) / 3
                for k in ("rouge1", "rouge2", "rougeL")}
    assert metrics.rouge(PREDICTIONS, REFERENCES) == pytest.approx(expected)
    # stemming: "jumps" and "jumped" match
    assert metrics.rouge(["fox jumps"], ["fox jumped"])["rouge1"] == pytest.approx(100)


def test_rouge_takes_the_best_reference():
    assert metrics.rouge(["the cat"], [["a dog", "the cat"]])["rouge1"] == pytest.approx(100)


@pytest.mark.parametrize("call", [
    lambda: metrics.sari(["a"], ["a", "b"], ["a", "b"]),
    lambda: metrics.exact_match(["a", "b"], ["a"]),
    lambda: metrics.bleu(["a"], ["a", "b"]),
    lambda: metrics.rouge(["a", "b"], ["a"]),
])
def test_mismatched_lengths_are_errors(call):
    with pytest.raises(ValueError, match="entries but predictions has"):
        call()


@pytest.mark.parametrize("call", [
    lambda: metrics.sari([], [], []),
    lambda: metrics.exact_match([], []),
    lambda: metrics.bleu([], []),
    lambda: metrics.rouge([], []),
])
def test_empty_inputs_are_errors(call):
    with pytest.raises(ValueError, match="empty"):
        call()


def test_a_bare_string_or_an_empty_reference_list_is_an_error():
    with pytest.raises(ValueError, match="not one string"):
        metrics.bleu("the cat", ["the cat"])
    with pytest.raises(ValueError, match=r"references\[0\] is an empty list"):
        metrics.exact_match(["a"], [[]])


def test_bertgen_metrics_is_the_public_name_of_the_metrics_module():
    import bertgen

    assert bertgen.metrics is metrics and "metrics" in dir(bertgen)
