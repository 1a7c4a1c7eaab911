# Fresh-machine entry points. `make main` and `make test` create .venv first.
# torch is installed from its pinned CPU build before anything else, so that no
# dependency can pull a multi-GB CUDA build on CPU-only machines.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0

.PHONY: install test main clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg setup.py
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet setuptools wheel
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest tests

main: install
	$(BIN)/python -m spacy project run all .

clean:
	rm -rf $(VENV) training corpus/*.spacy metrics packages
