"""Every recipe in configs/ is valid, builds, and trains a step."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.vectors import Vectors
from spacy.tokens import DocBin
from thinc.api import Config

from spacy_rnn.torch import CELLS

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.cfg"))
FINETUNE = CONFIG_DIR / "sentiment_bilstm_vectors_finetune.cfg"


def test_pretraining_blocks_are_one_copy():
    """spaCy configs cannot include one another, so each recipe that spacy pretrain
    reads carries its own [pretraining] block and [corpora.pretrain] reader: the
    copies must stay the same (a change to one is a change to all)."""
    blocks = {}
    for path in CONFIGS:
        config = Config().from_disk(path, interpolate=False)
        if config["pretraining"]:
            blocks[path.stem] = (config["pretraining"], config["corpora"].get("pretrain"))
    assert {"pretrain_bilstm", "sentiment_bilstm_long", "sentiment_bilstm_long_vectors",
            "sentiment_bilstm_vectors"} <= set(blocks)
    first = next(iter(blocks.values()))
    for name, block in blocks.items():
        assert block == first, f"configs/{name}.cfg: its [pretraining] or [corpora.pretrain] differs"


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus")
    nlp = spacy.blank("en")
    texts = ["a great film", "awful and boring", "I loved the cast", "worst plot ever", "", "fine"]
    for split in ("train", "dev"):
        db = DocBin()
        for i, text in enumerate(texts):
            doc = nlp.make_doc(text)
            doc.cats = {"negative": float(i % 2), "positive": float(1 - i % 2)}
            db.add(doc)
        db.to_disk(path / f"{split}.spacy")
    return path


def test_there_is_a_recipe_per_cell_and_task():
    names = {p.stem for p in CONFIGS}
    assert {"sentiment_bilstm", "sentiment_bigru", "sentiment_rnn", "sentiment_stacked_bilstm",
            "multilabel_bilstm", "sentiment_bilstm_long", "sentiment_clockwork", "sentiment_dglstm"} <= names
    # and every cell the encoder offers is used by at least one recipe
    used = {m for p in CONFIGS for m in re.findall(r'^cell = "(\w+)"', p.read_text(), re.M)}
    assert set(CELLS) <= used, set(CELLS) - used


# `python -m spacy debug config` for each path in argv[3:], in one process: spaCy's
# own command line with the overrides in argv[1] and, per path, those in argv[2]
# (a JSON object); each run's exit code and output, as JSON.
DEBUG_CONFIGS = """
import contextlib, io, json, sys, traceback
from typer.main import get_command
from spacy.cli import app
command = get_command(app)
results = {}
extra = json.loads(sys.argv[2])
for path in sys.argv[3:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = command.main(["debug", "config", path, *json.loads(sys.argv[1]), *extra.get(path, [])], prog_name="spacy",
                                standalone_mode=False) or 0
        except SystemExit as exit:
            code = exit.code
        except Exception:
            traceback.print_exc()
            code = 1
    results[path] = [code, out.getvalue()]
print(json.dumps(results))
"""


TINY_WORDS = ["good", "bad", "film", "fine", "dull", "great", "awful"]


def tiny_vectors(vocab):
    """An 8-wide table for a few words, standing in for en_core_web_md's."""
    table = numpy.random.default_rng(0).standard_normal((len(TINY_WORDS), 8)).astype("f")
    vocab.vectors = Vectors(strings=vocab.strings, data=table, keys=TINY_WORDS)


def sentiment_examples(nlp, texts):
    """Training examples for ``texts``, labelled negative and positive in turn."""
    from spacy.training import Example

    return [
        Example.from_dict(nlp.make_doc(t), {"cats": {"negative": float(i % 2), "positive": float(1 - i % 2)}})
        for i, t in enumerate(texts)
    ]


def is_finetune(path):
    return "source = ${paths.source}" in path.read_text()


@pytest.fixture(scope="module")
def trained_source(tmp_path_factory, tiny_corpus):
    """What a fine-tune recipe sources: the sentence vectors recipe trained a
    few steps with the tiny table, saved (``source/``), and that table alone
    as a pipeline for [initialize] vectors (``vectors/``)."""
    path = tmp_path_factory.mktemp("source")
    vectors_nlp = spacy.blank("en")
    tiny_vectors(vectors_nlp.vocab)
    vectors_nlp.to_disk(path / "vectors")
    config = Config().from_disk(CONFIG_DIR / "sentiment_bilstm_vectors.cfg")
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    tiny_vectors(nlp.vocab)
    examples = sentiment_examples(nlp, ["good film", "bad film", "a great one", "awful and dull"])
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path / "source")
    return path


def source_overrides(path, trained_source):
    """The fine-tune recipes' extra overrides: the source and its table."""
    if not is_finetune(path):
        return {}
    return {"paths.source": str(trained_source / "source"), "paths.vectors": str(trained_source / "vectors")}


def finetune_config(tiny_corpus, trained_source, **overrides):
    """The fine-tune recipe on the tiny corpus, sourcing ``trained_source``."""
    return Config().from_disk(FINETUNE, overrides={
        "paths.train": str(tiny_corpus / "train.spacy"), "paths.dev": str(tiny_corpus / "dev.spacy"),
        **source_overrides(FINETUNE, trained_source), **overrides,
    })


@pytest.fixture(scope="module")
def debug_config(tiny_corpus, trained_source):
    """{config path: (exit code, output)} of `spacy debug config` on every recipe,
    run in one fresh process that never imports spacy_rnn itself (the entry
    points must find it): one Python start-up rather than one per recipe."""
    overrides = ["--paths.train", str(tiny_corpus / "train.spacy"), "--paths.dev", str(tiny_corpus / "dev.spacy")]
    extra = {
        str(path): [arg for key, value in source_overrides(path, trained_source).items() for arg in (f"--{key}", value)]
        for path in CONFIGS
    }
    result = subprocess.run(
        [sys.executable, "-c", DEBUG_CONFIGS, json.dumps(overrides), json.dumps(extra), *map(str, CONFIGS)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_is_valid_and_builds(path, debug_config, trained_source):
    returncode, output = debug_config[str(path)]
    assert returncode == 0, output[-4000:]
    assert "Config is valid" in output
    config = Config().from_disk(path, overrides=source_overrides(path, trained_source))
    nlp = spacy.util.load_model_from_config(config, auto_fill=False, validate=True)
    assert nlp.pipe_names == config["nlp"]["pipeline"]
    # a config reads like documentation: every recipe says what it is on line 1
    assert path.read_text().startswith("# ")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_trains_a_step(path, tiny_corpus, trained_source):
    # the streamed *_long recipes count the training corpus for max_steps and the
    # learning-rate schedule, which nlp.initialize resolves with the optimizer
    overrides = {"paths.train": str(tiny_corpus / "train.spacy"), **source_overrides(path, trained_source)}
    config = Config().from_disk(path, overrides=overrides)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    name = nlp.pipe_names[0]
    examples = sentiment_examples(nlp, ["good", "bad film", "a fine one", "dull"])
    if "include_static_vectors = true" in path.read_text() or is_finetune(path):
        # [initialize] vectors would load a real table; a tiny one does here
        tiny_vectors(nlp.vocab)
    optimizer = nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=optimizer)
    assert losses[name] > 0


def test_finetune_recipe_starts_from_the_source(tiny_corpus, trained_source):
    """spacy train's initialization (init_nlp) of the fine-tune recipe keeps
    the sourced component's weights and labels: before any update it predicts
    as the source does. Without [initialize] vectors the sourced layer's table
    is empty, and the first prediction says so (E033) instead of indexing it."""
    from spacy.training.initialize import init_nlp

    nlp = init_nlp(finetune_config(tiny_corpus, trained_source))
    source = spacy.load(trained_source / "source")
    assert nlp.get_pipe("rnn_textcat").labels == source.get_pipe("rnn_textcat").labels == ("negative", "positive")
    texts = ["good film", "awful and dull", "a film we never saw"]
    for ours, theirs in zip(nlp.pipe(texts), source.pipe(texts)):
        assert ours.cats == pytest.approx(theirs.cats, abs=1e-6)
    assert len({round(doc.cats["positive"], 6) for doc in source.pipe(texts)}) > 1
    with pytest.warns(UserWarning, match="W113"):  # spaCy's own warning: the source's vectors differ
        nlp = init_nlp(finetune_config(tiny_corpus, trained_source, **{"paths.vectors": None}))
    with pytest.raises(ValueError, match=r"E033.*8-wide.*0 x 0.*--paths.vectors"):
        nlp("good film")


def test_finetune_recipe_refuses_labels_the_source_lacks(tiny_corpus, trained_source):
    """spaCy's textcat would train an example whose label it lacks toward none
    of its labels; a sourced component keeps the source's labels, so a corpus
    with other labels must stop with E034, naming the label and the text."""
    from spacy.training import Example
    from spacy.training.initialize import init_nlp

    nlp = init_nlp(finetune_config(tiny_corpus, trained_source))
    known = Example.from_dict(nlp.make_doc("good film"), {"cats": {"negative": 0.0, "positive": 1.0}})
    other = Example.from_dict(nlp.make_doc("so so film"), {"cats": {"negative": 0.0, "neutral": 1.0, "positive": 0.0}})
    assert nlp.update([known])["rnn_textcat"] > 0
    with pytest.raises(ValueError, match=r"E034.*'neutral'.*'negative', 'positive'.*'so so film'"):
        nlp.update([known, other])


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_components_refuse_unknown_labels(factory):
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe(factory)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"a": float(i % 2), "b": float(1 - i % 2)}})
                for i, t in enumerate(["x y", "y z", "z"])]
    nlp.initialize(lambda: examples)
    extra = Example.from_dict(nlp.make_doc("w"), {"cats": {"a": 0.0, "b": 0.0, "c": 1.0}})
    with pytest.raises(ValueError, match=r"E034.*'c'"):
        nlp.update([extra])
    with pytest.raises(ValueError, match=r"E034.*'c'"):
        nlp.get_pipe(factory).get_loss([extra], nlp.get_pipe(factory).predict([extra.predicted]))


def test_export_tok2vec_starts_another_recipe(tmp_path, tiny_corpus, trained_source):
    """export-tok2vec writes a trained component's tok2vec as spacy pretrain
    does, and --paths.init_tok2vec loads it into a recipe with the same
    tok2vec (the sentence vectors recipe, whose output layers start fresh)."""
    from typer.testing import CliRunner
    from spacy.training.initialize import init_nlp

    from spacy_rnn.cli import app

    out = tmp_path / "tok2vec.bin"
    result = CliRunner().invoke(app, ["export-tok2vec", str(trained_source / "source"), str(out)])
    assert result.exit_code == 0, result.output
    source_tok2vec = spacy.load(trained_source / "source").get_pipe("rnn_textcat").model.get_ref("tok2vec")
    assert out.read_bytes() == source_tok2vec.to_bytes()
    overrides = {
        "paths.train": str(tiny_corpus / "train.spacy"), "paths.dev": str(tiny_corpus / "dev.spacy"),
        "paths.vectors": str(trained_source / "vectors"), "paths.init_tok2vec": str(out),
    }
    nlp = init_nlp(Config().from_disk(CONFIG_DIR / "sentiment_bilstm_vectors.cfg", overrides=overrides))
    ours = nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec")
    docs = [nlp.make_doc(t) for t in ("good film", "awful and dull")]
    for a, b in zip(ours.predict(docs), source_tok2vec.predict(docs)):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    result = CliRunner().invoke(app, ["export-tok2vec", str(trained_source / "source"), str(out), "-c", "textcat"])
    assert result.exit_code == 1 and "no component 'textcat'" in result.output
