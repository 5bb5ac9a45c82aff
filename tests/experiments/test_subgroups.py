"""The fusion test pairs split by what their rule asks: each part's paired bootstrap, from saved predictions."""
from __future__ import annotations

import pandas as pd
import pytest

from bertgen.data.fusion.rules import DISCOURSE_TYPES
from bertgen.experiments import append_row
from bertgen.experiments.subgroups import KEEPS, MENTION_RULES, REWRITES, group_contrasts, rule_group

# (rule, source, target): a connective pair and a pair whose fusion puts a pronoun for the repeated name
PAIRS = [("PAIR_CONN", "the rain fell . the roads stayed dry .", "the rain fell . however , the roads stayed dry ."),
         ("SINGLE_S_COORD", "she sang . he danced .", "she sang , and he danced ."),
         ("PAIR_ANAPHORA", "john left early . john was tired .", "john left early . he was tired ."),
         ("SINGLE_RELATIVE", "we met anna . anna was ill .", "we met anna , who was ill .")] * 10


def write_run(results, run_id: str, row: str, predict) -> None:
    """One run of `row` whose prediction for each pair is predict(rule, source, target)."""
    append_row(results / "fusion.csv", {"run_id": run_id, "row": row, "scheme": row, "paper_row": row,
                                        "fraction": 1.0, "seed": 0, "config_hash": "h", "steps": 10, "sari": 0.0})
    run = results / "fusion" / "runs" / run_id
    run.mkdir(parents=True)
    pd.DataFrame([{"source": s, "target": t, "prediction": predict(rule, s, t), "rule": rule}
                  for rule, s, t in PAIRS]).to_csv(run / "predictions.csv", index=False)


def test_every_mention_rule_is_a_rule_the_fusion_data_gives():
    assert MENTION_RULES < set(DISCOURSE_TYPES)
    assert rule_group("PAIR_ANAPHORA") == REWRITES and rule_group("PAIR_CONN") == KEEPS


def test_each_group_credits_the_row_that_gets_its_pairs_right(tmp_path):
    results = tmp_path / "results"
    # `connectives` fuses the connective pairs and copies the rest; `mentions` does the opposite
    write_run(results, "a", "connectives", lambda rule, s, t: s if rule in MENTION_RULES else t)
    write_run(results, "b", "mentions", lambda rule, s, t: t if rule in MENTION_RULES else s)
    table = group_contrasts([("connectives", "mentions")], results_dir=results).set_index(["group", "contrast"])
    keeps, rewrites = table.loc[KEEPS, "connectives − mentions"], table.loc[REWRITES, "connectives − mentions"]
    assert keeps["examples"] == rewrites["examples"] == 20 and table.loc[("all pairs", "mentions − copy"), "examples"] == 40
    assert keeps["low"] > 0 and rewrites["high"] < 0  # each row wins where it fuses, with its interval
    assert table.loc[(REWRITES, "connectives − copy"), "estimate"] == 0  # it copied those pairs
    assert table.loc[("all pairs", "connectives − mentions"), "runs"] == "1/1"


def test_runs_scored_on_different_test_pairs_are_not_compared(tmp_path):
    results = tmp_path / "results"
    write_run(results, "a", "connectives", lambda rule, s, t: t)
    write_run(results, "b", "mentions", lambda rule, s, t: t)
    predictions = results / "fusion" / "runs" / "b" / "predictions.csv"
    frame = pd.read_csv(predictions)
    frame.iloc[:-1].to_csv(predictions, index=False)
    with pytest.raises(ValueError, match="different test pairs"):
        group_contrasts([("connectives", "mentions")], results_dir=results)
    with pytest.raises(ValueError, match="no run of absent at 100%"):
        group_contrasts([("connectives", "absent")], results_dir=results)
