# cnnlab: one-step set-up. `make test` and `make lab` create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
PY     := $(BIN)/python
PIP    := $(PY) -m pip
# nbgrader runs `alembic` from PATH when it creates a gradebook: the venv goes first.
export PATH := $(BIN):$(PATH)
STAMP  := $(VENV)/.cnnlab-installed
PYTEST_ARGS ?=

# Headless runs draw with Agg; `make lab` keeps Jupyter's inline backend.
test test-fast bench bench-grading grade-demo grade: export MPLBACKEND := Agg

.PHONY: help venv test test-fast lab lab-instructor bench bench-grading lint grade-demo browser-deps hub-deps grade course course-check clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "cnnlab needs Python 3.10 or newer, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	@# PyTorch (CPU) is the cross-check for the layer tests. Use a local CPU wheel when
	@# pip can find one without an index; otherwise the torch tests skip and say why.
	@if $(PIP) install --quiet --no-index --no-deps 'torch==2.13.0' 2>/dev/null; then \
	    $(PIP) install --quiet 'torch==2.13.0'; \
	else echo "note: no local PyTorch CPU wheel; torch comparisons will be skipped (pip install torch to enable)"; fi
	@# Compile every Numba kernel now (about a minute, once) rather than in a learner's
	@# first notebook; the compiled code is cached beside the kernels.
	$(PY) -m cnnlab warmup
	touch $@

venv: $(STAMP)  ## Create .venv and install cnnlab with its test extras

browser-deps:  ## Install Debian's chromium for the browser test (root only; skipped otherwise)
	@sh scripts/ensure-chromium.sh

hub-deps: $(STAMP)  ## configurable-http-proxy (npm) and a Python other users can run, for the JupyterHub test (root only)
	@sh scripts/ensure-proxy.sh
	@sh scripts/ensure-class-venv.sh $(PY)

test: $(STAMP) browser-deps hub-deps  ## Lint, then run the whole test suite
	$(BIN)/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)  ## The suite without notebooks, browser and nbgrader runs
	$(PY) -m pytest -m "not notebooks and not browser and not grading" $(PYTEST_ARGS)

# Jupyter refuses to start as root unless told to; containers, CI and many lab machines
# run as root, so the lab targets add --allow-root then (and only then) and say so.
ROOT_FLAG = $(if $(filter 0,$(shell id -u)),--allow-root)
define say_root
	@$(if $(ROOT_FLAG),echo "note: running as root (a container or CI?): starting JupyterLab with --allow-root")
endef

lab: $(STAMP)  ## Start JupyterLab in this repository
	$(say_root)
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR) $(ROOT_FLAG)

# The Formgrader reads nbgrader_config.py from the server's working directory: start in
# autograder/ (the course root), serve the whole repository.
lab-instructor: $(STAMP)  ## JupyterLab with the Formgrader showing the course in autograder/
	$(say_root)
	cd autograder && $(BIN)/jupyter lab --notebook-dir=$(CURDIR) $(ROOT_FLAG)

bench: $(STAMP)  ## Time cnnlab against PyTorch and NumPy; writes benchmarks/RESULTS.md
	$(PY) benchmarks/run.py

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .

grade-demo: $(STAMP)  ## Grade the sample class end to end with real nbgrader
	$(PY) -m autograder.tools demo

bench-grading: $(STAMP)  ## Time grading a synthetic class (1 worker, all cores, Dask); into benchmarks/RESULTS.md
	$(PY) benchmarks/grading.py $(ARGS)

grade: $(STAMP)  ## Grade what is new in autograder/submitted on every core (ARGS="ps2_conv --submissions x.zip")
	$(PY) -m autograder.tools grade $(ARGS)

course: $(STAMP)  ## Regenerate autograder/release and solutions/ from autograder/source with nbgrader
	$(PY) scripts/build_course.py

course-check: $(STAMP)  ## Check that release/ and solutions/ match the sources
	$(PY) scripts/build_course.py --check

clean:  ## Remove the virtual environment and caches
	rm -rf $(VENV) .venv-class .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
