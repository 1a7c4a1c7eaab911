"""The pipeline a scoring or evaluation run uses: loaded, checked, and its
``nlp.max_length`` for the run."""
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
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


def load_pipeline(model: Union[str, Path]) -> Language:
    """Load a pipeline with ``spacy.load``: the one place that ``score``,
    ``evaluate`` and ``explain`` load theirs.

    RAISES (ScoreError): It cannot be loaded. The message names the pipeline,
        the file that looks damaged when the error tells (config.cfg, a
        component's weights, ...), the error underneath on one line, and what
        to do.
    """
    try:
        return spacy.load(model)
    except Exception as e:  # spaCy, Thinc, srsly and confection each raise their own
        raise ScoreError(_load_failure(model, e)) from None


def load_classifier(model: Union[str, Path]) -> Language:
    """Load a pipeline (:func:`load_pipeline`) and check that it sets ``doc.cats``.

    RAISES (ScoreError): It cannot be loaded, or has no text classifier.
    """
    nlp = load_pipeline(model)
    if not text_classifiers(nlp):
        raise ScoreError(f"The pipeline {str(model)!r} has no text classifier (no component sets doc.cats); "
             f"its components are: {', '.join(nlp.pipe_names) or 'none'}. Train one with "
             "rnn_textcat or rnn_textcat_multilabel.")
    return nlp


def _load_failure(model: Union[str, Path], error: Exception) -> str:
    """The message for a pipeline that ``spacy.load`` refused with ``error``."""
    start = f"Cannot load the pipeline {str(model)!r}"
    give = ("Give the path of a pipeline directory (e.g. training/model-best) or the name of an installed "
            "pipeline package.")
    path = Path(model)
    if not path.exists() and not _loaded_from_disk(error.__traceback__):
        return (f"{start}: there is no such folder, and no installed pipeline package of that name "
                f"({_one_line(error)}).\n{give}")
    if path.is_file() or (path.is_dir() and not (path / "config.cfg").exists() and not (path / "meta.json").exists()):
        kind = "a file" if path.is_file() else "a folder without config.cfg and meta.json"
        return f"{start}: it is {kind}, not a saved pipeline ({_one_line(error)}).\n{give}"
    file = _file_being_read(error.__traceback__)
    if file is None:
        what = "it looks damaged"
    elif isinstance(error, PermissionError):
        what = f"{file} cannot be read"
    elif file.exists():
        what = f"{file} looks damaged"
    else:
        what = f"{file} is missing"
    return (f"{start}: {what} ({_one_line(error)}).\nCheck that {str(model)!r} is the pipeline you meant; "
            "if it is, save it again (nlp.to_disk) from a copy that loads, or train it again "
            "(python -m spacy train CONFIG --output DIR) and use DIR/model-best.")


def _one_line(error: Exception, limit: int = 300) -> str:
    """``error`` as "Type: message" on one line, at most about ``limit`` characters."""
    text = " ".join(str(error).split()) or "(no message)"
    if len(text) > limit:
        text = text[:limit].rstrip() + " ..."
    return f"{type(error).__name__}: {text}"


def _frames(tb: Optional[TracebackType]) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _loaded_from_disk(tb: Optional[TracebackType]) -> bool:
    """Whether the error came from reading a pipeline's folder (spaCy had found it)."""
    return any(frame.tb_frame.f_code.co_name in ("load_model_from_path", "load_model_from_init_py")
               for frame in _frames(tb))


def _file_being_read(tb: Optional[TracebackType]) -> Optional[Path]:
    """The pipeline file that spaCy was reading when the error was raised, if
    the traceback tells: the innermost ``path`` (with its ``key``, in
    ``spacy.util.from_disk``) or ``config_path`` that its frames hold. A best
    guess, for the message only: None where no frame names a path."""
    found: Optional[Path] = None
    for frame in _frames(tb):
        local = frame.tb_frame.f_locals
        for name in ("config_path", "path"):
            value = local.get(name)
            if isinstance(value, Path):
                key = local.get("key")
                found = value / key if name == "path" and isinstance(key, str) else value
    return found


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
