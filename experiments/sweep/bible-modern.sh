#!/usr/bin/env bash
# The paper's WMT14 table at workbench scale on bible-modern (KJV -> WEB), at fusion's recipe (experiments/RECIPE.md,
# stage 5) with early stopping on validation BLEU; two CPU lanes on one queue as in fusion.sh, after fusion's table
# (experiments/sweep/all.sh: each lane takes the fusion table's runs until none is left, then bible-modern's, then
# fusion's 30% point and further 10% draws). Rows land in experiments/results/bible-modern.csv.
#
#   nohup experiments/sweep/bible-modern.sh > experiments/results/bible-modern-sweep.log 2>&1 &
set -uo pipefail
TASK=bible-modern
source "$(dirname "$0")/lanes.sh"

queue() {  # three seeds of every row, one seed of each before the next seed of any
  local seed row
  for seed in 0 1 2; do
    for row in rnd2rnd bert2rnd rnd2bert bert2bert bertshare bert2bert-xattn; do echo "$row $seed"; done
  done
}

start_lanes "$@"
