# Sourced by the task sweeps (fusion.sh, bible-modern.sh) and all.sh: a task prepared, one run, and the two CPU
# lanes. A sweep sets TASK and defines lane_a and lane_b, then calls start_lanes "$@". Each run is resumable (a
# checkpoint at every evaluation under $BERTGEN_HOME/experiments) and skipped once its row is in
# experiments/results/$TASK.csv, so running a sweep again resumes it; each finished run is committed.
# from the checkout's root: the runs are started with repo-relative paths, which run's pgrep matches
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BERTGEN=.venv/bin/bertgen
RESULTS=experiments/results

run() {  # run CONFIG SEED OVERRIDES...: waits while another process trains the same run (a lane restarted mid-run)
  local config=experiments/configs/$TASK/$1.toml seed=$2; shift 2
  while pgrep -f "experiment run $config .*--set seed=$seed --results-dir $RESULTS( |$)" > /dev/null; do
    sleep 60
  done
  nice -n 10 "$BERTGEN" experiment sweep "$config" --seeds "$seed" --threads 1 --commit --results-dir "$RESULTS" "$@"
}

prepare_task() {  # prepare_task TASK: a fresh machine's venv, the task's corpora, the task built; seconds once done
  [ -x "$BERTGEN" ] || make setup > /dev/null || return 1
  # the Bibles and commentaries come from Debian's packages (apt-get download): fill empty package lists first
  ls /var/lib/apt/lists/*_Packages* > /dev/null 2>&1 || apt-get update -qq || true
  nice -n 10 "$BERTGEN" data fetch "$1" > /dev/null || return 1
  nice -n 10 "$BERTGEN" data stats "$1" > /dev/null || return 1  # builds the task: the tagger, the splits
}

start_lanes() {  # start_lanes [LANE...]: the lanes named (default a and b) side by side, one thread each
  local lanes=("$@") lane
  [ ${#lanes[@]} -gt 0 ] || lanes=(a b)
  mkdir -p "$RESULTS"
  prepare_task "$TASK" || return 1  # built once here rather than by each lane
  for lane in "${lanes[@]}"; do
    (  # a lane already running (a second `make reproduce`) is not started twice
      flock -n 9 || { echo "$TASK lane $lane is already running; not started again"; exit 0; }
      "lane_$lane" >> "$RESULTS/$TASK-lane-$lane.log" 2>&1
    ) 9> "$RESULTS/.$TASK-lane-$lane.lock" &
  done
  wait
}
