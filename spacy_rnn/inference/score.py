"""Score records with a loaded pipeline: streaming, order kept.

:func:`score_items` is the loop that the local engine (:mod:`.files`)
and the Ray engine (:mod:`spacy_rnn.scaling.scorer`) share;
:func:`score_texts` and :func:`score_records` score what Python hands them.

Invalid records (unreadable lines, a missing or non-string text, a text spaCy
cannot tokenize, a record that already has an output field) are found before
batching, so that one never costs the results of its batch-mates. Without
``skip_invalid`` the first one stops the stream after every result before it
has come out; with ``skip_invalid`` it gets an output line of its own,
``{"error": {"line": N, "field": ..., "message": ...}}``, and the stream goes
on: one output per input record.
"""
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Tuple

from spacy.language import Language

from ..data.checks import check_text, with_skip_advice
from ..data.report import CorpusReport, SkippedRecord
from ..errors import CorpusError
from .options import OPTION_FLAGS, ScoreOptions
from .reading import ScoreItem
from .workers import CatsWorkers, can_fork


@dataclass
class ScoreReport(CorpusReport):
    """What a scoring run did, filled in as it goes (so it is right after an error too).

    path (str): The input's name.
    n_records (int): Texts scored.
    skipped (List[SkippedRecord]): Invalid records, each answered by an error
        line in the output (``skip_invalid``).
    n_invalid (int): Invalid records; ``skipped`` keeps the first
        ``KEEP_INVALID`` of them, so that memory stays flat.
    n_written (int): Output lines written: results and error lines.
    partial (Optional[Path]): Where a failed run's lines were kept
        (``OUTPUT.partial``), if it wrote any to a file.
    """

    KEEP_INVALID = 100
    n_invalid: int = 0
    n_written: int = 0
    partial: Optional[Path] = None

    @property
    def n_skipped(self) -> int:
        return self.n_invalid

    def add_invalid(self, error: CorpusError) -> None:
        self.n_invalid += 1
        if len(self.skipped) < self.KEEP_INVALID:
            self.skipped.append(SkippedRecord(error.line, error.problem, error))


# Texts scored in one spaCy memory zone: strings and lexemes that the texts add
# to the vocab are freed at the end of each chunk, so that memory stays flat on
# inputs with an open vocabulary. With n_process > 1 (CatsWorkers) each worker
# frees them after every batch.
CHUNK_SIZE = 10_000
_END = object()
_FLUSH = object()


def score_records(
    nlp: Language, records: Iterable[Tuple[str, Dict[str, Any]]], options: Optional[ScoreOptions] = None,
    **settings: Any,
) -> Iterator[Dict[str, Any]]:
    """Classify a stream of (text, record) pairs, in order, lazily.

    Each record comes back as a new dict with ``cats_field`` (label ->
    probability, from ``doc.cats``) and ``label_field`` (the most probable
    label, None if the pipeline has no labels) added. The options and
    settings are those of ``score_items``; a record's "line" in messages is
    its number, from 1.

    RAISES (CorpusError): Without ``skip_invalid``, an invalid record: one
        that already has a field named ``cats_field`` or ``label_field``
        (overwriting it would lose data), or a text spaCy cannot tokenize.
    """
    items = (ScoreItem(number, text, record) for number, (text, record) in enumerate(records, start=1))
    return score_items(nlp, items, options, **settings)


def score_texts(
    nlp: Language, texts: Iterable[str], options: Optional[ScoreOptions] = None, **settings: Any
) -> Iterator[Dict[str, Any]]:
    """Classify a stream of texts, in order, lazily: ``{"text": ..., "cats":
    ..., "label": ...}`` for each. The options and settings are those of
    ``score_items``.

    RAISES (CorpusError): Without ``skip_invalid``, a text spaCy cannot
        tokenize; its "line" in the message is its number, from 1.
    """
    return score_records(nlp, ((text, {"text": text}) for text in texts), options, **settings)


def score_items(
    nlp: Language,
    items: Iterable[ScoreItem],
    options: Optional[ScoreOptions] = None,
    *,
    n_process: int = 1,
    source: str = "input",
    chunk_size: int = CHUNK_SIZE,
    report: Optional[ScoreReport] = None,
    **settings: Any,
) -> Iterator[Dict[str, Any]]:
    """Classify a stream of records, in order, lazily: one output dict a record.

    A valid record comes back as a new dict with ``cats_field`` and
    ``label_field`` added. The texts go through ``nlp.pipe(...,
    as_tuples=True)`` inside a ``nlp.memory_zone()`` per ``chunk_size``
    records, so the vocab does not grow with the input. With ``n_process``
    other than 1 they go to worker processes that send back only the cats
    (:class:`~spacy_rnn.inference.workers.CatsWorkers`; ``nlp.pipe(n_process=...)``
    where processes cannot be forked).

    Every record is checked before it joins a batch, so an invalid one never
    costs the results of the others. Invalid: an item with an error, a record
    that already has an output field (``error_field`` too, with
    ``skip_invalid``), or a text that spaCy cannot tokenize (a lone surrogate,
    more than ``nlp.max_length`` characters). Without ``skip_invalid`` the
    first invalid record ends the stream: the results of all records before
    it come out, then its error is raised. With ``skip_invalid`` it comes out
    in its place as ``{error_field: {"line", "field", "message"}}``, and is
    counted in the report. At most ``chunk_size`` error lines wait for the
    results before them, so memory stays flat on long runs of invalid records.

    options (Optional[ScoreOptions]): The fields, batch size and
        ``skip_invalid``; ``settings`` replace single ones (``cats_field="p"``).
        ``text_key``, ``clean_html`` and ``max_length`` apply where the items
        are read and the pipeline set up, not here.
    n_process (int): Processes for ``nlp.pipe`` (-1: one per CPU).
    source (str): The name of the input, for messages.
    chunk_size (int): Records per memory zone.
    report (Optional[ScoreReport]): Counts scored (``n_records``) and invalid
        (``n_invalid``, the first ones in ``skipped``) records as they come out.
    RAISES (CorpusError): The first invalid record, without ``skip_invalid``.
    """
    options = ScoreOptions.of(options, **settings)
    batch_size, skip_invalid = options.batch_size, options.skip_invalid
    cats_field, label_field, error_field = options.cats_field, options.label_field, options.error_field
    outputs = [(field, OPTION_FLAGS[name]) for name, field in options.output_fields()]
    # Error lines wait here, each with the number of valid records before it,
    # until the results of those records have come out of nlp.pipe.
    waiting: Deque[Tuple[int, CorpusError]] = deque()
    stop: List[CorpusError] = []
    n_valid = 0

    def valid_records() -> Iterator[Any]:
        """The valid (text, record) pairs, and _FLUSH when chunk_size error lines wait."""
        nonlocal n_valid
        for item in items:
            error = item.error or _record_error(item, outputs, nlp.max_length, source)
            if error is None:
                n_valid += 1
                yield item.text, item.record
            elif skip_invalid:
                waiting.append((n_valid, error))
                if len(waiting) >= chunk_size:
                    yield _FLUSH
            else:
                stop.append(error)
                return

    def chunk(first: Tuple[str, Dict[str, Any]]) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Up to chunk_size valid records, ending early at _FLUSH."""
        yield first
        for _, pair in zip(range(chunk_size - 1), records):
            if pair is _FLUSH:
                return
            yield pair

    def error_lines(up_to: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """The waiting error lines with at most ``up_to`` valid records before them (all: None)."""
        while waiting and (up_to is None or waiting[0][0] <= up_to):
            error = waiting.popleft()[1]
            if report is not None:
                report.add_invalid(error)
            yield {error_field: {"line": error.line, "field": error.field, "message": error.problem}}

    def classify(pairs: Iterator[Tuple[str, Dict[str, Any]]]) -> Iterator[Tuple[Dict[str, float], Dict[str, Any]]]:
        """(cats, record) for each (text, record), in order."""
        nonlocal workers
        if n_process != 1 and can_fork():
            if workers is None:
                workers = CatsWorkers(nlp, n_process, batch_size or nlp.batch_size)
            yield from workers.pipe(pairs)
            return
        with nlp.memory_zone():
            for doc, record in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size, n_process=n_process):
                yield {label: float(score) for label, score in doc.cats.items()}, record

    records = valid_records()
    workers: Optional[CatsWorkers] = None
    n_out = 0
    try:
        while True:
            first = next(records, _END)
            if first is _END:
                break
            if first is not _FLUSH:
                for cats, record in classify(chunk(first)):
                    yield from error_lines(up_to=n_out)
                    result = dict(record)
                    result[cats_field] = cats
                    result[label_field] = max(cats, key=cats.__getitem__) if cats else None
                    n_out += 1
                    if report is not None:
                        report.n_records += 1
                    yield result
            yield from error_lines()  # every valid record fed so far has come out
    finally:
        if workers is not None:
            workers.close()
    yield from error_lines()
    if stop:
        raise with_skip_advice(stop[0])


def _record_error(
    item: ScoreItem, outputs: List[Tuple[str, str]], max_length: int, source: str
) -> Optional[CorpusError]:
    """Why a readable record cannot be scored, or None."""
    assert item.text is not None and item.record is not None
    for name, option in outputs:
        if name in item.record:
            return CorpusError(
                source, item.line, f"the record already has a field {name!r}, which the output would overwrite",
                f"Name the output field otherwise, e.g. {option} predicted_{name}", field=name,
            )
    try:
        check_text(source, item.line, item.field, item.text, max_length)
    except CorpusError as e:
        return e
    return None
