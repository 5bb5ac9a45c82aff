"""Reading experiment results: the markdown tables (the paper's numbers beside ours, mean ± std over seeds,
whether the paper's ordering appears), and the frames notebook 05 plots (summaries, learning curves from the
run logs, per-rule accuracy from the saved test predictions).
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from bertgen.data import get_task
from bertgen.evaluation.diagnostics import collapsed
from bertgen.evaluation import breakdown
from bertgen.experiments.claims import judge, ordering_tests, paper_claims
from bertgen.experiments.config import PROJECT, SCHEME_ORDER
from bertgen.experiments.statistics import Interval, example_statistics, paired_bootstrap, wilson_interval
from bertgen.fileio import atomic_write

RESULTS = PROJECT / "experiments" / "results"
DIAGNOSTICS = ("distinct", "input_dependence")  # bertgen.evaluation.diagnostics, recorded by every run


def paper_results(path: Path | None = None) -> dict:
    """The paper's numbers per task; a task with `same_as` takes another task's rows (and keeps its own text)."""
    path = path if path is not None else PROJECT / "experiments" / "paper_results.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for entry in data.values():
        if isinstance(entry, dict) and entry.get("same_as") in data:
            source = data[entry["same_as"]]
            entry.setdefault("rows", source.get("rows", {}))
            entry.setdefault("note", source.get("note"))
    return data


def _paper_row(paper: dict, row: str, paper_row: str, scheme: str) -> str | None:
    """A paper row named like ours wins (e.g. `embeddings-only`); a row named after its scheme takes the config's
    paper_row (the scheme's); a row named otherwise is beyond the paper (bert2bert-xattn): None."""
    if row in paper.get("rows", {}):
        return row
    return paper_row if row == scheme else None


def _paper_value(paper: dict, row: str | None, metric: str, fraction: float) -> float | None:
    values = paper.get("rows", {}).get(row, {}) if row is not None else {}
    return values.get(metric if fraction == 1 else f"{metric}@{fraction:g}")


HEADLINE_METRICS = ("bleu", "sari", "rouge2")


def _order_key(row: str) -> tuple:
    base = next((i for i, s in enumerate(SCHEME_ORDER) if row == s), len(SCHEME_ORDER))
    return (base, row)


def current_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Each (fraction, row)'s runs of its latest config: a row whose config was changed and rerun is not
    averaged with the runs of its old config (those stay in the CSV, as history)."""
    latest = frame.groupby(["fraction", "row"], sort=False)["config_hash"].transform("last")
    return frame[frame["config_hash"] == latest]


def platform(frame: pd.DataFrame) -> pd.Series:
    """What a run's numbers came from: the hardware (a GPU's name, or the CPU whatever its threads) and the
    precision. Runs of different platforms are never averaged together."""
    hardware = frame.get("hardware", pd.Series("CPU", index=frame.index)).fillna("CPU")
    hardware = hardware.map(lambda h: "CPU" if str(h).startswith("CPU") else str(h))
    precision = frame.get("precision", pd.Series(None, index=frame.index, dtype=object)).astype(object)
    precision = precision.where(precision.notna(), "precision unrecorded")
    return hardware + ", " + precision


def mark_collapsed(frame: pd.DataFrame) -> pd.DataFrame:
    """A `collapsed` column: runs that do not read their input (bertgen.evaluation.diagnostics' bar) are failed runs, not
    results. Decided on the validation outputs decoded at the kept weights' evaluation (`val_distinct`,
    `val_input_dependence`), before the test set is decoded; runs that predate those columns are judged on their
    test outputs, and `collapse_on` says which."""
    flags, where = [], []
    for _, run in frame.iterrows():
        for prefix, name in (("val_", "validation"), ("", "test")):
            values = {d: run.get(f"{prefix}{d}") for d in DIAGNOSTICS}
            if all(v is not None and not pd.isna(v) for v in values.values()):
                flags.append(collapsed(values))
                where.append(name)
                break
        else:
            flags.append(False)
            where.append("unmeasured")
    return frame.assign(collapsed=flags, collapse_on=where)


def summarize(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and sample std over seeds of each metric, per (fraction, row, platform), over the runs that read their
    input; `seeds` counts those, `collapsed` the others, `stopped_early` the runs early stopping ended."""
    frame = mark_collapsed(frame).assign(platform=platform(frame))
    if "stop_reason" not in frame.columns:
        frame = frame.assign(stop_reason=np.nan)
    keys = ["fraction", "row", "platform"]
    grouped = frame.groupby(keys, sort=False)
    out = grouped.agg(paper_row=("paper_row", "first"), scheme=("scheme", "first"), runs=("seed", "size"),
                      collapsed=("collapsed", "sum"), collapse_on=("collapse_on", "first"),
                      stopped_early=("stop_reason", lambda r: int((r == "early_stopping").sum())),
                      stop_recorded=("stop_reason", "count"))
    good = frame[~frame["collapsed"]].groupby(keys, sort=False)
    stats = good.agg(seeds=("seed", "size"), **{f"{m}_mean": (m, "mean") for m in metrics},
                     **{f"{m}_std": (m, "std") for m in metrics}, **{f"{m}_n": (m, "count") for m in metrics})
    out = out.join(stats, how="left")
    out["seeds"] = out["seeds"].fillna(0).astype(int)
    return out.reset_index()


def _fmt(mean: float, std: float, digits: int = 1) -> str:
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def example_scores(results_dir: Path, task: str, run_id: str, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A run's per-example statistics of `metric` from its saved test predictions, and copying the input's on the
    same examples (statistics.example_statistics); None where the predictions or the metric's statistics are
    missing."""
    path = results_dir / task / "runs" / run_id / "predictions.csv"
    if not path.is_file():
        return None
    predictions = pd.read_csv(path, keep_default_na=False)
    run = example_statistics(metric, predictions["source"], predictions["prediction"], predictions["target"])
    copy = example_statistics(metric, predictions["source"], predictions["source"], predictions["target"])
    return None if run is None else (run, copy)


def bootstrap_terms(terms, runs: dict[tuple[str, float], list[np.ndarray]], metric: str,
                    confidence: float = 0.95) -> Interval | None:
    """The paired bootstrap of sum_i w_i * row_i's mean over its runs, or None where a row has no saved predictions
    or the rows' test sets differ."""
    if any(not runs.get((row, fraction)) for _, row, fraction in terms):
        return None
    try:
        return paired_bootstrap(metric, [(w, runs[(row, fraction)]) for w, row, fraction in terms], confidence)
    except ValueError:
        return None


def render_table(task: str, results_dir: Path, paper_path: Path | None = None) -> str:
    everything = pd.read_csv(results_dir / f"{task}.csv")
    frame = current_runs(everything)
    stale = len(everything) - len(frame)
    frame = mark_collapsed(frame).assign(platform=platform(frame))
    metrics = [m for m in frame.columns if m in _metric_columns(get_task(task).metrics)]
    diagnostics = [d for d in DIAGNOSTICS if d in frame.columns]
    paper_all = paper_results(paper_path)
    paper = paper_all.get(task, {})
    summary = summarize(frame, metrics + diagnostics)
    summary = summary.sort_values(["fraction", "row"], key=lambda c: c.map(_order_key) if c.name == "row" else -c)
    # the paper's own measure of each task (BLEU for translation, SARI for fusion), judged with every test
    headline = next((m for m in HEADLINE_METRICS if m in metrics), next((m for m in metrics if m != "loss"), "loss"))
    scores = {r.run_id: example_scores(results_dir, task, r.run_id, headline)
              for r in frame.itertuples() if not r.collapsed}
    runs = {}  # (platform, row, fraction) -> per-example statistics of the runs that read their input
    copies = {}
    for r in frame.itertuples():
        if scores.get(r.run_id) is not None:
            runs.setdefault((r.platform, r.row, r.fraction), []).append(scores[r.run_id][0])
            copies.setdefault((r.platform, r.row, r.fraction), scores[r.run_id][1])
    minutes = frame["wall_s"].sum() / 60
    first = frame.iloc[0]
    full_data = frame.loc[frame["fraction"] == frame["fraction"].max(), "train_examples"].max()
    failed = int(frame["collapsed"].sum())
    on_test = int((frame["collapse_on"] == "test").sum())
    test_sizes = ", ".join(str(n) for n in sorted(frame["test_examples"].unique()))
    lines = [
        f"# {task}: warm-starting schemes at workbench scale",
        "",
        f"Generated by `bertgen experiment table {task}` from `{task}.csv`; do not edit by hand.",
        "",
        f"**Scale**: MiniLM-L6 checkpoint (6 layers, hidden 384; the paper: BERT-base, 12 layers, hidden 768), "
        f"{', '.join(sorted(set(str(s) for s in frame['steps'])))} steps of batch "
        f"{', '.join(sorted(set(str(b) for b in frame['batch_size'])))} (the paper: 300k steps of 256), "
        f"lengths {first['max_length']} tokens (the paper: 128), {full_data} training examples at "
        f"100%, {test_sizes} test examples, {first['decoding']} decoding; trained on {_hardware(frame)}. "
        f"{len(frame)} runs took {minutes:.0f} minutes of wall clock summed over runs (a sweep runs some side by "
        f"side), median {frame['wall_s'].median():.0f} s per run for training and test evaluation."
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
        "early stopping on validation ended, of the runs whose stop was recorded.",
        "",
        "| row | data | platform | seeds | collapsed | stopped early | "
        + " | ".join(f"{m} (ours) | {m} (paper)" for m in metrics) + f" | {headline} − copy"
        + "".join(f" | {d}" for d in diagnostics) + " |",
        "|---|---|---|---|---|---|" + "---|---|" * len(metrics) + "---|" + "---|" * len(diagnostics),
    ]
    lines += _copy_rows(frame, metrics, diagnostics)
    for _, r in summary.iterrows():
        cells = []
        for m in metrics:
            paper_row = _paper_row(paper, r.row, r.paper_row, r.scheme)
            value = _paper_value(paper, paper_row, m, r.fraction)
            cells += [_cell(r, m), "no paper row" if paper_row is None else "—" if value is None else f"{value:.1f}"]
        key = (r.platform, r.row, r.fraction)
        against_copy = (paired_bootstrap(headline, [(1.0, runs[key]), (-1.0, [copies[key]])])
                        if runs.get(key) else None)
        cells.append("—" if against_copy is None else str(against_copy))
        cells += [_cell(r, d) for d in diagnostics]
        low, high = wilson_interval(int(r.collapsed), int(r.runs))
        collapse = f"{int(r.collapsed)}/{int(r.runs)} [{low:.0%}–{high:.0%}]"
        stopped = f"{int(r.stopped_early)}/{int(r.stop_recorded)}" if r.stop_recorded else "—"
        lines.append(f"| {r.row} | {r.fraction:.0%} | {r.platform} | {r.seeds} | {collapse} | {stopped} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Mean ± sample standard deviation over the seeds that read their input."]
    platforms = frame["platform"].value_counts().index.tolist()
    for where in platforms:
        on = summary[summary["platform"] == where]
        own_runs = {(row, fraction): v for (p, row, fraction), v in runs.items() if p == where}
        title = "" if len(platforms) == 1 else f" ({where} runs)"
        lines += ["", f"## The paper's claims{title}", "",
                  "Each claim is one test across seeds; Holm's correction runs over the claims of this list.", ""]
        lines += _judged(paper_claims(), on, headline, own_runs)
        lines += ["", f"## The paper's orderings{title}", "",
                  "Every pair of rows the paper scores, at each data size: an ordering where the paper's scores "
                  "differ by 0.5 or more, a tie (\"the same\") under it; Holm's correction over each list.", ""]
        for fraction in sorted(on["fraction"].unique(), reverse=True):
            scored = [(row, value) for row in SCHEME_ORDER if (row in set(on.loc[on["fraction"] == fraction, "row"]))
                      and (value := _paper_value(paper, row, headline, fraction)) is not None]
            if len(scored) < 2:
                continue
            lines += [f"**{fraction:.0%} data**:", ""] + _judged(ordering_tests(scored, fraction), on, headline,
                                                                own_runs) + [""]
        if headline != "loss" and "loss" in metrics:
            lines += ["The claims on the teacher-forced test loss (lower is better; no per-example losses are kept, "
                      "so across seeds only):", ""] + judge(paper_claims(), on, "loss")
    if paper.get("note"):
        lines += ["", paper["note"]]
    return "\n".join(lines) + "\n"


def _judged(tests, summary: pd.DataFrame, metric: str, runs: dict) -> list[str]:
    """claims.judge with each test's paired bootstrap over test examples (90% for "the same", as TOST at 5%)."""
    intervals = {t.key: interval for t in tests
                 if (interval := bootstrap_terms(t.terms, runs, metric, 0.90 if t.kind == "same" else 0.95))}
    return judge(tests, summary, metric, intervals)


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
        rows.append("| copy the input (no model) | test set | — | — | — | — | " + " | ".join(cells) + " |")
    return rows


def _metric_columns(names) -> list[str]:
    """Result columns a task's metric names produce (`rouge` gives three)."""
    return [c for n in names for c in (("rouge1", "rouge2", "rougeL") if n == "rouge" else (n,))] + ["loss"]


def write_table(task: str, results_dir: str | os.PathLike | None = None, paper_path: Path | None = None) -> Path:
    results = Path(results_dir) if results_dir is not None else RESULTS
    if not (results / f"{task}.csv").is_file():
        raise FileNotFoundError(f"{results / f'{task}.csv'}: no results yet; run `bertgen experiment run CONFIG`")
    path = results / f"{task}.md"
    path.write_text(render_table(task, results, paper_path), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ frames for notebooks

def load_results(task: str, results_dir: str | os.PathLike | None = None, history: bool = False) -> pd.DataFrame:
    """The task's results CSV, one row per run: each table row's runs of its latest config (see
    `current_runs`), or every run ever appended with `history=True`."""
    path = Path(results_dir or RESULTS) / f"{task}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results yet; run `bertgen experiment run CONFIG`")
    frame = pd.read_csv(path)
    return frame if history else current_runs(frame)


def summary(task: str, results_dir: str | os.PathLike | None = None, paper_path: Path | None = None) -> pd.DataFrame:
    """Per (fraction, row): seeds, `<metric>_mean`, `<metric>_std` (the task's metrics and the collapse
    diagnostics) and the paper's `<metric>_paper`."""

    frame = load_results(task, results_dir)
    metrics = [m for m in _metric_columns(get_task(task).metrics) if m in frame.columns]
    out = summarize(frame, metrics + [d for d in DIAGNOSTICS if d in frame.columns])
    paper = paper_results(paper_path).get(task, {})
    for m in metrics:
        out[f"{m}_paper"] = [_paper_value(paper, _paper_row(paper, r.row, r.paper_row, r.scheme), m, r.fraction)
                             for r in out.itertuples()]
    return out.sort_values(["fraction", "row"], key=lambda c: c.map(_order_key) if c.name == "row" else -c)


def learning_curves(task: str, results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every run's logged training loss and validation loss by step, with the run's row, fraction, seed and whether
    its test outputs collapsed (so curves can average the runs that read their input and show the others apart)."""
    runs = mark_collapsed(load_results(task, results_dir))
    frames = []
    for run in runs.itertuples():
        log = Path(results_dir or RESULTS) / task / "runs" / run.run_id / "log.jsonl"
        records = pd.read_json(log, lines=True)
        records = records[records["kind"].isin(["train", "eval"])]
        frames.append(records.assign(run_id=run.run_id, row=run.row, fraction=run.fraction, seed=run.seed,
                                     collapsed=run.collapsed))
    return pd.concat(frames, ignore_index=True)


def per_rule(task: str, results_dir: str | os.PathLike | None = None, by: str = "rule") -> pd.DataFrame:
    """The task's metrics per value of a predictions column (fusion: the rule that made the input), per
    run, from the saved test predictions; columns run_id, row, fraction, seed, <by>, examples, metrics."""

    runs = load_results(task, results_dir)
    frames = []
    for run in runs.itertuples():
        predictions = pd.read_csv(Path(results_dir or RESULTS) / task / "runs" / run.run_id / "predictions.csv",
                                  keep_default_na=False)
        table = breakdown(predictions, task, by).rename_axis(by).reset_index()
        frames.append(table.assign(run_id=run.run_id, row=run.row, fraction=run.fraction, seed=run.seed))
    return pd.concat(frames, ignore_index=True)


def logged_curves(directory: str | os.PathLike) -> pd.DataFrame:
    """The evaluation records of every `<task>/.../<run>/log.jsonl` under `directory`: finished runs
    (`<task>/runs/<run>/`, beside the CSV) and runs still going (e.g. `<task>/running/<run>/`) alike, one row per
    evaluation, with `task` and `run` columns (experiments/results/search/ holds the recipe search)."""
    directory = Path(directory)
    frames = []
    for log in sorted(directory.glob("*/**/log.jsonl")):
        records = pd.read_json(log, lines=True)
        if "kind" in records.columns:
            evals = records[records["kind"] == "eval"]
            frames.append(evals.assign(task=log.relative_to(directory).parts[0], run=log.parent.name))
    if not frames:
        raise FileNotFoundError(f"{directory}: no <task>/.../<run>/log.jsonl with evaluations")
    return pd.concat(frames, ignore_index=True).dropna(axis=1, how="all")


def run_label(run_id: str) -> str:
    """A run's id less its config hash: `<row>-seed<seed>`, for legends and tables."""
    return re.sub(r"-[0-9a-f]{12}$", "", run_id)


def curves_table(directory: str | os.PathLike) -> str:
    """A markdown table of `logged_curves(directory)`: per run (its id less the config hash), its evaluations in
    order (step: validation loss, source gap, encoder spread, decoded distinct outputs and input dependence; `—`
    where a run did not log it), so a recipe search reads as evidence."""
    curves = logged_curves(directory).sort_values(["task", "run", "step"])
    columns = {"val_loss": "{:.3f}", "val_source_gap": "{:.4f}", "val_encoder_spread": "{:.2f}",
               "val_distinct": "{:.0f}%", "val_input_dependence": "{:.2f}", "val_sari": "{:.1f}", "val_bleu": "{:.1f}"}
    lines = ["| task | run | step | val loss | source gap | encoder spread | distinct | input dependence | val SARI "
             "| val BLEU |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in curves.itertuples():
        cells = [form.format(value) if pd.notna(value := getattr(r, column, None)) else "—"
                 for column, form in columns.items()]
        lines.append(f"| {r.task} | {run_label(r.run)} | {r.step} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- the README

README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"
README_COLUMNS = ("row", "data", "platform", "seeds", "collapsed")


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The rows of the first markdown table in `text`, as {header: cell}."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row)) for row in cells[2:]] if cells else []


def readme_block(task: str = "fusion", results_dir: str | os.PathLike | None = None) -> str:
    """The README's results: the task's table at 100% data (the row, its platform, seeds, collapse, the headline
    metric beside the paper's and against copying the input) and the paper's claims, cut from `<task>.md`, which
    `write_table` generates from the CSV, so the two never disagree."""
    path = Path(results_dir or RESULTS) / f"{task}.md"
    text = path.read_text(encoding="utf-8")
    rows = markdown_rows(text)
    if not rows:
        raise ValueError(f"{path}: no results table; run `bertgen experiment table {task}`")
    headline = next(c.removesuffix(" − copy") for c in rows[0] if c.endswith(" − copy"))
    columns = [*README_COLUMNS, f"{headline} (ours)", f"{headline} (paper)", f"{headline} − copy"]
    kept = [r for r in rows if r["data"] in ("100%", "test set")]
    claims = text.split("## The paper's claims", 1)[1].split("\n## ", 1)[0]
    verdicts = []
    for line in claims.splitlines():
        if line.startswith("- **"):
            bold = re.findall(r"\*\*(.+?)\*\*", line)  # the claim, then (once judged) its verdict
            verdicts.append(f"- **{bold[0]}**: {bold[-1] if len(bold) > 1 else 'cannot judge yet'}")
    return "\n".join([
        README_BEGIN,
        f"<!-- Generated by `bertgen experiment readme` from experiments/results/{task}.md; do not edit by hand. -->",
        "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
        *("| " + " | ".join(r.get(c, "—") for c in columns) + " |" for r in kept),
        "",
        f"The paper's claims on {task} ({headline}; the tests, intervals and what would decide each: "
        f"[`{task}.md`](experiments/results/{task}.md)):",
        "",
        *verdicts,
        README_END])


def write_readme_block(readme: str | os.PathLike, task: str = "fusion",
                       results_dir: str | os.PathLike | None = None) -> Path:
    """Replace the README's block between README_BEGIN and README_END with `readme_block`."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"{path}: no {README_BEGIN} ... {README_END} block to write the results into")
    before, rest = text.split(README_BEGIN, 1)
    after = rest.split(README_END, 1)[1]
    atomic_write(path, lambda tmp: Path(tmp).write_text(before + readme_block(task, results_dir) + after,
                                                        encoding="utf-8"))
    return path
