"""A layer that sums the outputs of layers reading the same docs.

Used twice: the embedding adds projected static vectors to its hash
embeddings (``Ragged`` outputs), and ``RNNTextCat.v1`` (``bow_combine = "sum"``) adds the
bag-of-n-grams scores to the recurrent ones (``Floats2d`` outputs). Thinc's
own ``add`` would infer ``nI`` from its input, which a list of docs has not,
and its backward pass would extend a list of input gradients instead of
summing them; the inputs here are docs, which take no gradient.
"""
from typing import Callable, List, Optional, Tuple, Union

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d, Ragged

Output = Union[Floats2d, Ragged]


def sum_outputs(name: str, *layers: Model[List[Doc], Output]) -> Model[List[Doc], Output]:
    """Sum the outputs of ``layers``; all must give the same kind and shape."""
    return Model(name, _forward, init=_init, layers=list(layers))


def _init(model: Model, X: Optional[List[Doc]] = None, Y: Optional[Output] = None) -> None:
    for layer in model.layers:
        layer.initialize(X=X, Y=Y)


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Output, Callable]:
    outputs, callbacks = zip(*(layer(docs, is_train) for layer in model.layers))
    # Summed in place into the first output, as thinc's add does: every layer
    # here allocates its output, and none reads it back in its backward pass.
    Y = outputs[0]
    for output in outputs[1:]:
        if isinstance(Y, Ragged):
            Y.data += output.data
        else:
            Y += model.ops.asarray(output)

    def backprop(dY: Output) -> List[Doc]:
        # A layer may scale its gradient in place (StaticVectors does): give
        # each layer but the last its own copy.
        for i, callback in enumerate(callbacks):
            if i == len(callbacks) - 1:
                callback(dY)
            elif isinstance(dY, Ragged):
                callback(Ragged(dY.data.copy(), dY.lengths))
            else:
                callback(dY.copy())
        return []

    return Y, backprop
