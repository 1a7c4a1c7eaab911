"""Temperature scaling (spacy_rnn.temperature), the components' temperature
and the calibrate command (issue 37, calibration)."""
import json

import numpy
import pytest
import spacy
from confection import ConfigValidationError
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.temperature import fit_temperature, scale

runner = CliRunner()


def test_scale_keeps_the_top_label_and_the_sums():
    scores = numpy.asarray([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]], dtype="float32")
    assert scale(scores, 1.0, exclusive=True) is scores
    for t in (0.5, 2.0, 10.0):
        scaled = scale(scores, t, exclusive=True)
        assert scaled.dtype == scores.dtype
        numpy.testing.assert_allclose(scaled.sum(axis=1), 1.0, rtol=1e-6)
        assert (scaled.argmax(axis=1) == scores.argmax(axis=1)).all()
    assert scale(scores, 2.0, True)[0, 0] < 0.7 < scale(scores, 0.5, True)[0, 0]
    # a softmax of log p / T
    expected = numpy.exp(numpy.log(scores[0]) / 2.0) / numpy.exp(numpy.log(scores[0]) / 2.0).sum()
    numpy.testing.assert_allclose(scale(scores, 2.0, True)[0], expected, rtol=1e-5)


def test_scale_multilabel_divides_each_labels_log_odds():
    scores = numpy.asarray([[0.8, 0.5, 0.1]], dtype="float32")
    scaled = scale(scores, 2.0, exclusive=False)
    log_odds = numpy.log(scores / (1 - scores)) / 2.0
    numpy.testing.assert_allclose(scaled, 1 / (1 + numpy.exp(-log_odds)), rtol=1e-5)


def test_fit_recovers_the_temperature_of_over_confident_predictions():
    rng = numpy.random.default_rng(0)
    labels = ["a", "b", "c"]
    pairs = []
    for _ in range(4000):
        q = rng.dirichlet([1.0, 1.0, 1.0])  # the true probabilities
        gold = rng.choice(3, p=q)
        p = q ** 3 / (q ** 3).sum()  # over-confident: temperature 1/3 applied
        pairs.append((dict(zip(labels, p)), {label: float(i == gold) for i, label in enumerate(labels)}))
    assert fit_temperature(pairs, labels, exclusive=True) == pytest.approx(3.0, rel=0.1)
    with pytest.raises(ValueError):
        fit_temperature([], labels, exclusive=True)


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_component_temperature_scales_doc_cats_and_survives_saving(tiny_textcat_dir, tmp_path, factory):
    nlp = spacy.blank("en")
    nlp.add_pipe(factory, config={"temperature": 2.0, "model": {"bow_ngram_size": 0}})
    for label in ("pos", "neg"):
        nlp.get_pipe(factory).add_label(label)
    nlp.initialize()
    pipe = nlp.get_pipe(factory)
    raw = pipe.model.predict([nlp.make_doc("a fine film")])
    exclusive = factory == "rnn_textcat"
    cats = nlp("a fine film").cats
    numpy.testing.assert_allclose([cats["pos"], cats["neg"]], scale(raw, 2.0, exclusive)[0], rtol=1e-5)
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    assert loaded.get_pipe(factory).temperature == 2.0
    assert loaded.config["components"][factory]["temperature"] == 2.0
    assert loaded("a fine film").cats == pytest.approx(cats)
    for bad in (0, -1.0):  # NaN: spaCy refuses it in any config (E961); a string fails spaCy's type check
        with pytest.raises(ConfigValueError, match="E038"):
            spacy.blank("en").add_pipe(factory, config={"temperature": bad})
    with pytest.raises(ConfigValidationError):
        spacy.blank("en").add_pipe(factory, config={"temperature": "warm"})


def test_calibrate_command_writes_a_calibrated_copy(tiny_textcat_dir, tmp_path):
    nlp = spacy.load(tiny_textcat_dir)
    labels = list(nlp.get_pipe("rnn_textcat").labels)
    texts = ["fine film", "dull plot", "loved it", "awful", "great acting", "boring", "superb", "bad"]
    corpus = tmp_path / "dev.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "label": labels[i % 2]}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "calibrated"
    result = runner.invoke(app, ["calibrate", str(tiny_textcat_dir), str(corpus), str(out)])
    assert result.exit_code == 0, result.output
    assert "temperature" in result.output and "ECE" in result.output
    calibrated = spacy.load(out)
    temperature = calibrated.get_pipe("rnn_textcat").temperature
    assert temperature != 1.0
    assert f"temperature = {temperature}" in (out / "config.cfg").read_text()
    raw = nlp.get_pipe("rnn_textcat").model.predict([nlp.make_doc("fine film")])
    expected = scale(raw, temperature, exclusive=True)[0]
    cats = calibrated("fine film").cats
    numpy.testing.assert_allclose([cats[label] for label in nlp.get_pipe("rnn_textcat").labels], expected, rtol=1e-5)
    # the output is never an input, nor a folder with files in it
    for target, words in ((out, "not empty"), (tiny_textcat_dir / "calibrated", "inside the input folder")):
        result = runner.invoke(app, ["calibrate", str(tiny_textcat_dir), str(corpus), str(target)])
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output
    unknown = tmp_path / "other.jsonl"
    unknown.write_text(json.dumps({"text": "meh", "label": "neutral"}) + "\n")
    result = runner.invoke(app, ["calibrate", str(tiny_textcat_dir), str(unknown), str(tmp_path / "c2")])
    assert result.exit_code == 1 and "'neutral'" in result.output and not (tmp_path / "c2").exists()
