"""What nlp.add_pipe("rnn_textcat") builds: the sentence vectors recipe's
model, with the pipeline's static vectors when it has a table ("auto"), a
decision that is saved and reloads identically in a fresh process."""
import logging
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.training import Example
from spacy.vectors import Vectors
from thinc.api import Config, fix_random_seed

from spacy_rnn.errors import ConfigValueError
from spacy_rnn.layers.embed import uses_static_vectors

from conftest import REPO_ROOT

CONFIGS = REPO_ROOT / "configs"
WORDS = ["good", "great", "fun", "bad", "awful", "dull", "movie", "film", "a", "the"]
DATA = [("a good movie", "pos"), ("great fun", "pos"), ("a bad movie", "neg"), ("awful and dull", "neg")]
TEXTS = ["good fun", "", "a dull film", "unseen words only"]


def add_vectors(nlp, seed=0):
    table = numpy.random.default_rng(seed).standard_normal((len(WORDS), 8)).astype("f")
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=table, keys=WORDS)


def trained(with_vectors: bool, factory: str = "rnn_textcat"):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    if with_vectors:
        add_vectors(nlp)
    nlp.add_pipe(factory)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                for t, l in DATA]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    return nlp


def cats(nlp, texts=TEXTS):
    return numpy.array([[doc.cats["pos"], doc.cats["neg"]] for doc in nlp.pipe(texts)])


def recipe_model(name: str) -> dict:
    return Config().from_disk(CONFIGS / f"{name}.cfg", interpolate=False)["components"]["rnn_textcat"]["model"]


def without(model: dict, *keys: str) -> dict:
    """A model config, filled with its functions' defaults, without ``keys``
    (dotted paths) and without nO."""
    model = spacy.util.registry.fill({"model": Config(model).copy()})["model"]
    model.pop("nO", None)
    for key in keys:
        *parents, last = key.split(".")
        node = model
        for parent in parents:
            node = node[parent]
        node.pop(last, None)
    return model


def test_default_is_the_sentence_vectors_recipe_with_auto_vectors():
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    default = nlp.config["components"]["rnn_textcat"]["model"]
    assert default["tok2vec"]["embed"]["include_static_vectors"] == "auto"
    assert default["bow_ngram_size"] == 2 and default["bow_combine"] == "mean" and default["bow_counts"] == "binary"
    vectors_recipe = recipe_model("sentiment_bilstm_vectors")
    assert vectors_recipe["tok2vec"]["embed"]["include_static_vectors"] is True
    vectors = "tok2vec.embed.include_static_vectors"
    assert without(default, vectors) == without(vectors_recipe, vectors)
    # the no-vectors sentence recipe is the default itself
    assert without(default) == without(recipe_model("sentiment_bilstm"))


def test_multilabel_default_is_the_same_model_with_logistic_outputs():
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    textcat = nlp.config["components"]["rnn_textcat"]["model"]
    nlp.add_pipe("rnn_textcat_multilabel")
    multilabel = nlp.config["components"]["rnn_textcat_multilabel"]["model"]
    assert multilabel["exclusive_classes"] is False
    assert without(multilabel, "exclusive_classes") == without(textcat, "exclusive_classes")


def test_without_a_table_it_trains_without_vectors_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="spacy"):
        nlp = trained(with_vectors=False)
    messages = [r.getMessage() for r in caplog.records if "include_static_vectors" in r.getMessage()]
    assert len(messages) == 1 and "no word vectors" in messages[0]
    assert not uses_static_vectors(nlp.get_pipe("rnn_textcat").model)
    assert_allclose(cats(nlp).sum(axis=1), 1.0, atol=1e-5)


def test_with_a_table_it_uses_the_vectors(caplog):
    with caplog.at_level(logging.INFO, logger="spacy"):
        nlp = trained(with_vectors=True)
    assert not [r for r in caplog.records if "include_static_vectors" in r.getMessage()]
    assert uses_static_vectors(nlp.get_pipe("rnn_textcat").model)
    before = cats(nlp)
    add_vectors(nlp, seed=1)  # another table: the predictions follow it
    assert not numpy.allclose(cats(nlp), before)


@pytest.mark.parametrize("with_vectors", [False, True])
@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_the_decision_reloads_identically_in_a_fresh_process(tmp_path, with_vectors, factory):
    nlp = trained(with_vectors, factory)
    nlp.to_disk(tmp_path / "pipeline")
    expected = cats(nlp)
    code = (
        "import json, sys, spacy\n"
        "from spacy_rnn.layers.embed import uses_static_vectors\n"
        "nlp = spacy.load(sys.argv[1])\n"
        f"docs = list(nlp.pipe({TEXTS!r}))\n"
        "print(json.dumps({'uses': uses_static_vectors(nlp.get_pipe(nlp.pipe_names[0]).model),"
        " 'cats': [[d.cats['pos'], d.cats['neg']] for d in docs]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "pipeline")], capture_output=True, text=True,
                         check=True)
    import json

    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["uses"] is with_vectors
    assert_allclose(numpy.array(got["cats"]), expected, atol=1e-6)


def test_include_static_vectors_true_still_requires_a_table():
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config={"model": {"tok2vec": {"embed": {"include_static_vectors": True}}}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                for t, l in DATA]
    with pytest.raises(ConfigValueError, match="E020"):
        nlp.initialize(lambda: examples)


def test_include_static_vectors_false_never_uses_a_table():
    nlp = spacy.blank("en")
    add_vectors(nlp)
    textcat = nlp.add_pipe("rnn_textcat", config={"model": {"tok2vec": {"embed": {"include_static_vectors": False}}}})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                for t, l in DATA]
    nlp.initialize(lambda: examples)
    assert not uses_static_vectors(textcat.model)
    assert not [n for n in textcat.model.walk() if n.name == "static_vectors"]


@pytest.mark.parametrize("value", ["yes", 1.5, None])
def test_include_static_vectors_refuses_other_values(value):
    from spacy_rnn.architectures import build_sum_hash_embed

    with pytest.raises(ConfigValueError, match="include_static_vectors"):
        build_sum_hash_embed(include_static_vectors=value)


def test_fill_config_of_a_config_that_names_only_the_factory_gives_the_default(tmp_path):
    base = tmp_path / "base.cfg"
    base.write_text('[nlp]\nlang = "en"\npipeline = ["rnn_textcat"]\n\n[components]\n\n'
                    '[components.rnn_textcat]\nfactory = "rnn_textcat"\n')
    filled = tmp_path / "filled.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "fill-config", str(base), str(filled)],
                   capture_output=True, text=True, check=True)
    got = Config().from_disk(filled, interpolate=False)["components"]["rnn_textcat"]["model"]
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    assert without(got) == without(nlp.config["components"]["rnn_textcat"]["model"])
    assert Path(filled).read_text().count("spacy_rnn.RNNTextCat.v1") == 1
