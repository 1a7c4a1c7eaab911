"""int8 weights on disk (spacy_rnn.quantization), the components'
weights_dtype and the quantize command (issue 38)."""
import os
import subprocess
import sys

import numpy
import pytest
import spacy
import srsly
from confection import ConfigValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from spacy.training import Example
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.inference.quantize import pipeline_bytes, quantize
from spacy_rnn.quantization import BLOCK, MARK, MIN_SIZE, decode_array, encode_array

from conftest import TINY_EXAMPLES, TINY_LABELS
from fuzz_helpers import snapshot

runner = CliRunner()
TEXTS = ["a fine film", "dull and slow", "I loved every minute", "awful", "not bad at all", ""]


def block_scales(array):
    flat = numpy.zeros(-(-array.size // BLOCK) * BLOCK, dtype="float32")
    flat[: array.size] = array.ravel()
    return numpy.repeat(numpy.abs(flat.reshape(-1, BLOCK)).max(axis=1) / 127, BLOCK)[: array.size]


@settings(max_examples=60, deadline=None)
@given(arrays("float32", st.tuples(st.integers(1, 40), st.integers(1, 40)),
              elements=st.floats(-1e4, 1e4, width=32)))
def test_int8_blocks_round_trip_within_half_a_step(array):
    encoded = encode_array(array)
    if array.size < MIN_SIZE:
        assert encoded is array  # small arrays stay float32
        return
    assert encoded["q"].dtype == numpy.int8 and encoded[MARK]
    decoded = decode_array(encoded)
    assert decoded.shape == array.shape and decoded.dtype == numpy.float32
    error = numpy.abs(decoded - array).ravel()
    assert numpy.all(error <= block_scales(array) * 0.5 * (1 + 1e-5) + 1e-30)


@pytest.mark.parametrize("array", [
    numpy.zeros((300,), dtype="float32"),
    numpy.arange(1000, dtype="float32").reshape(10, 10, 10),
    numpy.ones((3, 129), dtype="float32") * -2.5,
])
def test_int8_blocks_shapes_and_constant_blocks(array):
    decoded = decode_array(encode_array(array))
    numpy.testing.assert_allclose(decoded, array, atol=float(numpy.abs(array).max()) / 254 + 1e-7)
    assert decoded.shape == array.shape


@pytest.mark.parametrize("array", [numpy.arange(1000, dtype="int32"), numpy.ones(1000, dtype="float64"), "text"])
def test_other_values_are_stored_as_they_are(array):
    assert encode_array(array) is array
    assert decode_array(array) is array


SMALL = {"embed": {"width": 8, "rows": [100, 50, 50, 50]}, "encode": {"width": 8}}


def trained(factory, tok2vec=SMALL, weights_dtype="float32"):
    """A small ``factory`` pipeline with the ``tok2vec`` settings, trained 3 updates."""
    nlp = spacy.blank("en")
    nlp.add_pipe(factory, config={"model": {"tok2vec": tok2vec}, "weights_dtype": weights_dtype})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {l: float(l == label) for l in TINY_LABELS}})
                for t, label in TINY_EXAMPLES]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    return nlp


def assert_close_cats(a, b, atol=0.02):
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        assert x == pytest.approx(y, abs=atol)


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_int8_component_saves_a_quarter_and_loads_as_float32(factory, tmp_path):
    nlp = trained(factory)
    pipe = nlp.get_pipe(factory)
    expected = [doc.cats for doc in nlp.pipe(TEXTS)]
    float_bytes = pipe.to_bytes()
    pipe.weights_dtype = "int8"
    int8_bytes = pipe.to_bytes()
    assert len(int8_bytes) < 0.35 * len(float_bytes)
    # bytes into a component that saves float32: it reads either
    copy = trained(factory)
    copy.get_pipe(factory).from_bytes(int8_bytes)
    assert_close_cats([doc.cats for doc in copy.pipe(TEXTS)], expected)
    for model in (copy.get_pipe(factory).model, pipe.model):
        assert all(model.get_param(name).dtype == numpy.float32
                   for model in model.walk() for name in model.param_names if model.has_param(name))
    # to_disk and spacy.load, with the setting in the config
    nlp = trained(factory, weights_dtype="int8")
    expected = [doc.cats for doc in nlp.pipe(TEXTS)]
    nlp.to_disk(tmp_path / "int8")
    assert pipeline_bytes(tmp_path / "int8" / factory) < 0.35 * len(float_bytes)
    loaded = spacy.load(tmp_path / "int8")
    assert loaded.get_pipe(factory).weights_dtype == "int8"
    assert_close_cats([doc.cats for doc in loaded.pipe(TEXTS)], expected)
    # saved again, it stays int8 and predicts as it did
    loaded.to_disk(tmp_path / "again")
    assert srsly.msgpack_loads((tmp_path / "again" / factory / "model").read_bytes())[MARK]
    again = spacy.load(tmp_path / "again")
    assert_close_cats([doc.cats for doc in again.pipe(TEXTS)], [doc.cats for doc in loaded.pipe(TEXTS)], atol=1e-6)
    # and it trains on: the weights it loaded are float32
    examples = [Example.from_dict(again.make_doc(t), {"cats": {l: float(l == label) for l in TINY_LABELS}})
                for t, label in TINY_EXAMPLES]
    losses = again.update(examples, sgd=again.resume_training())
    assert numpy.isfinite(losses[factory])


@pytest.mark.parametrize("tok2vec", [
    {"embed": SMALL["embed"], "encode": {"cell": "clockwork", "width": 8}},
    {"embed": {"@architectures": "spacy_rnn.CharRNNEmbed.v1", "width": 8, "char_width": 8, "n_chars": 64,
               "hash_width": 8, "hash_rows": [100]}, "encode": {"width": 8}},
], ids=["clockwork", "char_rnn"])
def test_int8_round_trip_of_other_torch_modules(tok2vec, tmp_path):
    nlp = trained("rnn_textcat", tok2vec)
    expected = [doc.cats for doc in nlp.pipe(TEXTS)]
    nlp.get_pipe("rnn_textcat").weights_dtype = "int8"
    nlp.to_disk(tmp_path / "p")
    model = srsly.msgpack_loads((tmp_path / "p" / "rnn_textcat" / "model").read_bytes())
    assert model[MARK]
    loaded = spacy.load(tmp_path / "p")
    assert_close_cats([doc.cats for doc in loaded.pipe(TEXTS)], expected)


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
@pytest.mark.parametrize("bad", ["float16", "int4", "", None, 8])
def test_weights_dtype_other_values_are_refused(factory, bad):
    error = ConfigValueError if isinstance(bad, str) else ConfigValidationError  # spaCy's type check first
    with pytest.raises(error, match="weights_dtype"):
        spacy.blank("en").add_pipe(factory, config={"weights_dtype": bad})


def test_quantize_writes_an_int8_copy_and_leaves_the_input(tiny_textcat_dir, tmp_path):
    before = snapshot(tiny_textcat_dir)
    nlp = spacy.load(tiny_textcat_dir)
    expected = [doc.cats for doc in nlp.pipe(TEXTS)]
    out = tmp_path / "int8"
    result = runner.invoke(app, ["quantize", str(tiny_textcat_dir), str(out)])
    assert result.exit_code == 0, result.output
    assert "rnn_textcat" in result.output and "int8" in result.output
    assert snapshot(tiny_textcat_dir) == before
    assert 'weights_dtype = "int8"' in (out / "config.cfg").read_text()
    loaded = spacy.load(out)
    assert loaded.get_pipe("rnn_textcat").weights_dtype == "int8"
    assert_close_cats([doc.cats for doc in loaded.pipe(TEXTS)], expected)
    assert pipeline_bytes(out / "rnn_textcat") < 0.35 * pipeline_bytes(tiny_textcat_dir / "rnn_textcat")
    # the output is never the input, inside it, or a folder with files
    for target, words in ((out, "not empty"), (tiny_textcat_dir, "OUTPUT"), (tiny_textcat_dir / "q", "inside")):
        result = runner.invoke(app, ["quantize", str(tiny_textcat_dir), str(target)])
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output
    assert snapshot(tiny_textcat_dir) == before
    result = runner.invoke(app, ["quantize", str(tiny_textcat_dir), str(tmp_path / "x"), "--component", "tagger"])
    assert result.exit_code == 1 and "'tagger'" in result.output and not (tmp_path / "x").exists()


def test_quantize_refuses_a_pipeline_without_our_classifiers(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "blank")
    result = runner.invoke(app, ["quantize", str(tmp_path / "blank"), str(tmp_path / "out")])
    assert result.exit_code == 1 and "rnn_textcat" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_int8_pipeline_packages_and_loads_from_the_package(tiny_textcat_dir, tmp_path):
    out = tmp_path / "int8"
    quantize(tiny_textcat_dir, out)
    meta = srsly.read_json(out / "meta.json")
    meta.update(name="rnn_int8_test", version="0.0.1")
    srsly.write_json(out / "meta.json", meta)
    packages = tmp_path / "packages"
    packages.mkdir()
    subprocess.run([sys.executable, "-m", "spacy", "package", str(out), str(packages), "--build", "sdist", "--force"],
                   check=True, capture_output=True)
    sdist = next(packages.glob("*/dist/*.tar.gz"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--target",
                    str(target), str(sdist)], check=True, capture_output=True)
    script = ("import json, spacy\nnlp = spacy.load('en_rnn_int8_test')\n"
              "print(json.dumps([nlp.get_pipe('rnn_textcat').weights_dtype] + "
              f"[d.cats for d in nlp.pipe({TEXTS!r})]))\n")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONPATH=str(target)))
    dtype, *cats = srsly.json_loads(shown.stdout)
    assert dtype == "int8"
    assert_close_cats(cats, [doc.cats for doc in spacy.load(out).pipe(TEXTS)], atol=1e-6)
