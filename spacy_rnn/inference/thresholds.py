"""Choose ``rnn_textcat_multilabel``'s per-label thresholds on a labelled
corpus and write the pipeline with them (:mod:`spacy_rnn.thresholds`):
``python -m spacy_rnn tune-thresholds``."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import EvaluationError
from .calibration import check_new_folder, choose_component, predict_corpus, write_with_setting


@dataclass
class TunedThresholds:
    """What :func:`tune_thresholds` chose, and the scorer's scores before and
    after on the corpus it chose them on."""

    component: str
    thresholds: Dict[str, float]
    kept_default: List[str]
    n_docs: int
    before: Dict[str, Any]
    after: Dict[str, Any]
    output_path: Path


def tune_thresholds(
    model: Union[str, Path],
    data_path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    precision: Optional[float] = None,
    component: Optional[str] = None,
    text_key: str = "text",
    label_key: str = "label",
    batch_size: Optional[int] = None,
    resamples: int = 200,
) -> TunedThresholds:
    """Fit each label's threshold (:func:`spacy_rnn.thresholds.fit_thresholds`:
    the best F1, or the most recall at ``precision``) on a labelled corpus
    and write a copy of the pipeline with them in the component's config
    (``thresholds``). For the best F1, a label whose fitted threshold does
    not beat the component's ``threshold`` out of sample (bootstrap
    resamples of the corpus) keeps ``threshold``: listed in ``kept_default``.

    model (Union[str, Path]): The pipeline: a path or a package name.
    data_path (Union[str, Path]): Labelled documents the model was not trained
        on: a .spacy file, a JSONL/CSV/TSV file with labels, or a folder of them.
    output_path (Union[str, Path]): A new (or empty) folder for the pipeline.
    precision (Optional[float]): The precision each label should reach; by
        default the threshold with the best F1.
    component (Optional[str]): The component; default the last
        ``rnn_textcat_multilabel``.
    resamples (int): Bootstrap resamples of the out-of-sample check; 0 fits
        every label that has a gold document.
    RETURNS (TunedThresholds): The thresholds and the scores before and after.
    RAISES (EvaluationError): No multi-label component, a gold label it lacks,
        or a ``precision`` outside (0, 1].
    """
    from ..thresholds import fit_thresholds
    from .classifiers import load_pipeline
    from .evaluate import _Cats, _ScoredExample

    if precision is not None and not 0.0 < precision <= 1.0:
        raise EvaluationError(f"precision (--precision) must be above 0 and at most 1, not {precision}.")
    if resamples < 0:
        raise EvaluationError(f"resamples (--resamples) must be 0 or more, not {resamples}.")
    output_path = Path(output_path)
    check_new_folder(output_path, [model, data_path])
    nlp = load_pipeline(model)
    component = choose_component(nlp, component, model, "thresholds")
    pipe = nlp.get_pipe(component)
    pairs = predict_corpus(nlp, component, data_path, text_key=text_key, label_key=label_key, batch_size=batch_size)
    thresholds = fit_thresholds(pairs, list(pipe.labels), precision=precision,
                                default=pipe.cfg["threshold"], resamples=resamples)
    with_gold = {label for _, gold in pairs for label, value in gold.items() if value >= 0.5}
    kept_default = [label for label in pipe.labels if label in with_gold and label not in thresholds]
    examples = [_ScoredExample(_Cats(predicted), _Cats(gold)) for predicted, gold in pairs]
    pipe.thresholds = {}
    before = pipe.score(examples)  # the component's one threshold
    pipe.thresholds = thresholds
    after = pipe.score(examples)
    write_with_setting(nlp, component, "thresholds", thresholds, output_path)
    return TunedThresholds(component, thresholds, kept_default, len(pairs), before, after, output_path)
