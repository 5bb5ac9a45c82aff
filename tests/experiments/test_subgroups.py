"""The fusion test pairs split by what their rule asks: each part's paired bootstrap, from saved predictions."""
from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from bertgen.data.fusion.rules import DISCOURSE_TYPES
from bertgen.experiments import append_row
from bertgen.experiments.subgroups import (CONNECTIVE_RULES, FACTORIAL, KEEPS, MENTION_RULES, REWRITES,
                                           group_contrasts, kept_words_lost, lost_words, rule_group)

# (rule, source, target): two pairs fused by a connective, two whose fusion rewrites the repeated name
PAIRS = [("PAIR_CONN", "the rain fell . the roads stayed dry .", "the rain fell . however , the roads stayed dry ."),
         ("SINGLE_S_COORD", "she sang . he danced .", "she sang , and he danced ."),
         ("PAIR_ANAPHORA", "john left early . john was tired .", "john left early . he was tired ."),
         ("SINGLE_RELATIVE", "we met anna . anna was ill .", "we met anna , who was ill .")] * 10
CONNECTIVE = {"PAIR_CONN", "SINGLE_S_COORD"}  # the first two, named here rather than taken from the module


def write_run(results, run_id: str, row: str, predict, **fields) -> None:
    """One run of `row` whose prediction for each pair is predict(rule, source, target)."""
    append_row(results / "fusion.csv", {"run_id": run_id, "row": row, "scheme": row, "paper_row": row,
                                        "fraction": 1.0, "seed": 0, "config_hash": "h", "steps": 10, "sari": 0.0,
                                        **fields})
    run = results / "fusion" / "runs" / run_id
    run.mkdir(parents=True)
    pd.DataFrame([{"source": s, "target": t, "prediction": predict(rule, s, t), "rule": rule}
                  for rule, s, t in PAIRS]).to_csv(run / "predictions.csv", index=False)


def fuses_connectives(rule, source, target):
    return target if rule in CONNECTIVE else source


def fuses_mentions(rule, source, target):
    return source if rule in CONNECTIVE else target


def test_every_rule_the_fusion_data_gives_is_in_exactly_one_group():
    assert CONNECTIVE_RULES | MENTION_RULES == set(DISCOURSE_TYPES) and not CONNECTIVE_RULES & MENTION_RULES
    assert rule_group("PAIR_ANAPHORA") == REWRITES and rule_group("PAIR_CONN") == KEEPS
    with pytest.raises(ValueError, match="'PAIR_NEW' is in neither group"):
        rule_group("PAIR_NEW")


def test_each_group_credits_the_row_that_gets_its_pairs_right(tmp_path):
    results = tmp_path / "results"
    write_run(results, "a", "connectives", fuses_connectives)
    write_run(results, "b", "mentions", fuses_mentions)
    table = group_contrasts([("connectives", "mentions")], results_dir=results).set_index(["group", "contrast"])
    keeps, rewrites = table.loc[KEEPS, "connectives − mentions"], table.loc[REWRITES, "connectives − mentions"]
    assert keeps["examples"] == rewrites["examples"] == 20 and table.loc[("all pairs", "mentions − copy"), "examples"] == 40
    assert keeps["low"] > 0 and rewrites["high"] < 0  # each row wins where it fuses, with its interval
    assert table.loc[(REWRITES, "connectives − copy"), "estimate"] == 0  # it copied those pairs
    assert table.loc[("all pairs", "connectives − mentions"), "runs"] == "1/1"


def test_a_weighted_effect_is_the_same_weights_on_the_rows_scores(tmp_path):
    # the 2x2 design: a warm encoder fuses the connective pairs, a warm decoder the mention pairs, both fuse all
    results = tmp_path / "results"
    for run_id, row, predict in [("a", "rnd2rnd", lambda rule, s, t: s), ("b", "bert2rnd", fuses_connectives),
                                 ("c", "rnd2bert", fuses_mentions), ("d", "bert2bert", lambda rule, s, t: t)]:
        write_run(results, run_id, row, predict)
    table = group_contrasts([], results_dir=results, effects=FACTORIAL).set_index(["group", "contrast"])
    for group in ("all pairs", KEEPS, REWRITES):
        above_copy = {row: table.loc[(group, f"{row} − copy"), "estimate"] for row in FACTORIAL["interaction"]}
        for name, weights in FACTORIAL.items():
            effect = table.loc[(group, name)]
            assert effect["estimate"] == pytest.approx(sum(w * above_copy[row] for row, w in weights.items()))
            assert effect["low"] <= effect["estimate"] <= effect["high"] and effect["runs"] == "1/1/1/1"
    # each warm side helps only on the pairs it fuses; the rnd2rnd row copies, so it scores as copying does
    assert table.loc[(KEEPS, "warm encoder (main effect)"), "low"] > 0
    assert table.loc[(REWRITES, "warm encoder (main effect)"), "estimate"] == pytest.approx(0, abs=1e-9)
    assert table.loc[(REWRITES, "warm decoder (main effect)"), "low"] > 0
    assert table.loc[("all pairs", "rnd2rnd − copy"), "estimate"] == pytest.approx(0, abs=1e-9)


def test_collapsed_runs_are_left_out(tmp_path):
    results = tmp_path / "results"
    write_run(results, "a", "connectives", fuses_connectives)
    write_run(results, "b", "mentions", fuses_mentions, seed=0)
    # a second seed that writes one sentence whatever its input: a failed run, not a result
    write_run(results, "c", "mentions", lambda rule, s, t: "he was tired .", seed=1, val_distinct=5.0,
              val_input_dependence=0.0)
    table = group_contrasts([("connectives", "mentions")], results_dir=results).set_index(["group", "contrast"])
    assert table.loc[("all pairs", "connectives − mentions"), "runs"] == "1/1"
    assert table.loc[(REWRITES, "mentions − copy"), "low"] > 0


def test_rows_without_runs_platforms_and_test_sets_that_differ_are_refused(tmp_path):
    results = tmp_path / "results"
    write_run(results, "a", "connectives", fuses_connectives, hardware="CPU, 1 thread", precision="bf16")
    write_run(results, "b", "mentions", fuses_mentions, hardware="NVIDIA H200", precision="bf16")
    with pytest.raises(ValueError, match="no run of absent at 100%"):
        group_contrasts([("connectives", "absent")], results_dir=results)
    with pytest.raises(ValueError, match="come from CPU, bf16, NVIDIA H200, bf16"):
        group_contrasts([("connectives", "mentions")], results_dir=results)
    write_run(results, "c", "shorter", fuses_mentions, hardware="CPU, 1 thread", precision="bf16")
    predictions = results / "fusion" / "runs" / "c" / "predictions.csv"
    pd.read_csv(predictions).iloc[:-1].to_csv(predictions, index=False)
    with pytest.raises(ValueError, match="different test pairs"):
        group_contrasts([("connectives", "shorter")], results_dir=results)


def test_kept_words_lost_counts_the_source_words_an_output_drops_by_their_pieces():
    frame = pd.DataFrame({"source": ["the cheyennes rode. they camped ."],
                          "target": ["the cheyennes rode, and they camped ."],
                          "prediction": ["the waterfalls rode; and they camped"]})
    # punctuation aside: "rode." and "rode;" are one word, and a mark alone is no word, so nothing else is lost
    assert lost_words(*frame.iloc[0]) == Counter({"cheyennes": 1})
    pieces = {"cheyennes": 3, "camped": 2}  # every other word one piece
    table = kept_words_lost(frame, lambda word: pieces.get(word, 1), most=3).set_index("pieces")
    assert table.loc["1", "kept"] == 3 and table.loc["1", "lost"] == 0  # the, rode, they
    assert table.loc["2", "kept"] == 1 and table.loc["2", "lost"] == 0
    assert table.loc["3+", "kept"] == 1 and table.loc["3+", "lost"] == 1 and table.loc["3+", "lost_percent"] == 100
