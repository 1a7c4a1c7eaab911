"""Attention weights as explanations: ``doc._.rnn_attention``.

With ``store_attention = true`` (and ``pooling = "attention"``) the
components copy the attention pooling's per-token weights to each doc
(:class:`AttentionExplanations`); ``python -m spacy_rnn explain`` shows them.
"""
from typing import Iterable

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from .errors import ConfigValueError, Errors

# The Doc extension that holds a document's attention weights.
ATTENTION_EXTENSION = "rnn_attention"


def register_attention_extension() -> None:
    """Register ``Doc._.rnn_attention`` (default None), once per process."""
    if not Doc.has_extension(ATTENTION_EXTENSION):
        Doc.set_extension(ATTENTION_EXTENSION, default=None)


def pooling_name(model: Model) -> str:
    """The pooling of an ``RNNTextCat`` model ("attention", "mean", ...), or a
    description of why there is none."""
    if not model.has_ref("pooling"):
        return f"no pooling layer (model {model.name!r} is not spacy_rnn.RNNTextCat.v1)"
    return model.get_ref("pooling").name.replace("pool_", "", 1)


class AttentionExplanations:
    """Copy the attention pooling's per-token weights to ``doc._.rnn_attention``.

    Off by default: the pooling layer then keeps no weights and inference runs
    exactly as without explanations. When on, the pooling layer keeps the
    weights of its last forward pass (``attrs["store_weights"]``), and
    ``set_annotations`` stores them on each doc as plain Python floats (one per
    token, summing to 1; ``[]`` for a doc without tokens), so they survive
    ``Doc.to_bytes`` and ``nlp.pipe(n_process=...)``. With several such
    components in one pipeline, the last one's weights are kept.
    """

    _store_attention = False

    def __init__(self, *args, store_attention: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.store_attention = store_attention

    @property
    def store_attention(self) -> bool:
        """Whether predictions store ``doc._.rnn_attention``; settable at runtime.

        RAISES (ConfigValueError): Set to True on a model without attention pooling.
        """
        return self._store_attention

    @store_attention.setter
    def store_attention(self, value: bool) -> None:
        register_attention_extension()
        if value:
            pooling = pooling_name(self.model)
            if pooling != "attention":
                raise ConfigValueError(Errors.E008.format(name=self.name, pooling=pooling))
        if self.model.has_ref("pooling"):
            self.model.get_ref("pooling").attrs["store_weights"] = bool(value)
            self.model.get_ref("pooling").attrs["last_weights"] = None
        self._store_attention = bool(value)

    def from_bytes(self, *args, **kwargs):
        loaded = super().from_bytes(*args, **kwargs)
        self.store_attention = self._store_attention  # the saved model's attrs hold the setting it was saved with
        return loaded

    def from_disk(self, *args, **kwargs):
        loaded = super().from_disk(*args, **kwargs)
        self.store_attention = self._store_attention
        return loaded

    def _reset_attention(self) -> None:
        if self._store_attention:
            self.model.get_ref("pooling").attrs["last_weights"] = None

    def set_annotations(self, docs: Iterable[Doc], scores: Floats2d) -> None:
        docs = list(docs)
        super().set_annotations(docs, scores)
        if not self._store_attention:
            return
        weights = self.model.get_ref("pooling").attrs["last_weights"]
        if weights is None:  # no doc of the batch has tokens
            weights = [self.model.ops.alloc1f(0) for _ in docs]
        if len(weights) != len(docs):
            raise RuntimeError(
                f"[spacy_rnn] {self.name}: {len(weights)} attention weight lists for "
                f"{len(docs)} docs; set_annotations must follow the predict call of the same docs."
            )
        for doc, doc_weights in zip(docs, weights):
            # tolist(): plain Python floats (from numpy or cupy), picklable and cheap
            doc._.set(ATTENTION_EXTENSION, doc_weights.tolist())
