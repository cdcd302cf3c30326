# The two commands of the README: `make reproduce` (every notebook at the cpu profile) and
# `make test` (lint, unit tests, every notebook at the smoke profile through papermill and through
# nbval). `make test-slow` is the slower tier: committed cpu numbers rerun within a tolerance.
# All of them set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.skipdit-installed
PROFILE ?= cpu
ONLY ?=

.PHONY: reproduce test test-slow lint nbval lab summary benchmark benchmark-gpu strip-notebooks clean-venv

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

test: lint $(STAMP)
	$(PY) -m pytest -m "not slow"
	$(MAKE) --no-print-directory nbval

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The notebooks checked as a user's CI would: nbval runs each in place at the smoke profile (taken
# from SKIPDIT_PROFILE by the parameters cell), writing its results to a temporary folder.
nbval: $(STAMP)
	results=$$(mktemp -d) && SKIPDIT_PROFILE=smoke SKIPDIT_RESULTS_DIR=$$results \
		$(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks/; \
		status=$$?; rm -rf $$results; exit $$status

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=.

summary: $(STAMP)
	$(PY) -m skipdit_lib.summary

benchmark: $(STAMP)
	$(PY) benchmarks/bench_skip_cache.py

# The paper-scale speed tables (DiT-XL/2, Latte-XL/2) on a GPU, bf16, within 4 minutes: --budget-s runs a table
# at fewer sampler steps when a probe says it would not fit (the JSON and the printout say so).
benchmark-gpu: $(STAMP)
	$(PY) benchmarks/bench_paper_scale.py --device cuda --budget-s 225

strip-notebooks: $(STAMP)
	$(VENV)/bin/nbstripout --keep-id notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
