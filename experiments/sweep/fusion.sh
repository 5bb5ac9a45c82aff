#!/usr/bin/env bash
# Stage 6 of experiments/RECIPE.md: the paper's DiscoFuse table at the searched recipe, on the 2 CPU cores. Two
# lanes, one thread each under nice, side by side (experiments/sweep/lanes.sh). The configs in
# experiments/configs/fusion/ carry the recipe the search chose (experiments/RECIPE.md, stage 5). Its table is
# experiments/results/fusion.md (stage 3's, undertrained, is kept in results/archive/2500-steps-batch-8/).
#
#   nohup experiments/sweep/fusion.sh > experiments/results/fusion-sweep.log 2>&1 &     both lanes
#   nohup experiments/sweep/fusion.sh b > ... &                                 one lane (lane b) down the whole queue
#   nohup experiments/sweep/all.sh > experiments/results/all-sweep.log 2>&1 &     fusion, bible-modern, 30%, draws
#   experiments/sweep/fusion.sh --queue                                            the runs in order, nothing started
#
# The lanes share one queue (lanes.sh), in the order the table's verdicts need the runs: two seeds of every 100% row;
# then bert2bert and rnd2rnd at 10%, two seeds each on subset draw 0, which with the 100% rows judge the third claim
# (warm-starting helps more with less data); the 100% rows' third seeds; the 10% column's third seeds (on draw 1) and
# bertshare's three; bert2rnd's collapse rate (5 seeds) beside the gentler rate and the beyond-paper cross-attention
# row; then the gentler rate for bert2bert at 10%, whose three seeds pair with bert2bert's there (the same draws).
# That is the table (FUSION_QUEUE=table). Then, beyond the paper's columns, rnd2rnd, bert2bert and bertshare at 30%
# (one seed each, nesting draw 0), which measure how many pairs the rows need to beat copying
# (FUSION_QUEUE=curve); last the 10% column's other three seeds a row (seed 2 on draw 0, seeds 0 and 1 on draw 1),
# which make it three seeds on each draw (FUSION_QUEUE=draws). all.sh runs these two after bible-modern's sweep,
# which the issue asks for once the table is done. Unset, the queue is all three parts.
set -uo pipefail
TASK=fusion
source "$(dirname "$0")/lanes.sh"

at_fraction() {  # at_fraction PCT ROW SEED:DRAW...: the row's queue lines at PCT% data, each seed on its draw
  local pct=$1 row=$2 pair; shift 2
  for pair in "$@"; do echo "$row-${pct}pct ${pair%:*} --set subset_seed=${pair#*:}"; done
}

at_10pct() { at_fraction 10 "$@"; }

paper_table() {
  local seed pair row
  for seed in 0 1; do
    for row in rnd2rnd bert2rnd rnd2bert bert2bert bertshare; do echo "$row $seed"; done
  done
  for pair in 0:0 1:0; do at_10pct bert2bert $pair; at_10pct rnd2rnd $pair; done
  for row in rnd2rnd bert2rnd rnd2bert bert2bert bertshare; do echo "$row 2"; done
  at_10pct bert2bert 2:1; at_10pct rnd2rnd 2:1; at_10pct bertshare 0:0 1:0 2:1
  for seed in 3 4; do echo "bert2rnd $seed"; done
  for seed in 0 1 2; do echo "bert2rnd-warm1e-4 $seed"; echo "bert2bert-xattn $seed"; done
  at_10pct bert2bert-warm1e-4 0:0 1:0 2:1
}

data_curve() {
  local row
  for row in rnd2rnd bert2bert bertshare; do at_fraction 30 $row 0:0; done
}

more_draws() {
  local pair row
  for pair in 2:0 0:1 1:1; do
    for row in bert2bert rnd2rnd bertshare; do at_10pct $row $pair; done
  done
}

queue() {
  case ${FUSION_QUEUE:-all} in
    table) paper_table ;;
    curve) data_curve ;;
    draws) more_draws ;;
    all) paper_table; data_curve; more_draws ;;
    *) echo "FUSION_QUEUE=$FUSION_QUEUE: expected table, curve, draws or all (unset)" >&2; return 1 ;;
  esac
}

start_lanes "$@"
