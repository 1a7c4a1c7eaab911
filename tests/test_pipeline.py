"""The components inside spaCy pipelines: serialization, loading through entry
points in a fresh process, multiprocessing, packaging and `spacy train`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_rnn import RNNMultiLabelTextCategorizer, RNNTextCategorizer

REPO_ROOT = Path(__file__).resolve().parents[1]

LABELS = ["negative", "positive"]


def labelled_examples(nlp, records):
    return [
        Example.from_dict(nlp.make_doc(r["text"]), {"cats": {l: float(l == r["label"]) for l in LABELS}})
        for r in records
    ]


@pytest.fixture(scope="module")
def trained_nlp(review_sentences):
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    examples = labelled_examples(nlp, review_sentences[:200])
    optimizer = nlp.initialize(lambda: examples)
    for start in range(0, len(examples), 50):
        nlp.update(examples[start : start + 50], sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def texts(review_sentences):
    return [r["text"] for r in review_sentences[200:320]] + ["", "  ", "great 😀"]


def test_components_are_spacy_textcats():
    nlp = spacy.blank("en")
    single = nlp.add_pipe("rnn_textcat")
    multi = nlp.add_pipe("rnn_textcat_multilabel")
    assert isinstance(single, RNNTextCategorizer)
    assert isinstance(multi, RNNMultiLabelTextCategorizer)
    assert nlp.get_pipe_meta("rnn_textcat").assigns == ["doc.cats"]
    assert nlp.get_pipe_meta("rnn_textcat").default_score_weights["cats_score"] == 1.0
    assert nlp.config["components"]["rnn_textcat"]["model"]["@architectures"] == "spacy_rnn.RNNTextCat.v1"
    assert multi.cfg["threshold"] == 0.5


def test_scores_like_spacy(trained_nlp, review_sentences):
    examples = labelled_examples(trained_nlp, review_sentences[320:400])
    scores = trained_nlp.evaluate(examples)
    for key in ["cats_score", "cats_macro_f", "cats_macro_auc", "cats_f_per_type"]:
        assert key in scores
    assert 0.0 <= scores["cats_score"] <= 1.0


def test_add_label_after_training_resizes_output(trained_nlp, texts):
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("rnn_textcat")
    nlp.from_bytes(trained_nlp.to_bytes())
    before = [doc.cats for doc in nlp.pipe(texts[:5])]
    textcat.add_label("neutral")
    after = list(nlp.pipe(texts[:5]))
    assert all(set(doc.cats) == {"negative", "positive", "neutral"} for doc in after)
    # the new label starts improbable; the old ones keep their ranking
    for old, doc in zip(before, after):
        assert doc.cats["neutral"] < 1e-3
        assert (old["positive"] > old["negative"]) == (doc.cats["positive"] > doc.cats["negative"])


def test_to_disk_from_disk_roundtrip(trained_nlp, texts, tmp_path):
    trained_nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    for a, b in zip(trained_nlp.pipe(texts), loaded.pipe(texts)):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    # to_bytes/from_bytes of the component alone
    textcat = trained_nlp.get_pipe("rnn_textcat")
    fresh = spacy.blank("en").add_pipe("rnn_textcat")
    fresh.from_bytes(textcat.to_bytes())
    assert fresh.labels == textcat.labels


def test_spacy_load_in_fresh_process_without_importing_plugin(trained_nlp, texts, tmp_path):
    """Entry points must be enough: the script never imports spacy_rnn."""
    trained_nlp.to_disk(tmp_path / "model")
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        f"texts = json.load(open({str(tmp_path / 'texts.json')!r}))\n"
        "print(json.dumps([doc.cats for doc in nlp.pipe(texts)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    cats = json.loads(out.stdout)
    expected = [doc.cats for doc in trained_nlp.pipe(texts)]
    assert len(cats) == len(expected)
    for a, b in zip(cats, expected):
        assert a == pytest.approx(b, abs=1e-6)


def test_pipe_with_two_processes_equals_one(trained_nlp, texts):
    one = [doc.cats for doc in trained_nlp.pipe(texts, n_process=1, batch_size=16)]
    # the parent has already run torch on several threads: under fork this
    # used to hang (pytorch#17199)
    two = [doc.cats for doc in trained_nlp.pipe(texts, n_process=2, batch_size=16)]
    assert len(two) == len(one)
    for a, b in zip(one, two):
        assert a == pytest.approx(b, abs=1e-6)


@pytest.mark.slow
def test_spacy_package_builds_an_installable_pipeline(trained_nlp, texts, tmp_path):
    model_dir = tmp_path / "model"
    trained_nlp.meta["name"] = "rnn_sentiment_test"
    trained_nlp.meta["version"] = "0.0.1"
    trained_nlp.to_disk(model_dir)
    packages = tmp_path / "packages"
    packages.mkdir()
    subprocess.run(
        [sys.executable, "-m", "spacy", "package", str(model_dir), str(packages), "--build", "sdist", "--force"],
        check=True,
        capture_output=True,
    )
    sdists = list(packages.glob("*/dist/*.tar.gz"))
    assert len(sdists) == 1
    meta = json.loads(next(packages.glob("*/meta.json")).read_text())
    # spacy package finds the plugin through its registered functions
    assert any(req.startswith("spacy-rnn") or req.startswith("spacy_rnn") for req in meta["requirements"])
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--target", str(target), str(sdists[0])],
        check=True,
        capture_output=True,
    )
    script = (
        "import json, spacy\n"
        "nlp = spacy.load('en_rnn_sentiment_test')\n"
        f"print(json.dumps([d.cats for d in nlp.pipe({texts[:5]!r})]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    expected = [doc.cats for doc in trained_nlp.pipe(texts[:5])]
    for a, b in zip(json.loads(out.stdout), expected):
        assert a == pytest.approx(b, abs=1e-6)


def _write_docbin(nlp, records, path):
    db = DocBin()
    for r in records:
        doc = nlp.make_doc(r["text"])
        doc.cats = {l: float(l == r["label"]) for l in LABELS}
        db.add(doc)
    db.to_disk(path)


@pytest.mark.slow
def test_spacy_train_end_to_end(review_sentences, tmp_path):
    nlp = spacy.blank("en")
    _write_docbin(nlp, review_sentences[:150], tmp_path / "train.spacy")
    _write_docbin(nlp, review_sentences[150:200], tmp_path / "dev.spacy")
    out = tmp_path / "output"
    result = subprocess.run(
        [
            sys.executable, "-m", "spacy", "train", str(REPO_ROOT / "configs" / "sentiment_bilstm.cfg"),
            "--output", str(out),
            "--paths.train", str(tmp_path / "train.spacy"),
            "--paths.dev", str(tmp_path / "dev.spacy"),
            "--training.max_steps", "12",
            "--training.eval_frequency", "6",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = spacy.load(out / "model-best")
    doc = best("a wonderful , heartfelt film")
    assert set(doc.cats) == set(LABELS)
    evaluation = subprocess.run(
        [sys.executable, "-m", "spacy", "evaluate", str(out / "model-best"), str(tmp_path / "dev.spacy"),
         "--output", str(tmp_path / "metrics.json")],
        capture_output=True,
        text=True,
    )
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "cats_score" in metrics
