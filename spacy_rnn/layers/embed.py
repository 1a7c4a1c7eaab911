"""A cheap lexical embedding for recurrent encoders.

``spacy.MultiHashEmbed.v2`` concatenates one hash embedding per attribute and
mixes them with a Maxout layer (3 pieces, layer-normalized). Measured on SST-2
sentences on this 2-core machine, that Maxout takes ~70% of the layer's time
(MultiHashEmbed with NORM, PREFIX, SUFFIX, SHAPE at width 96: 77k words/s).
In front of a recurrent encoder the mixing layer is redundant: the encoder's
input projection is already a learned linear map of the embedding, and a
linear map of a sum of free embedding tables is as expressive as one of their
concatenation. So this layer sums the hash embeddings and stops there.
"""
from typing import List, Sequence, Union

from spacy.attrs import intify_attr
from spacy.ml.featureextractor import FeatureExtractor
from spacy.tokens import Doc
from thinc.api import HashEmbed, Model, add, chain, list2ragged, ragged2list, with_array
from thinc.types import Floats2d

from ..errors import ConfigValueError, Errors


def SumHashEmbed(
    width: int, attrs: Sequence[Union[str, int]], rows: Sequence[int], dropout: float = 0.0
) -> Model[List[Doc], List[Floats2d]]:
    where = "spacy_rnn.SumHashEmbed.v1"
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
    tables = [
        HashEmbed(width, n_rows, column=i, seed=7 + i, dropout=dropout or None)
        for i, n_rows in enumerate(rows)
    ]
    model = chain(
        FeatureExtractor(list(attrs)),
        list2ragged(),
        with_array(add(*tables) if len(tables) > 1 else tables[0]),
        ragged2list(),
    )
    model.set_dim("nO", width)
    model.attrs["attrs"] = list(attrs)
    return model
