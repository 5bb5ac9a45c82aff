#!/usr/bin/env bash
# The whole CPU sweep of experiments/RECIPE.md, stage 6: on each of the two lanes, fusion's runs, then
# bible-modern's. Run it again (each session) to resume: finished runs are skipped, a cut-off run resumes from its
# last evaluation. On a fresh machine it first sets up the venv, fetches the corpora and builds each task, once,
# before the lanes start side by side.
#
#   nohup experiments/sweep/all.sh > experiments/results/all-sweep.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
[ -x .venv/bin/bertgen ] || make setup > /dev/null || exit 1
# the Bibles and commentaries come from Debian's packages (apt-get download): fill empty package lists first
ls /var/lib/apt/lists/*_Packages* > /dev/null 2>&1 || apt-get update -qq || true
for task in fusion bible-modern; do
  nice -n 10 .venv/bin/bertgen data fetch "$task" > /dev/null || exit 1
  nice -n 10 .venv/bin/bertgen data stats "$task" > /dev/null || exit 1  # builds the task: the tagger, the splits
done
for lane in a b; do
  (experiments/sweep/fusion.sh "$lane"; experiments/sweep/bible-modern.sh "$lane") &
done
wait
