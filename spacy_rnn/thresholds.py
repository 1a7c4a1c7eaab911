"""Per-label thresholds for multi-label text classification.

spaCy's ``textcat_multilabel`` predicts a label when its probability is at
least one ``threshold`` (0.5), the same for every label, though the best
cut-off differs with how often a label occurs. ``rnn_textcat_multilabel``
takes ``thresholds`` in its config, a label -> threshold table; a label
without one keeps the component's ``threshold``. They decide which labels
the component's scorer counts as predicted (``cats_micro_f``,
``cats_macro_f``, ``cats_f_per_type``), and :meth:`PerLabelThresholds.predicted_labels`
gives a document's labels. ``doc.cats`` keep the probabilities as they are.

:func:`fit_thresholds` chooses them on labelled data: per label, the
threshold with the best F1, or, given a precision, the lowest threshold that
reaches it (the most recall at that precision).
``python -m spacy_rnn tune-thresholds`` fits them on a corpus and writes the
pipeline with them.
"""
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from .errors import ConfigValueError, Errors


def check_thresholds(thresholds: Any, where: str) -> Dict[str, float]:
    """``thresholds`` as a label -> threshold dict, each in [0, 1].

    RAISES (ConfigValueError): Not a table of numbers in [0, 1].
    """
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        raise ConfigValueError(Errors.E039.format(where=where, value=thresholds, problem="is not a table"))
    for label, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigValueError(Errors.E039.format(
                where=where, value=thresholds, problem=f"gives {label!r} the threshold {value!r}"))
    return {str(label): float(value) for label, value in thresholds.items()}


def rescale(cats: Mapping[str, float], thresholds: Mapping[str, float], default: float) -> Dict[str, float]:
    """``cats`` mapped so that each label's threshold becomes 0.5: a monotone
    map per label, so rankings (ROC AUC) stay, and "at or above 0.5" after it
    is "at or above the label's threshold" before it."""
    out = {}
    for label, p in cats.items():
        t = thresholds.get(label, default)
        if p >= t:
            out[label] = 0.5 + 0.5 * (p - t) / (1.0 - t) if t < 1.0 else 0.5
        else:
            out[label] = 0.5 * p / t if t > 0.0 else 0.0
    return out


@dataclass
class _Cats:
    cats: Dict[str, float]


@dataclass
class _Rescaled:
    predicted: _Cats
    reference: Any


class PerLabelThresholds:
    """The multi-label component's ``thresholds``: its scorer and
    :meth:`predicted_labels` use each label's own threshold."""

    def __init__(self, *args: Any, thresholds: Optional[Mapping[str, float]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.thresholds = thresholds  # type: ignore[assignment]

    @property
    def thresholds(self) -> Dict[str, float]:
        """Label -> threshold; a label without one uses ``cfg["threshold"]``."""
        return self._thresholds

    @thresholds.setter
    def thresholds(self, value: Optional[Mapping[str, float]]) -> None:
        self._thresholds = check_thresholds(value, f"[components.{getattr(self, 'name', '?')}] thresholds")

    def threshold_for(self, label: str) -> float:
        return self._thresholds.get(label, self.cfg["threshold"])  # type: ignore[attr-defined]

    def predicted_labels(self, doc: Doc) -> List[str]:
        """The labels ``doc.cats`` gives at or above their thresholds."""
        return [label for label, p in doc.cats.items() if label in self.labels and p >= self.threshold_for(label)]  # type: ignore[attr-defined]

    def score(self, examples: Iterable[Any], **kwargs: Any) -> Dict[str, Any]:
        if not self._thresholds:
            return super().score(examples, **kwargs)  # type: ignore[misc]
        default = self.cfg["threshold"]  # type: ignore[attr-defined]
        rescaled = [_Rescaled(_Cats(rescale(eg.predicted.cats, self._thresholds, default)), eg.reference)
                    for eg in examples]
        return super().score(rescaled, **{**kwargs, "threshold": 0.5})  # type: ignore[misc]


def _fit_label(p: numpy.ndarray, y: numpy.ndarray, precision: Optional[float]) -> float:
    """One label's threshold from its probabilities ``p`` and gold ``y`` (at
    least one positive): the best F1, or the most recall at ``precision``."""
    order = numpy.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    tp = numpy.cumsum(y)
    predicted = numpy.arange(1, len(p) + 1)
    # cut after position i: every document down to i is predicted; only where the next score is lower
    cuts = numpy.nonzero(numpy.append(p[1:] < p[:-1], True))[0]
    prec = tp[cuts] / predicted[cuts]
    rec = tp[cuts] / y.sum()
    if precision is None:
        f1 = numpy.where(prec + rec > 0, 2 * prec * rec / numpy.maximum(prec + rec, 1e-12), 0.0)
        best = cuts[int(numpy.argmax(f1))]
    else:
        reaching = numpy.nonzero(prec >= precision)[0]
        best = cuts[reaching[-1]] if len(reaching) else cuts[int(numpy.argmax(prec))]
    below = p[best + 1] if best + 1 < len(p) else 0.0
    return round(float((p[best] + below) / 2), 6)


def _f1(p: numpy.ndarray, y: numpy.ndarray, threshold: float) -> float:
    predicted = p >= threshold
    tp = float(numpy.sum(predicted & y))
    denominator = float(predicted.sum() + y.sum())
    return 2 * tp / denominator if denominator else 1.0


def out_of_bag_gain(p: numpy.ndarray, y: numpy.ndarray, default: float, resamples: int, seed: int = 0) -> float:
    """How much a best-F1 threshold beats ``default`` on documents it was not
    fitted on: the mean, over ``resamples`` bootstrap resamples of the
    documents, of F1 at the threshold fitted on the resample minus F1 at
    ``default``, both on the documents the resample left out. Resamples
    without a positive on either side are not counted; if none is left, 0."""
    rng = numpy.random.default_rng(seed)
    n = len(p)
    gains = []
    for _ in range(resamples):
        drawn = rng.integers(0, n, n)
        left_out = numpy.ones(n, dtype=bool)
        left_out[drawn] = False
        if not y[drawn].any() or not y[left_out].any():
            continue
        fitted = _fit_label(p[drawn], y[drawn], None)
        gains.append(_f1(p[left_out], y[left_out], fitted) - _f1(p[left_out], y[left_out], default))
    return float(numpy.mean(gains)) if gains else 0.0


def fit_thresholds(
    pairs: Iterable[Tuple[Mapping[str, float], Mapping[str, float]]],
    labels: Sequence[str],
    precision: Optional[float] = None,
    default: Optional[float] = None,
    resamples: int = 200,
) -> Dict[str, float]:
    """Each label's threshold on labelled data: the one with the best F1, or
    with ``precision`` the lowest one whose precision reaches it (a label
    that never reaches it gets the threshold of its best precision). A
    threshold lies halfway between two neighbouring probabilities, so it
    does not sit on a document's score. A label without a gold document
    gets no threshold (the component's own applies).

    The best F1 on the documents a threshold is fitted on overstates what it
    gives on others, the more so the fewer of a label's documents there are.
    So with ``default`` (the component's ``threshold``), a label gets a
    best-F1 threshold only if it beats ``default`` out of sample
    (:func:`out_of_bag_gain` over ``resamples`` bootstrap resamples, above
    0); otherwise it gets none and keeps ``default``. A ``precision`` the
    user asks for is always fitted.

    pairs (Iterable[Tuple[Mapping[str, float], Mapping[str, float]]]): Each
        document's predicted and gold cats.
    labels (Sequence[str]): The labels to fit.
    precision (Optional[float]): The precision to reach; default the best F1.
    default (Optional[float]): The threshold a label keeps unless a fitted
        one beats it out of sample; ``None`` fits every label.
    resamples (int): Bootstrap resamples of the out-of-sample check; 0 skips it.
    RETURNS (Dict[str, float]): Label -> threshold, rounded to 6 decimals.
    """
    if resamples < 0:
        raise ValueError(f"resamples must be 0 or more, not {resamples}")
    pairs = list(pairs)
    found: Dict[str, float] = {}
    for label in labels:
        p = numpy.asarray([float(cats.get(label, 0.0)) for cats, _ in pairs])
        y = numpy.asarray([float(gold.get(label, 0.0)) >= 0.5 for _, gold in pairs])
        if not y.any():
            continue
        if precision is None and default is not None and resamples:
            if out_of_bag_gain(p, y, default, resamples) <= 0.0:
                continue
        found[label] = _fit_label(p, y, precision)
    return found
