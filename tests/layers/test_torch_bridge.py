"""to_torch / from_torch: Thinc's xp2torch / torch2xp, with a direct path for NumPy arrays on CPU."""
import numpy
import torch
from numpy.testing import assert_array_equal
from thinc.api import NumpyOps

from spacy_rnn.layers.torch_bridge import from_torch, to_torch


def test_numpy_arrays_share_memory_both_ways():
    X = numpy.arange(12, dtype="float32").reshape(3, 4)
    Xt = to_torch(X)
    assert Xt.device.type == "cpu" and not Xt.requires_grad
    Xt[0, 0] = 100.0
    assert X[0, 0] == 100.0
    back = from_torch(Xt, NumpyOps())
    assert isinstance(back, numpy.ndarray) and numpy.shares_memory(back, X)


def test_gradients_and_odd_layouts():
    X = numpy.arange(12, dtype="float32").reshape(3, 4)
    assert to_torch(X, requires_grad=True, device=torch.device("cpu")).requires_grad
    assert_array_equal(to_torch(X[::-1]).numpy(), X[::-1])  # a negative stride is copied
    assert_array_equal(to_torch(X[:, ::2]).numpy(), X[:, ::2])  # a strided view is kept
    Y = torch.ones(2, 2, requires_grad=True) * 2
    assert_array_equal(from_torch(Y, NumpyOps()), numpy.full((2, 2), 2.0, dtype="float32"))
