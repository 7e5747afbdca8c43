# Set-up on a fresh machine:   make bench   (creates .venv on today's stack, runs the default suite)
#                              make test    (runs the tests)
# DGL's own stack (dgl 2.1.0 on torch 2.2.1, numpy 1) in .venv-dgl: make bench-dgl, make test-dgl.
# Everyday loop: make test-fast (everything but the tests marked slow: workers, whole suites,
# torchrun, a browser). Each environment installs from its constraints file (docs/stacks.md).
PYTHON ?= python3
VENV ?= .venv
VENV_DGL ?= .venv-dgl
PY := $(VENV)/bin/python
PY_DGL := $(VENV_DGL)/bin/python
TODAY := constraints/today.txt
DGL := constraints/dgl.txt
# ogb's `outdated` dependency warns from a thread at exit that it could not reach PyPI;
# that one message is silenced.
QUIET := PYTHONWARNINGS="ignore:Failed to check for latest version of package" OUTDATED_IGNORE=1

.PHONY: install install-dgl bench bench-dgl reference reference-dgl test test-fast test-dgl benchmark constraints clean

$(VENV)/.installed: pyproject.toml $(TODAY)
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v >= (3, 10) else "bench_lib needs Python 3.10 or newer; $(PYTHON) is %d.%d. Use e.g. make PYTHON=python3.11 $(MAKECMDGOALS)" % v)'
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -c $(TODAY) -e ".[dev]"
	@touch $@

$(VENV_DGL)/.installed: pyproject.toml $(DGL)
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "the DGL stack needs Python 3.10 to 3.12 (torch 2.2.1 has no wheel for newer); $(PYTHON) is %d.%d. Use e.g. make PYTHON=python3.11 $(MAKECMDGOALS)" % v)'
	$(PYTHON) -m venv --clear $(VENV_DGL)
	$(PY_DGL) -m pip install --quiet --upgrade "pip>=23"
	$(PY_DGL) -m pip install --quiet -c $(DGL) -e ".[dev,dgl]"
	@touch $@

install: $(VENV)/.installed

install-dgl: $(VENV_DGL)/.installed

bench: install
	$(PY) -m bench_lib.suite

bench-dgl: install-dgl
	$(PY_DGL) -m bench_lib.suite --backend dgl --out results/default-dgl --report-dir reports/default-dgl

# The full reference runs (five seeds, two timed; about half an hour each here), into results/reference
# and results/reference-dgl; the committed ones are results/default-reference(-dgl): docs/benchmarks.md.
reference: install
	$(PY) -m bench_lib.suite --config benchmarks/reference.toml

reference-dgl: install-dgl
	$(PY_DGL) -m bench_lib.suite --config benchmarks/reference.toml --backend dgl --out results/reference-dgl --report-dir reports/reference-dgl

test: install
	$(QUIET) $(PY) -m pytest

test-fast: install
	$(QUIET) $(PY) -m pytest -m "not slow"

# On the DGL stack a test marked `dgl` fails rather than skips when DGL does not import.
test-dgl: install-dgl
	$(QUIET) BENCH_LIB_REQUIRE_DGL=1 $(PY_DGL) -m pytest

# foundation.py times bench_lib's collate against dgl.batch: DGL's stack.
benchmark: install-dgl
	$(PY_DGL) benchmarks/foundation.py

# Rewrite both constraints files from what the two environments hold now (after a deliberate upgrade).
constraints: install install-dgl
	(echo "# today's stack: make install (.venv); rewritten by make constraints"; \
	 $(PY) -m pip freeze --all --exclude-editable) > $(TODAY)
	(echo "# DGL's stack: make install-dgl (.venv-dgl); rewritten by make constraints"; \
	 $(PY_DGL) -m pip freeze --all --exclude-editable) > $(DGL)

clean:
	rm -rf $(VENV) $(VENV_DGL) build *.egg-info .pytest_cache
