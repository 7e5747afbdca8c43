# Set-up on a fresh machine:   make bench   (creates .venv, runs the default suite)
#                              make test    (runs the tests)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install bench test benchmark clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "bench_lib needs Python 3.10 to 3.12 (dgl 2.1.0 / torch 2.2.1); $(PYTHON) is %d.%d. Use e.g. make PYTHON=python3.12 $(MAKECMDGOALS)" % v)'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

bench: install
	$(PY) -m bench_lib.suite

# dgl imports ogb, whose `outdated` dependency warns from a thread at exit
# that it could not reach PyPI; that one message is silenced.
test: install
	PYTHONWARNINGS="ignore:Failed to check for latest version of package" $(PY) -m pytest

benchmark: install
	$(PY) benchmarks/foundation.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
