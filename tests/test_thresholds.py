"""Per-label thresholds of rnn_textcat_multilabel (spacy_rnn.thresholds) and
the tune-thresholds command (issue 37, thresholds)."""
import json

import pytest
import spacy
from spacy.training import Example
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.thresholds import fit_thresholds, rescale

runner = CliRunner()


def test_fit_thresholds_best_f1_and_precision():
    # label a: gold for the 3 highest scores and one low one
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.2]
    gold = [1, 1, 1, 0, 0, 1]
    pairs = [({"a": s}, {"a": float(g)}) for s, g in zip(scores, gold)]
    # cut after 0.7: P 1, R 3/4, F 0.857 (all six: P 4/6, R 1, F 0.8)
    assert fit_thresholds(pairs, ["a"]) == {"a": pytest.approx(0.65)}
    assert fit_thresholds(pairs, ["a"], precision=0.6) == {"a": pytest.approx(0.1)}  # all: precision 4/6
    assert fit_thresholds(pairs, ["a"], precision=1.0) == {"a": pytest.approx(0.65)}
    assert fit_thresholds(pairs, ["a", "b"]) == {"a": pytest.approx(0.65)}  # b: no gold document
    # ties: a cut never splits documents with the same score
    tied = [({"a": 0.5}, {"a": 1.0}), ({"a": 0.5}, {"a": 0.0}), ({"a": 0.1}, {"a": 0.0})]
    assert fit_thresholds(tied, ["a"]) == {"a": pytest.approx(0.3)}


def test_a_threshold_that_does_not_beat_the_default_out_of_sample_is_not_kept():
    """With ``default``, each best-F1 threshold is checked on bootstrap
    resamples' left-out documents: a label whose scores already separate at
    the default keeps it, and one whose positives all sit below it gets a
    threshold."""
    import numpy
    from spacy_rnn.thresholds import out_of_bag_gain

    rng = numpy.random.default_rng(0)
    y = rng.random(400) < 0.3
    # "low": positives score 0.2-0.4, negatives 0-0.2: 0.5 predicts nothing, a fitted threshold everything right
    low = numpy.where(y, rng.uniform(0.2, 0.4, 400), rng.uniform(0.0, 0.2, 400))
    # "noisy": positives 0.5-1, negatives 0-0.5: the default already separates them; a threshold
    # fitted on a resample lies somewhere in the gap its documents leave, and can only lose out of sample
    noisy = numpy.where(y, rng.uniform(0.5, 1.0, 400), rng.uniform(0.0, 0.5, 400))
    pairs = [({"low": float(a), "noisy": float(b)}, {"low": float(g), "noisy": float(g)})
             for a, b, g in zip(low, noisy, y)]
    assert out_of_bag_gain(low, y, 0.5, 100) > 0.5
    fitted = fit_thresholds(pairs, ["low", "noisy"], default=0.5)
    assert set(fitted) == {"low"} and 0.19 < fitted["low"] < 0.21
    assert set(fit_thresholds(pairs, ["low", "noisy"], default=0.5, resamples=0)) == {"low", "noisy"}
    assert set(fit_thresholds(pairs, ["low", "noisy"])) == {"low", "noisy"}  # no default: fit every label
    # a precision the user asks for is fitted whatever the default
    assert set(fit_thresholds(pairs, ["low", "noisy"], precision=0.9, default=0.5)) == {"low", "noisy"}
    # five documents that 0.5 separates: a resample's threshold can only lose on the ones it left out
    clear = [({"bug": s}, {"bug": g}) for s, g in [(0.9, 1.0), (0.8, 1.0), (0.7, 1.0), (0.45, 0.0), (0.2, 0.0)]]
    assert fit_thresholds(clear, ["bug"]) == {"bug": pytest.approx(0.575)}
    assert fit_thresholds(clear, ["bug"], default=0.5) == {}
    with pytest.raises(ValueError, match="resamples must be 0 or more"):
        fit_thresholds(pairs, ["low"], default=0.5, resamples=-1)


def test_rescale_maps_each_threshold_to_one_half_and_keeps_order():
    cats = {"a": 0.3, "b": 0.3, "c": 0.9}
    out = rescale(cats, {"a": 0.3, "b": 0.6}, default=0.95)
    assert out["a"] == pytest.approx(0.5) and out["b"] < 0.5 and out["c"] < 0.5
    values = [rescale({"a": p}, {"a": 0.2}, 0.5)["a"] for p in (0.0, 0.1, 0.2, 0.5, 1.0)]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0


def make_multilabel(thresholds=None):
    nlp = spacy.blank("en")
    config = {"model": {"bow_ngram_size": 0}}
    if thresholds is not None:
        config["thresholds"] = thresholds
    pipe = nlp.add_pipe("rnn_textcat_multilabel", config=config)
    for label in ("a", "b"):
        pipe.add_label(label)
    nlp.initialize()
    return nlp, pipe


def test_component_scores_and_predicts_with_each_labels_threshold(tmp_path):
    nlp, pipe = make_multilabel({"a": 0.0, "b": 1.0})
    doc = nlp("some text")
    assert pipe.predicted_labels(doc) == ["a"]  # b's probability is below 1.0
    example = Example.from_dict(nlp.make_doc("some text"), {"cats": {"a": 1.0, "b": 0.0}})
    example.predicted.cats = doc.cats
    scores = pipe.score([example])
    assert scores["cats_f_per_type"]["a"]["f"] == 1.0 and scores["cats_macro_f"] == pytest.approx(0.5)
    assert pipe.threshold_for("b") == 1.0 and pipe.threshold_for("c") == 0.5
    nlp.to_disk(tmp_path / "p")
    assert spacy.load(tmp_path / "p").get_pipe("rnn_textcat_multilabel").thresholds == {"a": 0.0, "b": 1.0}
    with pytest.raises(ConfigValueError, match="E039"):
        make_multilabel({"a": 1.5})


def test_tune_thresholds_command(tmp_path):
    nlp, _ = make_multilabel()
    nlp.to_disk(tmp_path / "model")
    corpus = tmp_path / "dev.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "labels": labels}) + "\n" for t, labels in [
        ("fine film", ["a"]), ("dull plot", ["b"]), ("loved it", ["a", "b"]), ("awful", ["b"]), ("superb", ["a"]),
    ]))
    out = tmp_path / "tuned"
    result = runner.invoke(app, ["tune-thresholds", str(tmp_path / "model"), str(corpus), str(out)])
    assert result.exit_code == 0, result.output
    assert "macro F" in result.output and "threshold" in result.output
    tuned = spacy.load(out).get_pipe("rnn_textcat_multilabel")
    # each label either got a threshold or is named as keeping the component's one
    kept_line = [line for line in result.output.splitlines() if "Kept the component's threshold for" in line]
    kept = set(kept_line[0].split(" for ")[1].split(":")[0].split(", ")) if kept_line else set()
    assert set(tuned.thresholds) | kept == {"a", "b"} and not set(tuned.thresholds) & kept
    assert "thresholds" in (out / "config.cfg").read_text()
    result = runner.invoke(app, ["tune-thresholds", str(tmp_path / "model"), str(corpus), str(tmp_path / "all"),
                                 "--resamples", "0"])
    assert result.exit_code == 0 and "Kept" not in result.output
    assert set(spacy.load(tmp_path / "all").get_pipe("rnn_textcat_multilabel").thresholds) == {"a", "b"}
    result = runner.invoke(app, ["tune-thresholds", str(tmp_path / "model"), str(corpus), str(tmp_path / "t2"),
                                 "--precision", "1.5"])
    assert result.exit_code == 1 and "--precision" in result.output and not (tmp_path / "t2").exists()


def test_tune_thresholds_needs_a_multilabel_component(tiny_textcat_dir, tmp_path):
    corpus = tmp_path / "dev.jsonl"
    corpus.write_text(json.dumps({"text": "fine", "label": "positive"}) + "\n")
    result = runner.invoke(app, ["tune-thresholds", str(tiny_textcat_dir), str(corpus), str(tmp_path / "t")])
    assert result.exit_code == 1 and "rnn_textcat_multilabel" in result.output and "Traceback" not in result.output
