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
from typing import Callable, List, Optional, Sequence, Union

from spacy.attrs import intify_attr
from spacy.ml.featureextractor import FeatureExtractor
from spacy.tokens import Doc
from thinc.api import HashEmbed, Model, add, chain, list2ragged, ragged2list, with_array
from thinc.types import Floats2d, Ragged

from ..errors import ConfigValueError, Errors
from .checks import check_settings
from .static_vectors import StaticVectors
from .sum_outputs import sum_outputs


def SumHashEmbed(
    width: int,
    attrs: Sequence[Union[str, int]],
    rows: Sequence[int],
    dropout: float = 0.0,
    include_static_vectors: bool = False,
    vectors_dropout: float = 0.0,
    where: str = "spacy_rnn.SumHashEmbed.v1",
) -> Model[List[Doc], List[Floats2d]]:
    check_embed_args(width, attrs, rows, dropout, vectors_dropout, where)
    tables = [
        HashEmbed(width, n_rows, column=i, seed=7 + i, dropout=dropout or None)
        for i, n_rows in enumerate(rows)
    ]
    hashed: Model[List[Doc], Ragged] = chain(
        FeatureExtractor(list(attrs)),
        list2ragged(),
        with_array(add(*tables) if len(tables) > 1 else tables[0]),
    )
    if include_static_vectors:
        vectors = StaticVectors(nO=width, dropout=vectors_dropout or None)
        vectors.init = _checked_vectors_init(vectors.init, where)
        hashed = sum_outputs("add_ragged", hashed, vectors)
    model = chain(hashed, ragged2list())
    model.set_dim("nO", width)
    model.attrs["attrs"] = list(attrs)
    model.attrs["include_static_vectors"] = bool(include_static_vectors)
    return model


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
