# groupsync — `make demo` to see it work, `make test` to check everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := .demo
EXAMPLE := $(CURDIR)/examples/practice.yaml
DEMOENV := $(CURDIR)/examples/demo.env
GS     := $(CURDIR)/$(BIN)/groupsync
# Options go after the command name: `groupsync plan -f ...`.
OPTS   := -f $(EXAMPLE) --env-file $(DEMOENV) --store $(CURDIR)/$(DEMO)/sandbox.db

.PHONY: install demo test lint typecheck unit fuzz bench bench-scale bench-hostile bench-cli bench-fleet load clean

# `make demo` installs what the tool needs at run time; `make test` adds the dev tools.
RUNSTAMP := $(VENV)/.installed-run

$(RUNSTAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNSTAMP)

$(STAMP): $(RUNSTAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# A whole group practice set up from examples/practice.yaml in a throwaway sandbox store.
demo: $(RUNSTAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== groupsync sandbox: sign up the four provider accounts (demo only)"
	$(GS) sandbox $(OPTS)
	@echo "== groupsync plan: what the file asks for"
	$(GS) plan $(OPTS)
	@echo "== groupsync apply: all of it, in one transaction"
	$(GS) apply --auto-approve $(OPTS)
	@echo "== groupsync plan again: nothing left to do"
	$(GS) plan $(OPTS)
	@echo "== groupsync show: the practice as it now stands"
	$(GS) show $(OPTS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy groupsync

# The `ci` hypothesis profile is derandomized: every run draws the same examples.
unit: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest -q

# Long random runs of every property and fuzz test (new examples each time, budgets x SCALE).
SCALE ?= 100
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz GROUPSYNC_FUZZ_SCALE=$(SCALE) $(BIN)/pytest -q \
	  tests/test_bad_input.py -k fuzz
	HYPOTHESIS_PROFILE=fuzz GROUPSYNC_FUZZ_SCALE=$(shell expr $(SCALE) / 10 + 1) $(BIN)/pytest -q \
	  tests/test_properties.py

test: lint typecheck unit

SIZE ?= M
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --size $(SIZE)

# A 3-provider practice alone vs. in a vendor-sized store (20,000 more practices), both backends.
PRACTICES ?= 20000
# 200 three-provider practices in one workspace, on SQLite and PostgreSQL (PRACTICES=N to change).
PRACTICES ?= 200
bench-fleet: $(STAMP)
	$(BIN)/python benchmarks/fleet.py --practices $(PRACTICES)

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/scale.py --backend sqlite --practices $(PRACTICES)
	$(BIN)/python benchmarks/scale.py --backend postgresql --practices $(PRACTICES)

# What one hostile request costs `serve` (RSS growth, worst /v1/health latency), both backends.
bench-hostile: $(STAMP)
	$(BIN)/python benchmarks/hostile.py --backend sqlite
	$(BIN)/python benchmarks/hostile.py --backend postgresql

# Start-up: medians of 10 runs of `--version`, `validate` and the bare interpreter.
bench-cli: $(RUNSTAMP)
	$(BIN)/python benchmarks/cli.py

# 20 planning and 5 applying clients against `groupsync serve` over PostgreSQL for 60 s.
VENDOR ?= 0
load: $(STAMP)
	$(BIN)/python benchmarks/load.py --seconds 60 --vendor $(VENDOR)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
