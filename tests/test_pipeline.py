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


# Issue 34, cases 23-25: what spaCy's own textcat tests (tests/test_spacy_conformance.py) found.

SMALL_MODEL = {"tok2vec": {"embed": {"width": 8, "rows": [100, 50, 50, 50]}, "encode": {"width": 8}}}


@pytest.mark.parametrize("factory,exclusive", [("rnn_textcat", True), ("rnn_textcat_multilabel", False)])
def test_issue34_empty_docs_around_a_spacy_model_score_zero(factory, exclusive):
    """Case 23 (spaCy's test_issue4030): around spaCy's TextCatBOW, a batch of
    only empty docs gets spaCy's all-zero cats, not the model's IndexError;
    our own model still scores an empty doc as in any batch."""
    nlp = spacy.blank("en")
    model = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": exclusive, "ngram_size": 2,
             "no_output_layer": False}
    nlp.add_pipe(factory, config={"model": model})
    examples = labelled_examples(nlp, [{"text": "a good film", "label": "positive"},
                                       {"text": "a bad film", "label": "negative"}])
    nlp.initialize(lambda: examples)
    assert nlp("").cats == {"negative": 0.0, "positive": 0.0}
    assert [doc.cats for doc in nlp.pipe(["", ""])] == [{"negative": 0.0, "positive": 0.0}] * 2
    assert set(nlp("a good film").cats) == set(LABELS)

    ours = spacy.blank("en")
    ours.add_pipe(factory, config={"model": SMALL_MODEL})
    ours.initialize(lambda: labelled_examples(ours, [{"text": "a good film", "label": "positive"},
                                                     {"text": "a bad film", "label": "negative"}]))
    alone = ours("").cats
    assert alone == pytest.approx(list(ours.pipe(["", "a good film"]))[0].cats)
    assert any(score > 0 for score in alone.values())


ISSUE_6908_CONFIG = """
[paths]
train = null

[nlp]
lang = "en"
pipeline = ["textcat"]

[components]

[components.textcat]
factory = "{factory}"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[training]
seed = 0
gpu_allocator = null
train_corpus = "corpora.train"
dev_corpus = "corpora.dev"
frozen_components = []
before_to_disk = null

[pretraining]

[initialize]
vectors = null
init_tok2vec = null
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.components.textcat]
labels = ['label1', 'label2']
"""


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_issue34_config_labels_in_single_quotes(factory, tmp_path):
    """Case 24 (spaCy's test_issue6908): spaCy's config reads
    labels = ['label1', 'label2'] as one string; the components take it as
    the two labels it spells, not one label per character (with which the
    multi-label component refused the corpus with E034)."""
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config_from_str

    doc = spacy.blank("en").make_doc("Some text")
    doc.cats = {"label1": 0.0, "label2": 1.0}
    DocBin(docs=[doc]).to_disk(tmp_path / "train.spacy")
    config = load_config_from_str(ISSUE_6908_CONFIG.format(factory=factory),
                                  overrides={"paths.train": str(tmp_path / "train.spacy")})
    config["components"]["textcat"]["model"] = {"@architectures": "spacy_rnn.RNNTextCat.v1",
                                                "exclusive_classes": factory == "rnn_textcat",
                                                "tok2vec": {"@architectures": "spacy.Tok2Vec.v2",
                                                            "embed": {"@architectures": "spacy_rnn.SumHashEmbed.v1",
                                                                      "width": 8, "rows": [100, 50, 50, 50]},
                                                            "encode": {"@architectures": "spacy_rnn.RNNEncoder.v1",
                                                                       "width": 8}}}
    nlp = init_nlp(config)
    assert nlp.get_pipe("textcat").labels == ("label1", "label2")


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_issue34_initialize_takes_labels_the_examples_lack(factory):
    """Case 25 (spaCy's test_positive_class): initialize(labels=...) with
    labels other than the examples' is accepted as in spaCy (E034 refuses
    such examples at the first update), and positive_label, which the
    multi-label component does not take, is spaCy's TypeError."""
    from spacy.training import Example

    nlp = spacy.blank("en")
    textcat = nlp.add_pipe(factory, config={"model": SMALL_MODEL})
    examples = [Example.from_dict(nlp.make_doc("I'm angry and confused"),
                                  {"cats": {"ANGRY": 1.0, "CONFUSED": 0.0}}),
                Example.from_dict(nlp.make_doc("I'm confused"), {"cats": {"ANGRY": 0.0, "CONFUSED": 1.0}})]
    if factory == "rnn_textcat_multilabel":
        with pytest.raises(TypeError, match="positive_label"):
            textcat.initialize(lambda: examples, labels=["POS", "NEG"], positive_label="POS")
    textcat.initialize(lambda: examples, labels=["FICTION", "DRAMA"])
    assert textcat.labels == ("FICTION", "DRAMA")
    assert "positive_label" not in textcat.cfg or factory == "rnn_textcat"
    with pytest.raises(ValueError, match=r"E034.*'ANGRY', 'CONFUSED'.*'FICTION', 'DRAMA'"):
        nlp.update(examples)
