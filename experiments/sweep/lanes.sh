# Sourced by the task sweeps (fusion.sh, bible-modern.sh) and all.sh: a task prepared, one run, and the two CPU
# lanes. A sweep sets TASK and defines `queue`, which prints its runs in the order the table's verdicts need them,
# one a line: CONFIG SEED [OVERRIDES...]; then it calls start_lanes "$@". The lanes share the queue: each takes the
# next run that no lane holds, so both work down one order and neither idles while the other has runs left. Each run
# is resumable (a checkpoint at every evaluation under $BERTGEN_HOME/experiments) and skipped once its row is in
# experiments/results/$TASK.csv, so running a sweep again resumes it; each finished run is committed.
# from the checkout's root: the runs are started with repo-relative paths, which run's pgrep matches
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BERTGEN=${BERTGEN:-.venv/bin/bertgen}  # overridable, for tests/experiments/test_sweep_lanes.py's fake
RESULTS=${RESULTS:-experiments/results}

run() {  # run CONFIG SEED OVERRIDES...: waits while another process trains the same run (a lane restarted mid-run)
  local config=experiments/configs/$TASK/$1.toml seed=$2; shift 2
  while pgrep -f "experiment run $config .*--set seed=$seed --results-dir $RESULTS( |$)" > /dev/null; do
    sleep 60
  done
  nice -n 10 "$BERTGEN" experiment sweep "$config" --seeds "$seed" --threads 1 --commit --results-dir "$RESULTS" "$@"
}

take_runs() {  # take_runs: the queue's runs in order, each that no other lane holds; a lane holds its run's lock
  # while it trains, so a run taken by the other lane is passed over here, and one that has landed is skipped by run
  local line lock
  mkdir -p "$RESULTS/.claims"
  queue | while read -r line; do
    lock="$RESULTS/.claims/$TASK-$(tr -c 'A-Za-z0-9.=-' _ <<< "$line").lock"
    # shellcheck disable=SC2086  # the line's words are run's arguments
    ( flock -n 8 || exit 0; run $line < /dev/null ) 8> "$lock"  # stdin: the queue is the loop's, not the run's
  done
}

prepare_task() {  # prepare_task TASK: a fresh machine's venv, the task's corpora, the task built; seconds once done
  [ -x "$BERTGEN" ] || make setup > /dev/null || return 1
  # the Bibles and commentaries come from Debian's packages (apt-get download): fill empty package lists first
  ls /var/lib/apt/lists/*_Packages* > /dev/null 2>&1 || apt-get update -qq || true
  nice -n 10 "$BERTGEN" data fetch "$1" > /dev/null || return 1
  nice -n 10 "$BERTGEN" data stats "$1" > /dev/null || return 1  # builds the task: the tagger, the splits
}

start_lanes() {  # start_lanes [LANE...]: the lanes named (default a and b) side by side, one thread each, on one
  # queue; start_lanes --queue prints the queue and starts nothing
  local lanes=("$@") lane
  [ "${1:-}" != --queue ] || { queue; return; }
  [ ${#lanes[@]} -gt 0 ] || lanes=(a b)
  mkdir -p "$RESULTS"
  prepare_task "$TASK" || return 1  # built once here rather than by each lane
  for lane in "${lanes[@]}"; do
    (  # a lane already running (a second `make reproduce`) is not started twice
      flock -n 9 || { echo "$TASK lane $lane is already running; not started again"; exit 0; }
      take_runs >> "$RESULTS/$TASK-lane-$lane.log" 2>&1
    ) 9> "$RESULTS/.$TASK-lane-$lane.lock" &
  done
  wait
}
