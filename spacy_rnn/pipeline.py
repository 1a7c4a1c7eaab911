"""The ``rnn_textcat`` and ``rnn_textcat_multilabel`` pipeline components.

They are spaCy's :class:`~spacy.pipeline.TextCategorizer` and
:class:`~spacy.pipeline.MultiLabel_TextCategorizer`, with a recurrent model as
the default config: labels, ``threshold``, the loss, ``cats_*`` scores and
serialization behave exactly as in spaCy, which tests/test_spacy_conformance.py
checks by running spaCy's own textcat tests on them. The deliberate
differences: our recurrent model scores a batch made only of empty docs too
(see ``_BatchInvariantPredict``), so no document's cats depend on its batch;
training examples with labels a component lacks stop with E034 (see
``_KnownLabelsOnly``); and ``labels`` in the config spelled as a single-quoted
list are read as that list (see ``config_labels``).

With ``store_attention = true`` (and attention pooling) the components also
explain their predictions: ``doc._.rnn_attention`` holds each token's
attention weight (:mod:`spacy_rnn.attention`). Beyond spaCy's settings they
take ``temperature`` (:mod:`spacy_rnn.temperature`), ``loss``,
``class_weights`` and ``label_smoothing`` (:mod:`spacy_rnn.losses`),
``weights_dtype`` (:mod:`spacy_rnn.quantization`), and the multi-label one
``thresholds`` (:mod:`spacy_rnn.thresholds`).
"""
import ast
from typing import Callable, Dict, Iterable, Optional, Union

from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Config, Model

from .errors import Errors
from .attention import AttentionExplanations
from .losses import ConfigurableLoss
from .quantization import Int8Storage
from .schedule import check_training_config
from .temperature import TemperatureScaled
from .thresholds import PerLabelThresholds

DEFAULT_RNN_TEXTCAT_CONFIG = """
[model]
@architectures = "spacy_rnn.RNNTextCat.v1"
# attention | mean | max | last, or several joined by "+"; always over the real tokens of each document
pooling = "attention"
# dropout on the pooled document vector
dropout = 0.2
exclusive_classes = true
# a linear model over hashed unigrams and bigrams beside the recurrent branch (0: none)
bow_ngram_size = 2
# hash rows per label of the bag-of-n-grams weights
bow_length = 262144
# an n-gram counts once per document, however often it occurs
bow_counts = "binary"
# the two branches are an ensemble: each has its own softmax, the output is their mean
bow_combine = "mean"

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy_rnn.SumHashEmbed.v1"
width = 64
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
dropout = 0.0
# the pipeline's static vectors when it has a table at initialization; the choice is saved
include_static_vectors = "auto"
vectors_dropout = 0.0

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


class _KnownLabelsOnly:
    """Refuse training examples with labels the component does not have.

    spaCy's textcat builds each example's target from its own labels only, so
    an example whose label the component lacks (a corpus with other labels
    than a sourced component's) would be trained toward none of them, with no
    message. ``update``, ``rehearse`` and ``get_loss`` all validate through
    ``_validate_categories``; this adds the check there (E034).

    ``initialize`` takes the examples as spaCy does, also with ``labels``
    other than theirs (spaCy's multi-label component validates them through
    the same method, its single-label one before it adds the labels): only
    training refuses them, from the first update."""

    _initializing = False

    def initialize(self, *args, **kwargs) -> None:
        self._initializing = True
        try:
            super().initialize(*args, **kwargs)
        finally:
            self._initializing = False

    def _validate_categories(self, examples: Iterable[Example]) -> None:
        super()._validate_categories(examples)
        labels = set(self.labels)
        if not labels or self._initializing:
            return
        for eg in examples:
            unknown = set(eg.reference.cats) - labels
            if unknown:
                raise ValueError(
                    Errors.E034.format(
                        name=self.name, unknown=", ".join(sorted(map(repr, unknown))),
                        labels=", ".join(map(repr, self.labels)), text=eg.reference.text[:60],
                    )
                )


def scores_empty_docs(model: Model) -> bool:
    """Whether ``model`` is ours (``spacy_rnn.RNNTextCat.v1``): its pooling
    gives a doc without tokens a zero vector, scored like any other."""
    return model.has_ref("pooling") and model.get_ref("pooling").name.startswith("pool_")


class _BatchInvariantPredict:
    """spaCy's textcat returns all-zero scores when *every* doc in a batch is
    empty, but model scores when an empty doc is batched with others, so an
    empty text's cats depend on its batch-mates. Our models pool an empty doc
    to a zero vector and score it like any other, so we always run them: a
    document gets the same cats alone or in any batch. Another model (one of
    spaCy's architectures) gets spaCy's all-zero scores for such a batch, as
    it may not take a batch without tokens (spaCy's TextCatBOW does not)."""

    def predict(self, docs: Iterable[Doc]):
        docs = list(docs)
        self._reset_attention()
        if not docs:
            return self.model.ops.alloc2f(0, len(self.labels))
        if not scores_empty_docs(self.model) and not any(len(doc) for doc in docs):
            return super().predict(docs)
        return self.model.ops.asarray(self.model.predict(docs))


def config_labels(labels: Optional[Union[str, Iterable[str]]]) -> Optional[Iterable[str]]:
    """The ``labels`` given to ``initialize``, with a string that spells a
    list or tuple of strings (``labels = ['a', 'b']`` in a config, which
    spaCy's config reads as one string, single quotes not being JSON) read as
    that list, where spaCy's textcat would take each of its characters as a
    label. Anything else is returned as it is. (The ``initialize`` methods
    type ``labels`` as ``Union[str, Iterable[str]]`` so that spaCy's
    validation of ``[initialize]`` settings passes such a string on whole.)"""
    if not isinstance(labels, str):
        return labels
    try:
        value = ast.literal_eval(labels.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return labels
    if isinstance(value, (list, tuple)) and all(isinstance(label, str) for label in value):
        return list(value)
    return labels


class RNNTextCategorizer(
    TemperatureScaled, ConfigurableLoss, AttentionExplanations, _BatchInvariantPredict, _KnownLabelsOnly,
    Int8Storage, TextCategorizer,
):
    """Single-label text classification with a recurrent model."""

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[str, Iterable[str]]] = None,
        positive_label: Optional[str] = None,
    ) -> None:
        """spaCy's ``TextCategorizer.initialize``, after ``check_training_config``;
        ``labels`` as read by ``config_labels``."""
        check_training_config(nlp, get_examples)
        super().initialize(get_examples, nlp=nlp, labels=config_labels(labels), positive_label=positive_label)


class RNNMultiLabelTextCategorizer(
    PerLabelThresholds, TemperatureScaled, ConfigurableLoss, AttentionExplanations, _BatchInvariantPredict,
    _KnownLabelsOnly, Int8Storage, MultiLabel_TextCategorizer,
):
    """Multi-label text classification with a recurrent model."""

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[str, Iterable[str]]] = None,
    ) -> None:
        """spaCy's ``MultiLabel_TextCategorizer.initialize``, after ``check_training_config``;
        ``labels`` as read by ``config_labels``. No ``positive_label``, as in spaCy."""
        check_training_config(nlp, get_examples)
        super().initialize(get_examples, nlp=nlp, labels=config_labels(labels))


@Language.factory(
    "rnn_textcat",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.0,
        "store_attention": False,
        "temperature": 1.0,
        "loss": "squared",
        "class_weights": None,
        "label_smoothing": 0.0,
        "weights_dtype": "float32",
        "model": DEFAULT_RNN_TEXTCAT_MODEL,
        "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
    },
    default_score_weights=DEFAULT_SCORE_WEIGHTS,
)
def make_rnn_textcat(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    scorer: Optional[Callable],
    store_attention: bool,
    temperature: float = 1.0,
    loss: str = "squared",
    class_weights: Optional[Union[str, Dict[str, float]]] = None,
    label_smoothing: float = 0.0,
    weights_dtype: str = "float32",
) -> RNNTextCategorizer:
    """Create an ``rnn_textcat`` component: one label per document.

    model (Model[List[Doc], Floats2d]): The classifier, by default
        ``spacy_rnn.RNNTextCat.v1``: a bidirectional LSTM with attention
        pooling over hash embeddings (plus the pipeline's static vectors when
        it has a table), averaged with a bag of unigrams and bigrams.
    threshold (float): Unused for exclusive classes, kept for spaCy parity.
    scorer (Optional[Callable]): Defaults to spaCy's ``Scorer.score_cats``.
    store_attention (bool): Store each token's attention weight in
        ``doc._.rnn_attention`` (a list of floats summing to 1, one per token;
        None while off). Needs ``pooling = "attention"``. Off by default, and
        then free: the weights are not even kept.
    temperature (float): Scales the probabilities in ``doc.cats``
        (:mod:`spacy_rnn.temperature`); 1.0 leaves them as the model gives
        them. ``python -m spacy_rnn calibrate`` fits it.
    loss, class_weights, label_smoothing: The training loss
        (:mod:`spacy_rnn.losses`): "squared" (spaCy's) or "cross_entropy";
        "balanced" or a label -> weight table; a smoothing in [0, 1). E040
        for another value.
    weights_dtype (str): How the model's weights are saved: "float32", or
        "int8" (about a quarter of the size, loaded back as float32;
        :mod:`spacy_rnn.quantization`). ``python -m spacy_rnn quantize``
        writes a copy of a trained pipeline with it. E040 for another value.
    RAISES (ConfigValueError): store_attention without attention pooling, or
        a temperature that is not a number above 0 (E038).
    """
    return RNNTextCategorizer(
        nlp.vocab, model, name, threshold=threshold, scorer=scorer, store_attention=store_attention,
        temperature=temperature, loss=loss, class_weights=class_weights, label_smoothing=label_smoothing,
        weights_dtype=weights_dtype,
    )


@Language.factory(
    "rnn_textcat_multilabel",
    assigns=["doc.cats"],
    default_config={
        "threshold": 0.5,
        "store_attention": False,
        "temperature": 1.0,
        "thresholds": {},
        "loss": "squared",
        "class_weights": None,
        "label_smoothing": 0.0,
        "weights_dtype": "float32",
        "model": DEFAULT_RNN_TEXTCAT_MULTILABEL_MODEL,
        "scorer": {"@scorers": "spacy.textcat_multilabel_scorer.v2"},
    },
    default_score_weights=DEFAULT_SCORE_WEIGHTS,
)
def make_rnn_textcat_multilabel(
    nlp: Language,
    name: str,
    model: Model,
    threshold: float,
    scorer: Optional[Callable],
    store_attention: bool,
    temperature: float = 1.0,
    thresholds: Dict[str, float] = {},
    loss: str = "squared",
    class_weights: Optional[Union[str, Dict[str, float]]] = None,
    label_smoothing: float = 0.0,
    weights_dtype: str = "float32",
) -> RNNMultiLabelTextCategorizer:
    """Create an ``rnn_textcat_multilabel`` component: any number of labels.

    model (Model[List[Doc], Floats2d]): The classifier, by default the model
        of ``rnn_textcat`` with ``exclusive_classes = false``.
    threshold (float): A label counts as predicted at this probability or
        above, unless ``thresholds`` gives it its own.
    thresholds (Dict[str, float]): Label -> threshold, for the scorer and
        ``predicted_labels`` (:mod:`spacy_rnn.thresholds`); ``python -m
        spacy_rnn tune-thresholds`` fits them. E039 for a value outside [0, 1].
    scorer (Optional[Callable]): Defaults to spaCy's multilabel ``Scorer.score_cats``.
    store_attention (bool): Store each token's attention weight in
        ``doc._.rnn_attention`` (a list of floats summing to 1, one per token;
        None while off). Needs ``pooling = "attention"``. Off by default, and
        then free: the weights are not even kept.
    temperature (float): Scales each label's probability in ``doc.cats``
        (:mod:`spacy_rnn.temperature`); 1.0 leaves them as the model gives
        them. ``python -m spacy_rnn calibrate`` fits it.
    loss, class_weights, label_smoothing: The training loss
        (:mod:`spacy_rnn.losses`): "squared" (spaCy's) or "cross_entropy";
        "balanced" or a label -> weight table; a smoothing in [0, 1). E040
        for another value.
    weights_dtype (str): How the model's weights are saved: "float32", or
        "int8" (about a quarter of the size, loaded back as float32;
        :mod:`spacy_rnn.quantization`). ``python -m spacy_rnn quantize``
        writes a copy of a trained pipeline with it. E040 for another value.
    RAISES (ConfigValueError): store_attention without attention pooling, or
        a temperature that is not a number above 0 (E038).
    """
    return RNNMultiLabelTextCategorizer(
        nlp.vocab, model, name, threshold=threshold, scorer=scorer, store_attention=store_attention,
        temperature=temperature, thresholds=thresholds, loss=loss, class_weights=class_weights,
        label_smoothing=label_smoothing,
        weights_dtype=weights_dtype,
    )
