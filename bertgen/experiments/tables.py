"""The result tables: the markdown of a task's runs (the paper's numbers beside ours, mean ± std over seeds, each
row against copying the input, the paper's claims and orderings judged with tests fitted to the sample size),
and the README's results block cut from it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bertgen.data import get_task
from bertgen.experiments.claims import beyond_paper_tests, judge, ordering_tests, paper_claims
from bertgen.experiments.config import PROJECT, SCHEME_ORDER, ExperimentConfig
from bertgen.experiments.frames import (DIAGNOSTICS, RESULTS, current_runs, mark_collapsed, metric_columns, order_key,
                                        paper_results, paper_row, paper_value, platform, summarize)
from bertgen.experiments.statistics import Interval, example_statistics, paired_bootstrap, wilson_interval
from bertgen.fileio import atomic_write



HEADLINE_METRICS = ("bleu", "sari", "rouge2")


def _fmt(mean: float, std: float, digits: int = 1) -> str:
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


@dataclass
class ScoredRun:
    """A run's per-example statistics of a metric (statistics.example_statistics), copying the input's on the same
    examples, and a fingerprint of those examples: runs are paired only on one test set."""

    stats: np.ndarray
    copy: np.ndarray
    test_set: str


def example_scores(results_dir: Path, task: str, run_id: str, metric: str) -> ScoredRun | None:
    """A run's ScoredRun from its saved test predictions; None where the predictions or the metric's statistics
    are missing."""
    path = results_dir / task / "runs" / run_id / "predictions.csv"
    if not path.is_file():
        return None
    predictions = pd.read_csv(path, keep_default_na=False)
    run = example_statistics(metric, predictions["source"], predictions["prediction"], predictions["target"])
    if run is None:
        return None
    copy = example_statistics(metric, predictions["source"], predictions["source"], predictions["target"])
    examples = "\0".join(f"{s}\t{t}" for s, t in zip(predictions["source"], predictions["target"]))
    return ScoredRun(run, copy, hashlib.sha256(examples.encode()).hexdigest())


def bootstrap_terms(terms, runs: dict[tuple[str, float], list[ScoredRun]], metric: str,
                    confidence: float = 0.95) -> Interval | None:
    """The paired bootstrap of sum_i w_i * row_i's mean over its runs, or None where a row has no saved predictions
    or the runs were scored on different test sets."""
    groups = [runs.get((row, fraction)) for _, row, fraction in terms]
    if not all(groups) or len({run.test_set for group in groups for run in group}) > 1:
        return None
    return paired_bootstrap(metric, [(w, [run.stats for run in group]) for (w, _, _), group in zip(terms, groups)],
                            confidence)


def against_copy(runs: list[ScoredRun] | None, metric: str) -> Interval | None:
    """A row's mean minus copying the input, paired on its test set (None without one shared test set)."""
    if not runs or len({run.test_set for run in runs}) > 1:
        return None
    return paired_bootstrap(metric, [(1.0, [run.stats for run in runs]), (-1.0, [runs[0].copy])])


def render_table(task: str, results_dir: Path, paper_path: Path | None = None) -> str:
    everything = pd.read_csv(results_dir / f"{task}.csv")
    frame = current_runs(everything)
    stale = len(everything) - len(frame)
    frame = mark_collapsed(frame).assign(platform=platform(frame))
    metrics = [m for m in frame.columns if m in metric_columns(get_task(task).metrics)]
    diagnostics = [d for d in DIAGNOSTICS if d in frame.columns]
    paper_all = paper_results(paper_path)
    paper = paper_all.get(task, {})
    summary = summarize(frame, metrics + diagnostics)
    summary = summary.sort_values(["fraction", "row"], key=lambda c: c.map(order_key) if c.name == "row" else -c)
    # the paper's own measure of each task (BLEU for translation, SARI for fusion), judged with every test
    headline = next((m for m in HEADLINE_METRICS if m in metrics), next((m for m in metrics if m != "loss"), "loss"))
    scores = {r.run_id: example_scores(results_dir, task, r.run_id, headline)
              for r in frame.itertuples() if not r.collapsed}
    runs = {}  # (platform, row, fraction) -> the ScoredRuns of the runs that read their input
    for r in frame.itertuples():
        if scores.get(r.run_id) is not None:
            runs.setdefault((r.platform, r.row, r.fraction), []).append(scores[r.run_id])
    # training (summed over a resumed run's processes) and test evaluation; wall_s is the last process's alone
    run_s = (frame["train_s"] + frame["eval_s"]).fillna(frame["wall_s"]) if "train_s" in frame else frame["wall_s"]
    minutes = run_s.sum() / 60
    first = frame.iloc[0]
    full_data = frame.loc[frame["fraction"] == frame["fraction"].max(), "train_examples"].max()
    failed = int(frame["collapsed"].sum())
    on_test = int((frame["collapse_on"] == "test").sum())
    test_sizes = ", ".join(str(n) for n in sorted(frame["test_examples"].unique()))
    budgets = _budgets(results_dir, task, frame)
    sooner = int((frame["steps"] < budgets).sum())
    lines = [
        f"# {task}: warm-starting schemes at workbench scale",
        "",
        f"Generated by `bertgen experiment table {task}` from `{task}.csv`; do not edit by hand.",
        "",
        f"**Scale**: MiniLM-L6 checkpoint (6 layers, hidden 384; the paper: BERT-base, 12 layers, hidden 768), "
        f"{'at most ' if sooner else ''}{', '.join(map(str, sorted(set(budgets))))} steps of batch "
        f"{', '.join(str(b) for b in sorted(set(frame['batch_size'])))} (the paper: 300k steps of 256"
        + (f"; {sooner} of the {len(frame)} runs ended before their budget's last step" if sooner else "") + "), "
        f"lengths {first['max_length']} tokens (the paper: 128), {full_data} training examples at "
        f"100%, {test_sizes} test examples, {first['decoding']} decoding; the encoder reads "
        f"{_encoder_inputs(results_dir, task, frame['run_id'])}; trained on {_hardware(frame)}. "
        f"{len(frame)} run{'s' if len(frame) != 1 else ''} took {minutes:.0f} minutes of training and test evaluation summed over runs (a sweep "
        f"runs some side by side; a resumed run counts all its processes), median {run_s.median():.0f} s per run."
        + (f" The CSV also keeps {stale} runs of rows' earlier configs, left out here." if stale else ""),
        "",
        f"**Paper column**: {paper.get('paper_task', 'no comparable task in the paper')}. "
        f"Source: {paper_all.get('source', 'experiments/paper_results.toml')}.",
        "",
        "**Collapse**: a run whose outputs do not depend on its input (distinct outputs for fewer than 90% of the "
        "distinct inputs, or input dependence below 0.2; see `bertgen/evaluation/diagnostics.py`) is a failed run, not a "
        "result: it is counted in the `collapsed` column (with the rate's 95% Wilson interval) and left out of the "
        "means. It is decided on the validation outputs of the kept weights, before the test set is decoded"
        + (f"; {on_test} runs that predate the validation record are judged on their test outputs" if on_test else "")
        + f". {failed} of {len(frame)} runs collapsed.",
        "",
        f"**{headline} − copy**: the row's mean over its seeds minus copying the input, on the same test examples, "
        "with the 95% paired bootstrap interval over test examples (every seed kept). **stopped early**: runs that "
        "early stopping on validation ended, of the runs whose stop was recorded. **still improving**: runs whose "
        "last evaluation was their best, so their validation curve had not flattened when they stopped: not yet a "
        "result (they stay in the means, flagged here), of the runs that recorded their best evaluation. Below 100% "
        "data, **draws** counts the random subsets of the training pairs a row's runs trained on; its seeds' spread "
        "includes the draws'.",
        "",
        "| row | data | platform | seeds | collapsed | stopped early | still improving | "
        + " | ".join(f"{m} (ours) | {paper_column(m, paper)}" for m in metrics) + f" | {headline} − copy"
        + "".join(f" | {d}" for d in diagnostics) + " |",
        "|---|---|---|---|---|---|---|" + "---|---|" * len(metrics) + "---|" + "---|" * len(diagnostics),
    ]
    lines += _copy_rows(frame, metrics, diagnostics)
    for _, r in summary.iterrows():
        cells = []
        for m in metrics:
            paper_name = paper_row(paper, r.row, r.paper_row, r.scheme)
            value = paper_value(paper, paper_name, m, r.fraction)
            cells += [_cell(r, m), "no paper row" if paper_name is None else "—" if value is None else f"{value:.1f}"]
        key = (r.platform, r.row, r.fraction)
        copy_interval = against_copy(runs.get(key), headline)
        cells.append("—" if copy_interval is None else str(copy_interval))
        cells += [_cell(r, d) for d in diagnostics]
        low, high = wilson_interval(int(r.collapsed), int(r.runs))
        collapse = f"{int(r.collapsed)}/{int(r.runs)} [{low:.0%}–{high:.0%}]"
        stopped = f"{int(r.stopped_early)}/{int(r.stop_recorded)}" if r.stop_recorded else "—"
        improving = f"{int(r.still_improving)}/{int(r.best_recorded)}" if r.best_recorded else "—"
        data = f"{r.fraction:.0%}" + (f", {r.draws} draw{'s' if r.draws > 1 else ''}" if r.fraction < 1 else "")
        lines.append(f"| {r.row} | {data} | {r.platform} | {r.seeds} | {collapse} | {stopped} | {improving} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Mean ± sample standard deviation over the seeds that read their input."]
    platforms = frame["platform"].value_counts().index.tolist()
    configured = _configured_rows(results_dir.parent / "configs" / task, task)
    for where in platforms:
        on = summary[summary["platform"] == where]
        own_runs = {(row, fraction): v for (p, row, fraction), v in runs.items() if p == where}
        title = "" if len(platforms) == 1 else f" ({where} runs)"
        lines += ["", f"## The paper's claims{title}", "",
                  "Each claim is one test across seeds; Holm's correction runs over the claims of this list.", ""]
        # a claim the task has neither runs nor configs for is not run on it (bible-modern has no 10% column; judge
        # counts the landed rows as planned); without the task's config folder every claim waits for its rows
        landed = set(zip(on["row"], on["fraction"]))
        lines += _judged(paper_claims(), on, headline, own_runs, planned=configured)
        lines += ["", f"## The paper's orderings{title}", "",
                  "Every pair of rows the paper scores, at each data size: an ordering where the paper's scores "
                  "differ by 0.5 or more, a tie (\"the same\") under it; Holm's correction over each list.", ""]
        sizes_judged = 0
        for fraction in sorted(on["fraction"].unique(), reverse=True):
            scored = [(row, value) for row in SCHEME_ORDER if (row in set(on.loc[on["fraction"] == fraction, "row"]))
                      and (value := paper_value(paper, row, headline, fraction)) is not None]
            if len(scored) < 2:
                continue
            sizes_judged += 1
            lines += [f"**{fraction:.0%} data**:", ""] + _judged(ordering_tests(scored, fraction), on, headline,
                                                                own_runs) + [""]
        if not sizes_judged:
            lines += ["None yet: no data size has runs of two rows the paper scores.", ""]
        # listed once landed at its data size; planned where the task has its config (bible-modern has no
        # bert2rnd-warm1e-4), so the seeds that would decide one are planned for the whole list from the first
        planned = [test for test in beyond_paper_tests() if test.terms[0][1:] in landed | (configured or set())]
        if beyond := [test for test in planned if test.terms[0][1:] in landed]:
            lines += [f"## Beyond the paper{title}", "",
                      "Each beyond-paper row that has landed, against the paper row it changes one thing of, at the "
                      "same data size: what the change was made for, as a hypothesis (supported, reversed or cannot "
                      "tell; the paper has no such rows); Holm's correction over this list.", ""] \
                + _judged(beyond, on, headline, own_runs, listed=len(planned)) + [""]
        if headline != "loss" and "loss" in metrics:
            lines += [f"## The paper's claims on the teacher-forced test loss{title}", "",
                      "Lower is better; no per-example losses are kept, so across seeds only.", ""] \
                + judge(paper_claims(), on, "loss", planned=configured)
    if paper.get("note"):
        lines += ["", paper["note"]]
    return "\n".join(lines) + "\n"


def _configured_rows(configs: Path, task: str) -> set[tuple[str, float]] | None:
    """(row, fraction) of each config of `task` in its config folder (a config that does not read raises its
    error), or None where there is no such folder: the task's plans are unknown."""
    if not configs.is_dir():
        return None
    return {(config.row, config.fraction) for config in map(ExperimentConfig.from_toml, sorted(configs.glob("*.toml")))
            if config.task == task}


def _judged(tests, summary: pd.DataFrame, metric: str, runs: dict, listed: int | None = None,
            planned: set[tuple[str, float]] | None = None) -> list[str]:
    """claims.judge with each test's paired bootstrap over test examples (90% for "the same", as TOST at 5%)."""
    intervals = {t.key: interval for t in tests
                 if (interval := bootstrap_terms(t.terms, runs, metric, 0.90 if t.kind == "same" else 0.95))}
    return judge(tests, summary, metric, intervals, listed, planned)


def _encoder_inputs(results_dir: Path, task: str, run_ids) -> str:
    """How the runs' encoders read their input, from each run's config.json: bare text as the paper's configs, or
    [CLS] text [SEP] as BERT was pretrained (`source_special_tokens`)."""
    configs = [results_dir / task / "runs" / run_id / "config.json" for run_id in run_ids]
    # runs without a config.json, or from before the field, read bare text
    kinds = Counter(json.loads(path.read_text(encoding="utf-8")).get("source_special_tokens", False)
                    if path.is_file() else False for path in configs)
    names = {False: "bare text (the paper's configs)",
             True: "[CLS] text [SEP], as BERT was pretrained (beyond the paper's configs; experiments/RECIPE.md, stage 5)"}
    if len(kinds) == 1:
        return names[next(iter(kinds))]
    return ", ".join(f"{names[k]} in {n} run{'s' if n > 1 else ''}" for k, n in sorted(kinds.items()))


def _budgets(results_dir: Path, task: str, frame: pd.DataFrame) -> pd.Series:
    """Each run's step budget, from its config.json; where there is none, the steps it trained (the CSV's `steps`,
    fewer than the budget where early stopping ended the run)."""
    def budget(run_id: str, trained: int) -> int:
        path = results_dir / task / "runs" / run_id / "config.json"
        return json.loads(path.read_text(encoding="utf-8")).get("steps", trained) if path.is_file() else trained
    return pd.Series([budget(r.run_id, r.steps) for r in frame.itertuples()], index=frame.index)


def _hardware(frame: pd.DataFrame) -> str:
    """Which machines ran the table's runs (results from before the column: the workbench's CPU cores)."""
    if "hardware" not in frame.columns:
        return "2 shared CPU cores"
    counts = frame["hardware"].fillna("2 shared CPU cores").value_counts()
    return ", ".join(f"{name} ({n} run{'s' if n > 1 else ''})" for name, n in counts.items())


def _cell(summary_row: pd.Series, metric: str) -> str:
    mean = summary_row.get(f"{metric}_mean")
    if mean is None or pd.isna(mean):
        return "collapsed"
    return _fmt(mean, summary_row[f"{metric}_std"], 2 if metric in ("loss", "input_dependence") else 1)


def _copy_rows(frame: pd.DataFrame, metrics: list[str], diagnostics: list[str]) -> list[str]:
    """The copy-the-input baseline on each test set the runs used (recorded by every run as copy_<metric>)."""
    columns = [f"copy_{m}" for m in metrics + diagnostics]
    present = [c for c in columns if c in frame.columns]
    if not present:
        return []
    baseline = frame[present].drop_duplicates()
    rows = []
    for _, b in baseline.iterrows():
        cells = []
        for m in metrics:
            value = b.get(f"copy_{m}")
            cells += ["—" if value is None or pd.isna(value) else f"{value:.1f}", "—"]
        cells.append("—")  # the row minus copying
        cells += [f"{b[f'copy_{d}']:.{2 if d == 'input_dependence' else 1}f}" if f"copy_{d}" in b else "—"
                  for d in diagnostics]
        rows.append("| copy the input (no model) | test set | — | — | — | — | — | " + " | ".join(cells) + " |")
    return rows


def write_table(task: str, results_dir: str | os.PathLike | None = None, paper_path: Path | None = None) -> Path:
    results = Path(results_dir) if results_dir is not None else RESULTS
    if not (results / f"{task}.csv").is_file():
        raise FileNotFoundError(f"{results / f'{task}.csv'}: no results yet; run `bertgen experiment run CONFIG`")
    path = results / f"{task}.md"
    path.write_text(render_table(task, results, paper_path), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- the README

README_COLUMNS = ("row", "data", "platform", "seeds", "collapsed", "stopped early", "still improving")
# the comment in a task's block that names the table it is cut from (before its first run: the table it will be)
README_SOURCE = re.compile(r"`bertgen experiment readme[^`]*` from (\S+\.md)")


def readme_markers(task: str = "fusion") -> tuple[str, str]:
    """The lines around a task's results block in the README."""
    return f"<!-- results:begin {task} -->", f"<!-- results:end {task} -->"


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The rows of the first markdown table in `text`, as {header: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row)) for row in cells[2:]] if cells else []


def claims_section(task: str = "fusion", results_dir: str | os.PathLike | None = None) -> str:
    """The judged claims of `<task>.md` (its first platform's "The paper's claims" list), as the table writes
    them: each with its tests, intervals and verdict, or what would decide it."""
    section = _judged_list(task, results_dir, "The paper's claims")
    if section is None:
        raise ValueError(f"{Path(results_dir or RESULTS) / f'{task}.md'}: no claims section; run "
                         f"`bertgen experiment table {task}`")
    return section


def beyond_paper_section(task: str = "fusion", results_dir: str | os.PathLike | None = None) -> str | None:
    """The first judged "Beyond the paper" list of `<task>.md` (with runs of several platforms, the first platform's
    that has one), or None before a beyond-paper row has landed."""
    return _judged_list(task, results_dir, "Beyond the paper")


def _judged_list(task: str, results_dir: str | os.PathLike | None, heading: str) -> str | None:
    text = (Path(results_dir or RESULTS) / f"{task}.md").read_text(encoding="utf-8")
    if f"## {heading}" not in text:
        return None
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("- **"))


def paper_column(metric: str, paper: dict) -> str:
    """The header of a paper column: the paper's dataset named, where it is not our task's (DiscoFuse, WMT14)."""
    dataset = paper.get("paper_dataset")
    return f"{metric} (paper, {dataset})" if dataset else f"{metric} (paper)"


def readme_block(task: str = "fusion", results_dir: str | os.PathLike | None = None) -> str:
    """The README's results: the task's table at 100% data (the row, its platform, seeds, collapse, the headline
    metric beside the paper's and against copying the input) and the paper's claims, cut from `<task>.md`, which
    `write_table` generates from the CSV, so the two never disagree."""
    path = Path(results_dir or RESULTS) / f"{task}.md"
    shown = os.path.relpath(path.resolve(), PROJECT)  # the README sits at the checkout's root
    text = path.read_text(encoding="utf-8")
    rows = markdown_rows(text)
    if not rows:
        raise ValueError(f"{path}: no results table; run `bertgen experiment table {task}`")
    headline = next(c.removesuffix(" − copy") for c in rows[0] if c.endswith(" − copy"))
    paper = next(c for c in rows[0] if c.startswith(f"{headline} (paper"))
    columns = [*README_COLUMNS, f"{headline} (ours)", paper, f"{headline} − copy"]
    kept = [r for r in rows if r["data"] in ("100%", "test set")]
    verdicts = []
    for line in claims_section(task, results_dir).splitlines():
        if line.startswith("- **"):
            bold = re.findall(r"\*\*(.+?)\*\*", line)  # the claim, then (once judged) its verdict
            verdicts.append(f"- **{bold[0]}**: {bold[-1] if len(bold) > 1 else 'cannot judge yet'}")
    begin, end = readme_markers(task)
    return "\n".join([
        begin,
        f"<!-- Generated by `bertgen experiment readme {task}` from {shown}; do not edit by hand. -->",
        "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
        *("| " + " | ".join(r.get(c, "—") for c in columns) + " |" for r in kept),
        "",
        f"The paper's claims on {task} ({headline}; the tests, intervals and what would decide each: "
        f"[`{task}.md`]({shown})):",
        "",
        *verdicts,
        end])


def readme_source(readme: str | os.PathLike, task: str = "fusion") -> Path | None:
    """The result file the README's block of `task` is cut from (the block's comment naming `bertgen experiment
    readme` names it, the placeholder's before the first run lands too), or None where the README has no block of
    that task."""
    path = Path(readme)
    block = _readme_parts(path.read_text(encoding="utf-8"), task)[1] if path.is_file() else None
    found = README_SOURCE.search(block) if block is not None else None
    return (path.parent / found.group(1)).resolve() if found else None


def write_readme_block(readme: str | os.PathLike, task: str = "fusion",
                       results_dir: str | os.PathLike | None = None) -> Path:
    """Replace the README's block of `task` (between its `readme_markers`) with `readme_block`."""
    path = Path(readme)
    before, block, after = _readme_parts(path.read_text(encoding="utf-8"), task)
    if block is None:
        begin, end = readme_markers(task)
        raise ValueError(f"{path}: no {begin} ... {end} block to write {task}'s results into; put those two lines "
                         f"where the table should go")
    atomic_write(path, lambda tmp: Path(tmp).write_text(before + readme_block(task, results_dir) + after,
                                                        encoding="utf-8"))
    return path


def _readme_parts(text: str, task: str) -> tuple[str, str | None, str]:
    """(before, the block with its markers, after) of `task`'s block in a README's text; (text, None, "") without
    one."""
    begin, end = readme_markers(task)
    if begin not in text or end not in text.split(begin, 1)[1]:
        return text, None, ""
    before, rest = text.split(begin, 1)
    inside, after = rest.split(end, 1)
    return before, begin + inside + end, after
