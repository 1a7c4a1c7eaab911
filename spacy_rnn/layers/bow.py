"""The bag-of-n-grams branch of ``spacy_rnn.RNNTextCat.v2``.

A linear model over hashed n-gram counts (spaCy's ``extract_ngrams`` and
Thinc's ``SparseLinear_v2``, the pieces of ``spacy.TextCatBOW.v3``) gives one
score per label. The classifier adds those scores to the recurrent branch's
before the softmax or logistic output, so the two branches form one log-linear
model over recurrent features and n-gram counts (a "wide and deep" model).
On long documents from few examples, n-gram counts are strong evidence that a
recurrent network learns slowly; on sentences they mostly add speed cost.
"""
from functools import partial
from typing import List, Optional, Tuple

from spacy.attrs import LOWER
from spacy.tokens import Doc
from thinc.api import Model, SparseLinear_v2, chain, resizable, with_cpu
from thinc.layers.resizable import resize_linear_weighted
from thinc.types import Floats2d


def BagOfNgrams(
    ngram_size: int, length: int, nO: Optional[int] = None
) -> Tuple[Model[List[Doc], Floats2d], Model]:
    """A linear scorer over the hashed 1..``ngram_size``-grams of each doc's
    lower-cased tokens, with ``length`` weight rows per label (rounded up to a
    power of two). Returns the model and its resizable output layer."""
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    resizable_layer = resizable(
        sparse_linear,
        resize_layer=partial(resize_linear_weighted, fill_defaults={"b": 0, "W": 0}),
    )
    model = chain(hashed_ngrams(ngram_size), resizable_layer)
    return with_cpu(model, model.ops), resizable_layer


def hashed_ngrams(ngram_size: int, attr: int = LOWER) -> Model:
    """spaCy's ``extract_ngrams`` (unique n-gram keys and their counts per
    doc, in SparseLinear's input layout), for docs of any length: spaCy's
    version fails on a doc shorter than ``ngram_size``, an empty one included."""
    return Model(
        "hashed_ngrams", _ngrams_forward, attrs={"ngram_size": ngram_size, "attr": attr}
    )


def _ngrams_forward(model: Model, docs: List[Doc], is_train: bool):
    ops = model.ops
    batch_keys = []
    batch_vals = []
    for doc in docs:
        unigrams = ops.asarray(doc.to_array([model.attrs["attr"]]))
        ngrams = [unigrams]
        for n in range(2, min(model.attrs["ngram_size"], len(unigrams)) + 1):
            ngrams.append(ops.ngrams(n, unigrams))
        keys, vals = ops.xp.unique(ops.xp.concatenate(ngrams), return_counts=True)
        batch_keys.append(keys)
        batch_vals.append(vals)
    lengths = ops.asarray([len(keys) for keys in batch_keys], dtype="int32")
    keys = ops.xp.concatenate(batch_keys) if batch_keys else ops.xp.zeros((0,), dtype="uint64")
    vals = ops.asarray(ops.xp.concatenate(batch_vals) if batch_vals else ops.xp.zeros((0,)), dtype="f")
    return (keys, vals, lengths), lambda dY: []


def softmax_scores() -> Model[Floats2d, Floats2d]:
    """Softmax whose backward pass hands the gradient straight to the scores,
    as Thinc's ``Softmax`` layer does: spaCy's textcat gradient (scores -
    truth) is then the cross-entropy gradient of the summed scores."""
    return Model("softmax_scores", _softmax_forward)


def _softmax_forward(model: Model, X: Floats2d, is_train: bool):
    return model.ops.softmax(X), lambda dY: dY
