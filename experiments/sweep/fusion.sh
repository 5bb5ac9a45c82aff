#!/usr/bin/env bash
# Stage 6 of experiments/RECIPE.md: the paper's DiscoFuse table at the searched recipe, on the 2 CPU cores. Two
# lanes, one thread each under nice, side by side. Each run is resumable (a checkpoint at every evaluation under
# $BERTGEN_HOME/experiments) and skipped once its row is in experiments/results/converged/fusion.csv, so running this
# again resumes the sweep; each finished run is committed. The configs in experiments/configs/fusion/ carry the
# recipe the search chose (experiments/RECIPE.md, stage 5). Its table is written beside stage 3's until it is whole.
#
#   nohup experiments/sweep/fusion.sh > experiments/results/converged/fusion-sweep.log 2>&1 &     both lanes
#   nohup experiments/sweep/fusion.sh b > ... &                                                     lane b only
#
# The order puts first what the table's verdicts need most: one seed of every 100% row, then the second and third,
# then bert2rnd's collapse rate (5 seeds) beside the gentler rate, then the 10% column over two subset draws.
set -uo pipefail
cd "$(dirname "$0")/../.."
BERTGEN=.venv/bin/bertgen
CONFIGS=experiments/configs/fusion
RESULTS=experiments/results/converged

run() {  # run CONFIG SEED OVERRIDES...: waits while another process trains the same run (a lane restarted mid-run)
  local config=$1 seed=$2; shift 2
  while pgrep -f "experiment run $CONFIGS/$config.toml .*--set seed=$seed --results-dir $RESULTS( |$)" > /dev/null; do
    sleep 60
  done
  nice -n 10 "$BERTGEN" experiment sweep "$CONFIGS/$config.toml" --seeds "$seed" --threads 1 --commit \
    --results-dir "$RESULTS" "$@"
}

lane_a() {
  for seed in 0 1 2; do
    run rnd2rnd $seed; run bert2rnd $seed; run rnd2bert $seed
  done
  for seed in 3 4; do run bert2rnd $seed; done
  for seed in 0 1 2; do run bert2rnd-warm1e-4 $seed; done
  for draw in 0 1; do
    for seed in 0 1 2; do run rnd2rnd-10pct $seed --set subset_seed=$draw; done
  done
}

lane_b() {
  for seed in 0 1 2; do
    run bert2bert $seed; run bertshare $seed
  done
  for draw in 0 1; do
    for seed in 0 1 2; do
      run bert2bert-10pct $seed --set subset_seed=$draw; run bertshare-10pct $seed --set subset_seed=$draw
    done
  done
}

mkdir -p "$RESULTS"
lanes=("$@")
[ ${#lanes[@]} -gt 0 ] || lanes=(a b)
for lane in "${lanes[@]}"; do
  "lane_$lane" >> "$RESULTS/fusion-lane-$lane.log" 2>&1 &
done
wait
