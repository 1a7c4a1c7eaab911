"""spacy_rnn.layers.matmul.gemm: Thinc's ops.gemm, computed through torch on CPU."""
import numpy
import pytest
import torch
from numpy.testing import assert_allclose
from thinc.api import NumpyOps

from spacy_rnn.layers.matmul import gemm


@pytest.mark.parametrize("trans1,trans2", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_is_thincs(trans1, trans2):
    ops = NumpyOps()
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((7, 5) if not trans1 else (5, 7)).astype("float32")
    y = rng.standard_normal((5, 3) if not trans2 else (3, 5)).astype("float32")
    out = gemm(ops, x, y, trans1=trans1, trans2=trans2)
    assert isinstance(out, numpy.ndarray) and out.dtype == numpy.float32 and out.shape == (7, 3)
    assert_allclose(out, ops.gemm(x, y, trans1=trans1, trans2=trans2), rtol=1e-5, atol=1e-6)


def test_gemm_restores_the_callers_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = numpy.ones((2048, 128), dtype="float32")
        gemm(NumpyOps(), x, numpy.ones((128, 128), dtype="float32"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
