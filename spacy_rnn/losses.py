"""The training loss of the text classifiers: spaCy's, or cross-entropy,
with class weights and label smoothing.

spaCy's ``textcat`` and ``textcat_multilabel`` report the squared error
between the probabilities and the 0/1 targets, with every class alike, so
on a 90/10 corpus a model can predict the majority class and lose little.
Our components take, in their config:

- ``loss``: ``"squared"`` (spaCy's, the default) or ``"cross_entropy"``
  (the negative log-likelihood of the gold label for exclusive classes,
  binary cross-entropy per label for multi-label ones).
- ``class_weights``: a label -> weight table, or ``"balanced"``: weights
  ``n_docs / (n_labels * n_docs_with_label)`` counted from the training
  examples at initialize (scikit-learn's rule) and saved with the pipeline.
  For exclusive classes a document's loss is weighted by its gold label's
  weight; for multi-label ones a label's weight scales its positive targets
  (PyTorch's ``pos_weight``).
- ``label_smoothing``: targets ``y (1 - e) + e / K`` over the ``K`` labels
  (exclusive), or ``y (1 - e) + e / 2`` per label (multi-label).

The gradient. Every model here, like spaCy's, ends in a softmax (or
logistic) whose backward pass hands the gradient straight to the scores
under it (Thinc's ``Softmax`` and ``Logistic`` do the same), so what
``get_loss`` returns is a gradient with respect to those scores. spaCy's
``P - y`` is exactly the cross-entropy gradient there: spaCy's textcat,
though it reports the squared error, trains on cross-entropy. Both our
losses therefore hand back ``w (P - y)`` (weights and smoothed targets
included) and train alike, step for step; ``loss`` decides the value
reported in the training table (and in ``losses``). In the default
ensemble (``bow_combine = "mean"`` or ``"geometric_mean"``) each branch gets
its own ``p_i - P`` plus that gradient, so the class weights scale the
ensemble's error, not the branches' own correction terms.
"""
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Union

from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.training import Example, validate_examples

from .errors import ConfigValueError, Errors

LOSSES = ("squared", "cross_entropy")
_EPS = 1e-7

ClassWeights = Optional[Union[str, Mapping[str, float]]]


def check_loss_settings(loss: Any, class_weights: Any, label_smoothing: Any, where: str) -> None:
    """RAISES (ConfigValueError): An unknown loss, weights that are neither
    "balanced" nor a table of positive numbers, or a smoothing outside [0, 1)."""
    if loss not in LOSSES:
        raise ConfigValueError(Errors.E040.format(where=where, name="loss", value=loss,
                                                  reason=f"choose one of {', '.join(map(repr, LOSSES))}"))
    if class_weights is not None and class_weights != "balanced":
        if not isinstance(class_weights, Mapping) or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0 for w in class_weights.values()
        ):
            raise ConfigValueError(Errors.E040.format(
                where=where, name="class_weights", value=class_weights,
                reason='use "balanced" or a table of label = weight, each above 0, e.g. {"negative": 5.0}'))
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not (
        0.0 <= label_smoothing < 1.0
    ):
        raise ConfigValueError(Errors.E040.format(where=where, name="label_smoothing", value=label_smoothing,
                                                  reason="use a number in [0, 1): 0 for none"))


def balanced_weights(examples: Iterable[Example], labels: Iterable[str]) -> Dict[str, float]:
    """``n_docs / (n_labels * n_docs_with_label)`` for each label with a
    gold document (a label without one gets 1.0)."""
    labels = list(labels)
    counts = {label: 0 for label in labels}
    n_docs = 0
    for eg in examples:
        n_docs += 1
        for label, value in eg.reference.cats.items():
            if value >= 0.5 and label in counts:
                counts[label] += 1
    return {label: (n_docs / (len(labels) * n) if n else 1.0) for label, n in counts.items()}


class ConfigurableLoss:
    """A text classifier component whose ``get_loss`` follows its ``loss``,
    ``class_weights`` and ``label_smoothing`` (see the module docstring); the
    defaults give spaCy's own loss, computed by spaCy's code."""

    def __init__(
        self, *args: Any, loss: str = "squared", class_weights: ClassWeights = None,
        label_smoothing: float = 0.0, **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        check_loss_settings(loss, class_weights, label_smoothing, f"[components.{getattr(self, 'name', '?')}]")
        self.loss = loss
        self.class_weights = class_weights
        self.label_smoothing = float(label_smoothing)

    def initialize(self, get_examples: Any, **kwargs: Any) -> None:
        super().initialize(get_examples, **kwargs)  # type: ignore[misc]
        # the weights in use: saved with the component's cfg, so "balanced" reloads as it trained
        if self.class_weights == "balanced":
            self.cfg["label_weights"] = balanced_weights(get_examples(), self.labels)  # type: ignore[attr-defined]
        elif self.class_weights is not None:
            self.cfg["label_weights"] = {str(k): float(v) for k, v in self.class_weights.items()}  # type: ignore[attr-defined]
        else:
            self.cfg.pop("label_weights", None)  # type: ignore[attr-defined]

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        weights: Optional[Dict[str, float]] = self.cfg.get("label_weights")  # type: ignore[attr-defined]
        if self.loss == "squared" and not weights and not self.label_smoothing:
            return super().get_loss(examples, scores)  # type: ignore[misc]
        examples = list(examples)
        validate_examples(examples, "get_loss")
        self._validate_categories(examples)  # type: ignore[attr-defined]
        xp = self.model.ops.xp  # type: ignore[attr-defined]
        truths, not_missing = self._examples_to_truth(examples)  # type: ignore[attr-defined]
        truths = xp.asarray(truths, dtype="float32")
        not_missing = xp.asarray(not_missing, dtype="float32")
        exclusive = not isinstance(self, MultiLabel_TextCategorizer)
        n_labels = truths.shape[1]
        y = truths
        if self.label_smoothing:
            e = self.label_smoothing
            y = y * (1.0 - e) + (e / n_labels if exclusive else e / 2.0)
        w = xp.ones_like(truths)
        if weights:
            per_label = xp.asarray([weights.get(label, 1.0) for label in self.labels], dtype="float32")  # type: ignore[attr-defined]
            if exclusive:  # a document's gold label's weight
                has_gold = truths.sum(axis=1, keepdims=True) > 0
                row = (truths * per_label).sum(axis=1, keepdims=True)
                w = w * xp.where(has_gold, row, 1.0)
            else:  # positive targets only
                w = xp.where(truths > 0.5, per_label[None, :] * w, w)
        # the gradient of both losses with respect to the scores under the softmax (see the module docstring)
        d_scores = (scores - y) * w * not_missing
        if self.loss == "squared":
            value = float((w * ((scores - y) * not_missing) ** 2).mean())
        else:
            p = xp.clip(scores, _EPS, 1.0 - _EPS)
            if exclusive:
                value = float(-(y * xp.log(p) * w * not_missing).sum() / max(len(examples), 1))
            else:
                nll = -(y * xp.log(p) + (1.0 - y) * xp.log1p(-p))
                value = float((nll * w * not_missing).mean())
        return value, d_scores.astype(scores.dtype)
