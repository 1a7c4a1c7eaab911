"""Score texts or records with a loaded pipeline: streaming, order kept.

:func:`score_file` scores a file (``.txt``, ``.jsonl``/``.ndjson``, ``.csv``,
``.tsv``/``.tab``, suffixes in any case) or stdin and writes JSON Lines;
:func:`score_texts`, :func:`score_records` and :func:`score_items` score what
Python hands them and yield dicts. ``python -m spacy_rnn score`` is a thin
command over :func:`score_file`.

The input is read line by line and the output written as the docs come out of
``nlp.pipe``, so memory stays flat however large the input is. The output has
one line per input record, in input order: the record (for plain text,
``{"text": ...}``; for JSONL and CSV, all its fields), plus ``"cats"`` (label
-> probability) and ``"label"`` (the most probable label).

Invalid records (unreadable lines, a missing or non-string text, a text spaCy
cannot tokenize) are found before batching, so that one never costs the
results of its batch-mates. Without ``skip_invalid`` the first one stops the
run after every result before it has been written, and the message names its
line and says how many lines were written. With ``skip_invalid`` it gets an
output line of its own, ``{"error": {"line": N, "field": ..., "message": ...}}``,
and the run goes on: the output still has one line per input record.

An output file is written under a temporary name and moved into place when
the run ends well, so a failed run never destroys an earlier result; the lines
a failed run wrote are kept in ``OUTPUT.partial``.
"""
import itertools
import sys
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Deque, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

import spacy
from spacy.language import Language
from spacy.pipeline.transition_parser import Parser

from .data.records import (
    NO_MAX_LENGTH,
    CorpusReport,
    SkippedRecord,
    check_text,
    clean_html_breaks,
    max_length_setting,
    text_field,
    with_skip_advice,
)
from .data.sources import (
    DELIMITERS,
    SCORE_FORMATS,
    Source,
    file_format,
    read_jsonl_objects,
    read_table_rows,
    read_text_lines,
    source_name,
)
from .errors import CorpusError
from .output_file import AtomicOutput, json_line, same_file

STDIN = "-"


class ScoreError(ValueError):
    """The scoring run cannot start: bad options, or no usable pipeline."""


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


def score_file(
    model: Union[str, Path, Language],
    input_path: Union[str, Path],
    output_path: Union[str, Path, None] = None,
    *,
    format: Optional[str] = None,
    text_key: str = "text",
    text_column: str = "text",
    cats_field: str = "cats",
    label_field: str = "label",
    error_field: str = "error",
    batch_size: int = 256,
    n_process: int = 1,
    clean_html: bool = True,
    skip_invalid: bool = False,
    max_length: Optional[int] = None,
    report: Optional[ScoreReport] = None,
    progress: Optional[Callable[[Iterator[Dict[str, Any]]], Iterator[Dict[str, Any]]]] = None,
) -> int:
    """Score a file (or stdin, for "-") and write JSONL to ``output_path`` or stdout.

    model (Union[str, Path, Language]): A pipeline, or its path or package name.
    input_path (Union[str, Path]): The input file, or "-" for stdin.
    output_path (Union[str, Path, None]): The JSONL file to write; None for stdout.
        It is written under a temporary name and moved into place at the end;
        a failed run leaves it as it was and keeps its lines in
        ``output_path`` + ".partial".
    format (Optional[str]): txt, jsonl, csv or tsv; by default from the suffix
        (txt for stdin).
    text_key (str): JSONL field holding the text.
    text_column (str): CSV/TSV column holding the text.
    cats_field (str): Output field for the label probabilities.
    label_field (str): Output field for the most probable label.
    error_field (str): With ``skip_invalid``, the output field of an invalid
        record's line: ``{"line": N, "field": ..., "message": ...}``.
    batch_size (int): Texts per batch for ``nlp.pipe``.
    n_process (int): Processes for ``nlp.pipe`` (-1: one per CPU).
    clean_html (bool): Replace HTML line breaks by spaces in the texts scored.
    skip_invalid (bool): Answer each invalid record with an error line and go
        on, instead of stopping at the first.
    max_length (Optional[int]): Texts longer than this many characters are
        invalid; 0 for no limit. By default no limit, unless the pipeline has
        a parser or NER (whose memory grows with the text): then its own
        ``nlp.max_length``. The pipeline's ``max_length`` is restored after.
    report (Optional[ScoreReport]): Filled in while scoring.
    progress (Optional[Callable]): Wraps the stream of results, e.g. to show
        a progress bar; it must yield every result it is given, in order.
    RETURNS (int): The number of lines written.
    RAISES (CorpusError): Unreadable input, or an invalid record without
        ``skip_invalid``; the message names the line, and says how many lines
        were written before it and where.
    RAISES (ScoreError): Bad options, or a pipeline that cannot be loaded or
        has no text classifier.
    """
    if batch_size < 1:
        raise ScoreError(f"The batch size must be 1 or more, not {batch_size} (--batch-size).")
    if n_process == 0 or n_process < -1:
        raise ScoreError(f"--n-process must be 1 or more, or -1 for one process per CPU, not {n_process}.")
    if max_length is not None and max_length < 0:
        raise ScoreError(f"--max-length must be 0 (no limit) or more, not {max_length}.")
    fields = [("--cats-field", cats_field), ("--label-field", label_field)]
    if skip_invalid:
        fields.append(("--error-field", error_field))
    check_distinct_fields(fields)
    fmt = score_format(input_path, format)
    if output_path is not None:
        output_path = Path(output_path)
    if input_path == STDIN:
        source: Source = _Named(sys.stdin.buffer, "<stdin>")
    else:
        path = Path(input_path)
        if not path.is_file():
            raise CorpusError(str(input_path), None, "is a directory" if path.is_dir() else "no such file",
                              "Check the path, or pass - to read from stdin.")
        if output_path is not None and same_file(output_path, path):
            raise ScoreError(f"The output file {output_path} is the input file: choose another --output.")
        source = path
    nlp = model if isinstance(model, Language) else load_classifier(model)
    if report is None:
        report = ScoreReport()
    report.path = source_name(source)
    items = read_scoring_items(source, fmt, text_key=text_key, text_column=text_column, clean_html=clean_html)
    with _max_length(nlp, scoring_max_length(nlp, max_length)):
        results = score_items(
            nlp, items, batch_size=batch_size, n_process=n_process, cats_field=cats_field,
            label_field=label_field, error_field=error_field, skip_invalid=skip_invalid,
            source=report.path, report=report,
        )
        _write_results(progress(results) if progress else results, output_path, report)
    return report.n_written


def check_distinct_fields(fields: List[Tuple[str, str]]) -> None:
    """Raise a :class:`ScoreError` if two (option, field name) pairs name one field."""
    for (option, name), (other, other_name) in itertools.combinations(fields, 2):
        if name == other_name:
            raise ScoreError(f"{option} and {other} must differ, both are {name!r}.")


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
def _max_length(nlp: Language, max_length: int) -> Iterator[None]:
    before = nlp.max_length
    nlp.max_length = max_length
    try:
        yield
    finally:
        nlp.max_length = before


def _write_results(results: Iterator[Dict[str, Any]], output_path: Optional[Path], report: ScoreReport) -> None:
    """Write the results as JSONL to stdout or through a temporary file; count them in ``report``."""
    if output_path is None:
        out = getattr(sys.stdout, "buffer", None) or _TextAsBytes(sys.stdout)
        try:
            for result in results:
                out.write(json_line(result))
                report.n_written += 1
        except CorpusError as e:
            raise _with_note(e, f"{_wrote(report.n_written)} to stdout") from None
        finally:
            out.flush()
        return
    existed = output_path.exists()
    output = AtomicOutput(output_path)
    stream = output.open()
    try:
        for result in results:
            stream.write(json_line(result))
            report.n_written += 1
    except BaseException as e:
        report.partial = output.abandon(keep=report.n_written > 0)
        if not isinstance(e, CorpusError):
            raise
        unchanged = f"{output_path} was left as it was" if existed else f"{output_path} was not created"
        where = f" to {report.partial}" if report.partial is not None else ""
        raise _with_note(e, f"{_wrote(report.n_written)}{where}; {unchanged}") from None
    output.commit()


def _wrote(n_written: int) -> str:
    return f"Wrote the {n_written} output line(s) before it" if n_written else "Wrote nothing"


def _with_note(error: CorpusError, note: str) -> CorpusError:
    """The error with ``note`` (a sentence without its final period) after its advice."""
    advice = f"{error.advice.rstrip('.')}. {note}" if error.advice else note
    return CorpusError(error.path, error.line, error.problem, advice, error.field)


class _Named:
    """A binary stream with a name for messages."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self.name = name

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)


def score_format(input_path: Union[str, Path], input_format: Optional[str] = None) -> str:
    """The input format: ``input_format`` if given, else from the suffix (txt for stdin).

    RAISES (CorpusError): Unknown format or suffix.
    """
    if input_format is None and input_path == STDIN:
        return "txt"
    return file_format(input_path, input_format, SCORE_FORMATS)


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


class ScoreItem(NamedTuple):
    """One input record: the text to score and the record to output, or why it cannot be scored.

    line (int): The record's (first) line, or its number for records from Python.
    text (Optional[str]): The text to score (HTML line breaks cleaned); None if invalid.
    record (Optional[Dict[str, Any]]): The output record without the prediction; None if invalid.
    error (Optional[CorpusError]): Why the record cannot be read, if it cannot.
    field (Optional[str]): The field holding the text, for messages.
    """

    line: int
    text: Optional[str]
    record: Optional[Dict[str, Any]]
    error: Optional[CorpusError] = None
    field: Optional[str] = None


def read_scoring_items(
    source: Source,
    format: str,
    *,
    text_key: str = "text",
    text_column: str = "text",
    clean_html: bool = True,
) -> Iterator[ScoreItem]:
    """Stream the records of a file or binary stream, an invalid one as an item with its error.

    - txt: every line is a text, blank lines included; the record is ``{"text": line}``.
    - jsonl: every line an object with a string under ``text_key`` (may be
      empty); the record is the object. A blank line counts as an empty text,
      with the record ``{text_key: ""}``, so that lines stay aligned.
    - csv/tsv: a header row, then a row a record; the record maps the header's
      columns to the row's values.

    clean_html (bool): Replace HTML line breaks in the text to score (not in
        the record) by spaces.
    RAISES (CorpusError): The input cannot be read at all: a missing file, an
        unknown format, an empty table or a bad header.
    """
    prepare = clean_html_breaks if clean_html else (lambda text: text)
    name = source_name(source)
    if format == "txt":
        for number, line in read_text_lines(source, keep_errors=True):
            if isinstance(line, CorpusError):
                yield ScoreItem(number, None, None, line)
            else:
                yield ScoreItem(number, prepare(line), {"text": line}, field=None)
    elif format == "jsonl":
        for number, obj in read_jsonl_objects(source, keep_blank=True, keep_errors=True):
            if isinstance(obj, CorpusError):
                yield ScoreItem(number, None, None, obj)
            elif obj is None:
                yield ScoreItem(number, "", {text_key: ""}, field=text_key)
            else:
                try:
                    text = text_field(name, number, obj, text_key, "--text-key")
                except CorpusError as e:
                    yield ScoreItem(number, None, None, e)
                    continue
                yield ScoreItem(number, prepare(text), obj, field=text_key)
    elif format in ("csv", "tsv"):
        rows = read_table_rows(source, DELIMITERS[format], required_columns={text_column: "--text-column"}, keep_errors=True)
        for number, row in rows:
            if isinstance(row, CorpusError):
                yield ScoreItem(number, None, None, row)
            else:
                yield ScoreItem(number, prepare(row[text_column]), row, field=text_column)
    else:
        raise CorpusError(
            name, None, f"unknown format {format!r}", f"Choose one of: {', '.join(SCORE_FORMATS)}."
        )


def read_scoring_input(source: Source, format: str, **options: Any) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Stream (text to score, output record) pairs; the options of ``read_scoring_items``.

    RAISES (CorpusError): Unreadable input: missing file, invalid UTF-8 or
        JSON, a line that is not an object, a missing or non-string text, or
        a malformed CSV row. The message names the line.
    """
    for item in read_scoring_items(source, format, **options):
        if item.error is not None:
            raise item.error
        yield item.text, item.record  # type: ignore[misc]


# Texts scored in one spaCy memory zone: strings and lexemes that the texts add
# to the vocab are freed at the end of each chunk, so that memory stays flat on
# inputs with an open vocabulary. With n_process > 1 each chunk starts fresh
# worker processes, which also bounds their memory.
CHUNK_SIZE = 10_000
_END = object()
_FLUSH = object()


def score_records(
    nlp: Language, records: Iterable[Tuple[str, Dict[str, Any]]], **options: Any
) -> Iterator[Dict[str, Any]]:
    """Classify a stream of (text, record) pairs, in order, lazily.

    Each record comes back as a new dict with ``cats_field`` (label ->
    probability, from ``doc.cats``) and ``label_field`` (the most probable
    label, None if the pipeline has no labels) added. The options are those
    of ``score_items`` (batch_size, n_process, cats_field, label_field,
    skip_invalid, ...); a record's "line" in messages is its number, from 1.

    RAISES (CorpusError): Without ``skip_invalid``, an invalid record: one
        that already has a field named ``cats_field`` or ``label_field``
        (overwriting it would lose data), or a text spaCy cannot tokenize.
    """
    items = (ScoreItem(number, text, record) for number, (text, record) in enumerate(records, start=1))
    return score_items(nlp, items, **options)


def score_texts(nlp: Language, texts: Iterable[str], **options: Any) -> Iterator[Dict[str, Any]]:
    """Classify a stream of texts, in order, lazily: ``{"text": ..., "cats":
    ..., "label": ...}`` for each. The options are those of ``score_items``.

    RAISES (CorpusError): Without ``skip_invalid``, a text spaCy cannot
        tokenize; its "line" in the message is its number, from 1.
    """
    return score_records(nlp, ((text, {"text": text}) for text in texts), **options)


def score_items(
    nlp: Language,
    items: Iterable[ScoreItem],
    *,
    batch_size: int = 256,
    n_process: int = 1,
    cats_field: str = "cats",
    label_field: str = "label",
    error_field: str = "error",
    skip_invalid: bool = False,
    source: str = "input",
    chunk_size: int = CHUNK_SIZE,
    report: Optional[ScoreReport] = None,
) -> Iterator[Dict[str, Any]]:
    """Classify a stream of records, in order, lazily: one output dict a record.

    A valid record comes back as a new dict with ``cats_field`` and
    ``label_field`` added. The texts go through ``nlp.pipe(...,
    as_tuples=True)`` inside a ``nlp.memory_zone()`` per ``chunk_size``
    records, so the vocab does not grow with the input.

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

    source (str): The name of the input, for messages.
    report (Optional[ScoreReport]): Counts scored (``n_records``) and invalid
        (``n_invalid``, the first ones in ``skipped``) records as they come out.
    RAISES (CorpusError): The first invalid record, without ``skip_invalid``.
    """
    outputs = [(cats_field, "--cats-field"), (label_field, "--label-field")]
    if skip_invalid:
        outputs.append((error_field, "--error-field"))
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

    records = valid_records()
    n_out = 0
    while True:
        first = next(records, _END)
        if first is _END:
            break
        if first is not _FLUSH:
            with nlp.memory_zone():
                docs = nlp.pipe(chunk(first), as_tuples=True, batch_size=batch_size, n_process=n_process)
                for doc, record in docs:
                    yield from error_lines(up_to=n_out)
                    cats = {label: float(score) for label, score in doc.cats.items()}
                    result = dict(record)
                    result[cats_field] = cats
                    result[label_field] = max(cats, key=cats.__getitem__) if cats else None
                    n_out += 1
                    if report is not None:
                        report.n_records += 1
                    yield result
        yield from error_lines()  # every valid record fed so far has come out
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


class _TextAsBytes:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()
