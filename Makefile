# The two commands: `make demo` and `make test`. Both build .venv themselves when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install

.PHONY: demo test lint typecheck venv chromium clean lock bench bench-quick

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The app (b24plans) and the sandbox portal (b24sandbox, a distribution of its own) are both installed editable,
# at the versions in constraints.txt (reproducible installs; `make lock` refreshes them).
$(STAMP): $(BIN)/python pyproject.toml b24sandbox/pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,postgres]' -e ./b24sandbox
	@touch $(STAMP)

venv: $(STAMP)

# Browser tests drive Debian's Chromium through Playwright; no browser is downloaded by Playwright itself.
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else \
	    echo "warning: /usr/bin/chromium missing (sudo apt-get install chromium); browser tests will be skipped"; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check .

# Every production package; the pure core (plan math, plan schema) strictly.
typecheck: $(STAMP)
	$(BIN)/mypy -p b24app -p handlers -p sync -p placements
	$(BIN)/mypy --strict --follow-imports=silent -m b24app.planmath -m b24app.schema -m b24app.money -m b24app.series -m b24app.forecast

test: $(STAMP) chromium lint typecheck
	$(BIN)/python -m pytest

# Benchmarks against the sandbox over loopback HTTP: bench/results.json and a table (bench/run.py).
bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick

demo: $(STAMP)
	$(BIN)/b24sandbox demo

# Re-pin constraints.txt: install the newest allowed versions into a throwaway venv, then freeze them.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock && .venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet '.[test,postgres]' ./b24sandbox
	{ echo "# Versions the whole suite passed with; 'make lock' refreshes this file (a fresh venv, then pip freeze)."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v -e '^b24plans' -e '^b24sandbox'; } > constraints.txt
	rm -rf .venv-lock
	@echo "constraints.txt refreshed: run make test before committing it"

clean:
	rm -rf $(VENV) build *.egg-info b24sandbox/build b24sandbox/*.egg-info .pytest_cache .ruff_cache test-artifacts
