"""Pooling layers: ``Model[List[Floats2d], Floats2d]``, one row per document.

Every pooling reads a document's real tokens only (there is no padding at
this point: documents arrive as a list of arrays), and a document without
tokens pools to a zero vector rather than to NaN or an error.

- ``mean``: the average of the token vectors.
- ``max``: the element-wise maximum.
- ``last``: the final state of each direction. For a bidirectional encoder the
  forward half comes from the last token and the backward half from the
  first token, where each direction ends; otherwise the last token's vector.
- ``attention``: a learned, masked softmax over the tokens (additive attention,
  Bahdanau et al. 2015): ``u = tanh(W x + b)``, ``a = softmax(u · q)`` within
  each document, output ``sum(a * x)``. The weights are kept in
  ``model.attrs["last_weights"]`` only when ``model.attrs["store_weights"]``
  is set, so inference pays nothing for explanations it does not use.

Several poolings joined by "+" (e.g. ``"max+mean"``, or ULMFiT's
``"last+max+mean"``) are concatenated: the document vector is then that many
times the encoder's width.
"""
from typing import List, Optional, Tuple

import numpy
import torch
from thinc.api import Model, glorot_uniform_init, zero_init
from thinc.types import Floats2d, Ints1d

from ..errors import ConfigValueError, Errors
from .matmul import gemm

POOLINGS = ("mean", "max", "last", "attention")


def build_pooling(
    pooling: str, bidirectional: bool = True, where: str = "spacy_rnn.RNNTextCat.v1"
) -> Model[List[Floats2d], Floats2d]:
    """Return the pooling layer named ``pooling``; names joined by "+" give
    the concatenation of those poolings, in that order."""
    parts = pooling.split("+") if isinstance(pooling, str) else [pooling]
    if len(parts) > 1:
        if len(set(parts)) != len(parts):
            allowed = ", ".join(repr(p) for p in POOLINGS)
            raise ConfigValueError(Errors.E003.format(pooling=pooling, where=where, allowed=allowed))
        layers = [build_pooling(part, bidirectional, where) for part in parts]
        return Model(f"pool_{pooling}", _concat_forward, init=_concat_init, layers=layers)
    if pooling == "mean":
        return Model("pool_mean", _mean_forward)
    if pooling == "max":
        return Model("pool_max", _max_forward)
    if pooling == "last":
        return Model("pool_last", _last_forward, attrs={"bidirectional": bidirectional})
    if pooling == "attention":
        return AttentionPooling()
    allowed = ", ".join(repr(p) for p in POOLINGS)
    raise ConfigValueError(Errors.E003.format(pooling=pooling, where=where, allowed=allowed))


def pooled_width(pooling: str, width: Optional[int]) -> Optional[int]:
    """The width of the document vector that ``pooling`` makes from token
    vectors of ``width`` columns (None while ``width`` is unknown)."""
    return None if width is None else width * len(pooling.split("+"))


def _concat_init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    for layer in model.layers:
        layer.initialize(X=X)


def _concat_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    """Concatenate the poolings' outputs. (thinc's ``concatenate`` would
    extend the list of input gradients instead of summing them.)"""
    Ys, callbacks = zip(*(layer(Xs, is_train) for layer in model.layers))
    widths = [Y.shape[1] for Y in Ys]
    Y = model.ops.xp.hstack(Ys)

    def backprop(dY: Floats2d) -> List[Floats2d]:
        dXs = None
        start = 0
        for callback, width in zip(callbacks, widths):
            grads = callback(model.ops.as_contig(dY[:, start : start + width]))
            if dXs is None:
                dXs = [g.copy() for g in grads]
            else:
                for dX, g in zip(dXs, grads):
                    dX += g
            start += width
        return dXs

    return Y, backprop


def _flatten(model: Model, Xs: List[Floats2d]) -> Tuple[Floats2d, Ints1d]:
    ops = model.ops
    lengths = ops.asarray1i([x.shape[0] for x in Xs])
    width = Xs[0].shape[1] if Xs else 0
    nonempty = [x for x in Xs if x.shape[0]]
    X = ops.flatten(nonempty) if nonempty else ops.alloc2f(0, width)
    return X, lengths


def _no_tokens(model: Model, X: Floats2d, lengths: Ints1d):
    """Thinc's ragged kernels index row 0, so a batch without a single token
    is answered here: every document pools to zeros."""
    ops = model.ops
    Y = ops.alloc2f(len(lengths), X.shape[1])
    return Y, lambda dY: [ops.alloc2f(0, X.shape[1]) for _ in lengths]


def _mean_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    X, lengths = _flatten(model, Xs)
    if X.shape[0] == 0:
        return _no_tokens(model, X, lengths)
    Y = ops.reduce_mean(X, lengths)

    def backprop(dY: Floats2d) -> List[Floats2d]:
        return ops.unflatten(ops.backprop_reduce_mean(dY, lengths), lengths)

    return Y, backprop


def _max_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    X, lengths = _flatten(model, Xs)
    if X.shape[0] == 0:
        return _no_tokens(model, X, lengths)
    keep = ops.xp.nonzero(lengths)[0]  # reduce_max refuses empty sequences
    Y = ops.alloc2f(len(Xs), X.shape[1])
    if len(keep):
        Y_kept, which = ops.reduce_max(X, lengths[keep])
        Y[keep] = Y_kept

    def backprop(dY: Floats2d) -> List[Floats2d]:
        if not len(keep):
            return ops.unflatten(ops.alloc2f(*X.shape), lengths)
        dX = ops.backprop_reduce_max(ops.xp.ascontiguousarray(dY[keep]), which, lengths[keep])
        return ops.unflatten(dX, lengths)

    return Y, backprop


def _last_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    X, lengths = _flatten(model, Xs)
    if X.shape[0] == 0:
        return _no_tokens(model, X, lengths)
    n_docs, width = len(Xs), X.shape[1]
    ends = ops.xp.cumsum(lengths) - 1
    starts = ends - lengths + 1
    keep = ops.xp.nonzero(lengths)[0]
    Y = ops.alloc2f(n_docs, width)
    half = width // 2 if model.attrs["bidirectional"] else width
    Y[keep, :half] = X[ends[keep], :half]
    Y[keep, half:] = X[starts[keep], half:]

    def backprop(dY: Floats2d) -> List[Floats2d]:
        dX = ops.alloc2f(*X.shape)
        # ends and starts are distinct rows within one half, so plain
        # assignment is safe; a one-token document gets both halves.
        dX[ends[keep], :half] = dY[keep, :half]
        dX[starts[keep], half:] = dY[keep, half:]
        return ops.unflatten(dX, lengths)

    return Y, backprop


def AttentionPooling() -> Model[List[Floats2d], Floats2d]:
    """Additive attention pooling; the attention width equals the input width."""
    return Model(
        "pool_attention",
        _attention_forward,
        init=_attention_init,
        params={"W": None, "b": None, "q": None},
        dims={"nI": None},
        attrs={"store_weights": False, "last_weights": None},
    )


def _attention_init(model: Model, X: List[Floats2d] = None, Y=None) -> None:
    if X is not None:
        widths = [x.shape[1] for x in X]
        if widths:
            model.set_dim("nI", widths[0])
    nI = model.get_dim("nI")
    model.set_param("W", glorot_uniform_init(model.ops, (nI, nI)))
    model.set_param("b", zero_init(model.ops, (nI,)))
    # A small random query, so that the first updates can tell tokens apart.
    model.set_param("q", glorot_uniform_init(model.ops, (nI, 1)).reshape((nI,)))


def _attention_forward(model: Model, Xs: List[Floats2d], is_train: bool):
    ops = model.ops
    W = model.get_param("W")
    b = model.get_param("b")
    q = model.get_param("q")
    if not is_train and len(Xs) == 1 and isinstance(Xs[0], numpy.ndarray) and Xs[0].shape[0]:
        # a caller that wants the gradient anyway gets the batched path's
        return _attend_one(model, Xs[0], W, b, q), lambda dY: _attention_forward(model, Xs, True)[1](dY)
    X, lengths = _flatten(model, Xs)
    if X.shape[0] == 0:
        return _no_tokens(model, X, lengths)
    U = gemm(ops, X, W, trans2=True)
    U += b
    _tanh_(ops, U)
    scores = gemm(ops, U, q.reshape((-1, 1)))
    A = ops.softmax_sequences(scores, lengths)
    Y = ops.reduce_sum(X * A, lengths)
    if model.attrs["store_weights"]:
        model.attrs["last_weights"] = ops.unflatten(A.reshape((-1,)), lengths)

    def backprop(dY: Floats2d) -> List[Floats2d]:
        dXA = ops.backprop_reduce_sum(dY, lengths)
        dX = dXA * A
        dA = (dXA * X).sum(axis=1, keepdims=True)
        dscores = ops.backprop_softmax_sequences(dA, A, lengths).reshape((-1,))
        model.inc_grad("q", gemm(ops, U, dscores.reshape((-1, 1)), trans1=True).reshape((-1,)))
        dZ = ops.xp.outer(dscores, q) * (1.0 - U * U)
        model.inc_grad("W", gemm(ops, dZ, X, trans1=True))
        model.inc_grad("b", dZ.sum(axis=0))
        dX += gemm(ops, dZ, W)
        return ops.unflatten(dX, lengths)

    return Y, backprop


def _attend_one(model: Model, X: Floats2d, W: Floats2d, b: Floats2d, q: Floats2d) -> Floats2d:
    """Attention pooling of one document on CPU at inference (``nlp(text)``):
    the same computation as the batched path in five torch calls, which
    spares a single sentence the ragged kernels' and the thread scope's
    fixed costs."""
    x = torch.from_numpy(numpy.ascontiguousarray(X))  # torch takes no negative strides
    u = torch.addmm(torch.from_numpy(b), x, torch.from_numpy(W).T).tanh_()
    a = torch.softmax(u @ torch.from_numpy(q), dim=0)
    if model.attrs["store_weights"]:
        model.attrs["last_weights"] = [a.numpy().copy()]
    return (a @ x).reshape(1, -1).numpy()


def _tanh_(ops, U):
    """``tanh`` in place. On CPU as ``2 * sigmoid(2 * U) - 1`` in torch, within
    float32 rounding of NumPy's; why, with the timings against NumPy's and
    torch's own ``tanh``: ``docs/design/threads.md``."""
    if isinstance(U, numpy.ndarray):
        torch.from_numpy(U).mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)
    else:
        ops.xp.tanh(U, out=U)
    return U
