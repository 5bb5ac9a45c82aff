#!/usr/bin/env bash
# The CPU sweeps' runs (fusion.sh, bible-modern.sh) on a lent GPU, in one call of the device tool (10 minutes at
# most a call):
# 14 runs side by side, one CPU thread each, starting none after 5 minutes; the rows land in the same
# experiments/results/ as the CPU lanes', each recording its hardware. Run it again to go on: runs already
# in the CSV are skipped, and one cut off starts over (a fresh device machine keeps no checkpoint).
#
#   experiments/sweep/gpu.sh                       the 100% column, 5 seeds a row (the CPU lanes run 3, bert2rnd 5)
#   experiments/sweep/gpu.sh bert2bert bertshare   only these configs
#   TASK=bible-modern experiments/sweep/gpu.sh     bible-modern's (default: fusion's)
#
# Whole rows only: runs of different hardware are never averaged together, so give the GPU rows that the CPU lanes
# have not started (the CSV's `hardware` column says which ran where).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIGS=experiments/configs/${TASK:-fusion}
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(bert2bert bertshare rnd2rnd bert2rnd rnd2bert)
paths=()
for row in "${rows[@]}"; do paths+=("$CONFIGS/$row.toml"); done
.venv/bin/bertgen experiment sweep "${paths[@]}" --seeds 0 1 2 3 4 --by-config --jobs 14 --threads 1 --stop-after 5 \
  --results-dir experiments/results
