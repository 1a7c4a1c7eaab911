"""Batch scoring past one machine: a saved pipeline over a Ray Dataset.

``pip install spacy-rnn[ray]`` installs Ray Data. The pieces, one idea each:

- :mod:`.scorer`: :class:`PipelineScorer`, the callable class that
  ``Dataset.map_batches`` runs as a pool of actors. Each actor loads the
  pipeline once and scores pandas batches with :func:`spacy_rnn.inference.score.score_items`
  (the local engine's scorer): one column per label, the top label, an error
  column, every input column kept. It needs pandas, not Ray.
- :mod:`.datasource`: :class:`ScoringInput`, the Ray datasource that reads
  JSONL, CSV/TSV and Parquet files with the local engine's readers, so that an
  unreadable line becomes a row with an error, never a failed job, and gives
  every row a deterministic id.
- :mod:`.job`: :func:`score_with_ray`, the whole job (cluster, read, score,
  write), which ``python -m spacy_rnn score ... --engine ray`` calls.

Only :mod:`.job`, :mod:`.datasource` and :mod:`.sinks` import Ray, and only
when used. The reader and the writers (:mod:`.datasource`, :mod:`.sinks`,
:mod:`.columns`) do not import spaCy or torch, so that Ray's read and write
workers stay light; :class:`PipelineScorer` is imported on first use.
"""
from typing import TYPE_CHECKING

from .._lazy import lazy_module
from .columns import label_columns

_LAZY = {"PipelineScorer": ".scorer"}
__getattr__, __dir__ = lazy_module(globals(), _LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .scorer import PipelineScorer

__all__ = ["PipelineScorer", "label_columns", "score_with_ray"]


def score_with_ray(*args, **kwargs):  # noqa: D103 - documented in .job
    from .job import score_with_ray as run

    return run(*args, **kwargs)


score_with_ray.__doc__ = "See :func:`spacy_rnn.scaling.job.score_with_ray`."
