#!/usr/bin/env bash
# The whole CPU sweep of experiments/RECIPE.md, stage 6: on each of the two lanes, fusion's table, then
# bible-modern's, then fusion's 30% point and further subset draws at 10% (fusion.sh's FUSION_QUEUE). Run it again
# (each session) to resume: finished runs are skipped, a cut-off run resumes from its last evaluation. On a fresh
# machine it first sets up the venv, fetches the corpora and builds each task, once, before the lanes start side by
# side.
#
#   nohup experiments/sweep/all.sh > experiments/results/all-sweep.log 2>&1 &
set -uo pipefail
source "$(dirname "$0")/lanes.sh"  # prepare_task, from the checkout's root
# one whole sweep at a time: a second would find fusion's lanes held and start bible-modern's beside them. The lock
# stays held while any run this sweep started lives (they inherit it).
exec 7> "$RESULTS/.all-sweep.lock"
flock -n 7 || { echo "experiments/sweep/all.sh is already running; not started again"; exit 0; }
# both tasks prepared once, before the lanes start, so that the two lanes do not build the same task side by side
for task in fusion bible-modern; do
  prepare_task "$task" || exit 1
done
for lane in a b; do
  (FUSION_QUEUE=table experiments/sweep/fusion.sh "$lane"; experiments/sweep/bible-modern.sh "$lane"
   FUSION_QUEUE=curve experiments/sweep/fusion.sh "$lane"; FUSION_QUEUE=draws experiments/sweep/fusion.sh "$lane") &
done
wait
