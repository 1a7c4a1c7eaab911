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

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.cfg"))



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


# `python -m spacy debug config` for each path in argv[2:], in one process: spaCy's
# own command line, each run's exit code and output, as JSON.
DEBUG_CONFIGS = """
import contextlib, io, json, sys, traceback
from typer.main import get_command
from spacy.cli import app
command = get_command(app)
results = {}
for path in sys.argv[2:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = command.main(["debug", "config", path, *json.loads(sys.argv[1])], prog_name="spacy",
                                standalone_mode=False) or 0
        except SystemExit as exit:
            code = exit.code
        except Exception:
            traceback.print_exc()
            code = 1
    results[path] = [code, out.getvalue()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def debug_config(tiny_corpus):
    """{config path: (exit code, output)} of `spacy debug config` on every recipe,
    run in one fresh process that never imports spacy_rnn itself (the entry
    points must find it): one Python start-up rather than one per recipe."""
    overrides = ["--paths.train", str(tiny_corpus / "train.spacy"), "--paths.dev", str(tiny_corpus / "dev.spacy")]
    result = subprocess.run(
        [sys.executable, "-c", DEBUG_CONFIGS, json.dumps(overrides), *map(str, CONFIGS)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_is_valid_and_builds(path, debug_config):
    returncode, output = debug_config[str(path)]
    assert returncode == 0, output[-4000:]
    assert "Config is valid" in output
    config = Config().from_disk(path)
    nlp = spacy.util.load_model_from_config(config, auto_fill=False, validate=True)
    assert nlp.pipe_names == config["nlp"]["pipeline"]
    # a config reads like documentation: every recipe says what it is on line 1
    assert path.read_text().startswith("# ")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_trains_a_step(path, tiny_corpus):
    # the streamed *_long recipes count the training corpus for max_steps and the
    # learning-rate schedule, which nlp.initialize resolves with the optimizer
    config = Config().from_disk(path, overrides={"paths.train": str(tiny_corpus / "train.spacy")})
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    from spacy.training import Example

    name = nlp.pipe_names[0]
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {"negative": float(i % 2), "positive": float(1 - i % 2)}})
        for i, t in enumerate(["good", "bad film", "a fine one", "dull"])
    ]
    if "include_static_vectors = true" in path.read_text():
        # [initialize] vectors would load a real table; a tiny one does here
        words = ["good", "bad", "film", "fine", "dull"]
        table = numpy.random.default_rng(0).standard_normal((len(words), 8)).astype("f")
        nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=table, keys=words)
    optimizer = nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=optimizer)
    assert losses[name] > 0
