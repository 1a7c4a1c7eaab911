"""benchmarks/long_range.py (issue 15): the synthetic task and the equal
parameter budget. The benchmark itself is run by hand (see its docstring)."""
import sys
from types import SimpleNamespace

import numpy
import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
long_range = pytest.importorskip("long_range")


@pytest.mark.parametrize("gap", [0, 1, 5, 37])
def test_label_is_the_early_clue_and_the_rest_are_distractors(gap):
    tokens, labels = long_range.make_batch(numpy.random.default_rng(gap), 400, gap)
    assert tokens.shape == (400, 1 + gap) and labels.shape == (400,)
    assert (tokens[:, 0] == labels).all()
    assert set(labels.tolist()) == set(range(long_range.CLUES))
    distractors = tokens[:, 1:]
    assert (distractors >= long_range.CLUES).all()
    assert (distractors < long_range.CLUES + long_range.DISTRACTORS).all()
    if gap >= 5:
        # the distractors carry no information about the label
        for label in range(long_range.CLUES):
            rows = distractors[labels == label]
            counts = numpy.bincount(rows.ravel() - long_range.CLUES, minlength=long_range.DISTRACTORS)
            assert counts.min() > 0.5 * counts.mean()


def test_every_cell_gets_the_same_parameter_budget():
    for cell in long_range.CELLS:
        hidden = long_range.width_for_budget(cell)
        params = long_range.n_params(long_range.Classifier(cell, hidden))
        assert abs(params - long_range.BUDGET) < 0.05 * long_range.BUDGET, (cell, hidden, params)


def test_forget_bias_variant_is_an_lstm_with_forget_bias_1():
    model = long_range.Classifier(long_range.FORGET_BIAS_1, 6)
    layer = model.encoder.forward_layers[0]
    total = (layer.bias_ih_l0 + layer.bias_hh_l0).detach().numpy()
    assert (total[6:12] == 1.0).all() and model.encoder.cell == "lstm"


def test_a_run_reports_accuracy_and_clipping():
    args = SimpleNamespace(steps=2, batch=4, eval=20, lr=0.01)
    result = long_range.run("clockwork", 6, 1e-9, args)
    assert 0.0 <= result["accuracy"] <= 1.0 and result["clip_rate"] > 0.5
    assert long_range.run("rnn", 6, None, args)["clip_rate"] is None
