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
# then the 10% column's three seeds a row over two subset draws (seeds 0 and 1 on draw 0, seed 2 on draw 1: with the
# 100% rows, the third claim, warm-starting helps more with less data), then bert2rnd's collapse rate (5 seeds)
# beside the gentler rate, then the beyond-paper cross-attention row, then the 10% column's other three seeds (seed 2
# on draw 0, seeds 0 and 1 on draw 1), which make it three seeds on each draw.
set -uo pipefail
TASK=fusion
source "$(dirname "$0")/lanes.sh"

run_10pct() {  # run_10pct ROW SEED:DRAW...: the row at 10% data, each seed on its subset draw of the training pairs
  local row=$1 pair; shift
  for pair in "$@"; do run "$row-10pct" "${pair%:*}" --set subset_seed="${pair#*:}"; done
}

lane_a() {
  for seed in 0 1 2; do
    run rnd2rnd $seed; run bert2rnd $seed; run rnd2bert $seed
  done
  run_10pct rnd2rnd 0:0 1:0 2:1
  for seed in 3 4; do run bert2rnd $seed; done
  for seed in 0 1 2; do run bert2rnd-warm1e-4 $seed; done
  run_10pct rnd2rnd 2:0 0:1 1:1
}

lane_b() {
  local pair
  for seed in 0 1 2; do
    run bert2bert $seed; run bertshare $seed
  done
  for pair in 0:0 1:0 2:1; do run_10pct bert2bert $pair; run_10pct bertshare $pair; done
  for seed in 0 1 2; do run bert2bert-xattn $seed; done
  for pair in 2:0 0:1 1:1; do run_10pct bert2bert $pair; run_10pct bertshare $pair; done
}

start_lanes "$@"
