# The two commands: `make run` and `make test`. Both create .venv on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-contract-long lint migrate postman sdks bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,local-embeddings]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch node_modules/.installed

migrate: $(STAMP)
	$(VENV)/bin/cozeplus migrate

run: migrate
	$(VENV)/bin/cozeplus serve

# PYTEST_ARGS narrows a run, e.g. PYTEST_ARGS='-m "not clients"' (.ci/run's PostgreSQL pass).
test: lint node_modules/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# Schemathesis at depth, by hand: 1,000 examples per operation and 500 stateful runs of 20 steps
# over the spec's links (`make test` runs the "ci" profile: 50, and 50 of 8). One shard per CPU
# (CONTRACT_SHARDS), each its own process with its own database; an hour or more on two cores.
CONTRACT_SHARDS ?= $(shell nproc)
test-contract-long: $(STAMP)
	@status=0; pids=""; \
	for k in $$(seq 1 $(CONTRACT_SHARDS)); do \
	  COZEPLUS_CONTRACT_PROFILE=long COZEPLUS_CONTRACT_SHARD=$$k/$(CONTRACT_SHARDS) \
	    $(PY) -m pytest -q tests/test_contract.py > contract-long-$$k.log 2>&1 & pids="$$pids $$!"; \
	done; \
	for pid in $$pids; do wait $$pid || status=1; done; \
	tail -n 3 contract-long-*.log; exit $$status

# ruff's lint and format check, configured in pyproject.toml (`ruff format .` applies the format).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Regenerate the collection from openapi.yaml, then run it with newman against a fresh server.
postman: $(STAMP) node_modules/.installed
	node codegen/postman.js
	$(PY) -m pytest tests/test_postman.py

# Python, TypeScript and Go clients from openapi.yaml into build/sdks/ (docs/sdks.md); Go needs
# golang-go and golang-gopkg-validator.v2-dev (apt), which .ci/run installs.
sdks: $(STAMP) node_modules/.installed
	$(PY) -m codegen.sdks

# Every bench/ script in turn (bench/suite.py), writing docs/benchmarks.md: long (the soak alone
# is ten minutes), on a quiet machine. Needs wrk (apt-get install wrk). ONLY=startup,soak: some.
bench: $(STAMP)
	$(PY) -m bench.suite $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(VENV) node_modules
