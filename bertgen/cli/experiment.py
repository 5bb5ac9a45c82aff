"""`bertgen train` and `bertgen experiment run | sweep | table`.

    bertgen train CONFIG [--set key=value ...] [--output-dir DIR]     (also under torchrun --nproc_per_node N)
    bertgen experiment run CONFIG [--set key=value ...]                train, test, append a CSV row
    bertgen experiment sweep CONFIG... --seeds 0 1 2 --jobs 2          many runs, N at a time, then the tables
                                                                       (resumable: finished runs are skipped)
    bertgen experiment table TASK                                      regenerate experiments/results/TASK.md
    bertgen experiment readme [TASK]                                   the README's results block from TASK.md
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def register(sub) -> None:
    train = sub.add_parser("train", help="fine-tune a warm-started model from an experiment config")
    train.add_argument("config", type=Path, help="experiments/configs/<task>/<row>.toml")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value (TOML syntax), e.g. --set steps=500; repeatable")
    train.add_argument("--output-dir", type=Path, help="where checkpoints and the final model go "
                       "(default: $BERTGEN_HOME/experiments/<task>/<row>-seed<seed>)")
    train.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    train.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy machine)")
    train.set_defaults(func=run_train)

    experiment = sub.add_parser("experiment", help="run the paper's table rows and build the tables")
    commands = experiment.add_subparsers(dest="experiment_command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="train, evaluate on test, append a row to results/<task>.csv")
    run.add_argument("config", type=Path)
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--results-dir", type=Path, help="default: experiments/results beside the configs")
    run.add_argument("--threads", type=int)
    run.set_defaults(func=run_one)

    sweep = commands.add_parser("sweep", help="run configs x seeds, N processes at a time, then tables; runs "
                                "already in the results are skipped, so running it again resumes it")
    sweep.add_argument("configs", type=Path, nargs="+")
    sweep.add_argument("--seeds", type=int, nargs="+", default=[0])
    sweep.add_argument("--jobs", type=int, default=1, help="runs at once, each with --threads threads")
    sweep.add_argument("--threads", type=int, default=1)
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sweep.add_argument("--results-dir", type=Path)
    sweep.add_argument("--commit", action="store_true", help="git-commit the results folder after each finished run")
    sweep.add_argument("--by-config", action="store_true",
                       help="all seeds of a config before the next, so the configs' order is their priority "
                       "(default: each seed over all configs, then the next seed)")
    sweep.add_argument("--stop-after", type=float, metavar="MINUTES",
                       help="launch no run after this many minutes (runs in flight finish); run again to resume")
    sweep.set_defaults(func=run_sweep)

    table = commands.add_parser("table", help="regenerate results/<task>.md from results/<task>.csv")
    table.add_argument("task")
    table.add_argument("--results-dir", type=Path)
    table.set_defaults(func=run_table)

    readme = commands.add_parser("readme", help="write the README's results block of a task from results/<task>.md")
    readme.add_argument("task", nargs="?", default="fusion")
    readme.add_argument("--results-dir", type=Path)
    readme.add_argument("--readme", type=Path, help="default: the checkout's README.md")
    readme.set_defaults(func=run_readme)


def _threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def run_train(args) -> int:
    from bertgen.experiments.config import ExperimentConfig
    from bertgen.experiments.run import train_model, work_dir
    from bertgen.training import distributed_context

    _threads(args.threads)
    config = ExperimentConfig.from_toml(args.config, args.overrides)
    output = args.output_dir or work_dir() / config.task / f"{config.row}-seed{config.seed}"
    model, tokenizer, _, result = train_model(config, output, resume=not args.no_resume)
    if distributed_context()[0] == 0:
        model.save_pretrained(output / "model")
        tokenizer.save_pretrained(output / "model")
        print(f"{result.steps} steps ({result.stop_reason}), last training loss {result.train_loss:.3f}, "
              f"{result.wall_s:.0f} s; model saved to {output / 'model'} (bertgen generate --model {output / 'model'})")
    return 0


def run_one(args) -> int:
    from bertgen.experiments.run import run_experiment

    _threads(args.threads)
    row = run_experiment(args.config, args.overrides, args.results_dir)
    print(", ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def run_sweep(args) -> int:
    """Each run is its own `bertgen experiment run` process: a crash or a kill loses only that run. Runs whose
    config (same hash) and seed are already in the results CSV are skipped, so a sweep is resumed by running
    it again (start long sweeps with nohup and a log)."""
    from bertgen.experiments.config import PROJECT, ExperimentConfig
    from bertgen.experiments.tables import readme_source, write_readme_block, write_table
    from bertgen.experiments.ledger import already_run
    from bertgen.experiments.run import results_dir_for

    if args.by_config:
        jobs = [(config, seed) for config in args.configs for seed in args.seeds]
    else:
        jobs = [(config, seed) for seed in args.seeds for config in args.configs]
    deadline = time.monotonic() + 60 * args.stop_after if args.stop_after is not None else None
    tasks = sorted({ExperimentConfig.from_toml(c).task for c in args.configs})
    results = args.results_dir or results_dir_for(args.configs[0])

    committing = threading.Lock()

    def launch(job) -> tuple[str, int, float | None]:
        """(config, exit code, seconds it ran; None where it was not started)."""
        config, seed = job
        overrides = [*args.overrides, f"seed={seed}"]
        if deadline is not None and time.monotonic() > deadline:
            print(f"[sweep] {config} seed {seed}: not started, past --stop-after", flush=True)
            return str(config), 0, None
        if already_run(ExperimentConfig.from_toml(config, overrides), results):
            print(f"[sweep] {config} seed {seed}: already in the results, skipped", flush=True)
            return str(config), 0, None
        command = [sys.executable, "-m", "bertgen.cli", "experiment", "run", str(config), "--threads", str(args.threads)]
        for item in overrides:
            command += ["--set", item]
        command += ["--results-dir", str(results)]
        start = time.perf_counter()
        code = subprocess.run(command, stdout=subprocess.DEVNULL).returncode
        elapsed = time.perf_counter() - start
        print(f"[sweep] {config} seed {seed}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {elapsed:.0f} s",
              flush=True)
        if code == 0 and args.commit:
            with committing:  # the run's table (and the README's block cut from it) before its commit, one at a time
                task = ExperimentConfig.from_toml(config).task
                table = write_table(task, results)
                readme = PROJECT / "README.md"
                shown = readme_source(readme, task) == table.resolve()
                if shown:
                    write_readme_block(readme, task, results)
                _commit_results(results, f"{Path(config).stem} seed {seed}", also=(readme,) if shown else ())
        return str(config), code, elapsed

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        outcomes = list(pool.map(launch, jobs))
    # a sweep that started nothing leaves the tables as they are (a lane resuming passes every landed run)
    for task in tasks if any(elapsed is not None for *_, elapsed in outcomes) else ():
        if (results / f"{task}.csv").is_file():
            print(f"[sweep] table: {write_table(task, results)}")
    failed = [o for o in outcomes if o[1]]
    return 1 if failed else 0


def _commit_results(results: Path, what: str, also: tuple[Path, ...] = ()) -> bool:
    """`--commit`: each finished run's results are committed at once (only the results folder is staged, and the
    files in `also`: the README whose block shows the table). Says so when git refuses (not a checkout, another
    commit holding the index), leaving the files for the next commit."""
    results = results.resolve()  # git runs inside the folder: a relative path would point below it
    paths = [str(results), *(str(Path(path).resolve()) for path in also)]
    for command in (["git", "add", "--", *paths], ["git", "commit", "-q", "-m", f"Results: {what}", "--", *paths]):
        done = subprocess.run(command, cwd=results, capture_output=True, text=True)
        if done.returncode:
            print(f"[sweep] not committed ({' '.join(command[:2])}: {(done.stderr or done.stdout).strip()}); the "
                  f"results stay in {results} for the next commit", flush=True)
            return False
    return True


def run_table(args) -> int:
    from bertgen.experiments.tables import write_table

    print(write_table(args.task, args.results_dir).read_text(encoding="utf-8"))
    return 0


def run_readme(args) -> int:
    from bertgen.experiments.config import PROJECT
    from bertgen.experiments.tables import write_readme_block

    print(write_readme_block(args.readme or PROJECT / "README.md", args.task, args.results_dir))
    return 0
