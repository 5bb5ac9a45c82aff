#!/usr/bin/env bash
# The paper's WMT14 table at workbench scale on bible-modern (KJV -> WEB), at fusion's recipe (experiments/RECIPE.md,
# stage 5) with early stopping on validation BLEU; two CPU lanes as in fusion.sh, after fusion's sweep
# (experiments/sweep/all.sh runs each lane's fusion runs, then its bible-modern runs). Rows land in
# experiments/results/bible-modern.csv.
#
#   nohup experiments/sweep/bible-modern.sh > experiments/results/bible-modern-sweep.log 2>&1 &
set -uo pipefail
TASK=bible-modern
source "$(dirname "$0")/lanes.sh"

lane_a() {
  for seed in 0 1 2; do
    run rnd2rnd $seed; run bert2rnd $seed; run rnd2bert $seed
  done
}

lane_b() {
  for seed in 0 1 2; do
    run bert2bert $seed; run bertshare $seed; run bert2bert-xattn $seed
  done
}

start_lanes "$@"
