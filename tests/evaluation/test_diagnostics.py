"""Collapse diagnostics: a model that answers every input with the same sentence, or that ignores its input,
is told apart from one that reads it."""
from __future__ import annotations

import pytest

from bertgen.evaluation.diagnostics import collapse_diagnostics, collapsed, distinct_share, input_dependence

SOURCES = ["the storm was over . we went outside .", "she sang a song . the crowd cheered .",
           "prices rose sharply . demand fell .", "he read the letter . he smiled ."]
REFERENCES = ["the storm was over , so we went outside .", "she sang a song and the crowd cheered .",
              "prices rose sharply , but demand fell .", "he read the letter and smiled ."]


def test_copying_and_references_depend_on_their_input():
    assert input_dependence(SOURCES, SOURCES) > 0.7
    assert input_dependence(SOURCES, REFERENCES) > 0.5
    assert not collapsed(collapse_diagnostics(SOURCES, REFERENCES))


def test_one_memorized_answer_is_collapse():
    answer = ["he was wide awake , but he did not feel like doing anything ."] * len(SOURCES)
    diagnostics = collapse_diagnostics(SOURCES, answer)
    assert diagnostics["distinct"] == pytest.approx(25.0)
    assert abs(diagnostics["input_dependence"]) < 0.05
    assert collapsed(diagnostics)


def test_outputs_matched_to_the_wrong_inputs_score_below_zero():
    shuffled = REFERENCES[1:] + REFERENCES[:1]
    assert distinct_share(SOURCES, shuffled) == 100.0  # all distinct, yet none is about its own input
    assert input_dependence(SOURCES, shuffled) < 0


def test_empty_outputs_count_as_no_overlap():
    assert input_dependence(SOURCES, [""] * 4) == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: input_dependence(SOURCES, SOURCES[:2]), "4 sources but 2 predictions"),
    (lambda: input_dependence(SOURCES[:1], SOURCES[:1]), "two or more"),
    (lambda: distinct_share([], []), "no examples"),
])
def test_bad_calls_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
