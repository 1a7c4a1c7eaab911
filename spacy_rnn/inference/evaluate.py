"""Evaluate text classifiers over a corpus of any size, in bounded memory.

spaCy's ``Language.evaluate`` (and with it ``spacy evaluate``) lists the whole
corpus as ``Example`` objects, copies their predicted docs and keeps every doc
until it has scored them, so its memory grows with the corpus
(``docs/design/memory.md``). Its text-classification scores need
only each document's predicted and gold ``doc.cats``, so
:func:`evaluate_stream` runs the pipeline over the examples a chunk at a
time, keeps those two dicts per document, and hands them to each text
classifier's own scorer (``Pipe.score``, the scorer of its config): the same
``cats_*`` scores as ``spacy evaluate``, computed by the same code.

Beside them, :mod:`.calibration` adds the expected calibration error and
the Brier score of the same ``cats`` (``cats_ece``, ``cats_brier``, and the
bins of a reliability diagram in ``cats_calibration``), and
:func:`confusion_scores` the counts of a confusion matrix
(``cats_confusion``), which :mod:`.plots` draws.

Only text classifiers are scored. A pipeline's other components still run,
but their scores (and the tokenization scores, ``token_acc`` and friends)
need the docs themselves: use ``spacy evaluate`` for them.
"""
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.training import Example
from spacy.util import minibatch

from ..errors import Errors, EvaluationError
from .calibration import calibration_scores
from .classifiers import text_classifiers


@dataclass
class _Cats:
    """What a text-classification scorer reads of a doc: its ``cats``."""

    cats: Dict[str, float]


@dataclass
class _ScoredExample:
    """What a text-classification scorer reads of an example."""

    predicted: _Cats
    reference: _Cats


@dataclass
class EvaluationReport:
    """Counts of one :func:`evaluate_stream` run."""

    n_docs: int = 0
    n_words: int = 0
    seconds: float = 0.0
    components: List[str] = field(default_factory=list)


def evaluate_stream(
    nlp: Language,
    examples: Iterable[Union[Example, Tuple[Example, object]]],
    *,
    batch_size: Optional[int] = None,
    chunk_size: int = 1000,
    report: Optional[EvaluationReport] = None,
) -> Dict[str, Any]:
    """Score the pipeline's text classifiers on ``examples``, reading them
    ``chunk_size`` at a time: only the chunk's docs and, per document, its
    predicted and gold ``cats`` are held.

    nlp (Language): A pipeline with at least one text classifier.
    examples (Iterable[Union[Example, Tuple[Example, object]]]): Read once,
        lazily; each predicted doc is run through the pipeline (as
        ``Language.evaluate`` runs a copy of it). An item may also be an
        (example, where) pair, ``str(where)`` naming the document in messages,
        e.g. ``StreamingCorpus.located_examples``' "dev.jsonl, line 3";
        otherwise a message counts the documents ("document 3 of the corpus").
    batch_size (Optional[int]): Docs per ``nlp.pipe`` batch; default
        ``nlp.batch_size``, as ``Language.evaluate``.
    chunk_size (int): Examples read before their docs are run and dropped.
    report (Optional[EvaluationReport]): Filled with the counts, if given.
    RETURNS (Dict[str, Any]): Each text classifier's scores (``cats_score``,
        ``cats_macro_auc``, ...) and ``speed`` (words per second of the
        pipeline), the keys of ``Language.evaluate``; and ``cats_ece``,
        ``cats_brier`` and ``cats_calibration``
        (:func:`~spacy_rnn.inference.calibration.calibration_scores`), and
        ``cats_confusion`` (:func:`confusion_scores`).
    RAISES (EvaluationError): The pipeline has no text classifier,
        ``chunk_size`` is not 1 or more, or a document has a gold label that
        no text classifier predicts (E035, naming the document: spaCy's
        ``Language.evaluate`` would score it as a mistake without a word).
    """
    # the text classifiers Language.evaluate would score: those with a scorer
    names = [name for name in text_classifiers(nlp) if hasattr(nlp.get_pipe(name), "score")]
    if not names:
        raise EvaluationError(
            f"The pipeline ({', '.join(nlp.pipe_names) or 'no components'}) has no text classifier to "
            "evaluate: this evaluation scores doc.cats only. Use `python -m spacy evaluate` for other components."
        )
    if chunk_size < 1:
        raise EvaluationError(f"chunk_size must be 1 or more, not {chunk_size}")
    report = report if report is not None else EvaluationReport()
    report.components = names
    batch_size = batch_size or nlp.batch_size
    labels = {name: tuple(getattr(nlp.get_pipe(name), "labels", ())) for name in names}
    known = {label for component_labels in labels.values() for label in component_labels}
    scored: List[_ScoredExample] = []
    for items in minibatch(examples, size=chunk_size):
        chunk: List[Example] = []
        for i, item in enumerate(items, start=report.n_docs + 1):
            eg, where = item if isinstance(item, tuple) else (item, None)
            chunk.append(eg)
            # a label at 0.0 is scored right as it is; one the document has is what goes wrong
            unknown = {label for label, value in eg.reference.cats.items() if value and label not in known}
            if unknown:
                described = "; ".join(f"{name}: {', '.join(map(str, ls)) or 'no labels'}" for name, ls in labels.items())
                raise EvaluationError(Errors.E035.format(
                    where=where if where is not None else f"document {i} of the corpus",
                    unknown=", ".join(sorted(map(repr, unknown))), labels=described, text=eg.reference.text[:60],
                ))
        start = time.perf_counter()
        docs = list(nlp.pipe((eg.predicted for eg in chunk), batch_size=batch_size))
        report.seconds += time.perf_counter() - start
        for eg, doc in zip(chunk, docs):
            scored.append(_ScoredExample(_Cats(dict(doc.cats)), _Cats(dict(eg.reference.cats))))
            report.n_docs += 1
            report.n_words += len(doc)
    scores: Dict[str, Any] = {}
    pairs = [(eg.predicted.cats, eg.reference.cats) for eg in scored]
    for name in names:
        pipe = nlp.get_pipe(name)
        scores.update(pipe.score(scored))
        exclusive = not isinstance(pipe, MultiLabel_TextCategorizer)
        scores.update(calibration_scores(pairs, labels[name], exclusive=exclusive))
        scores.update(confusion_scores(pairs, labels[name], exclusive=exclusive, thresholds=_thresholds(pipe)))
    scores["speed"] = report.n_words / report.seconds if report.seconds else 0.0
    return scores


def confusion_scores(
    pairs: Iterable[Tuple[Mapping[str, float], Mapping[str, float]]],
    labels: Sequence[str],
    exclusive: bool,
    thresholds: Optional[Mapping[str, float]] = None,
) -> Dict[str, Any]:
    """The counts of a confusion matrix, decided as spaCy's ``Scorer.score_cats`` decides.

    pairs (Iterable[Tuple[Mapping[str, float], Mapping[str, float]]]): Each
        document's predicted and gold ``doc.cats``.
    labels (Sequence[str]): The component's labels; other keys of the cats are ignored.
    exclusive (bool): Whether the classes are exclusive.
    thresholds (Optional[Mapping[str, float]]): Multi-label only: a label is
        predicted at this probability or above (default 0.5), as the
        component's scorer counts it.
    RETURNS (Dict[str, Any]): ``cats_confusion``. Exclusive classes:
        ``{"exclusive": true, "labels": [...], "matrix": [[...]], "left_out": n}``,
        ``matrix[i][j]`` the documents of gold label ``labels[i]`` whose most
        probable label is ``labels[j]`` (its diagonal is the scorer's true
        positives), ``left_out`` the documents without a gold label (or
        without predicted cats). Multi-label: ``{"exclusive": false, "labels": [...],
        "thresholds": {label: t}, "per_label": {label: {"tp", "fn", "fp", "tn"}}}``;
        a label missing from a document's gold cats is not counted for it.
    """
    index = {label: i for i, label in enumerate(labels)}
    if exclusive:
        matrix = [[0] * len(labels) for _ in labels]
        left_out = 0
        for predicted, gold in pairs:
            # the highest of each, the first in dict order on a tie: as Scorer.score_cats picks them
            pred = [(label, value) for label, value in predicted.items() if label in index]
            ref = [(label, value) for label, value in gold.items() if label in index]
            gold_label, gold_value = max(ref, key=lambda item: item[1]) if ref else (None, 0.0)
            if not pred or gold_value <= 0:
                left_out += 1
                continue
            pred_label = max(pred, key=lambda item: item[1])[0]
            matrix[index[gold_label]][index[pred_label]] += 1
        return {"cats_confusion": {"exclusive": True, "labels": list(labels), "matrix": matrix, "left_out": left_out}}
    cut = {label: (thresholds or {}).get(label, 0.5) for label in labels}
    counts = {label: {"tp": 0, "fn": 0, "fp": 0, "tn": 0} for label in labels}
    for predicted, gold in pairs:
        for label in labels:
            gold_value = gold.get(label)
            if gold_value is None:
                continue
            yes = float(predicted.get(label, 0.0)) >= cut[label]
            key = ("tp" if yes else "fn") if gold_value > 0 else ("fp" if yes else "tn")
            counts[label][key] += 1
    return {"cats_confusion": {"exclusive": False, "labels": list(labels), "thresholds": cut, "per_label": counts}}


def _thresholds(pipe: Any) -> Dict[str, float]:
    """The threshold at which a multi-label component's scorer counts each label as predicted."""
    threshold_for = getattr(pipe, "threshold_for", None)
    default = float(getattr(pipe, "cfg", {}).get("threshold", 0.5))
    return {label: float(threshold_for(label)) if threshold_for else default for label in getattr(pipe, "labels", ())}
