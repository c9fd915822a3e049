# Two commands on a fresh machine: `make train` and `make test`.
# The first run creates $(VENV) (CPU torch, then this package with its extras); later runs reuse it.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: train test venv

train: $(STAMP)
	$(VENV)/bin/bcl-rec train $(ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check bcl_rec tests benchmarks && $(PY) -m pytest -q

venv: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,recbole,plots,tensorboard,fast]"
	touch $(STAMP)
