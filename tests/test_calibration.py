"""Expected calibration error and Brier score (spacy_rnn.inference.calibration),
and evaluate reporting them beside spaCy's scores (issue 37, calibration)."""
import json

import pytest
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.inference.calibration import calibration_scores

LABELS = ["neg", "pos"]


def pair(p_pos, gold):
    return {"neg": 1 - p_pos, "pos": p_pos}, {"neg": float(gold == "neg"), "pos": float(gold == "pos")}


def test_calibrated_predictions_have_no_gap():
    # confidence 0.8, right 4 times in 5; confidence 0.6, right 3 times in 5
    pairs = [pair(0.8, "pos")] * 4 + [pair(0.8, "neg")] + [pair(0.4, "neg")] * 3 + [pair(0.4, "pos")] * 2
    scores = calibration_scores(pairs, LABELS, exclusive=True)
    assert scores["cats_ece"] == pytest.approx(0.0, abs=1e-12)
    bins = [b for b in scores["cats_calibration"] if b["count"]]
    assert [(b["count"], round(b["mean_probability"], 6), b["accuracy"]) for b in bins] == [(5, 0.6, 0.6), (5, 0.8, 0.8)]


def test_over_confident_predictions():
    # always 0.9 for the top label, right half the time: ECE 0.4
    pairs = [pair(0.9, "pos"), pair(0.9, "neg"), pair(0.1, "neg"), pair(0.1, "pos")]
    scores = calibration_scores(pairs, LABELS, exclusive=True)
    assert scores["cats_ece"] == pytest.approx(0.4)
    # Brier summed over the labels: right docs 2 * 0.01, wrong docs 2 * 0.81
    assert scores["cats_brier"] == pytest.approx((0.02 + 1.62 + 0.02 + 1.62) / 4)


def test_multilabel_pairs_and_documents_without_one_gold_label():
    pairs = [({"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 0.0}), ({"a": 0.5, "b": 0.5}, {"a": 1.0, "b": 1.0})]
    multi = calibration_scores(pairs, ["a", "b"], exclusive=False)
    assert multi["cats_brier"] == pytest.approx((0 + 0 + 0.25 + 0.25) / 4)
    assert multi["cats_ece"] == pytest.approx(2 * 0.5 / 4)  # the 0.5 bin: mean probability 0.5, all right
    exclusive = calibration_scores(pairs, ["a", "b"], exclusive=True)
    assert sum(b["count"] for b in exclusive["cats_calibration"]) == 1  # two gold labels: no top-label answer
    assert calibration_scores([], LABELS, exclusive=True)["cats_ece"] is None
    with pytest.raises(ValueError):
        calibration_scores(pairs, ["a", "b"], exclusive=True, n_bins=0)


def test_evaluate_reports_calibration(tiny_textcat_dir, tmp_path):
    import spacy

    labels = list(spacy.load(tiny_textcat_dir).get_pipe("rnn_textcat").labels)
    corpus = tmp_path / "dev.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "label": labels[i % len(labels)]}) + "\n"
                              for i, t in enumerate(["fine film", "dull plot", "loved it", "awful"])))
    result = CliRunner().invoke(app, ["evaluate", str(tiny_textcat_dir), str(corpus), "-o", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    assert "ECE (%)" in result.output and "BRIER" in result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= metrics["cats_ece"] <= 1 and 0 <= metrics["cats_brier"] <= 2
    assert sum(b["count"] for b in metrics["cats_calibration"]) == 4
