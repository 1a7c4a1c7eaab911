"""The matrix products of our Thinc layers (attention pooling, the static
vectors' projection) on CPU: through torch (MKL) on the threads
:mod:`spacy_rnn.torch.threads` picks for the product's size.

Why not Thinc's ``ops.gemm`` (BLIS) or NumPy's ``@`` (OpenBLAS): torch's is
the fastest of the three on one thread here, and it shares the encoder's
OpenMP threads instead of starting a second thread pool
(``docs/design/threads.md``). Other ops (a GPU) keep ``ops.gemm``.
"""
import numpy
import torch
from thinc.api import Ops

from ..torch.threads import MIN_MACS_PER_THREAD, thread_scope, use_threads_for_work

__all__ = ["gemm"]


def gemm(ops: Ops, x, y, trans1: bool = False, trans2: bool = False):
    """``x @ y``, either side transposed, as ``ops.gemm(x, y, trans1=,
    trans2=)`` returns it (a new float32 array)."""
    if not isinstance(x, numpy.ndarray):
        return ops.gemm(x, y, trans1=trans1, trans2=trans2)
    a = torch.from_numpy(x)
    b = torch.from_numpy(y)
    a = a.T if trans1 else a
    b = b.T if trans2 else b
    with thread_scope() as limit:
        use_threads_for_work(a.shape[0] * a.shape[1] * b.shape[1], MIN_MACS_PER_THREAD, limit)
        return (a @ b).numpy()
