#!/usr/bin/env bash
# Stage 5 of experiments/RECIPE.md: the recipe search for the most validation SARI per CPU-hour, on fusion
# bert2bert, one seed. Two lanes, one thread each under nice, side by side (the machine has 2 cores). Each run is
# resumable (a checkpoint at every evaluation under $BERTGEN_HOME/experiments) and skipped once its row is in
# experiments/results/search/fusion.csv, so running this again resumes the search; each finished run is committed.
#
#   nohup experiments/search/recipe.sh > experiments/results/search/recipe.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/../.."
BERTGEN=.venv/bin/bertgen
CONFIG=experiments/configs/fusion/bert2bert.toml
# What every search run shares: batch 32 (the GPU runs' 4x examples per step), a long budget that early stopping
# on validation SARI ends (3 evaluations without a new best), 500 validation pairs for the loss and the source
# gap, 200 of them decoded at each evaluation, and the test set of 1,000 pairs.
COMMON=(--set batch_size=32 --set steps=4000 --set warmup_steps=200 --set eval_every=250
        --set early_stopping_metric='"val_sari"' --set early_stopping_patience=3
        --set validation_examples=500 --set eval_generate_examples=200 --set test_examples=1000)

run() {  # run NAME OVERRIDES...: waits while another process trains the same run (a lane restarted mid-run)
  local name=$1; shift
  while pgrep -f "name=\"$name\"" > /dev/null; do sleep 60; done
  nice -n 10 "$BERTGEN" experiment sweep "$CONFIG" --seeds 0 --threads 1 --commit \
    --results-dir experiments/results/search "${COMMON[@]}" --set name="\"$name\"" "$@"
}

lane_schedules() {  # the schedule's shape at the same peak rate, and how the encoder reads its input
  run search-b32-cosine3e-4 --set schedule='"cosine"' --set learning_rate=3e-4
  # the same, the encoder reading [CLS] text [SEP] as MiniLM was pretrained: its first position is [CLS]'s, and a
  # word placed there comes out alike whatever it is (RECIPE.md, stage 5)
  run search-b32-cosine3e-4-cls --set schedule='"cosine"' --set learning_rate=3e-4 --set source_special_tokens=true
}
# Not run: linear 3e-4 (it was next in this lane). Cosine and the paper's rsqrt already span the decays; linear, like
# cosine a decay to 0 at the budget, would have cost 3 CPU-hours that the sweep needed more (RECIPE.md, stage 5).

lane_warm_rate() {  # the rate of the warm (pretrained) parts against the new ones, then the paper's schedule
  run search-b32-cosine-warm1e-4 --set schedule='"cosine"' --set learning_rate=1e-4 \
    --set new_parameters_lr_multiplier=3.0
  # the paper's rsqrt with its peak at 3e-4: lr0 = 3e-4 * sqrt(warmup 200 * hidden 384)
  run search-b32-rsqrt --set schedule='"rsqrt"' --set learning_rate=0.0831
}
# Not searched again: a constant rate and batch 8 (experiments/RECIPE.md, stage 3): at a constant 3e-4 and batch 8,
# bert2bert was still below copying the input after 4,000 steps (one seed); at batch 32 (one seed, on a GPU)
# bert2bert and bertshare passed it.

lane_schedules >> experiments/results/search/lane-schedules.log 2>&1 &
lane_warm_rate >> experiments/results/search/lane-warm-rate.log 2>&1 &
wait
