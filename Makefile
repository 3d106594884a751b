# Quick start: `make demo` runs hitl on the shipped examples; `make test` runs every test.
# Both set everything up first (a virtualenv in .venv, the pinned OPA in .tools/bin).

VENV   := .venv
PYTHON := $(VENV)/bin/python
HITL   := $(VENV)/bin/hitl
OPA    := .tools/bin/opa
# The rules' settings files (<rule>.schema.json) beside the policies are hitl's, not OPA data (hitl_cli/policy_files.py).
IGNORE_SETTINGS := --ignore '*.schema.json' --ignore '*.defaults.yaml'
export HITL_OPA_BIN := $(CURDIR)/$(OPA)

.PHONY: setup demo test test-rego test-python schemas bench clean

setup: $(VENV)/.installed $(OPA)

$(VENV)/.installed: pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $@

$(OPA): hitl_cli/opa.version scripts/install-opa
	scripts/install-opa
	touch $@

demo: setup
	$(HITL) evaluate examples/manifests --profile default --track-record examples/track-record.yaml
	$(HITL) evaluate examples/manifests --profile bank --track-record examples/track-record.yaml
	$(HITL) check examples/manifests --profile startup --track-record examples/track-record.yaml; \
	  echo "hitl check exited $$? (3: at least one action is blocked)"

test: setup test-rego test-python

test-rego: $(OPA)
	$(OPA) fmt --list --fail rego
	$(OPA) check --strict rego
	$(OPA) test rego $(IGNORE_SETTINGS) --coverage --threshold 90 > /dev/null
	$(OPA) test rego $(IGNORE_SETTINGS)
	$(OPA) fmt --list --fail hitl_cli/testing hitl_cli/scaffold
	$(OPA) check --strict rego hitl_cli/testing
	$(OPA) test rego hitl_cli/testing $(IGNORE_SETTINGS) --coverage --threshold 90 > /dev/null
	$(OPA) fmt --list --fail hitl_cli/engine/authz
	$(OPA) check --strict hitl_cli/engine/authz
	$(OPA) test hitl_cli/engine/authz --coverage --threshold 90 > /dev/null

# The PostgreSQL store's tests run against a throwaway server that scripts/with-postgres starts (installing
# PostgreSQL when it is missing) and stops; set HITL_TEST_POSTGRES_URL to use a server of your own instead.
# Tests run in one worker per core (pytest-xdist), a test file per worker at a time (module fixtures start once).
# hitl's bytecode is compiled first, as a wheel install has it: most tests start the CLI as a process, and
# each start would otherwise compile its sources again (the environment may say PYTHONDONTWRITEBYTECODE).
test-python: setup
	$(PYTHON) -m compileall -q hitl_cli
	scripts/with-postgres $(PYTHON) -m pytest -n auto --dist loadfile

schemas: setup
	$(HITL) schema --write schemas

# Benchmarks (not part of `make test`): the reliability and attack tests first, for their figures, then the timings.
# BENCH_ARGS passes options on, e.g. make bench BENCH_ARGS="--sizes 1000,10000" (the default is 10,000 and 100,000).
bench: setup
	bench/install-go-tool conftest github.com/open-policy-agent/conftest
	bench/install-go-tool vegeta github.com/tsenart/vegeta/v12
	PYTHONPATH=bench scripts/with-postgres $(PYTHON) -m pytest -q -p no:cacheprovider -p reliability_plugin -n auto --dist loadfile tests
	$(PYTHON) bench/policy_cost.py
	$(PYTHON) bench/serve_api.py --skip-startup
	$(PYTHON) bench/history_cost.py
	$(PYTHON) bench/run.py $(BENCH_ARGS)
	scripts/with-postgres $(PYTHON) bench/store_queue.py
	scripts/with-postgres $(PYTHON) bench/signed_approve.py
	$(PYTHON) bench/single_evaluate.py

clean:
	rm -rf $(VENV) .tools .pytest_cache
