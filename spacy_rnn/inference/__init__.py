"""Inference with a trained pipeline: the classifier lookup, scoring files
and streams (the local engine; :mod:`spacy_rnn.scaling` is the Ray one, on
the same options and loop), evaluation in bounded memory, and explanations.

- :mod:`.classifiers`: load a pipeline, check it sets ``doc.cats``, its labels
  and ``max_length`` for a run.
- :mod:`.options`: :class:`ScoreOptions`, the settings both engines share.
- :mod:`.reading`: the records of a file or stdin, each a text and the record
  to write back, or why it cannot be read.
- :mod:`.score`: the scoring loop (order kept, invalid records answered in
  place or stopping the run), for files, texts and records.
- :mod:`.files`: a file or stdin in, JSON Lines out, atomically.
- :mod:`.evaluate`: spaCy's ``cats_*`` scores over a corpus of any size.
- :mod:`.calibration`: expected calibration error and Brier score of ``doc.cats``.
- :mod:`.plots`: a confusion matrix, a reliability diagram and a page with both
  (``evaluate --plots``).
- :mod:`.explain`: which tokens a prediction attended to.
"""
from .classifiers import load_classifier, text_classifiers
from .options import ScoreOptions
from .score import ScoreReport, score_items, score_records, score_texts
from .files import score_file

__all__ = [
    "ScoreOptions", "ScoreReport", "load_classifier", "text_classifiers", "score_file", "score_items",
    "score_records", "score_texts",
]
