"""The CPU sweep's two lanes (experiments/sweep/lanes.sh) share one queue: every run is trained once, by whichever
lane reaches it first, in the queue's order, and a run whose row has landed is skipped."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = ROOT / "experiments" / "sweep"

pytestmark = pytest.mark.skipif(shutil.which("flock") is None, reason="the lanes lock runs with util-linux's flock")

# stands in for `bertgen experiment sweep CONFIG --seeds S ...`: a run already landed is skipped, as the CSV makes it
FAKE_BERTGEN = """#!/usr/bin/env bash
run="$3 $5"
grep -qxF "$run" "$RESULTS/landed" && exit 0
echo "$LANE $run" >> "$RESULTS/started"
sleep 1.5
echo "$run" >> "$RESULTS/landed"
"""


def two_lanes(tmp_path: Path, queue: list[str], landed: list[str]) -> list[tuple[str, str]]:
    """Runs two lanes over `queue` (lines CONFIG SEED) with the fake bertgen; (lane, run) in the order started."""
    fake = tmp_path / "bertgen"
    fake.write_text(FAKE_BERTGEN)
    fake.chmod(0o755)
    (tmp_path / "landed").write_text("".join(f"experiments/configs/demo/{row}.toml {seed}\n"
                                             for row, seed in (run.split() for run in landed)))
    script = f"""
        set -uo pipefail
        export BERTGEN={fake} RESULTS={tmp_path}
        TASK=demo
        source {SWEEPS / "lanes.sh"}
        queue() {{ printf '%s\\n' {" ".join(repr(line) for line in queue)}; }}
        # lane b starts 0.5 s after a, so that no two runs start within 0.5 s of each other: the order in which they
        # start is then the order in which they were claimed, even on a machine busy with training
        (export LANE=a; take_runs) & (sleep 0.5; export LANE=b; take_runs) & wait
    """
    subprocess.run(["bash", "-c", script], check=True, timeout=60)
    lines = (tmp_path / "started").read_text().splitlines()
    return [(lane, f"{Path(config).stem} {seed}") for lane, config, seed in (line.split() for line in lines)]


def test_the_lanes_share_one_queue_in_order(tmp_path):
    queue = [f"row{i} 0" for i in range(6)]
    started = two_lanes(tmp_path, queue, landed=["row2 0"])
    runs = [run for _, run in started]
    assert len(runs) == len(set(runs)), f"a run was trained twice: {runs}"
    assert runs == [run for run in queue if run != "row2 0"]  # each lane takes the next run that no lane holds
    assert {lane for lane, _ in started} == {"a", "b"}


@pytest.mark.parametrize("sweep", ["fusion", "bible-modern"])
def test_each_sweeps_queue_lists_existing_configs_once(sweep):
    queue = subprocess.run([SWEEPS / f"{sweep}.sh", "--queue"], capture_output=True, text=True, check=True).stdout
    lines = queue.splitlines()
    assert lines and len(lines) == len(set(lines))
    for line in lines:
        config, seed, *overrides = line.split()
        assert (ROOT / "experiments" / "configs" / sweep / f"{config}.toml").is_file(), line
        assert seed.isdigit() and (overrides == [] or (len(overrides) == 2 and overrides[0] == "--set")), line


def test_all_runs_fusions_table_then_bible_modern_then_fusions_30pct_point_and_draws():
    script = (SWEEPS / "all.sh").read_text()
    steps = ["FUSION_QUEUE=table experiments/sweep/fusion.sh", "experiments/sweep/bible-modern.sh \"$lane\"",
             "FUSION_QUEUE=curve experiments/sweep/fusion.sh", "FUSION_QUEUE=draws experiments/sweep/fusion.sh"]
    positions = [script.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), dict(zip(steps, positions))


def test_fusions_queue_splits_into_the_table_the_30pct_point_and_the_further_draws():
    """all.sh runs the table's part, then bible-modern's sweep, then the 30% point and the 10% column's further
    draws."""
    def queue(part: str | None) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/bin:/bin"} | ({"FUSION_QUEUE": part} if part else {})
        return subprocess.run([SWEEPS / "fusion.sh", "--queue"], capture_output=True, text=True, env=env)

    table, curve, draws, whole = (queue(part).stdout.splitlines() for part in ("table", "curve", "draws", None))
    assert table + curve + draws == whole and len(set(whole)) == len(whole)
    assert table[-1].startswith("bert2bert-warm1e-4-10pct") and all("-10pct" in line for line in draws)
    # the 30% point: the paper's 10% rows, nested around subset draw 0
    assert curve == [f"{row}-30pct 0 --set subset_seed=0" for row in ("rnd2rnd", "bert2bert", "bertshare")]
    # the beyond-paper row at 10% trains on bert2bert's draws there, seed for seed
    paired = {line.split(" ", 1)[1] for line in table if line.startswith("bert2bert-10pct ")}
    assert {line.split(" ", 1)[1] for line in table if line.startswith("bert2bert-warm1e-4-10pct ")} == paired
    wrong = queue("later")
    assert wrong.returncode != 0 and "FUSION_QUEUE=later: expected table, curve, draws or all" in wrong.stderr
