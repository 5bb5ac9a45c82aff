#!/usr/bin/env bash
# Stage 6 of experiments/RECIPE.md: the paper's DiscoFuse table at the searched recipe, on the 2 CPU cores. Two
# lanes, one thread each under nice, side by side (experiments/sweep/lanes.sh). The configs in
# experiments/configs/fusion/ carry the recipe the search chose (experiments/RECIPE.md, stage 5). Its table is
# experiments/results/fusion.md (stage 3's, undertrained, is kept in results/archive/2500-steps-batch-8/).
#
#   nohup experiments/sweep/fusion.sh > experiments/results/fusion-sweep.log 2>&1 &     both lanes
#   nohup experiments/sweep/fusion.sh b > ... &                                                     lane b only
#   nohup experiments/sweep/all.sh > experiments/results/all-sweep.log 2>&1 &     fusion, then bible-modern
#
# The order puts first what the table's verdicts need most: one seed of every 100% row, then the second and third,
# then the 10% column's first subset draw (with the 100% rows, the third claim: warm-starting helps more with less
# data), then bert2rnd's collapse rate (5 seeds) beside the gentler rate, then the second subset draw, then the
# beyond-paper cross-attention row.
set -uo pipefail
TASK=fusion
source "$(dirname "$0")/lanes.sh"

lane_a() {
  for seed in 0 1 2; do
    run rnd2rnd $seed; run bert2rnd $seed; run rnd2bert $seed
  done
  for seed in 0 1 2; do run rnd2rnd-10pct $seed --set subset_seed=0; done
  for seed in 3 4; do run bert2rnd $seed; done
  for seed in 0 1 2; do run bert2rnd-warm1e-4 $seed; done
  for seed in 0 1 2; do run rnd2rnd-10pct $seed --set subset_seed=1; done
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
  for seed in 0 1 2; do run bert2bert-xattn $seed; done
}

start_lanes "$@"
