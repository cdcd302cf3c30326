# The two commands of the README: `make reproduce` (every notebook at the cpu profile) and
# `make test` (unit tests plus every notebook at the smoke profile). Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skipdit-installed
PROFILE ?= cpu
ONLY ?=

.PHONY: reproduce test lab summary benchmark strip-notebooks clean-venv

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name skipdit --display-name "Python (skipdit)" >/dev/null
	touch $(STAMP)

reproduce: $(STAMP)
	$(PY) -m skipdit_lib.run --profile $(PROFILE) $(if $(ONLY),--only $(ONLY),)

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=.

summary: $(STAMP)
	$(PY) -m skipdit_lib.summary

benchmark: $(STAMP)
	$(PY) benchmarks/bench_skip_cache.py

strip-notebooks: $(STAMP)
	$(VENV)/bin/nbstripout --keep-id notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
