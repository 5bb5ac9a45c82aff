#!/usr/bin/env bash
# The whole CPU sweep of experiments/RECIPE.md, stage 6: on each of the two lanes, fusion's runs, then
# bible-modern's. Run it again (each session) to resume: finished runs are skipped, a cut-off run resumes from its
# last evaluation.
#
#   nohup experiments/sweep/all.sh > experiments/results/all-sweep.log 2>&1 &
set -uo pipefail
here=$(dirname "$0")
for lane in a b; do
  ("$here/fusion.sh" "$lane"; "$here/bible-modern.sh" "$lane") &
done
wait
