import json
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# the project's scripts (fetch_imdb, fetch_vectors, wheels): not part of the package
sys.path.insert(0, str(REPO_ROOT / "scripts"))
# Made-up reviews written by tests/fixtures/make_data.py, laid out as ../shared/data
# is (<corpus>/{train,dev}.jsonl), so that every test runs on a fresh clone.
FIXTURE_DATA = REPO_ROOT / "tests" / "fixtures" / "data"


def read_jsonl(path: Path, limit: int = 0):
    records = []
    with path.open(encoding="utf8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
            if limit and len(records) >= limit:
                break
    return records


@pytest.fixture(scope="session")
def review_sentences():
    """The 600 one-sentence training reviews of the fixture corpus: dicts with
    "text" and "label" (negative or positive), balanced and shuffled."""
    return read_jsonl(FIXTURE_DATA / "sentences" / "train.jsonl")


# Made-up sentences for a tiny pipeline that needs no shared data.
TINY_LABELS = ["negative", "positive"]
TINY_EXAMPLES = [
    ("a wonderful , moving film", "positive"),
    ("great acting and a sharp script", "positive"),
    ("dull , slow and far too long", "negative"),
    ("the worst film of the year", "negative"),
]


def train_tiny_pipeline(factory: str, cats, path: Path) -> Path:
    """A tiny ``factory`` pipeline (widths 8), trained for 5 updates on
    TINY_EXAMPLES with ``cats(label)`` as each one's gold cats, saved to ``path``."""
    import spacy
    from spacy.training import Example

    nlp = spacy.blank("en")
    config = {"model": {"tok2vec": {"embed": {"width": 8, "rows": [100, 50, 50, 50]}, "encode": {"width": 8}}}}
    nlp.add_pipe(factory, config=config)
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": cats(label)}) for text, label in TINY_EXAMPLES]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def tiny_textcat_dir(tmp_path_factory) -> Path:
    """A tiny rnn_textcat pipeline (widths 8), briefly trained on made-up
    sentences so that different texts get different cats, saved to disk."""
    return train_tiny_pipeline("rnn_textcat", lambda label: {lab: float(lab == label) for lab in TINY_LABELS},
                               tmp_path_factory.mktemp("tiny_textcat") / "model")


@pytest.fixture
def no_onednn_capacity(monkeypatch):
    """No oneDNN cache capacity in the environment, and whatever the test sets
    is undone afterwards."""
    from spacy_rnn.memory import ONEDNN_CACHE_VARIABLES

    # setenv first, so that monkeypatch restores each variable (absent, or its value) afterwards,
    # also when the code under test sets it: the capacity must not leak into later tests
    for name in ONEDNN_CACHE_VARIABLES:
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
