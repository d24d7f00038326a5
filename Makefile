# The two commands: `make run` and `make test`. Both create .venv on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test migrate postman postman-check bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch node_modules/.installed

migrate: $(STAMP)
	$(VENV)/bin/cozeplus migrate

run: migrate
	$(VENV)/bin/cozeplus serve

test: $(STAMP) node_modules/.installed
	$(PY) -m pytest

postman: node_modules/.installed
	node codegen/postman.js

postman-check: $(STAMP) node_modules/.installed
	$(PY) -m pytest tests/test_postman.py

bench: $(STAMP)
	$(PY) bench/auth_reads.py

clean:
	rm -rf $(VENV) node_modules
