"""Temperature scaling: calibrated ``doc.cats`` from a trained classifier.

A recurrent classifier trained to convergence is usually over-confident: of
its predictions at probability 0.9, fewer than nine in ten are right.
Temperature scaling (Guo et al. 2017) divides the model's log-probabilities
by one number T, fitted on held-out data to minimize the negative
log-likelihood: T > 1 softens the probabilities, T < 1 sharpens them. It
never changes which label is most probable, so accuracy and F-scores of an
exclusive classifier stay as they were; only what the probabilities claim
changes.

Our models output probabilities (the default averages two branches'), so T
acts on them: for exclusive classes ``p_i ** (1 / T)``, normalized over the
labels (a softmax of ``log p / T``); for multi-label ones each label's
log-odds divided by T.

The components take ``temperature`` in their config (1.0: the model's own
probabilities); ``python -m spacy_rnn calibrate`` fits it on a labelled
corpus and writes a copy of the pipeline with it set, so ``doc.cats`` of the
saved pipeline are calibrated and the value is visible in its config.
"""
import math
from typing import Any, Iterable, List, Mapping, Sequence, Tuple

import numpy
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer

from .errors import ConfigValueError, Errors

# log T is searched in [-LOG_RANGE, LOG_RANGE]: T from about 0.02 to 55
LOG_RANGE = 4.0
_EPS = 1e-7


def check_temperature(value: Any, where: str) -> float:
    """``value`` as a temperature: a finite number above 0.

    RAISES (ConfigValueError): Not a number, not finite, or not above 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigValueError(Errors.E038.format(value=value, where=where))
    return float(value)


def scale(scores: Any, temperature: float, exclusive: bool, xp: Any = numpy) -> Any:
    """Probabilities ``scores`` (documents x labels) at ``temperature``; a new array."""
    if temperature == 1.0:
        return scores
    p = xp.clip(scores, _EPS, 1.0)
    if exclusive:
        logits = xp.log(p) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        e = xp.exp(logits)
        return (e / e.sum(axis=1, keepdims=True)).astype(scores.dtype)
    q = xp.clip(scores, 0.0, 1.0 - _EPS)
    logits = (xp.log(p) - xp.log1p(-q)) / temperature
    return (1.0 / (1.0 + xp.exp(-logits))).astype(scores.dtype)


def negative_log_likelihood(scores: numpy.ndarray, gold: numpy.ndarray, exclusive: bool) -> float:
    """Mean NLL of the 0/1 ``gold`` under ``scores``: of the gold label per
    document (exclusive; rows without exactly one gold label are left out),
    or of every (document, label) value (multi-label)."""
    p = numpy.clip(scores.astype("float64"), _EPS, 1 - _EPS)
    if exclusive:
        rows = gold.sum(axis=1) == 1
        if not rows.any():
            return float("nan")
        return float(-numpy.log(p[rows][gold[rows] == 1]).mean())
    return float(-(gold * numpy.log(p) + (1 - gold) * numpy.log1p(-p)).mean())


def fit_temperature(
    pairs: Iterable[Tuple[Mapping[str, float], Mapping[str, float]]],
    labels: Sequence[str],
    exclusive: bool,
) -> float:
    """The temperature that minimizes the NLL of the gold ``cats`` under the
    predicted ones (at temperature 1), by golden-section search over log T
    (the NLL is convex in 1 / T).

    pairs (Iterable[Tuple[Mapping[str, float], Mapping[str, float]]]): Each
        document's predicted ``doc.cats`` (at temperature 1) and gold ``cats``.
    labels (Sequence[str]): The component's labels.
    exclusive (bool): Whether the classes are exclusive.
    RETURNS (float): The temperature, rounded to 4 significant digits.
    RAISES (ValueError): No document to fit on.
    """
    predicted: List[List[float]] = []
    gold: List[List[float]] = []
    for p, y in pairs:
        predicted.append([float(p.get(label, 0.0)) for label in labels])
        gold.append([1.0 if float(y.get(label, 0.0)) >= 0.5 else 0.0 for label in labels])
    scores, targets = numpy.asarray(predicted, dtype="float64"), numpy.asarray(gold)
    if not len(scores) or (exclusive and not (targets.sum(axis=1) == 1).any()):
        raise ValueError("no document with a gold label to fit the temperature on")

    def loss(log_t: float) -> float:
        return negative_log_likelihood(scale(scores, math.exp(log_t), exclusive), targets, exclusive)

    low, high = -LOG_RANGE, LOG_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = loss(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = loss(b)
    return float(f"{math.exp((low + high) / 2):.4g}")


class TemperatureScaled:
    """A text classifier component whose ``predict`` scales the model's
    probabilities by ``temperature`` (see the module docstring). Training is
    unchanged: ``update`` uses the model's own probabilities."""

    _temperature = 1.0

    def __init__(self, *args: Any, temperature: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.temperature = temperature

    @property
    def temperature(self) -> float:
        """The temperature ``doc.cats`` are scaled with (1.0: not scaled)."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self._temperature = check_temperature(value, f"[components.{getattr(self, 'name', '?')}] temperature")

    def predict(self, docs: Iterable[Any]) -> Any:
        scores = super().predict(docs)  # type: ignore[misc]
        if self._temperature == 1.0 or not len(scores):
            return scores
        exclusive = not isinstance(self, MultiLabel_TextCategorizer)
        return scale(scores, self._temperature, exclusive, xp=self.model.ops.xp)  # type: ignore[attr-defined]
