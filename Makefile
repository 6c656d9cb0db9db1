# cec.cc_gateway — every set-up and test step is a target here; README names `make demo` and `make test`.
#
# PYTHON: the interpreter of the venv (python3 by default; `make PYTHON=python3.12 test`), found on PATH or else
# in pyenv by scripts/find-python.sh. It must be Python 3.11 or newer, as ansible-core 2.19+ needs on the
# controller. VENV: .venv for the default python3, .venv-pyX.Y for any other PYTHON, so each interpreter keeps
# its own; a venv is made again when its requirements or its interpreter's version change. ansible-test runs
# with --python of the venv's interpreter.
# Tests and tools run with HOME and TMPDIR inside the checkout (.work/home, scripts/work-home.sh): nothing is
# written into the user's own home or /tmp.
PYTHON ?= python3
PYTHON_EXE := $(shell $(CURDIR)/scripts/find-python.sh $(PYTHON))
PYTHON_INFO := $(if $(PYTHON_EXE),$(shell "$(PYTHON_EXE)" -c 'import sys; v = sys.version_info; print("%d.%d" % v[:2], "ok" if v >= (3, 11) else "old")'))
PYTHON_VERSION := $(word 1,$(PYTHON_INFO))
ifeq ($(PYTHON),python3)
VENV ?= .venv
else
VENV ?= .venv-py$(PYTHON_VERSION)
endif
BIN := $(abspath $(VENV))/bin
WORK := $(CURDIR)/.work
COLLECTION := $(WORK)/ansible_collections/cec/cc_gateway
WORK_HOME := $(CURDIR)/scripts/work-home.sh
# ansible-test --python: the version of the venv's interpreter (expanded when a recipe runs, after the venv).
TEST_PYTHON = $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
SIM_ARGS ?=
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)/simulator
export ANSIBLE_COLLECTIONS_PATH := $(WORK)

# Every target but help, clean, test-matrix and test-oldest needs the interpreter: refuse at once, in one line,
# when it is missing or older than 3.11.
ifneq ($(filter-out help clean test-matrix test-oldest,$(or $(MAKECMDGOALS),help)),)
ifeq ($(PYTHON_EXE),)
$(error PYTHON=$(PYTHON) not found on PATH nor in pyenv: make needs Python 3.11 or newer (ansible-core 2.19+), e.g. make PYTHON=python3.12 $(MAKECMDGOALS))
else ifneq ($(word 2,$(PYTHON_INFO)),ok)
$(error PYTHON=$(PYTHON) is Python $(PYTHON_VERSION) ($(PYTHON_EXE)): make needs Python 3.11 or newer (ansible-core 2.19+), e.g. make PYTHON=python3.12 $(MAKECMDGOALS))
endif
endif

.PHONY: help venv lint ruff ansible-lint sanity units integration sim-test sim-bench bench bench-fetch bench-runners bench-threads bench-keeper soak test-matrix test-oldest release-check docs test demo simulator collection build clean schemas

help:
	@echo "make demo       set up, start the simulator, run playbooks/start_recording.yml against it"
	@echo "make test       lint, simulator tests, ansible-test sanity + units + integration, and test-oldest"
	@echo "make simulator  run the CC-Gateway simulator in the foreground (SIM_ARGS=... for options)"
	@echo "make bench      campaign benchmark: uri vs loop vs batch vs raw requests (BENCH_ARGS=...)"
	@echo "make bench-runners  the campaign role over 1-4 local runners at several sizes (BENCH_ARGS=...)"
	@echo "make bench-fetch    recording files fetched by the module vs a raw requests floor (BENCH_ARGS=...)"
	@echo "make bench-threads  the record batch in-process vs the raw floor at 1, 10, 50 threads (BENCH_ARGS=...)"
	@echo "make bench-keeper   5,000 kept agents: the session keeper's CPU per poll vs a bare aiohttp loop (BENCH_ARGS=...)"
	@echo "make sim-bench  simulator benchmark: 1,000 long-polls, start-recording requests per second"
	@echo "make soak       1,000 kept agents, 10 simulated minutes of start/stop rounds; no lost session"
	@echo "make test-matrix  sanity + units + integration on ansible-core 2.16 to 2.21 (CORES=...)"
	@echo "make test-oldest  units + integration on ansible-core 2.16, the oldest supported (part of make test)"
	@echo "make release-check  build, galaxy-importer, ansible-builder introspect, antsibull-changelog lint,"
	@echo "                   ansible-lint --profile production of the installed tarball"
	@echo "make docs       the antsibull-docs site, without warnings"
	@echo "PYTHON=python3.12 (any 3.11+, on PATH or in pyenv) for another interpreter, in its own venv .venv-pyX.Y"

# The stamp names the interpreter's version: another Python behind $(PYTHON) makes the venv again.
$(VENV)/.installed-py$(PYTHON_VERSION): requirements.txt requirements-test.txt
	@if [ -e $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != $(PYTHON_VERSION) ]; then \
	  echo "$(VENV) is not a venv of Python $(PYTHON_VERSION): making it again"; rm -rf $(VENV); fi
	"$(PYTHON_EXE)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	rm -f $(VENV)/.installed $(VENV)/.installed-py*
	touch $@

venv: $(VENV)/.installed-py$(PYTHON_VERSION)

# The collection as ansible-test and ansible-playbook find it: a copy of the tracked files under .work/.
collection: venv
	@scripts/collection-tree.sh $(WORK) >/dev/null

ruff: venv
	$(WORK_HOME) ruff check .
	$(WORK_HOME) ruff format --check .

ansible-lint: collection
	cd $(COLLECTION) && $(WORK_HOME) ansible-lint --offline --profile production

lint: ruff ansible-lint

sim-test: venv
	$(WORK_HOME) python -m pytest simulator/tests -q -p no:cacheprovider

sanity: collection
	cd $(COLLECTION) && rm -rf tests/output && \
	  $(WORK_HOME) ansible-test sanity --local --requirements --python $(TEST_PYTHON) --color no

units: collection
	cd $(COLLECTION) && $(WORK_HOME) ansible-test units --local --requirements --python $(TEST_PYTHON) --color no

# run-integration.sh runs in the work home itself, and takes --python from the venv's ansible-test.
integration: collection
	scripts/run-integration.sh $(COLLECTION)

test: ruff ansible-lint sim-test sanity units integration test-oldest
	@echo "make test: all checks passed"

bench-runners: collection
	$(WORK_HOME) python benchmarks/bench_runners.py $(BENCH_ARGS)

bench: collection
	$(WORK_HOME) python benchmarks/bench_campaign.py $(BENCH_ARGS)

bench-fetch: collection
	$(WORK_HOME) python benchmarks/bench_fetch.py $(BENCH_ARGS)

bench-threads: collection
	$(WORK_HOME) python benchmarks/bench_threads.py $(BENCH_ARGS)

bench-keeper: collection
	$(WORK_HOME) python benchmarks/bench_keeper.py --work $(WORK) $(BENCH_ARGS)

soak: collection
	$(WORK_HOME) python benchmarks/soak.py $(SOAK_ARGS)

sim-bench: venv
	$(WORK_HOME) python simulator/bench/bench_sim.py

simulator: venv
	python -m ccgw_sim --cert-dir .sim $(SIM_ARGS)

demo: venv
	scripts/demo.sh

build: venv
	$(WORK_HOME) ansible-galaxy collection build --force --output-path $(WORK)

clean:
	rm -rf $(WORK) .sim tests/output

# Each core has its own venv and interpreter (scripts/test-matrix.sh finds them); PYTHON plays no part.
test-matrix:
	scripts/test-matrix.sh $(CORES)

# make test runs the oldest supported core too (2.16, as in AAP 2.5), so that a break on it is caught there:
# its units and integration targets (OLDEST_TARGETS=cc_gateway_record for fewer) in its own venv .venv-2.16,
# laid out in .work/matrix-2.16 (scripts/test-matrix.sh; its sanity runs in make test-matrix). Without an
# interpreter 2.16 supports (python3.11 or python3.12, or PYTHON_2_16=...) it fails instead of skipping.
OLDEST_CORE := 2.16
OLDEST_TARGETS ?=
test-oldest:
	MATRIX_MISSING=fail MATRIX_STEPS="units integration" MATRIX_TARGETS="$(OLDEST_TARGETS)" \
	  scripts/test-matrix.sh $(OLDEST_CORE)

# These make venvs of their own (.venv-release, .venv-docs) with the same interpreter.
release-check: venv
	PYTHON="$(PYTHON_EXE)" scripts/release-check.sh

docs: venv
	PYTHON="$(PYTHON_EXE)" scripts/docs.sh

schemas: collection
	python scripts/write-schemas.py
