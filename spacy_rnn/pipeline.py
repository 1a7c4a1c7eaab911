"""The ``rnn_textcat`` and ``rnn_textcat_multilabel`` pipeline components.

They are spaCy's :class:`~spacy.pipeline.TextCategorizer` and
:class:`~spacy.pipeline.MultiLabel_TextCategorizer`, with a recurrent model as
the default config: labels, ``threshold``, the loss, ``cats_*`` scores and
serialization behave exactly as in spaCy. One deliberate difference: a batch
made only of empty docs is scored by the model too (see
``_BatchInvariantPredict``), so no document's cats depend on its batch.
"""
from typing import Callable, Iterable, Optional

from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.tokens import Doc
from thinc.api import Config, Model

DEFAULT_RNN_TEXTCAT_CONFIG = """
[model]
@architectures = "spacy_rnn.RNNTextCat.v1"
# attention | mean | max | last, always over the real tokens of each document
pooling = "attention"
# dropout on the pooled document vector
dropout = 0.2
exclusive_classes = true

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy_rnn.SumHashEmbed.v1"
width = 64
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
dropout = 0.0

[model.tok2vec.encode]
@architectures = "spacy_rnn.RNNEncoder.v1"
# output width; a bidirectional encoder gives each direction width / 2 units
width = 128
depth = 1
cell = "lstm"
bidirectional = true
dropout = 0.0
"""
DEFAULT_RNN_TEXTCAT_MODEL = Config().from_str(DEFAULT_RNN_TEXTCAT_CONFIG)["model"]
DEFAULT_RNN_TEXTCAT_MULTILABEL_MODEL = Config().from_str(
    DEFAULT_RNN_TEXTCAT_CONFIG.replace("exclusive_classes = true", "exclusive_classes = false")
)["model"]

DEFAULT_SCORE_WEIGHTS = {
    "cats_score": 1.0,
    "cats_score_desc": None,
    "cats_micro_p": None,
    "cats_micro_r": None,
    "cats_micro_f": None,
    "cats_macro_p": None,
    "cats_macro_r": None,
    "cats_macro_f": None,
    "cats_macro_auc": None,
    "cats_f_per_type": None,
}


class _BatchInvariantPredict:
    """spaCy's textcat returns all-zero scores when *every* doc in a batch is
    empty, but model scores when an empty doc is batched with others, so an
    empty text's cats depend on its batch-mates. Our models pool an empty doc
    to a zero vector and score it like any other, so we always run the model:
    a document gets the same cats alone or in any batch."""

    def predict(self, docs: Iterable[Doc]):
        docs = list(docs)
        if not docs:
            return self.model.ops.alloc2f(0, len(self.labels))
        return self.model.ops.asarray(self.model.predict(docs))


class RNNTextCategorizer(_BatchInvariantPredict, TextCategorizer):
    """Single-label text classification with a recurrent model."""


class RNNMultiLabelTextCategorizer(_BatchInvariantPredict, MultiLabel_TextCategorizer):
    """Multi-label text classification with a recurrent model."""


@Language.factory(
    "rnn_textcat",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.0,
        "model": DEFAULT_RNN_TEXTCAT_MODEL,
        "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
    },
    default_score_weights=DEFAULT_SCORE_WEIGHTS,
)
def make_rnn_textcat(
    nlp: Language, name: str, model: Model, threshold: float, scorer: Optional[Callable]
) -> RNNTextCategorizer:
    """Create an ``rnn_textcat`` component: one label per document.

    model (Model[List[Doc], Floats2d]): The classifier, by default
        ``spacy_rnn.RNNTextCat.v1`` with a bidirectional LSTM and attention pooling.
    threshold (float): Unused for exclusive classes, kept for spaCy parity.
    scorer (Optional[Callable]): Defaults to spaCy's ``Scorer.score_cats``.
    """
    return RNNTextCategorizer(nlp.vocab, model, name, threshold=threshold, scorer=scorer)


@Language.factory(
    "rnn_textcat_multilabel",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.5,
        "model": DEFAULT_RNN_TEXTCAT_MULTILABEL_MODEL,
        "scorer": {"@scorers": "spacy.textcat_multilabel_scorer.v2"},
    },
    default_score_weights=DEFAULT_SCORE_WEIGHTS,
)
def make_rnn_textcat_multilabel(
    nlp: Language, name: str, model: Model, threshold: float, scorer: Optional[Callable]
) -> RNNMultiLabelTextCategorizer:
    """Create an ``rnn_textcat_multilabel`` component: any number of labels.

    model (Model[List[Doc], Floats2d]): The classifier, by default
        ``spacy_rnn.RNNTextCat.v1`` with ``exclusive_classes = false``.
    threshold (float): A label counts as predicted at this probability or above.
    scorer (Optional[Callable]): Defaults to spaCy's multilabel ``Scorer.score_cats``.
    """
    return RNNMultiLabelTextCategorizer(
        nlp.vocab, model, name, threshold=threshold, scorer=scorer
    )
