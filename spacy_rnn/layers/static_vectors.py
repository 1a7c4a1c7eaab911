"""spaCy's ``StaticVectors`` layer with a faster forward pass on CPU.

The layer is spaCy's: the same name, parameter (``W``, ``nO`` x ``nM``), dims,
attrs and initializer, so weights saved with either load into the other. Only
the forward pass differs, for a default (non-floret) table on CPU:

- rows are found with one ``searchsorted`` of the batch's distinct keys over
  the table's keys (sorted once per table and cached) instead of a Python dict
  lookup per token;
- the projection is computed once per distinct row in the batch and gathered,
  instead of once per token: a batch of sentences has far fewer distinct words
  than tokens (a batch of fewer than ``DISTINCT_FROM`` tokens skips that
  search and projects each token's row); and through torch (:mod:`.matmul`)
  rather than Thinc's BLIS;
- a batch of empty docs gets one length per doc;
- a token without a vector gets zeros, as in spaCy, and no gradient. spaCy
  3.8's backward pass multiplies such a token's output gradient by the table's
  last row (``V[-1]``), although its output is the constant zero.

Floret tables, other vector types and non-CPU ops take spaCy's own forward.
"""
from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy
from spacy.attrs import ORTH
from spacy.ml import staticvectors as spacy_static_vectors
from spacy.tokens import Doc
from spacy.vectors import Mode, Vectors
from thinc.api import Model, NumpyOps, glorot_uniform_init
from thinc.types import Ragged

from ..errors import Errors
from .matmul import gemm


# Below this many tokens in a batch (a sentence or two) each token gets its own
# row: finding the distinct keys and rows first costs more than it saves there.
DISTINCT_FROM = 64


def StaticVectors(nO: Optional[int] = None, *, dropout: Optional[float] = None) -> Model[List[Doc], Ragged]:
    """Embed docs with their vocab's vectors table through a learned linear
    projection to ``nO``; ``dropout`` drops whole output dimensions over the
    batch while training (spaCy's ``StaticVectors`` with ``key_attr = ORTH``)."""
    return Model(
        "static_vectors",
        forward,
        init=partial(spacy_static_vectors.init, glorot_uniform_init),
        params={"W": None},
        attrs={"key_attr": "ORTH", "dropout_rate": dropout},
        dims={"nO": nO, "nM": None},
    )


def forward(model: Model[List[Doc], Ragged], docs: List[Doc], is_train: bool):
    vectors = docs[0].vocab.vectors if docs else None
    if vectors is not None and model.has_dim("nM") and vectors.shape[1] != model.get_dim("nM"):
        raise ValueError(Errors.E033.format(nM=model.get_dim("nM"), shape=" x ".join(map(str, vectors.shape))))
    if not (isinstance(vectors, Vectors) and vectors.mode == Mode.default and isinstance(model.ops, NumpyOps)):
        return spacy_static_vectors.forward(model, docs, is_train)
    lengths = [len(doc) for doc in docs]
    if not sum(lengths):
        # one length per doc (spaCy's own layer returns none here)
        empty = Ragged(model.ops.alloc2f(0, model.get_dim("nO")), model.ops.asarray1i(lengths))
        return empty, lambda d_output: []
    key_attr = getattr(vectors, "attr", ORTH)
    keys = numpy.concatenate([doc.to_array(key_attr) for doc in docs])
    if len(keys) < DISTINCT_FROM:
        # a sentence: one row a token (inverse None)
        distinct, inverse = rows_of(vectors, keys), None
    else:
        # Distinct keys first, so the search over the table's keys runs once
        # a word type rather than once a token; then distinct rows, since a
        # pruned table maps many keys to one row.
        distinct_keys, key_of_token = numpy.unique(keys, return_inverse=True)
        distinct, row_of_key = numpy.unique(rows_of(vectors, distinct_keys), return_inverse=True)
        inverse = row_of_key.reshape(-1)[key_of_token.reshape(-1)]
    known = distinct >= 0
    V = numpy.ascontiguousarray(vectors.data[numpy.where(known, distinct, 0)], dtype="float32")
    W = model.ops.as_contig(model.get_param("W"))
    projected = gemm(model.ops, V, W, trans2=True)
    projected[~known] = 0
    mask = None
    if is_train and model.attrs.get("dropout_rate") is not None:
        mask = model.ops.get_dropout_mask((W.shape[0],), model.attrs["dropout_rate"])
        projected *= mask
    output = Ragged(projected if inverse is None else projected[inverse], model.ops.asarray1i(lengths))

    def backprop(d_output: Ragged) -> List[Doc]:
        if inverse is None:
            d_projected = numpy.array(d_output.data, dtype="float32", order="C")
        else:
            d_projected = model.ops.alloc2f(len(distinct), W.shape[0])
            model.ops.scatter_add(d_projected, inverse.astype("int32"), model.ops.as_contig(d_output.data))
        d_projected[~known] = 0
        if mask is not None:
            d_projected *= mask
        model.inc_grad("W", gemm(model.ops, d_projected, V, trans1=True))
        return []

    return output, backprop


# id(table) -> (table, (key count, shape), sorted keys, their rows): a few tables at most.
# Rebuilt when keys are added or the table is resized (``Vocab.prune_vectors`` resizes it).
_LOOKUPS: Dict[int, Tuple[Vectors, tuple, numpy.ndarray, numpy.ndarray]] = {}
_MAX_LOOKUPS = 4


def rows_of(vectors: Vectors, keys: numpy.ndarray) -> numpy.ndarray:
    """The table row of each key, -1 where the table has none: what
    ``vectors.find(keys=keys)`` returns, without a Python call per key."""
    n_keys = len(vectors.key2row)
    state = (n_keys, tuple(vectors.shape))
    entry = _LOOKUPS.get(id(vectors))
    if entry is None or entry[0] is not vectors or entry[1] != state:
        table_keys = numpy.fromiter(vectors.key2row.keys(), dtype="uint64", count=n_keys)
        table_rows = numpy.fromiter(vectors.key2row.values(), dtype="int64", count=n_keys)
        order = numpy.argsort(table_keys)
        if len(_LOOKUPS) >= _MAX_LOOKUPS:
            _LOOKUPS.clear()
        entry = _LOOKUPS[id(vectors)] = (vectors, state, table_keys[order], table_rows[order])
    _, _, table_keys, table_rows = entry
    if not len(table_keys):
        return numpy.full(len(keys), -1, dtype="int64")
    keys = numpy.asarray(keys, dtype="uint64")
    at = numpy.minimum(numpy.searchsorted(table_keys, keys), len(table_keys) - 1)
    return numpy.where(table_keys[at] == keys, table_rows[at], -1)
