"""A cheap lexical embedding for recurrent encoders.

``spacy.MultiHashEmbed.v2`` concatenates one hash embedding per attribute and
mixes them with a Maxout layer (3 pieces, layer-normalized). In front of a
recurrent encoder the mixing layer is redundant: the encoder's input
projection is already a learned linear map of the embedding, and a linear map
of a sum of free embedding tables is as expressive as one of their
concatenation. So this layer sums the hash embeddings and stops there
(measurements: ``benchmarks/core_speed.py``).

With ``include_static_vectors``, a pretrained vectors table (the pipeline's
``nlp.vocab.vectors``, loaded by ``[initialize] vectors``) joins the sum
through spaCy's ``StaticVectors`` layer (with a faster forward pass, see
``static_vectors.py``): the table stays frozen, a learned linear
map projects it to ``width``, and a token without a vector contributes zeros
(floret tables have no unknown tokens).
"""
from functools import partial
from typing import Callable, List, Literal, Optional, Sequence, Tuple, Union

from spacy.attrs import intify_attr
from spacy.ml.featureextractor import FeatureExtractor
from spacy.tokens import Doc
from spacy.util import logger
from thinc.api import HashEmbed, Model, add, chain, list2ragged, ragged2list, with_array
from thinc.types import Floats2d, Ragged

from ..errors import ConfigValueError, Errors
from .checks import check_settings
from .static_vectors import StaticVectors


# include_static_vectors: use the vocab's table when it has one ("auto"), always (True) or never (False)
StaticVectorsChoice = Union[bool, Literal["auto"]]
# the attr of the embedding that records whether the static vectors are used
USES_VECTORS = "uses_static_vectors"


def SumHashEmbed(
    width: int,
    attrs: Sequence[Union[str, int]],
    rows: Sequence[int],
    dropout: float = 0.0,
    include_static_vectors: StaticVectorsChoice = "auto",
    vectors_dropout: float = 0.0,
    where: str = "spacy_rnn.SumHashEmbed.v1",
) -> Model[List[Doc], List[Floats2d]]:
    check_embed_args(width, attrs, rows, dropout, vectors_dropout, where)
    if include_static_vectors not in (True, False, "auto"):
        raise ConfigValueError(
            Errors.E002.format(
                name="include_static_vectors", value=include_static_vectors, where=where,
                reason='use "auto" (the vectors table when the pipeline has one), true or false.',
            )
        )
    tables = [
        HashEmbed(width, n_rows, column=i, seed=7 + i, dropout=dropout or None)
        for i, n_rows in enumerate(rows)
    ]
    hashed: Model[List[Doc], Ragged] = chain(
        FeatureExtractor(list(attrs)),
        list2ragged(),
        with_array(add(*tables) if len(tables) > 1 else tables[0]),
    )
    if include_static_vectors is not False:
        vectors = StaticVectors(nO=width, dropout=vectors_dropout or None)
        vectors.init = _checked_vectors_init(vectors.init, where)
        hashed = Model(
            "add_static_vectors", _add_vectors_forward, init=partial(_add_vectors_init, where=where),
            layers=[hashed, vectors],
            # True: always; None: decided at initialize ("auto"), then True or False
            attrs={USES_VECTORS: True if include_static_vectors is True else None,
                   "auto": include_static_vectors == "auto"},
        )
    model = chain(hashed, ragged2list())
    model.set_dim("nO", width)
    model.attrs["attrs"] = list(attrs)
    return model


def uses_static_vectors(model: Model) -> bool:
    """Whether a model holds a ``SumHashEmbed`` that adds the static vectors
    (after initialization, for "auto")."""
    return any(node.attrs.get(USES_VECTORS) for node in model.walk() if node.name == "add_static_vectors")


def _add_vectors_init(model: Model, X: Optional[List[Doc]] = None, Y=None, *, where: str) -> None:
    hashed, vectors = model.layers
    hashed.initialize(X=X)
    if model.attrs["auto"] and X is not None and len(X):
        table = X[0].vocab.vectors
        model.attrs[USES_VECTORS] = bool(table.shape[0] and table.shape[1])
        if not model.attrs[USES_VECTORS]:
            logger.info(Errors.I001.format(where=where))
    if model.attrs[USES_VECTORS]:
        vectors.initialize(X=X)


def _add_vectors_forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Ragged, Callable]:
    hashed, vectors = model.layers
    output, backprop_hashed = hashed(docs, is_train)
    if not model.attrs[USES_VECTORS]:
        return output, backprop_hashed
    projected, backprop_vectors = vectors(docs, is_train)
    # in place, as thinc's add does: the hash embeddings allocate their output
    output.data += projected.data

    def backprop(d_output: Ragged) -> List[Doc]:
        # StaticVectors scales its gradient in place: give it a copy
        backprop_vectors(Ragged(d_output.data.copy(), d_output.lengths))
        backprop_hashed(d_output)
        return []

    return output, backprop


def check_embed_args(
    width: int,
    attrs: Sequence[Union[str, int]],
    rows: Sequence[int],
    dropout: float,
    vectors_dropout: float,
    where: str,
) -> None:
    """Raise a :class:`ConfigValueError` that names the bad setting."""
    check_settings(
        where, ints={"width": width}, int_lists={"rows": rows},
        rates={"dropout": dropout, "vectors_dropout": vectors_dropout},
    )
    if len(attrs) != len(rows) or not attrs:
        raise ConfigValueError(
            Errors.E002.format(
                name="rows",
                value=list(rows),
                where=where,
                reason=f"give one row count for each of the {len(attrs)} attrs {list(attrs)}.",
            )
        )
    for attr in attrs:
        if intify_attr(attr) is None:
            raise ConfigValueError(
                Errors.E002.format(
                    name="attrs", value=attr, where=where,
                    reason="not a spaCy token attribute (e.g. NORM, PREFIX, SUFFIX, SHAPE).",
                )
            )


def _checked_vectors_init(init: Callable, where: str) -> Callable:
    """Wrap StaticVectors' init: a vocab without vectors would give a table of
    width 0 and so silently add zeros; refuse it with a message that says how
    to add vectors."""

    def checked_init(model: Model, X: Optional[List[Doc]] = None, Y=None):
        if X is not None and len(X):
            vectors = X[0].vocab.vectors
            if vectors.shape[0] == 0 or vectors.shape[1] == 0:
                raise ConfigValueError(Errors.E020.format(where=where))
        elif not model.has_dim("nM"):
            raise ConfigValueError(Errors.E020.format(where=where))
        return init(model, X, Y)

    return checked_init
