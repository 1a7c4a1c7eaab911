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

:func:`calibrate` fits a component's ``temperature``
(:mod:`spacy_rnn.temperature`) on a labelled corpus and writes the pipeline
with it: ``python -m spacy_rnn calibrate``.
"""
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.pipeline.textcat_multilabel import MultiLabel_TextCategorizer
from spacy.util import minibatch
from thinc.api import Config

from ..errors import EvaluationError, OutputError
from ..output_file import check_output

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


@dataclass
class Calibration:
    """What :func:`calibrate` fitted and measured, on the corpus it fitted on."""

    component: str
    temperature: float
    n_docs: int
    before: Dict[str, Any]
    after: Dict[str, Any]
    output_path: Path


def calibrate(
    model: Union[str, Path],
    data_path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    component: Optional[str] = None,
    text_key: str = "text",
    label_key: str = "label",
    batch_size: Optional[int] = None,
) -> Calibration:
    """Fit a text classifier's ``temperature`` on a labelled corpus
    (:func:`spacy_rnn.temperature.fit_temperature`) and write a copy of the
    pipeline with it set in the component's config, so that its ``doc.cats``
    are calibrated when loaded with ``spacy.load``.

    model (Union[str, Path]): The pipeline: a path or a package name.
    data_path (Union[str, Path]): Labelled documents the model was not trained
        on (a dev split): a .spacy file, a JSONL/CSV/TSV file with labels, or a
        folder of them.
    output_path (Union[str, Path]): The folder to write the calibrated
        pipeline to; it must not exist yet, or be empty.
    component (Optional[str]): The component to calibrate; default the last
        one with a ``temperature`` (``rnn_textcat``, ``rnn_textcat_multilabel``).
    RETURNS (Calibration): The temperature, and the ECE and Brier score before
        and after it on ``data_path``.
    RAISES (EvaluationError): No component to calibrate, a gold label the
        component lacks, or no labelled document.
    RAISES (OutputError): ``output_path`` is an input, inside one, or a folder
        that is not empty.
    RAISES (ScoreError): The pipeline cannot be loaded.
    RAISES (CorpusError): The corpus cannot be read.
    """
    from ..temperature import fit_temperature, scale
    from .classifiers import load_pipeline

    output_path = Path(output_path)
    check_new_folder(output_path, [model, data_path])
    nlp = load_pipeline(model)
    component = choose_component(nlp, component, model, "temperature")
    pipe = nlp.get_pipe(component)
    labels = list(pipe.labels)
    exclusive = not isinstance(pipe, MultiLabel_TextCategorizer)
    pipe.temperature = 1.0
    pairs = predict_corpus(nlp, component, data_path, text_key=text_key, label_key=label_key, batch_size=batch_size)
    try:
        temperature = fit_temperature(pairs, labels, exclusive)
    except ValueError as e:
        raise EvaluationError(f"{data_path}: {e}; calibrate on labelled documents.") from None

    def scaled(p: Dict[str, float]) -> Dict[str, float]:
        row = scale(numpy.asarray([[p.get(label, 0.0) for label in labels]]), temperature, exclusive)[0]
        return dict(zip(labels, row.tolist()))

    before = calibration_scores(pairs, labels, exclusive)
    after = calibration_scores(((scaled(p), y) for p, y in pairs), labels, exclusive)
    pipe.temperature = temperature
    write_with_setting(nlp, component, "temperature", temperature, output_path)
    return Calibration(component, temperature, len(pairs), before, after, output_path)


def check_new_folder(output_path: Path, inputs: Sequence[Union[str, Path]]) -> None:
    """Refuse an ``output_path`` for a pipeline that is an input, inside one,
    or a folder with files in it (:func:`~spacy_rnn.output_file.check_output`)."""
    check_output(output_path, [p for p in inputs if Path(p).exists()], option="OUTPUT", folder=True)
    if output_path.is_dir() and any(output_path.iterdir()):
        raise OutputError(f"OUTPUT {output_path} is a folder that is not empty: choose a new folder for the "
                          "pipeline.")


def choose_component(nlp: Language, component: Optional[str], model: Union[str, Path], setting: str) -> str:
    """The component to set ``setting`` of: ``component``, or the last one that has it.

    RAISES (EvaluationError): No such component.
    """
    names = [name for name in nlp.pipe_names if hasattr(nlp.get_pipe(name), setting)]
    if component is None and names:
        return names[-1]
    if component in names:
        return component
    kinds = "rnn_textcat_multilabel" if setting == "thresholds" else "rnn_textcat or rnn_textcat_multilabel"
    if component is not None:
        raise EvaluationError(f"The pipeline {str(model)!r} has no component {component!r} with {setting}; "
                              f"those with it: {', '.join(names) or 'none'} ({kinds}). Pass --component.")
    raise EvaluationError(f"The pipeline {str(model)!r} has no {kinds} component, which {setting} belongs "
                          f"to; its components are: {', '.join(nlp.pipe_names) or 'none'}.")


def predict_corpus(
    nlp: Language, component: str, data_path: Union[str, Path], *, text_key: str = "text",
    label_key: str = "label", batch_size: Optional[int] = None,
) -> List[Tuple[Dict[str, float], Dict[str, float]]]:
    """Each document's predicted and gold ``cats`` on a labelled corpus.

    RAISES (EvaluationError): A gold label ``component`` lacks.
    RAISES (CorpusError): The corpus cannot be read.
    """
    from ..data.streaming import StreamingCorpus

    labels = set(nlp.get_pipe(component).labels)
    pairs: List[Tuple[Dict[str, float], Dict[str, float]]] = []
    corpus = StreamingCorpus(data_path, shuffle=False, text_key=text_key, label_key=label_key)
    for chunk in minibatch(corpus.located_examples(nlp), size=1000):
        for eg, where in chunk:
            unknown = {label for label, value in eg.reference.cats.items() if value and label not in labels}
            if unknown:
                raise EvaluationError(
                    f"{where}: the gold label(s) {', '.join(sorted(map(repr, unknown)))} are not labels of "
                    f"{component!r} ({', '.join(map(repr, sorted(labels)))}): use a corpus with its labels."
                )
        docs = nlp.pipe((eg.predicted for eg, _ in chunk), batch_size=batch_size or nlp.batch_size)
        pairs.extend((dict(doc.cats), dict(eg.reference.cats)) for doc, (eg, _) in zip(docs, chunk))
    return pairs


def write_with_setting(nlp: Language, component: str, key: str, value: Any, output_path: Path) -> None:
    """Save ``nlp`` to ``output_path`` (through a new folder beside it, renamed
    at the end) with ``key = value`` in the component's config."""
    write_with_settings(nlp, {component: {key: value}}, output_path)


def write_with_settings(nlp: Language, settings: Dict[str, Dict[str, Any]], output_path: Path) -> None:
    """Save ``nlp`` to ``output_path`` (through a new folder beside it, renamed
    at the end) with each component's ``{key: value}`` of ``settings`` in its config."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_path.name}.", dir=output_path.parent))
    try:
        nlp.to_disk(tmp)
        config = Config().from_disk(tmp / "config.cfg", interpolate=False)
        for component, values in settings.items():
            config["components"][component].update(values)
        config.to_disk(tmp / "config.cfg")
        tmp.chmod(0o777 & ~_umask())
        if output_path.exists():
            output_path.rmdir()  # empty: checked above
        tmp.rename(output_path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
