"""The bag-of-n-grams branch of ``spacy_rnn.RNNTextCat.v1``.

A linear model over hashed n-gram counts (spaCy's ``extract_ngrams`` and
Thinc's ``SparseLinear_v2``, the pieces of ``spacy.TextCatBOW.v3``) gives one
score per label. Each n-gram enters with its count (spaCy's choice), or with
``log(1 + count)`` or 1 ("binary", as in NBSVM): on long reviews, raw counts
let a word repeated ten times outweigh everything else. The classifier adds
those scores to the recurrent branch's before the softmax or logistic output,
so the two branches form one log-linear model over recurrent features and
n-grams (a "wide and deep" model).
On long documents from few examples, n-gram counts are strong evidence that a
recurrent network learns slowly; on sentences they mostly add speed cost.
"""
from functools import partial
from typing import List, Literal, Optional, Tuple, get_args

import numpy

from spacy.attrs import LOWER
from spacy.tokens import Doc
from thinc.api import Model, SparseLinear_v2, chain, resizable, with_cpu
from thinc.layers.resizable import resize_linear_weighted
from thinc.types import Floats2d


# How an n-gram's count in a doc becomes its feature value.
Counts = Literal["count", "log", "binary"]
COUNTS = get_args(Counts)


def BagOfNgrams(
    ngram_size: int, length: int, nO: Optional[int] = None, counts: Counts = "count", new_label_bias: float = 0.0
) -> Tuple[Model[List[Doc], Floats2d], Model]:
    """A linear scorer over the hashed 1..``ngram_size``-grams of each doc's
    lower-cased tokens, with ``length`` weight rows per label (rounded up to a
    power of two), each n-gram valued as ``counts`` says (see
    :func:`hashed_ngrams`). A label added after training starts with bias
    ``new_label_bias`` (very negative where the branch has its own softmax,
    so that the new label starts improbable). Returns the model and its
    resizable output layer."""
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    resizable_layer = resizable(
        sparse_linear,
        resize_layer=partial(resize_linear_weighted, fill_defaults={"b": new_label_bias, "W": 0}),
    )
    model = chain(hashed_ngrams(ngram_size, counts=counts), resizable_layer)
    return with_cpu(model, model.ops), resizable_layer


def hashed_ngrams(ngram_size: int, attr: int = LOWER, counts: Counts = "count") -> Model:
    """spaCy's ``extract_ngrams`` (unique n-gram keys and their counts per
    doc, in SparseLinear's input layout), for docs of any length: spaCy's
    version fails on a doc shorter than ``ngram_size``, an empty one included.
    ``counts``: "count" gives the counts as spaCy does, "log" gives
    ``log(1 + count)`` and "binary" gives 1 for every n-gram present."""
    if counts not in COUNTS:
        raise ValueError(f"counts must be one of {', '.join(COUNTS)}, not {counts!r}")
    return Model(
        "hashed_ngrams", _ngrams_forward, attrs={"ngram_size": ngram_size, "attr": attr, "counts": counts}
    )


def _ngrams_forward(model: Model, docs: List[Doc], is_train: bool):
    """The whole batch at once: the docs' tokens in one array, each n-gram
    hashed over it and kept where it does not cross a doc boundary, then one
    sort by (doc, key) to count. The keys, their order (ascending within each
    doc) and their counts are those of spaCy's per-doc ``extract_ngrams``;
    one sort per batch instead of one ``unique`` per doc is what makes it fast
    on sentences."""
    ops = model.ops
    xp = ops.xp
    lengths_in = [len(doc) for doc in docs]
    if not sum(lengths_in):
        empty = xp.zeros((0,), dtype="uint64")
        return (empty, ops.alloc1f(0), ops.asarray([0] * len(docs), dtype="int32")), lambda dY: []
    # the branch runs on CPU (``with_cpu``): numpy arrays straight from the docs
    unigrams = ops.asarray(numpy.concatenate([doc.to_array([model.attrs["attr"]]) for doc in docs]))
    doc_of = xp.repeat(xp.arange(len(docs)), ops.asarray(lengths_in))
    grams, owners = [unigrams], [doc_of]
    for n in range(2, model.attrs["ngram_size"] + 1):
        if len(unigrams) < n:
            break
        hashed = ops.ngrams(n, unigrams)
        # the n-gram starting at token i ends at token i + n - 1: keep it if both are in one doc
        first_doc = doc_of[: len(hashed)]
        inside = first_doc == doc_of[n - 1:]
        grams.append(hashed[inside])
        owners.append(first_doc[inside])
    keys, owner = xp.concatenate(grams), xp.concatenate(owners)
    order = xp.lexsort((keys, owner))
    keys, owner = keys[order], owner[order]
    first = xp.ones(len(keys), dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (owner[1:] != owner[:-1])
    starts = xp.flatnonzero(first)
    lengths = xp.bincount(owner[starts], minlength=len(docs)).astype("int32")
    if model.attrs["counts"] == "binary":
        values = xp.ones(len(starts), dtype="float32")
    else:
        values = ops.asarray(xp.diff(xp.append(starts, len(keys))), dtype="f")
        if model.attrs["counts"] == "log":
            values = xp.log1p(values, out=values)
    return (keys[starts], values, lengths), lambda dY: []


def softmax_scores() -> Model[Floats2d, Floats2d]:
    """Softmax whose backward pass hands the gradient straight to the scores,
    as Thinc's ``Softmax`` layer does: spaCy's textcat gradient (scores -
    truth) is then the cross-entropy gradient of the summed scores."""
    return Model("softmax_scores", _softmax_forward)


def _softmax_forward(model: Model, X: Floats2d, is_train: bool):
    return model.ops.softmax(X), lambda dY: dY
