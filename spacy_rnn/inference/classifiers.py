"""The pipeline a scoring or evaluation run uses: loaded, checked, and its
``nlp.max_length`` for the run."""
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Union

import spacy
from spacy.language import Language
from spacy.pipeline.transition_parser import Parser

from ..data.checks import NO_MAX_LENGTH, max_length_setting
from ..errors import ScoreError


def text_classifiers(nlp: Language) -> List[str]:
    """The names of the pipeline's text classifiers: the components whose
    factory says they set ``doc.cats`` (spaCy's ``textcat``,
    ``textcat_multilabel``, ours)."""
    return [name for name in nlp.pipe_names if "doc.cats" in nlp.get_pipe_meta(name).assigns]


def load_classifier(model: Union[str, Path]) -> Language:
    """Load a pipeline with ``spacy.load`` and check that it sets ``doc.cats``.

    RAISES (ScoreError): It cannot be loaded, or has no text classifier.
    """
    try:
        nlp = spacy.load(model)
    except OSError as e:
        raise ScoreError(f"Cannot load the pipeline {str(model)!r}: {e}\nGive the path of a pipeline "
                         "directory (e.g. training/model-best) or the name of an installed pipeline package.")
    if not text_classifiers(nlp):
        raise ScoreError(f"The pipeline {str(model)!r} has no text classifier (no component sets doc.cats); "
             f"its components are: {', '.join(nlp.pipe_names) or 'none'}. Train one with "
             "rnn_textcat or rnn_textcat_multilabel.")
    return nlp


def classifier_labels(nlp: Language) -> List[str]:
    """The labels of the components that set ``doc.cats``, in pipeline order, each once."""
    labels: Dict[str, None] = {}
    for name in text_classifiers(nlp):
        labels.update(dict.fromkeys(getattr(nlp.get_pipe(name), "labels", ())))
    return list(labels)


def scoring_max_length(nlp: Language, max_length: Optional[int] = None) -> int:
    """The ``nlp.max_length`` to score with: ``max_length`` (0: no limit) if given.

    By default no limit: spaCy's limit guards the memory of the parser and
    NER, which grows with the text, and a text classifier needs no such guard.
    A pipeline with a parser or NER keeps its own ``nlp.max_length``.
    """
    if max_length is not None:
        return max_length_setting(max_length)
    if any(isinstance(pipe, Parser) for _, pipe in nlp.pipeline):
        return nlp.max_length
    return NO_MAX_LENGTH


@contextmanager
def max_length_for(nlp: Language, max_length: int) -> Iterator[None]:
    before = nlp.max_length
    nlp.max_length = max_length
    try:
        yield
    finally:
        nlp.max_length = before
