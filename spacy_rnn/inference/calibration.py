"""Whether ``doc.cats`` mean what they say: expected calibration error and
the Brier score, beside spaCy's ``cats_*`` scores.

A classifier is calibrated when, of the predictions it makes with
probability 0.9, nine in ten are right. Two measures, as the literature
defines them:

- **Expected calibration error** (ECE; Naeini et al. 2015, Guo et al. 2017):
  the predictions are put into ``n_bins`` bins of equal width by their
  probability, and ECE is the mean, weighted by the bins' sizes, of the gap
  between a bin's mean probability and how often its predictions were
  right. For exclusive classes the prediction is the top label and its
  probability (Guo et al.'s "confidence"); a document without exactly one
  gold label has no right answer and is left out. For multi-label
  classifiers every (document, label) pair is a prediction: probability
  ``doc.cats[label]``, right when the label is gold.
- **Brier score** (Brier 1950): the mean squared difference between the
  probabilities and the 0/1 gold values; for exclusive classes summed over
  the labels of a document (0 is perfect, 2 the worst), for multi-label
  classifiers per (document, label) pair (0 to 1).

Both are 0 for a perfect, certain classifier; a model that says 0.9 and is
right half the time has an ECE near 0.4 whatever its accuracy.
"""
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

N_BINS = 15  # Guo et al. (2017)


def calibration_scores(
    pairs: Iterable[Tuple[Mapping[str, float], Mapping[str, float]]],
    labels: Sequence[str],
    exclusive: bool,
    n_bins: int = N_BINS,
) -> Dict[str, Any]:
    """ECE and Brier score of predicted ``cats`` against gold ``cats``.

    pairs (Iterable[Tuple[Mapping[str, float], Mapping[str, float]]]): Each
        document's predicted and gold ``doc.cats``.
    labels (Sequence[str]): The component's labels (a missing one counts 0.0).
    exclusive (bool): Whether the classes are exclusive (``rnn_textcat``,
        ``textcat``) or not (``rnn_textcat_multilabel``).
    n_bins (int): Equal-width probability bins for the ECE.
    RETURNS (Dict[str, Any]): ``cats_ece``, ``cats_brier`` (None without a
        prediction to score), and ``cats_calibration``: per bin, its range,
        how many predictions, their mean probability and how often they were
        right (the data of a reliability diagram).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be 1 or more, not {n_bins}")
    counts = [0] * n_bins
    probability = [0.0] * n_bins
    right = [0.0] * n_bins
    brier_sum, brier_n = 0.0, 0

    def add(p: float, correct: bool) -> None:
        b = min(int(p * n_bins), n_bins - 1) if p > 0 else 0
        counts[b] += 1
        probability[b] += p
        right[b] += float(correct)

    for predicted, gold in pairs:
        p = [float(predicted.get(label, 0.0)) for label in labels]
        y = [float(gold.get(label, 0.0)) for label in labels]
        if exclusive:
            brier_sum += sum((pi - yi) ** 2 for pi, yi in zip(p, y))
            brier_n += 1
            golds = [i for i, yi in enumerate(y) if yi >= 0.5]
            if len(golds) == 1 and p:
                top = max(range(len(p)), key=p.__getitem__)
                add(p[top], top == golds[0])
        else:
            for pi, yi in zip(p, y):
                brier_sum += (pi - yi) ** 2
                brier_n += 1
                add(pi, yi >= 0.5)
    n = sum(counts)
    ece = sum(abs(right[b] - probability[b]) for b in range(n_bins)) / n if n else None
    bins: List[Dict[str, Any]] = [
        {"from": b / n_bins, "to": (b + 1) / n_bins, "count": counts[b],
         "mean_probability": probability[b] / counts[b] if counts[b] else None,
         "accuracy": right[b] / counts[b] if counts[b] else None}
        for b in range(n_bins)
    ]
    return {"cats_ece": ece, "cats_brier": brier_sum / brier_n if brier_n else None, "cats_calibration": bins}
