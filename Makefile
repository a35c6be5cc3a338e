# The two commands: `make demo` and `make test`. Both set up .venv first, once.
# `make test` skips the slowest cases (marker `slow`); `.ci/run` runs them after it (`make slow`).
# `make faults` runs the whole fault suite (tests/faults, docs/reliability.md) on its own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.provreg-installed
PYTEST_ARGS ?=

.PHONY: demo test slow faults install lint bench clean

$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash demo/run.sh

# pytest exits 5 when it collected no test: a suite that runs nothing has failed, say so.
NO_TESTS = rc=$$?; if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests (exit 5): failing" >&2; fi; exit $$rc

test: $(STAMP)
	@$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS); $(NO_TESTS)

slow: $(STAMP)
	@$(PY) -m pytest -q -m slow $(PYTEST_ARGS); $(NO_TESTS)

faults: $(STAMP)
	$(PY) -m pytest -q tests/faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy manifests registry

clean:
	rm -rf demo-out .pytest_cache
