"""The long-memory benchmarks trained until learned (issue 36):
benchmarks/convergence.py, latch_convergence.py and adding_problem.py. The
full runs are made by hand (see their docstrings); their --quick modes run
here."""
import json
import sys

import numpy
import pytest
import torch

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
convergence = pytest.importorskip("convergence")
adding_problem = pytest.importorskip("adding_problem")
latch_convergence = pytest.importorskip("latch_convergence")
long_range = pytest.importorskip("long_range")


@pytest.mark.parametrize("length", [2, 3, 10, 101])
def test_adding_problem_marks_one_number_in_each_half(length):
    inputs, targets = adding_problem.make_batch(numpy.random.default_rng(length), 300, length)
    assert inputs.shape == (300, length, 2) and targets.shape == (300,)
    values, markers = inputs[:, :, 0], inputs[:, :, 1]
    assert (markers.sum(axis=1) == 2).all()
    half = length // 2
    assert (markers[:, :half].sum(axis=1) == 1).all() and (markers[:, half:].sum(axis=1) == 1).all()
    numpy.testing.assert_allclose(targets, (values * markers).sum(axis=1), rtol=1e-6)
    assert ((values >= 0) & (values < 1)).all()


def test_adding_problem_chance_is_a_sixth():
    _, targets = adding_problem.make_batch(numpy.random.default_rng(0), 100_000, 20)
    assert float(((targets - 1.0) ** 2).mean()) == pytest.approx(adding_problem.CHANCE_MSE, rel=0.02)
    with pytest.raises(ValueError, match="at least 2"):
        adding_problem.make_batch(numpy.random.default_rng(0), 3, 1)


@pytest.mark.parametrize("task", [latch_convergence.Latch(), adding_problem.Adding()], ids=["latch", "adding"])
def test_every_variant_gets_the_same_parameter_budget(task):
    for variant in convergence.VARIANTS:
        params = convergence.n_params(task.build(variant))
        assert abs(params - long_range.BUDGET) < 0.06 * long_range.BUDGET, (variant, params)


def test_forget_bias_and_chrono_initializations():
    torch.manual_seed(0)
    hidden = 16
    fb1 = convergence.SequenceModel("lstm_forget_bias_1", hidden, 2, n_tokens=10).rnn.forward_layers[0]
    chrono = convergence.SequenceModel("lstm_chrono", hidden, 2, n_tokens=10).rnn.forward_layers[0]
    total = lambda layer: (layer.bias_ih_l0 + layer.bias_hh_l0).detach().numpy()  # noqa: E731
    assert (total(fb1)[hidden : 2 * hidden] == 1.0).all()
    forget, inputs = total(chrono)[hidden : 2 * hidden], total(chrono)[:hidden]
    assert (forget >= 0).all() and (forget <= numpy.log(convergence.CHRONO_T_MAX - 1) + 1e-6).all()
    numpy.testing.assert_allclose(inputs, -forget)


def test_the_torch_lstm_control_computes_what_our_encoder_computes():
    """lstm_torch (torch.nn.LSTM called directly) is a control of our
    encoder: with the same weights, the same outputs and input gradients."""
    torch.manual_seed(0)
    ours = convergence.SequenceModel("lstm", 12, 2, n_tokens=10)
    control = convergence.SequenceModel("lstm_torch", 12, 2, n_tokens=10)
    control.input.load_state_dict(ours.input.state_dict())
    control.output.load_state_dict(ours.output.state_dict())
    control.rnn.load_state_dict(ours.rnn.forward_layers[0].state_dict())
    tokens = torch.from_numpy(long_range.make_batch(numpy.random.default_rng(0), 7, 30)[0])
    kept_a, kept_b = [], []
    a, b = ours(tokens, keep_inputs=kept_a), control(tokens, keep_inputs=kept_b)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(kept_a[0].grad, kept_b[0].grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("script", ["latch_convergence", "adding_problem"])
def test_quick_mode_writes_results_and_a_plot(script, tmp_path, monkeypatch):
    output = tmp_path / "results.json"
    monkeypatch.setattr(sys, "argv", [f"{script}.py", "--quick", "--output", str(output)])
    threads = torch.get_num_threads()
    try:
        {"latch_convergence": latch_convergence, "adding_problem": adding_problem}[script].main()
    finally:
        torch.set_num_threads(threads)  # the script runs on one thread
    results = json.loads(output.read_text())
    assert results["runs"] and results["summary"] and set(results["settings"]["lrs_chosen"]) == set(
        results["settings"]["variants"])
    for run in results["runs"]:
        assert run["updates_run"] <= run["budget"]
        assert run["reached_within_half_budget"] == (run["updates_to_target"] is not None
                                                     and run["updates_to_target"] <= run["budget"] // 2)
    assert output.with_suffix(".png").stat().st_size > 10_000
