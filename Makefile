# Two entry points for a fresh machine: `make run` starts the bot, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/moments run

# The bot in this terminal against a local Bot API stand-in: no token, no internet, a throwaway database.
demo: $(BIN)/.installed
	$(BIN)/moments demo

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# The end-to-end tests mostly wait (processes starting, real timers): three workers overlap the waits
# (bench/README.md, bench/startup.py). Each worker makes a PostgreSQL database of its own (tests/conftest.py).
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --ignore=tests/e2e
	$(BIN)/python -m pytest tests/e2e -n 3

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
