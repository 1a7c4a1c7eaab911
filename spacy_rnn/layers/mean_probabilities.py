"""Average the label probabilities of several scorers, each trained as if alone.

``RNNTextCat.v1`` with ``bow_combine = "mean"`` or ``"geometric_mean"`` uses it
for its two branches (the recurrent scorer and the bag of n-grams): each
branch's scores go through their own softmax (exclusive classes) or logistic
(multilabel), an ensemble of two models. "mean" outputs the arithmetic mean of
those probabilities; "geometric_mean" their normalized geometric mean, which
is the softmax (or logistic) of the mean of the branches' scores. The
geometric mean follows the more confident branch: while one branch is still
unsure, the other decides.

Adding the branches' scores before one softmax ("sum") trains one log-linear
model, in which each branch only has to correct the other; why the means
are the default: ``docs/usage/training-and-recipes.md``.

The backward pass gives every branch the cross-entropy gradient of its own
probabilities, ``p_i - truth``, as if it were the only model. The layer never
sees the truth, but spaCy's textcat hands the output the gradient ``P -
truth`` (``TextCategorizer.get_loss``; Thinc's ``Softmax`` and ``Logistic``
layers assume the same when they pass it straight to the scores), so
``truth = P - dP`` and ``p_i - truth = p_i - P + dP``. Where spaCy zeroes the
gradient of a missing label, the branches get zero too.
"""
from typing import Callable, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d


def mean_probabilities(
    *branches: Model[List[Doc], Floats2d], exclusive_classes: bool, geometric: bool = False
) -> Model[List[Doc], Floats2d]:
    """The mean of the branches' softmax (``exclusive_classes``) or logistic
    probabilities; ``branches`` give unnormalized scores of the same shape.
    ``geometric``: the normalized geometric mean instead of the arithmetic."""
    return Model(
        "mean_probabilities", _forward, init=_init, layers=list(branches), dims={"nO": None},
        attrs={"exclusive_classes": exclusive_classes, "geometric": geometric},
    )


def _init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[Floats2d] = None) -> None:
    for layer in model.layers:
        layer.initialize(X=X, Y=Y)
    if not model.has_dim("nO") and model.layers[0].has_dim("nO"):
        model.set_dim("nO", model.layers[0].get_dim("nO"))


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Floats2d, Callable]:
    ops = model.ops
    normalize = ops.softmax if model.attrs["exclusive_classes"] else ops.sigmoid
    outputs, callbacks = zip(*(layer(docs, is_train) for layer in model.layers))
    outputs = [ops.asarray(scores) for scores in outputs]
    probabilities = [normalize(scores) for scores in outputs]
    if model.attrs["geometric"]:
        mean = normalize(sum(outputs) / len(outputs))
    else:
        mean = sum(probabilities) / len(probabilities)

    def backprop(d_mean: Floats2d) -> List[Doc]:
        known = d_mean != 0
        for p, callback in zip(probabilities, callbacks):
            callback(ops.xp.where(known, p - mean + d_mean, 0).astype("float32"))
        return []

    return mean, backprop
