"""The experiment runner end to end on a tiny config: TOML -> training -> test metrics -> CSV row -> markdown
table, all in a temporary directory (never the repository's experiments/results)."""
from __future__ import annotations

import csv
import dataclasses
import json
import re
import subprocess

import pandas as pd
import pytest
import torch

from bertgen.cli.main import main
from bertgen.data.corpora.brown import SAMPLE_DIR
from bertgen.experiments import PROJECT, ExperimentConfig, append_row
from bertgen.experiments.frames import learning_curves
from bertgen.evaluation import SourceIgnoredWarning
from bertgen.training.trainer import read_log

TINY_CONFIG = f"""
task = "brown-fusion"
scheme = "rnd2rnd"
data_dir = "{SAMPLE_DIR}"
warm_start = {{ hidden_size = 32, num_attention_heads = 4, intermediate_size = 37, layers = 1 }}
train_examples = 40
validation_examples = 4
test_examples = 6
max_source_length = 48
max_target_length = 48
max_new_tokens = 4
steps = 3
batch_size = 4
schedule = "linear"
learning_rate = 1e-3
warmup_steps = 1
"""

PAPER = """
source = "test"
["brown-fusion"]
paper_task = "DiscoFuse"
["brown-fusion".rows.rnd2rnd]
exact = 58.3
sari = 86.9
"""

pytestmark = pytest.mark.usefixtures("one_thread")


def ledger_row(**fields) -> dict:
    """A results-CSV row for the table tests: one run of `row` (default bert2bert, its scheme and paper row too) at
    100% data, every column a table reads, then `fields`."""
    row = fields.get("row", "bert2bert")
    return {"run_id": "x", "date": "d", "row": row, "scheme": row, "paper_row": row, "fraction": 1.0, "seed": 0,
            "config_hash": "h", "git_commit": "c", "steps": 10, "batch_size": 8, "train_examples": 100,
            "test_examples": 50, "max_length": "32/32", "decoding": "greedy", "train_loss": 1.0, "train_s": 1.0,
            "eval_s": 1.0, "wall_s": 2.0, "exact": 0.0, "sari": 0.0, **fields}


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))  # task cache and run scratch
    config = tmp_path / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    config.parent.mkdir(parents=True)
    config.write_text(TINY_CONFIG)
    (tmp_path / "experiments" / "paper_results.toml").write_text(PAPER)
    return tmp_path


def test_config_to_csv_row_to_markdown_table(project, capsys):
    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    for seed in (0, 1):
        with pytest.warns(SourceIgnoredWarning):  # 3 steps teach a random tiny model nothing about its input
            assert main(["experiment", "run", str(config), "--set", f"seed={seed}", "--threads", "1"]) == 0
    rows = list(csv.DictReader(open(results / "brown-fusion.csv")))
    assert [r["seed"] for r in rows] == ["0", "1"]
    assert rows[0]["config_hash"] == rows[1]["config_hash"]  # the seed is not part of the config's identity
    for row in rows:
        assert row["row"] == "tiny" and row["steps"] == "3" and row["train_examples"] == "40"
        assert 0 <= float(row["sari"]) <= 100 and 0 <= float(row["exact"]) <= 100
        assert 0 <= float(row["distinct"]) <= 100 and float(row["copy_input_dependence"]) > 0.5
        assert float(row["copy_sari"]) > float(row["sari"])  # the baseline a real model must clear
        assert int(row["best_step"]) in (1, 2, 3) and float(row["val_loss"]) > 0
        assert float(row["wall_s"]) > 0 and row["git_commit"]
        assert row["hardware"] == "CPU, 1 thread"  # the tables say what each run trained on, in what precision
        assert row["cpu"] and row["test_split"] == rows[0]["test_split"]
        assert row["precision"] in ("fp32", "bf16") and row["stop_reason"] == "max_steps"
        run = results / "brown-fusion" / "runs" / row["run_id"]
        assert {p.name for p in run.iterdir()} == {"config.json", "log.jsonl", "predictions.csv"}

    capsys.readouterr()
    assert main(["experiment", "table", "brown-fusion", "--results-dir", str(results)]) == 0
    table = (results / "brown-fusion.md").read_text()
    assert table == capsys.readouterr().out.rstrip("\n") + "\n"
    assert "2 runs took" in table and "3 steps of batch 4" in table and "trained on CPU, 1 thread (2 runs)" in table
    assert "| copy the input (no model) | test set |" in table
    line = next(l for l in table.splitlines() if l.startswith("| tiny |"))
    # what 3 steps produce does not read its input: counted as failed (with the rate's interval), no means;
    # kept at their last evaluation, both were still improving
    assert re.match(r"\| tiny \| 100% \| CPU, (fp32|bf16) \| 0 \| 2/2 \[34%–100%\] \| 0/2 \| 2/2 \| collapsed \|", line)
    assert "2 of 2 runs collapsed" in table and "## The paper's claims" in table


def test_the_tables_time_counts_every_process_of_a_resumed_run(project):
    """A resumed run's wall_s is its last process's; its train_s sums every process's training time."""
    from bertgen.experiments.tables import render_table

    results = project / "experiments" / "results"
    append_row(results / "brown-fusion.csv", ledger_row(train_s=3000.0, eval_s=600.0, wall_s=900.0))
    table = render_table("brown-fusion", results, project / "experiments" / "paper_results.toml")
    assert "1 run took 60 minutes of training and test evaluation" in table and "median 3600 s per run" in table


def test_the_table_counts_the_runs_stopped_early_and_those_still_improving(project):
    """A run kept at its last evaluation was still improving; one kept earlier had flattened, early stopping or not;
    a run that never evaluated is not counted either way."""
    from bertgen.experiments.tables import markdown_rows, render_table

    results = project / "experiments" / "results"
    stops = [("early_stopping", 750, 1000), ("max_steps", 1000, 1000), ("max_steps", 750, 1000), ("", 1000, 1000),
             ("max_steps", "", 1000)]
    for seed, (reason, best, steps) in enumerate(stops):
        append_row(results / "brown-fusion.csv", ledger_row(run_id=f"run{seed}", seed=seed, stop_reason=reason,
                                                             best_step=best, steps=steps))
    [row] = markdown_rows(render_table("brown-fusion", results, project / "experiments" / "paper_results.toml"))
    assert row["row"] == "bert2bert" and row["stopped early"] == "1/4" and row["still improving"] == "2/4"


def test_a_table_of_one_row_says_no_ordering_is_judged_yet_and_keeps_the_loss_claims_apart(project):
    from bertgen.experiments.tables import claims_section, write_table

    results = project / "experiments" / "results"
    append_row(results / "brown-fusion.csv", ledger_row(row="rnd2rnd", loss=2.0))
    table = write_table("brown-fusion", results, project / "experiments" / "paper_results.toml").read_text()
    orderings = table.split("## The paper's orderings")[1].split("\n## ")[0]
    assert "None yet: no data size has runs of two rows the paper scores." in orderings
    loss_claims = table.split("## The paper's claims on the teacher-forced test loss")[1]
    assert loss_claims.count("- **") == 3
    # the README and notebook 05 read the headline claims alone
    assert claims_section("brown-fusion", results).count("- **") == 3


def test_the_table_says_how_the_encoders_read_their_input(project):
    from bertgen.experiments.tables import render_table

    results = project / "experiments" / "results"
    paper = project / "experiments" / "paper_results.toml"
    for seed, special in enumerate((True, False)):
        run = results / "brown-fusion" / "runs" / f"run{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"source_special_tokens": special}), encoding="utf-8")
        append_row(results / "brown-fusion.csv", ledger_row(run_id=f"run{seed}", seed=seed))
        table = render_table("brown-fusion", results, paper)
        if seed == 0:
            assert "the encoder reads [CLS] text [SEP], as BERT was pretrained (beyond the paper's configs" in table
    assert ("the encoder reads bare text (the paper's configs) in 1 run, [CLS] text [SEP], as BERT was pretrained "
            "(beyond the paper's configs; experiments/RECIPE.md, stage 5) in 1 run;") in table


def test_paper_numbers_sit_beside_ours_and_the_ordering_is_judged(project):
    from bertgen.experiments.tables import render_table

    results = project / "experiments" / "results"
    csv_path = results / "brown-fusion.csv"
    for scheme, sari in (("rnd2rnd", 30.0), ("bert2bert", 40.0)):
        append_row(csv_path, ledger_row(row=scheme, sari=sari, train_s=1, eval_s=1, wall_s=60.0))
    paper = project / "experiments" / "paper_results.toml"
    paper.write_text(PAPER + '["brown-fusion".rows.bert2bert]\nexact = 63.9\nsari = 89.3\n')
    table = render_table("brown-fusion", results, paper)
    assert "| rnd2rnd | 100% | CPU, precision unrecorded | 1 | 0/1 [0%–79%] | — | — | 0.0 | 58.3 | 30.0 | 86.9 |" in table
    assert table.index("| rnd2rnd |") < table.index("| bert2bert |")  # the paper's row order
    # one seed a row: no spread to judge an order by
    assert "**bert2bert > rnd2rnd (paper 89.3 vs 86.9)**: cannot judge yet: needs bert2bert, rnd2rnd" in table

    def two_seeds(rnd2rnd: tuple[float, float], bert2bert: tuple[float, float]) -> str:
        csv_path.write_text("")
        for seed, (cold, warm) in enumerate(zip(rnd2rnd, bert2bert)):
            for scheme, sari in (("rnd2rnd", cold), ("bert2bert", warm)):
                append_row(csv_path, ledger_row(row=scheme, seed=seed, sari=sari, train_s=1, eval_s=1, wall_s=60.0))
        return render_table("brown-fusion", results, paper).split("## The paper's orderings")[1]

    assert ("**bert2bert > rnd2rnd (paper 89.3 vs 86.9)** (sari): +10.00 sari; Welch t(2.0) across seeds 2/2, "
            "two-sided p = 0.005") in (table := two_seeds((30.0, 31.0), (40.0, 41.0))) and "**reproduced**" in table
    assert "**cannot tell** (would need about" in two_seeds((30.0, 50.0), (40.0, 30.0))
    assert "-10.00 sari" in (table := two_seeds((50.0, 51.0), (40.0, 41.0))) and "**contradicted**." in table
    # a paper tie is no ordering: it is judged as "the same", which 10 points apart contradicts
    paper.write_text(PAPER.replace("sari = 86.9", "sari = 89.3") + '["brown-fusion".rows.bert2bert]\nsari = 89.3\n')
    table = two_seeds((30.0, 31.0), (40.0, 41.0))
    assert "**rnd2rnd ≈ bert2bert (paper 89.3 vs 89.3: a tie)** (sari): -10.00 sari" in table
    assert "**contradicted** (they differ by more than the margin)" in table


def test_a_beyond_paper_row_gets_its_own_list_judged_against_the_paper_row_it_changes(project):
    from bertgen.experiments.tables import beyond_paper_section, render_table, write_table

    results = project / "experiments" / "results"
    paper = project / "experiments" / "paper_results.toml"
    csv_path = results / "brown-fusion.csv"
    for seed in (0, 1):
        append_row(csv_path, ledger_row(row="bert2rnd", seed=seed, sari=40.0 + seed, loss=1.0))
    write_table("brown-fusion", results, paper)
    assert beyond_paper_section("brown-fusion", results) is None  # no beyond-paper row landed
    append_row(csv_path, ledger_row(row="bert2rnd-warm1e-4", scheme="bert2rnd", fraction=0.1, sari=60.0))
    assert "## Beyond the paper" not in render_table("brown-fusion", results, paper)  # the list compares at 100%
    for seed in (0, 1):
        append_row(csv_path, ledger_row(row="bert2rnd-warm1e-4", scheme="bert2rnd", seed=seed, sari=50.0 + seed))
    beyond = render_table("brown-fusion", results, paper).split("## Beyond the paper")[1]
    assert "**A gentler rate for the warm encoder helps bert2rnd (bert2rnd-warm1e-4 > bert2rnd)** (sari): +10.00" \
           in beyond and "**supported**." in beyond
    assert "bert2bert-xattn" not in beyond  # not landed: not listed, as on a task whose sweep never runs it
    # seeds far apart: what would decide it is planned for the list's tests, those the task has configs for
    for seed, sari in ((0, 38.0), (1, 55.0)):
        append_row(csv_path, ledger_row(row="bert2rnd-warm1e-4", scheme="bert2rnd", seed=seed + 2, sari=sari))
    assert "seeds per row if the estimate holds; it would then be supported" in render_table(  # a list of one
        "brown-fusion", results, paper)
    (project / "experiments" / "configs" / "brown-fusion" / "bert2bert-xattn.toml").write_text(TINY_CONFIG)
    beyond = render_table("brown-fusion", results, paper).split("## Beyond the paper")[1]
    assert "bert2bert-xattn" not in beyond and "at 0.05/2 for the list's 2 tests" in beyond
    append_row(csv_path, ledger_row(row="bert2bert-xattn", scheme="bert2bert", loss=1.0))
    write_table("brown-fusion", results, paper)
    beyond = beyond_paper_section("brown-fusion", results)  # what notebook 05 shows: this list's lines alone
    assert beyond.count("- **") == 2 and "(loss)" not in beyond
    assert "(bert2bert-xattn > bert2bert)**: cannot judge yet: needs bert2bert-xattn, bert2bert" in beyond
    # a beyond-paper row of the 10% column: listed once it lands there, against its paper row at 10%
    config = project / "experiments" / "configs" / "brown-fusion" / "bert2bert-warm1e-4-10pct.toml"
    config.write_text(f'name = "bert2bert-warm1e-4"\nfraction = 0.1\n{TINY_CONFIG}')
    assert "0.05/3 for the list's 3 tests" in render_table("brown-fusion", results, paper)  # planned, not listed
    for seed in (0, 1):
        append_row(csv_path, ledger_row(row="bert2bert", fraction=0.1, seed=seed, sari=30.0 + seed, loss=1.0))
        append_row(csv_path, ledger_row(row="bert2bert-warm1e-4", scheme="bert2bert", fraction=0.1, seed=seed,
                                        sari=35.0 + seed, loss=1.0))
    write_table("brown-fusion", results, paper)
    small = beyond_paper_section("brown-fusion", results).splitlines()[-1]
    assert small.startswith("- **A gentler rate for the warm parts helps bert2bert at 10%") and "+5.00 sari" in small
    config.write_text('name = "bert2bert-warm1e-4\n')  # an unclosed string: the table names the file
    with pytest.raises(ValueError, match=r"bert2bert-warm1e-4-10pct.toml: not valid TOML \(.*line 1"):
        render_table("brown-fusion", results, paper)


def test_a_translation_table_judges_its_rows_on_corpus_bleu_paired_over_the_test_examples(project):
    """bible-modern's table (BLEU, the paper's WMT14 column beside it), on the same code path as fusion's."""
    from bertgen.evaluation.metrics import bleu
    from bertgen.experiments.tables import readme_block, write_table

    results = project / "experiments" / "results"
    paper = project / "experiments" / "paper_results.toml"
    paper.write_text(PAPER + '["bible-modern"]\npaper_dataset = "WMT14 De-En"\n'
                     '["bible-modern".rows.rnd2rnd]\nbleu = 29.1\n["bible-modern".rows.bert2bert]\nbleu = 32.7\n')
    configs = project / "experiments" / "configs" / "bible-modern"
    configs.mkdir()
    for row in ("rnd2rnd", "bert2rnd", "rnd2bert", "bert2bert", "bertshare"):  # the task's plans: no 10% column
        (configs / f"{row}.toml").write_text(f'task = "bible-modern"\nscheme = "{row}"\n')
    generator = torch.Generator().manual_seed(0)
    words = "thou shalt not kill you the lord said unto moses and he went up into mountain".split()
    def sentence() -> str:
        return " ".join(words[i] for i in torch.randint(len(words), (9,), generator=generator).tolist())
    examples = [(sentence(), sentence()) for _ in range(40)]  # (the old text, the modern one)
    scores = {}
    for row, right in (("rnd2rnd", 10), ("bert2bert", 25)):  # how many targets each seed gets right
        for seed in (0, 1):
            run_id = f"{row}-{seed}"
            predictions = [target if i < right + seed else source for i, (source, target) in enumerate(examples)]
            scores[run_id] = bleu(predictions, [target for _, target in examples])
            folder = results / "bible-modern" / "runs" / run_id
            folder.mkdir(parents=True)
            pd.DataFrame({"source": [s for s, _ in examples], "prediction": predictions,
                          "target": [t for _, t in examples]}).to_csv(folder / "predictions.csv", index=False)
            append_row(results / "bible-modern.csv", ledger_row(
                run_id=run_id, row=row, seed=seed, test_examples=len(examples), bleu=scores[run_id], sari=50.0,
                copy_bleu=bleu([s for s, _ in examples], [t for _, t in examples]), copy_sari=30.0))
    write_table("bible-modern", results, paper)
    table = (results / "bible-modern.md").read_text()
    copy = bleu([s for s, _ in examples], [t for _, t in examples])
    warm = (scores["bert2bert-0"] + scores["bert2bert-1"]) / 2
    line = next(l for l in table.splitlines() if l.startswith("| bert2bert |"))
    assert "| bleu (paper, WMT14 De-En) |" in table and line.split(" | ")[-1].startswith(f"{warm - copy:+.1f} [")
    assert f"{scores['bert2bert-0']:.1f}" not in line and "| 32.7 |" in line  # the seeds' mean beside the paper's
    ordering = table.split("**bert2bert > rnd2rnd (paper 32.7 vs 29.1)** (bleu): ")[1].splitlines()[0]
    assert ordering.startswith(f"{warm - (scores['rnd2rnd-0'] + scores['rnd2rnd-1']) / 2:+.2f} bleu, 95% bootstrap "
                               f"interval over 40 test examples [")
    # no config of the task trains at 10%: the paper's third claim is not run on it; the other two wait for rows
    claims = table.split("## The paper's claims")[1].split("\n## ")[0]
    assert "at 10% − at 100%)**: **not run on this task** (it has no runs or configs of bert2bert at 10%, " \
           "rnd2rnd at 10%)" in claims
    assert claims.count("cannot judge yet: needs") == 2
    block = readme_block("bible-modern", results)
    assert "| bleu (ours) | bleu (paper, WMT14 De-En) | bleu − copy |" in block
    assert "at 10% − at 100%)**: not run on this task" in block
    # without the task's config folder its plans are unknown: the third claim waits for its rows as the others do
    for config in configs.iterdir():
        config.unlink()
    configs.rmdir()
    write_table("bible-modern", results, paper)
    assert (results / "bible-modern.md").read_text().count("cannot judge yet: needs") == 3


def test_a_rows_runs_of_an_earlier_config_are_not_averaged_in(project):
    from bertgen.experiments.frames import load_results
    from bertgen.experiments.tables import render_table

    results = project / "experiments" / "results"
    base = ledger_row(row="rnd2rnd", config_hash="old", steps=70, train_s=1, eval_s=1, wall_s=60.0, sari=10.0)
    for seed in (0, 1):
        append_row(results / "brown-fusion.csv", {**base, "seed": seed})
    for seed, sari in ((0, 50.0), (1, 60.0)):
        append_row(results / "brown-fusion.csv", {**base, "seed": seed, "config_hash": "new", "steps": 300,
                                                  "sari": sari})
    assert len(load_results("brown-fusion", results, history=True)) == 4
    assert list(load_results("brown-fusion", results)["sari"]) == [50.0, 60.0]
    table = render_table("brown-fusion", results, project / "experiments" / "paper_results.toml")
    assert "| rnd2rnd | 100% | CPU, precision unrecorded | 2 | 0/2 [0%–66%] | — | — | 0.0 ± 0.0 | 58.3 | 55.0 ± 7.1 | 86.9 |" in table
    assert "300 steps of batch 8" in table and "keeps 2 runs of rows' earlier configs" in table


def test_the_scale_line_gives_the_step_budget_and_how_many_runs_stopped_before_it(project):
    """The CSV's `steps` is what a run trained: an early-stopped run's budget comes from its config.json."""
    from bertgen.experiments.tables import render_table

    results = project / "experiments" / "results"
    for seed, trained in ((0, 250), (1, 300), (2, 300)):
        run_id = f"rnd2rnd-seed{seed}"
        append_row(results / "brown-fusion.csv", ledger_row(row="rnd2rnd", run_id=run_id, seed=seed, steps=trained))
        if seed < 2:  # the third run has no config.json: its budget is what it trained
            (results / "brown-fusion" / "runs" / run_id).mkdir(parents=True)
            (results / "brown-fusion" / "runs" / run_id / "config.json").write_text(json.dumps({"steps": 300}))
    table = render_table("brown-fusion", results, project / "experiments" / "paper_results.toml")
    assert "at most 300 steps of batch 8 (the paper: 300k steps of 256; 1 of the 3 runs ended before their " \
           "budget's last step)" in table
    append_row(results / "brown-fusion.csv", ledger_row(row="rnd2rnd", run_id="rnd2rnd-seed3", seed=3, steps=500))
    assert "at most 300, 500 steps of batch 8" in render_table("brown-fusion", results,
                                                              project / "experiments" / "paper_results.toml")


def test_a_row_below_full_data_says_over_how_many_subset_draws_its_seeds_ran(project):
    from bertgen.experiments.tables import render_table

    results = project / "experiments" / "results"
    for draw, seed, sari in ((None, 0, 50.0), (1, 1, 52.0), (1, 0, 55.0)):  # None: a run from before the column
        append_row(results / "brown-fusion.csv", ledger_row(row="rnd2rnd", run_id=f"r{draw}{seed}", fraction=0.1,
                                                             seed=seed, subset_seed=draw, sari=sari))
    append_row(results / "brown-fusion.csv", ledger_row(row="bert2bert", run_id="b", fraction=0.1, subset_seed=0))
    append_row(results / "brown-fusion.csv", ledger_row(row="bert2bert", run_id="c", subset_seed=0))
    rows = {line.split(" | ")[0] + " | " + line.split(" | ")[1] for line in
            render_table("brown-fusion", results, project / "experiments" / "paper_results.toml").splitlines()
            if line.startswith("| rnd2rnd |") or line.startswith("| bert2bert |")}
    assert rows == {"| rnd2rnd | 10%, 2 draws", "| bert2bert | 10%, 1 draw", "| bert2bert | 100%"}


def test_the_shipped_paper_configs_train_with_the_searched_recipe():
    """Every fusion and bible-modern config trains with stage 5's recipe (experiments/RECIPE.md), so the sweep's rows
    differ only in what the tables compare: the scheme, the data fraction, the warm parts' rate, the checkpoints."""
    root = PROJECT / "experiments" / "configs"
    recipe = ExperimentConfig.from_toml(root / "fusion" / "bert2bert.toml")
    same = ("steps", "batch_size", "schedule", "warmup_steps", "weight_decay", "max_grad_norm", "eval_every",
            "early_stopping_patience", "validation_examples", "eval_generate_examples", "test_examples", "num_beams")
    for task, metric in (("fusion", "val_sari"), ("bible-modern", "val_bleu")):
        paths = sorted((root / task).glob("*.toml"))
        assert len(paths) >= 6
        for path in paths:
            config = ExperimentConfig.from_toml(path)
            assert {k: getattr(config, k) for k in same} == {k: getattr(recipe, k) for k in same}, path
            assert (config.task, config.early_stopping_metric) == (task, metric), path
            assert config.learning_rate == (1e-4 if "warm1e-4" in path.name else 3e-4), path
            # the encoder reads [CLS] text [SEP] (<s> text </s>), but where its input is GPT-2's
            assert config.source_special_tokens == (config.scheme not in ("gpt", "rnd2gpt")), path


def test_bad_configs_and_overrides_say_what_is_wrong(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('task = "brown-fusion"\nscheme = "bert2bert"\nstpes = 3\n')
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['stpes'\]"):
        ExperimentConfig.from_toml(path)
    path.write_text('task = "brown-fusion"\nscheme = "bert2bert"\n')
    with pytest.raises(ValueError, match="field 'steps' must be int, got str 'many'"):
        ExperimentConfig.from_toml(path, ["steps=many"])
    config = ExperimentConfig.from_toml(path, ["steps=7", "warm_start.fold_token_type=false", "learning_rate=1"])
    assert (config.steps, config.warm_start, config.learning_rate, config.row) == (7, {"fold_token_type": False}, 1.0, "c")


def test_a_row_with_new_columns_widens_the_csv_and_keeps_every_row(tmp_path):
    path = tmp_path / "t.csv"
    append_row(path, {"a": 1, "b": 2})
    append_row(path, {"a": 3, "b": 4})
    append_row(path, {"a": 5, "c": 6})  # a newer bertgen records column c, and no longer b
    append_row(path, {"c": 8, "a": 7})  # columns the file has, in another order: appended in the file's
    assert path.read_text().splitlines() == ["a,b,c", "1,2,", "3,4,", "5,,6", "7,,8"]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temporary file left behind
    plain = tmp_path / "plain"
    plain.write_text("")
    assert path.stat().st_mode == plain.stat().st_mode  # as a plain open() makes it, not mkstemp's 0600
    plain.unlink()
    path.write_text(path.read_text() + "9,9,9,9\n")
    with pytest.raises(ValueError, match=r"t.csv, line 6: more fields than the header's 3"):
        append_row(path, {"a": 10, "c": 11})


def test_claims_need_two_measured_values_not_two_seeds():
    from bertgen.experiments.claims import seed_scores

    row = {"row": "bert2bert", "fraction": 1.0, "seeds": 2, "sari_mean": 50.0, "sari_std": float("nan"), "sari_n": 1}
    assert seed_scores(pd.DataFrame([row]), "bert2bert", 1.0, "sari") is None  # one run predates the column
    assert seed_scores(pd.DataFrame([{**row, "sari_std": 0.1, "sari_n": 2}]), "bert2bert", 1.0, "sari") == (50.0, 0.1, 2)


def test_demo_trains_evaluates_prints_and_saves_a_model_both_libraries_load(tmp_path, monkeypatch, capsys):
    from transformers import EncoderDecoderModel as HFModel

    from bertgen.experiments import run_demo
    from bertgen.modeling import EncoderDecoderModel

    monkeypatch.setenv("BERTGEN_HOME", str(tmp_path / "home"))
    # the demo's code is the same for any task: here brown-fusion on the Brown sample shipped with bertgen
    result = run_demo(tmp_path / "demo", examples=2, progress=False, task="brown-fusion", data_dir=str(SAMPLE_DIR),
                      steps=2, test_examples=3, validation_examples=4, max_new_tokens=3)
    out = capsys.readouterr().out
    assert "| copy the input (no model) |" in out and "| bert2bert-xattn, 2 steps" in out
    assert "brown-fusion test set, 3 examples" in out and "The storm was over." in out
    assert "(cross-attention: copied from self-attention)" in out
    assert "recipe: bert2bert from minilm-l6, cross-attention copied from self-attention (beyond the paper)" in out
    assert ("It beats copying" in out) == result["beats_copy"]
    assert out.count("\ninput:") == 2 and out.count("\nreference:") == 2
    assert set(result["metrics"]) == {"exact", "sari", "distinct", "input_dependence"} and result["steps"] == 2
    ours = EncoderDecoderModel.from_pretrained(result["model_dir"])
    theirs = HFModel.from_pretrained(result["model_dir"])
    ids = torch.tensor([[2023, 2003, 1037, 3231, 1012]])
    assert torch.equal(ours.generate(ids, max_new_tokens=3),
                       theirs.generate(ids, max_new_tokens=3, num_beams=1, do_sample=False))


def test_train_command_saves_a_model_that_loads(project):
    from bertgen.modeling import EncoderDecoderModel

    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    out = project / "trained"
    assert main(["train", str(config), "--output-dir", str(out), "--set", "steps=2", "--threads", "1"]) == 0
    model = EncoderDecoderModel.from_pretrained(out / "model")
    assert model.config.encoder.hidden_size == 32 and (out / "model" / "vocab.txt").is_file()
    assert [r["kind"] for r in read_log(out / "log.jsonl")][-1] == "end"


def test_a_sweep_run_again_skips_the_runs_it_has(project, capsys):
    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    sweep = ["experiment", "sweep", str(config), "--seeds", "0", "--results-dir", str(results)]
    assert main(sweep) == 0
    assert main(sweep + ["--set", "steps=2"]) == 0  # another config: a new run
    assert "[sweep] table:" in capsys.readouterr().out
    (results / "brown-fusion.md").unlink()
    assert main(sweep) == 0
    out = capsys.readouterr().out
    assert "seed 0: already in the results, skipped" in out
    assert "[sweep] table:" not in out and not (results / "brown-fusion.md").exists()  # nothing ran: left as it was
    rows = list(csv.DictReader(open(results / "brown-fusion.csv")))
    assert [r["steps"] for r in rows] == ["3", "2"]


def test_a_committing_sweep_commits_each_run_with_its_table(project, monkeypatch):
    """`--commit` commits a finished run's row together with the table it changes, and the README whose results
    block is cut from that table, so neither is ever a run behind its CSV."""
    import bertgen.experiments.config
    import bertgen.experiments.tables
    from bertgen.experiments.tables import readme_block, readme_markers

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, text=True).stdout

    for module in (bertgen.experiments.config, bertgen.experiments.tables):  # the checkout is the temporary project
        monkeypatch.setattr(module, "PROJECT", project)
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    readme = project / "README.md"
    begin, end = readme_markers("brown-fusion")
    other = "<!-- results:begin fusion -->\n<!-- Generated by `bertgen experiment readme fusion` from " \
            "experiments/results/fusion.md; do not edit by hand. -->\nfusion's rows\n<!-- results:end fusion -->\n"
    readme.write_text(f"intro\n{begin}\n<!-- Written by `bertgen experiment readme brown-fusion` from "
                      f"experiments/results/brown-fusion.md once its first run lands. -->\n{end}\n{other}")
    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    assert main(["experiment", "sweep", str(config), "--seeds", "0", "--commit", "--results-dir", str(results)]) == 0
    assert git("log", "--format=%s").splitlines() == ["Results: tiny seed 0"]
    committed = git("show", "HEAD:experiments/results/brown-fusion.md")
    assert "| tiny | 100% |" in committed and committed == (results / "brown-fusion.md").read_text()
    assert git("show", "HEAD:README.md") == f"intro\n{readme_block('brown-fusion', results)}\n{other}"
    assert "| tiny | 100% |" in readme.read_text()
    # a block cut from another results folder's table is not the sweep's to rewrite
    readme.write_text(f"intro\n{begin}\n<!-- Generated by `bertgen experiment readme brown-fusion` from "
                      f"elsewhere/brown-fusion.md; do not edit by hand. -->\n{end}\n")
    assert main(["experiment", "sweep", str(config), "--seeds", "1", "--commit", "--results-dir", str(results)]) == 0
    assert "| tiny | 100% |" not in readme.read_text() and "README.md" not in git("show", "--name-only", "HEAD")


def test_a_sweep_by_config_keeps_the_configs_order_and_stops_launching_after_its_deadline(project, capsys):
    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    other = config.with_name("tiny2.toml")
    other.write_text(config.read_text().replace("steps = 3", "steps = 2"))
    results = project / "experiments" / "results"
    sweep = ["experiment", "sweep", str(config), str(other), "--seeds", "0", "1", "--by-config",
             "--results-dir", str(results)]
    assert main(sweep + ["--stop-after", "0"]) == 0  # past its deadline at once: nothing starts
    assert capsys.readouterr().out.count("not started, past --stop-after") == 4
    assert not (results / "brown-fusion.csv").exists()
    assert main(sweep) == 0
    rows = list(csv.DictReader(open(results / "brown-fusion.csv")))
    assert [(r["row"], r["seed"]) for r in rows] == [("tiny", "0"), ("tiny", "1"), ("tiny2", "0"), ("tiny2", "1")]


def test_a_resumed_run_keeps_every_commit_it_trained_under(tmp_path, monkeypatch):
    from bertgen.experiments import run

    scratch = tmp_path / "fusion" / "bert2bert-seed0-abc"
    monkeypatch.setattr(run, "git_commit", lambda: "c1")
    assert run.record_commit(scratch) == ["c1"]
    (scratch / run.CHECKPOINT).mkdir()  # the first process saved a checkpoint, then stopped
    assert run.record_commit(scratch) == ["c1"]  # resumed under the same code
    monkeypatch.setattr(run, "git_commit", lambda: "c2")
    assert run.record_commit(scratch) == ["c1", "c2"]  # resumed after a commit: the row says c1..c2
    (scratch / run.CHECKPOINT).rmdir()  # no checkpoint left: the run starts afresh, under c2 alone
    assert run.record_commit(scratch) == ["c2"]


def test_a_copy_of_the_tree_without_git_takes_its_commit_from_the_environment(tmp_path, monkeypatch):
    from bertgen.experiments.ledger import git_commit

    monkeypatch.setenv("BERTGEN_GIT_COMMIT", "abc1234")
    assert git_commit(tmp_path) == "abc1234"
    monkeypatch.delenv("BERTGEN_GIT_COMMIT")
    assert git_commit(tmp_path) == "unknown"


def test_learning_curves_carry_the_decoded_validation_metrics(project):

    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    with pytest.warns(SourceIgnoredWarning):
        main(["experiment", "run", str(config), "--set", "eval_generate_examples=3", "--set", "eval_every=1"])
    evals = learning_curves("brown-fusion", results).query("kind == 'eval'")
    assert list(evals["step"]) == [1, 2, 3]
    assert evals[["val_loss", "val_source_gap", "val_encoder_spread", "val_sari", "val_distinct", "val_input_dependence"]].notna().all().all()


def test_a_row_kept_by_validation_sari_records_that_evaluations_loss_and_sari(project):
    """The row's val_loss is the loss at the kept weights' evaluation, whatever metric chose them (it once held the
    best metric's value: a SARI of 75 in a loss column)."""
    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    with pytest.warns(SourceIgnoredWarning):
        main(["experiment", "run", str(config), "--set", "eval_generate_examples=3", "--set", "eval_every=1",
              "--set", 'early_stopping_metric="val_sari"'])
    row = pd.read_csv(results / "brown-fusion.csv").iloc[-1]
    kept = learning_curves("brown-fusion", results).query(f"kind == 'eval' and step == {row['best_step']}").iloc[0]
    assert row["val_loss"] == pytest.approx(kept["val_loss"], abs=1e-4)
    assert row["val_sari"] == pytest.approx(kept["val_sari"], abs=1e-4)
    assert row["val_input_dependence"] == pytest.approx(kept["val_input_dependence"], abs=1e-4)


def test_a_landed_runs_kept_weights_decode_its_saved_predictions_again(project):
    """kept_model gives the model its row was scored with (the explorations in experiments/ decode with it); a run
    whose weights stayed on another machine is named with where they were looked for."""
    from bertgen.evaluation import evaluate
    from bertgen.experiments.run import build_model, evaluate_kwargs, kept_model, prepare_data
    from safetensors.torch import load_file

    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    with pytest.warns(SourceIgnoredWarning):
        # one evaluation, at the last step: the kept weights are trained ones (the first step's rate is 0)
        main(["experiment", "run", str(config), "--set", "eval_generate_examples=3", "--set", "eval_every=3",
              "--set", 'early_stopping_metric="val_sari"'])
    run_id = pd.read_csv(results / "brown-fusion.csv").iloc[-1]["run_id"]
    run_config, checkpoint, model = kept_model(results, "brown-fusion", run_id)
    best = load_file(project / "home" / "experiments" / "brown-fusion" / run_id / "best.safetensors")
    fresh = build_model(run_config, checkpoint)[0].state_dict()
    kept = model.state_dict()
    assert all(torch.equal(kept[name], best[name]) for name in best)
    assert any(not torch.equal(kept[name], fresh[name]) for name in best)  # trained, not the warm start
    test = prepare_data(run_config, checkpoint.tokenizer, progress=False)["test"]
    decoded = evaluate(model, checkpoint.tokenizer, test.remove_columns(["input_ids", "labels", "length"]),
                       "brown-fusion", progress=False, **evaluate_kwargs(run_config, checkpoint.tokenizer))[1]
    saved = pd.read_csv(results / "brown-fusion" / "runs" / run_id / "predictions.csv", keep_default_na=False)
    assert list(decoded["prediction"]) == list(saved["prediction"])

    moved = project / "home" / "experiments" / "brown-fusion" / run_id / "best.safetensors"
    moved.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(moved))):
        kept_model(results, "brown-fusion", run_id)


def test_sweep_runs_lists_the_landed_runs_and_those_still_training(project):
    from bertgen.experiments.frames import sweep_runs

    results = project / "experiments" / "results"
    append_row(results / "brown-fusion.csv", ledger_row(run_id="a", row="rnd2rnd", subset_seed=0))
    config = ExperimentConfig.from_toml(project / "experiments" / "configs" / "brown-fusion" / "tiny.toml",
                                        ["fraction=0.1", "seed=2", "subset_seed=1"])
    for run_id in ("b", "a"):  # a's copy from while it trained stays listed once, as landed
        (results / "brown-fusion" / "running" / run_id).mkdir(parents=True)
        (results / "brown-fusion" / "running" / run_id / "config.json").write_text(json.dumps(config.to_dict()))
    runs = sweep_runs("brown-fusion", results)
    assert runs.to_dict("records") == [
        {"run_id": "a", "row": "rnd2rnd", "fraction": 1.0, "seed": 0, "subset_seed": 0, "landed": True},
        {"run_id": "b", "row": "tiny", "fraction": 0.1, "seed": 2, "subset_seed": 1, "landed": False}]


def test_early_stopping_replayed_on_a_logged_curve_stops_where_the_trainer_would():
    from bertgen.experiments.frames import replay_early_stopping

    curve = pd.DataFrame({"step": [250, 500, 750, 1000, 1250, 1500, 1750, 2000],
                          "val_sari": [10.0, 30.0, 29.0, 29.5, 40.0, 39.0, 39.0, 39.5]})
    assert replay_early_stopping(curve, "val_sari", 2) == {"stop_step": 1000, "kept_step": 500, "kept": 30.0}
    assert replay_early_stopping(curve, "val_sari", 3) == {"stop_step": 2000, "kept_step": 1250, "kept": 40.0}
    assert replay_early_stopping(curve, "val_sari", 4)["stop_step"] is None  # the log ends first
    losses = curve.assign(val_loss=-curve["val_sari"])  # lower is better for a loss
    assert replay_early_stopping(losses, "val_loss", 2) == {"stop_step": 1000, "kept_step": 500, "kept": -30.0}


def test_logged_curves_read_finished_and_unfinished_runs(tmp_path):
    from bertgen.experiments.frames import curves_table, logged_curves

    # a-seed1's copy from while it trained (step 10) is left out once its own log has landed
    for run, steps in (("runs/a-seed1-8a4119b8e9df", (10, 20)), ("running/b", (10,)),
                       ("running/a-seed1-8a4119b8e9df", (10,))):
        log = tmp_path / "fusion" / run / "log.jsonl"
        log.parent.mkdir(parents=True)
        lines = [{"kind": "train", "step": s, "loss": 5.0} for s in steps]
        lines += [{"kind": "eval", "step": s, "val_loss": 4.0 - s / 100} for s in steps]
        log.write_text("".join(json.dumps(r) + "\n" for r in lines))
    curves = logged_curves(tmp_path)
    assert sorted(zip(curves["run"], curves["step"])) == [("a-seed1-8a4119b8e9df", 10), ("a-seed1-8a4119b8e9df", 20),
                                                          ("b", 10)]
    assert set(curves["task"]) == {"fusion"} and curves["val_loss"].min() == pytest.approx(3.8)
    with pytest.raises(FileNotFoundError, match="no <task>/.../<run>/log.jsonl"):
        logged_curves(tmp_path / "bible-modern")
    table = curves_table(tmp_path).splitlines()
    assert len(table) == 2 + 3 and table[2] == "| fusion | a-seed1 | 10 | 3.900 | — | — | — | — | — | — |"
    other = tmp_path / "archive" / "fusion" / "runs" / "a-seed1-000000000000" / "log.jsonl"  # an archived table's
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({"kind": "eval", "step": 10, "val_loss": 9.0}) + "\n")
    assert set(logged_curves(tmp_path)["task"]) == {"fusion", "archive"}
    assert logged_curves(tmp_path, "fusion")[["run", "step"]].values.tolist() == curves[["run", "step"]].values.tolist()


def test_another_subset_draw_is_another_tenth_of_the_same_pairs_and_the_same_config(project):
    from bertgen.experiments.run import prepare_data, read_checkpoint

    config = ExperimentConfig.from_toml(project / "experiments" / "configs" / "brown-fusion" / "tiny.toml",
                                        ["fraction=0.25"])
    tokenizer = read_checkpoint(config).tokenizer
    full = prepare_data(dataclasses.replace(config, fraction=1.0), tokenizer)["train"]
    nested, other = (prepare_data(dataclasses.replace(config, subset_seed=s), tokenizer)["train"] for s in (0, 1))
    assert len(nested) == len(other) == 10 and list(nested["source"]) == list(full["source"][:10])
    assert set(other["source"]) <= set(full["source"]) and set(other["source"]) != set(nested["source"])
    assert config.hash() == dataclasses.replace(config, subset_seed=1).hash()  # a draw is spread, like a seed


def test_prepare_data_shows_datasets_progress_bars_only_when_asked(project, capfd):
    import datasets

    from bertgen.experiments.run import prepare_data, read_checkpoint

    config = ExperimentConfig.from_toml(project / "experiments" / "configs" / "brown-fusion" / "tiny.toml")
    tokenizer = read_checkpoint(config).tokenizer
    capfd.readouterr()
    # two source lengths: two tokenizations, neither read back from datasets' cache
    quiet = prepare_data(dataclasses.replace(config, max_source_length=40), tokenizer, progress=False)
    hidden = capfd.readouterr().err
    shown_data = prepare_data(dataclasses.replace(config, max_source_length=41), tokenizer)
    shown = capfd.readouterr().err
    assert "tokenizing" in shown and "length filter" in shown
    assert "tokenizing" not in hidden and "length filter" not in hidden
    assert len(quiet["train"]) and len(shown_data["train"])
    assert not datasets.utils.are_progress_bars_disabled()  # the global setting is back as it was


def test_source_special_tokens_wrap_the_same_pairs_in_cls_and_sep(project, monkeypatch):
    import bertgen.evaluation.decoding as decoding
    from bertgen.experiments.run import build_model, evaluate_kwargs, prepare_data, read_checkpoint

    config = ExperimentConfig.from_toml(project / "experiments" / "configs" / "brown-fusion" / "tiny.toml")
    wrapped_config = dataclasses.replace(config, source_special_tokens=True)
    checkpoint = read_checkpoint(config)
    tokenizer = checkpoint.tokenizer
    bare, wrapped = prepare_data(config, tokenizer), prepare_data(wrapped_config, tokenizer)
    for split in ("train", "test"):  # the length limits count the text's tokens: the same pairs either way
        assert list(bare[split]["source"]) == list(wrapped[split]["source"])
        for plain, ids in zip(bare[split]["input_ids"], wrapped[split]["input_ids"]):
            assert ids == [tokenizer.cls_token_id, *plain, tokenizer.sep_token_id]
    assert wrapped_config.hash() != config.hash()

    encoded = []  # evaluation encodes the test inputs as training did
    encode = decoding.encode_sources
    monkeypatch.setattr(decoding, "encode_sources", lambda *a, **k: encoded.append(out := encode(*a, **k)) or out)
    model, _ = build_model(wrapped_config, checkpoint)
    test = wrapped["test"]
    decoding.evaluate(model.eval(), tokenizer, test.remove_columns(["input_ids", "labels", "length"]), config.task,
                      progress=False, **evaluate_kwargs(wrapped_config, tokenizer))
    rows = sorted(ids[mask.bool()].tolist() for batch in encoded for ids, mask in zip(batch["input_ids"],
                                                                                       batch["attention_mask"]))
    assert rows == sorted(test["input_ids"])


def test_config_hashes_of_committed_runs_are_stable():
    """A field added to ExperimentConfig (ADDED_LATER) must leave the identity of every committed run as it was
    recorded: resuming a run and the tables' choice of the current config find runs by it. Runs recorded before
    that rule, whose config.json lacks other fields, had their hashes change with those fields."""
    from bertgen.experiments.config import ADDED_LATER, NOT_IDENTITY, PROJECT

    fields = {f.name for f in dataclasses.fields(ExperimentConfig)} - set(ADDED_LATER) - set(NOT_IDENTITY)
    checked = 0
    for table in (PROJECT / "experiments" / "results").rglob("*.csv"):
        if "run_id" not in table.read_text(encoding="utf-8").partition("\n")[0]:
            continue
        for row in csv.DictReader(open(table, encoding="utf-8")):
            stored = table.parent / table.stem / "runs" / row["run_id"] / "config.json"
            data = json.loads(stored.read_text(encoding="utf-8")) if stored.is_file() else {}
            if fields <= set(data):
                config = ExperimentConfig.from_dict(data)
                assert config.hash() == row["config_hash"], f"{stored}: the config hash changed"
                checked += 1
    assert checked >= 50  # the committed fusion, bible-modern, GPU and search tables
    # the shipped configs pin bf16 and keep the identity of their runs made under "auto"; fp32 is another config
    pinned = ExperimentConfig.from_toml(PROJECT / "experiments" / "configs" / "fusion" / "bert2bert.toml")
    assert pinned.precision == "bf16" and pinned.hash() == "27de2ab4e88c"
    assert dataclasses.replace(pinned, precision="fp32").hash() != pinned.hash()


def test_the_test_split_id_is_the_pairs_in_order():
    from bertgen.experiments.ledger import test_split_id

    pairs = [{"source": "a b.", "target": "a, b."}, {"source": "c. d.", "target": "c, and d."}]
    assert test_split_id(pairs) == test_split_id([dict(p) for p in pairs]) and len(test_split_id(pairs)) == 16
    assert test_split_id(pairs[::-1]) != test_split_id(pairs)
    assert test_split_id([pairs[0], {**pairs[1], "target": "c and d."}]) != test_split_id(pairs)
    assert test_split_id([{"source": "a b.", "references": ["a, b.", "a b."]}]) != test_split_id(pairs[:1])


def test_a_run_on_another_test_split_than_the_ledgers_is_refused_before_it_trains(project, capsys):
    """A task rebuilt differently (a corpus package updated on a fresh machine) must not add rows that the tables
    would average with, and pair against, rows scored on the old split; a run on the same split is welcome."""
    config = project / "experiments" / "configs" / "brown-fusion" / "tiny.toml"
    results = project / "experiments" / "results"
    ledger = results / "brown-fusion.csv"
    with pytest.warns(SourceIgnoredWarning):
        assert main(["experiment", "run", str(config), "--threads", "1"]) == 0
        assert main(["experiment", "run", str(config), "--set", "seed=1", "--threads", "1"]) == 0  # same split
    first, second = list(csv.DictReader(open(ledger)))
    assert re.fullmatch(r"[0-9a-f]{16}", first["test_split"]) and second["test_split"] == first["test_split"]
    ledger.write_text(ledger.read_text().replace(first["test_split"], "0" * 16))  # as if built from other corpora
    capsys.readouterr()
    assert main(["experiment", "run", str(config), "--set", "seed=2", "--threads", "1"]) != 0
    error = capsys.readouterr().err
    assert f"not {'0' * 16}, the one {first['run_id']}, {second['run_id']} were scored on" in error
    assert str(ledger) in error and len(list(csv.DictReader(open(ledger)))) == 2
    assert not list((project / "home").glob("experiments/brown-fusion/tiny-seed2-*/**/log.jsonl"))  # never trained


def test_runs_pair_only_on_one_test_set():
    import numpy as np

    from bertgen.experiments.tables import ScoredRun, against_copy, bootstrap_terms

    stats = np.linspace(40, 90, 50)[:, None]
    one, other = ScoredRun(stats, stats - 5, "set-a"), ScoredRun(stats + 2, stats - 5, "set-b")  # same size
    terms = ((1.0, "bert2bert", 1.0), (-1.0, "rnd2rnd", 1.0))
    assert bootstrap_terms(terms, {("bert2bert", 1.0): [one], ("rnd2rnd", 1.0): [one]}, "sari").estimate == 0.0
    assert bootstrap_terms(terms, {("bert2bert", 1.0): [other], ("rnd2rnd", 1.0): [one]}, "sari") is None
    assert against_copy([one], "sari").estimate == pytest.approx(5.0) and against_copy([one, other], "sari") is None


def test_the_replayed_patience_reproduces_every_committed_runs_own_stop():
    """experiments/patience_replay.py raises where the replay at a run's own patience disagrees with the stop and
    kept step the run recorded; on the committed sweep (patience 3 in every fusion config) it must agree, and a
    shorter patience stops no fewer runs."""
    import importlib.util

    from bertgen.experiments.config import PROJECT
    from bertgen.experiments.frames import RESULTS, load_results

    spec = importlib.util.spec_from_file_location("patience_replay", PROJECT / "experiments" / "patience_replay.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    frame = script.replay("fusion", RESULTS, [2, 3])
    runs = load_results("fusion")
    own = frame[frame["patience"] == 3]
    assert len(own) == len(runs) > 0 and (own["lost against own patience"] == 0).all()
    assert own["stopped early"].sum() == (runs["stop_reason"] == "early_stopping").sum()
    assert frame[frame["patience"] == 2]["stopped early"].sum() >= own["stopped early"].sum()
