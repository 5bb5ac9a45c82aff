"""Experiment results as frames: the runs of a task's CSV (each row's latest config), whether each read its input,
per-row summaries over seeds, learning curves from the run logs, per-rule scores from the saved test predictions,
and the paper's numbers; what the tables (tables.py) and notebook 05 read.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from bertgen.data import get_task
from bertgen.evaluation import breakdown
from bertgen.evaluation.diagnostics import collapsed
from bertgen.experiments.config import PROJECT, SCHEME_ORDER, ExperimentConfig
from bertgen.training.trainer import improves

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


def paper_row(paper: dict, row: str, paper_row: str, scheme: str) -> str | None:
    """A paper row named like ours wins (e.g. `embeddings-only`); a row named after its scheme takes the config's
    paper_row (the scheme's); a row named otherwise is beyond the paper (bert2bert-xattn): None."""
    if row in paper.get("rows", {}):
        return row
    return paper_row if row == scheme else None


def paper_value(paper: dict, row: str | None, metric: str, fraction: float) -> float | None:
    values = paper.get("rows", {}).get(row, {}) if row is not None else {}
    return values.get(metric if fraction == 1 else f"{metric}@{fraction:g}")


def order_key(row: str) -> tuple:
    """The tables' row order: the paper's schemes first, in its order, then the rest by name."""
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
    input; `seeds` counts those, `collapsed` the others, `draws` the subsets of the training pairs the runs trained
    on (`subset_seed`; one at 100%), `stopped_early` the runs early stopping ended and `still_improving` the runs
    whose last evaluation was their best (their curve had not flattened), of the `best_recorded` runs that
    evaluated."""
    frame = mark_collapsed(frame).assign(platform=platform(frame))
    if "stop_reason" not in frame.columns:
        frame = frame.assign(stop_reason=np.nan)
    if "best_step" not in frame.columns:  # no evaluation recorded
        frame = frame.assign(best_step=np.nan)
    # runs from before subset draws (no column, or an empty cell in a widened CSV) trained on the first draw
    frame = frame.assign(subset_seed=frame.get("subset_seed", pd.Series(0, index=frame.index)).fillna(0))
    # the weights kept are the last evaluation's: validation was still rising when the run stopped
    frame = frame.assign(still_improving=frame["best_step"] == frame["steps"])
    keys = ["fraction", "row", "platform"]
    grouped = frame.groupby(keys, sort=False)
    out = grouped.agg(paper_row=("paper_row", "first"), scheme=("scheme", "first"), runs=("seed", "size"),
                      collapsed=("collapsed", "sum"), collapse_on=("collapse_on", "first"),
                      stopped_early=("stop_reason", lambda r: int((r == "early_stopping").sum())),
                      stop_recorded=("stop_reason", "count"), still_improving=("still_improving", "sum"),
                      best_recorded=("best_step", "count"), draws=("subset_seed", lambda d: max(1, d.nunique())))
    good = frame[~frame["collapsed"]].groupby(keys, sort=False)
    stats = good.agg(seeds=("seed", "size"), **{f"{m}_mean": (m, "mean") for m in metrics},
                     **{f"{m}_std": (m, "std") for m in metrics}, **{f"{m}_n": (m, "count") for m in metrics})
    out = out.join(stats, how="left")
    out["seeds"] = out["seeds"].fillna(0).astype(int)
    return out.reset_index()


def metric_columns(names) -> list[str]:
    """Result columns a task's metric names produce (`rouge` gives three)."""
    return [c for n in names for c in (("rouge1", "rouge2", "rougeL") if n == "rouge" else (n,))] + ["loss"]


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
    metrics = [m for m in metric_columns(get_task(task).metrics) if m in frame.columns]
    out = summarize(frame, metrics + [d for d in DIAGNOSTICS if d in frame.columns])
    paper = paper_results(paper_path).get(task, {})
    for m in metrics:
        out[f"{m}_paper"] = [paper_value(paper, paper_row(paper, r.row, r.paper_row, r.scheme), m, r.fraction)
                             for r in out.itertuples()]
    return out.sort_values(["fraction", "row"], key=lambda c: c.map(order_key) if c.name == "row" else -c)


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


def logged_curves(directory: str | os.PathLike, task: str | None = None) -> pd.DataFrame:
    """The evaluation records of every `<task>/.../<run>/log.jsonl` under `directory` (of one task, if given):
    finished runs (`<task>/runs/<run>/`, beside the CSV) and runs still going (e.g. `<task>/running/<run>/`) alike,
    one row per evaluation, with `task` and `run` columns (experiments/results/search/ holds the recipe search)."""
    directory = Path(directory)
    frames = []
    for log in sorted(directory.glob(f"{task or '*'}/**/log.jsonl")):
        task, run = log.relative_to(directory).parts[0], log.parent.name
        if log.parent.parent.name != "runs" and (directory / task / "runs" / run / "log.jsonl").is_file():
            continue  # a copy taken while the run trained, which has landed since: its own log is whole
        records = pd.read_json(log, lines=True)
        if "kind" in records.columns:
            evals = records[records["kind"] == "eval"]
            frames.append(evals.assign(task=task, run=run))
    if not frames:
        raise FileNotFoundError(f"{directory}: no <task>/.../<run>/log.jsonl with evaluations")
    return pd.concat(frames, ignore_index=True).dropna(axis=1, how="all")


def replay_early_stopping(curve: pd.DataFrame, metric: str, patience: int) -> dict:
    """Where early stopping with `patience` would have ended a logged run, replayed on its evaluations (columns
    `step` and `metric`, in step order) by the Trainer's rule (`trainer.improves`): a new best resets the count,
    `patience` evaluations without one stop the run; the weights kept are the best's. Returns stop_step (None: the
    log's end came first), kept_step and kept (the metric there)."""
    best = kept_step = stop_step = None
    misses = 0
    for step, value in zip(curve["step"], curve[metric]):
        if improves(metric, value, best):
            best, kept_step, misses = value, int(step), 0
            continue
        misses += 1
        if misses >= patience:
            stop_step = int(step)
            break
    return {"stop_step": stop_step, "kept_step": kept_step, "kept": best}


def sweep_runs(task: str, results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every run of `task` under `results_dir`, landed (its CSV row) or still training (the config.json that
    experiments/sweep/snapshot.py copies into `<task>/running/<run>/`): run_id, row, fraction, seed, subset_seed,
    landed."""
    results = Path(results_dir or RESULTS)
    columns = ["run_id", "row", "fraction", "seed", "subset_seed"]
    landed = load_results(task, results)[columns] if (results / f"{task}.csv").is_file() else pd.DataFrame()
    training = []
    for path in sorted((results / task / "running").glob("*/config.json")):
        config = ExperimentConfig.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
        training.append({"run_id": path.parent.name, "row": config.row, "fraction": config.fraction,
                         "seed": config.seed, "subset_seed": config.subset_seed})
    training = pd.DataFrame(training, columns=columns)
    training = training[~training["run_id"].isin(landed.get("run_id", []))]
    return pd.concat([landed.assign(landed=True), training.assign(landed=False)], ignore_index=True)


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


