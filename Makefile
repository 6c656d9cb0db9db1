# cec.cc_gateway — every set-up and test step is a target here; README names `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
WORK := $(CURDIR)/.work
COLLECTION := $(WORK)/ansible_collections/cec/cc_gateway
SIM_ARGS ?=
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)/simulator
export ANSIBLE_COLLECTIONS_PATH := $(WORK)

.PHONY: help venv lint ruff ansible-lint sanity units integration sim-test sim-bench bench soak test-matrix release-check docs test demo simulator collection build clean schemas

help:
	@echo "make demo       set up, start the simulator, run playbooks/start_recording.yml against it"
	@echo "make test       lint, simulator tests, ansible-test sanity + units + integration"
	@echo "make simulator  run the CC-Gateway simulator in the foreground (SIM_ARGS=... for options)"
	@echo "make bench      campaign benchmark: uri vs loop vs batch vs raw requests (BENCH_ARGS=...)"
	@echo "make sim-bench  simulator benchmark: 1,000 long-polls, start-recording requests per second"
	@echo "make soak       1,000 kept agents, 10 simulated minutes of start/stop rounds; no lost session"
	@echo "make test-matrix  sanity + units + integration on ansible-core 2.19, 2.20, 2.21 (CORES=...)"
	@echo "make release-check  build, galaxy-importer, ansible-builder introspect, antsibull-changelog lint"
	@echo "make docs       the antsibull-docs site, without warnings"

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	touch $@

venv: $(VENV)/.installed

# The collection as ansible-test and ansible-playbook find it: a copy of the tracked files under .work/.
collection: venv
	@scripts/collection-tree.sh $(WORK) >/dev/null

ruff: venv
	ruff check .
	ruff format --check .

ansible-lint: collection
	cd $(COLLECTION) && ansible-lint --offline --profile production

lint: ruff ansible-lint

sim-test: venv
	python -m pytest simulator/tests -q -p no:cacheprovider

sanity: collection
	scripts/ansible-test-setup.sh
	cd $(COLLECTION) && rm -rf tests/output && ansible-test sanity --local --requirements --python 3.11 --color no

units: collection
	scripts/ansible-test-setup.sh
	cd $(COLLECTION) && ansible-test units --local --requirements --python 3.11 --color no

integration: collection
	scripts/ansible-test-setup.sh
	scripts/run-integration.sh $(COLLECTION)

test: ruff sim-test sanity units integration ansible-lint
	@echo "make test: all checks passed"

bench: collection
	python benchmarks/bench_campaign.py $(BENCH_ARGS)

soak: collection
	python benchmarks/soak.py $(SOAK_ARGS)

sim-bench: venv
	python simulator/bench/bench_sim.py

simulator: venv
	python -m ccgw_sim --cert-dir .sim $(SIM_ARGS)

demo: venv
	scripts/demo.sh

build: venv
	ansible-galaxy collection build --force --output-path $(WORK)

clean:
	rm -rf $(WORK) .sim tests/output

test-matrix: venv
	scripts/test-matrix.sh $(CORES)

release-check: venv
	scripts/release-check.sh

docs: venv
	scripts/docs.sh

schemas: collection
	python scripts/write-schemas.py
