"""Helpers shared by the encoder tests (tests/layers/test_encoder.py) and the
cell tests (tests/torch/test_cells.py): inputs, and gradient checks by finite
differences. A module of its own, so that either test file runs alone."""
import numpy
import torch

N_IN = 6


def make_inputs(lengths, n_in=N_IN, seed=0, dtype="float32"):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal((n, n_in)).astype(dtype) for n in lengths]


def assert_input_gradients_match_finite_differences(model, Xs, eps=1e-6):
    """Compare the layer's input gradients for a random linear loss on its
    output with central differences; use float64 inputs and weights."""
    weights = [numpy.random.default_rng(9).standard_normal((len(x), model.get_dim("nO"))) for x in Xs]

    def loss(inputs):
        Ys = model.predict(inputs)
        return sum(float((y * w).sum()) for y, w in zip(Ys, weights))

    Ys, backprop = model.begin_update(Xs)
    dXs = backprop([w.copy() for w in weights])
    for i, index, numeric in central_differences(loss, Xs, eps):
        assert abs(numeric - dXs[i][index]) < 1e-6 * max(1.0, abs(numeric))


def central_differences(loss, Xs, eps):
    """``(i, index, d loss / d Xs[i][index])`` for every input entry, by central differences."""
    for i, X in enumerate(Xs):
        for index in numpy.ndindex(X.shape):
            plus = [x.copy() for x in Xs]
            minus = [x.copy() for x in Xs]
            plus[i][index] += eps
            minus[i][index] -= eps
            yield i, index, (loss(plus) - loss(minus)) / (2 * eps)


def with_param(enc, param, value, X, lengths):
    original = param.data
    try:
        # Route the perturbed tensor through torch.func so gradcheck sees it.
        name = [n for n, p in enc.named_parameters() if p is param][0]
        return torch.func.functional_call(enc, {name: value}, (X, lengths))
    finally:
        param.data = original
