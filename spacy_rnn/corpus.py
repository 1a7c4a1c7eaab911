"""Read labelled text-classification corpora (JSONL, CSV, TSV) for spaCy.

Every reader yields :class:`Record` tuples ``(text, labels, line)`` and streams:
files are read line by line, never whole. Bad input raises
:class:`CorpusError` (a ``ValueError``) whose message names the file, the line,
the field and what to do about it. Nothing is dropped silently: with the
explicit opt-in ``skip_invalid=True`` invalid records are skipped, and each one
is listed (line and reason) in a :class:`CorpusReport`, or, when no report is
passed, in a :class:`CorpusWarning` issued once the file has been read.

Formats
-------
- JSON Lines (``.jsonl``): one JSON object a line, with the text under
  ``text_key`` and either one label (a string) under ``label_key`` or a list of
  labels under ``labels_key`` (multi-label). One file must use one of the two.
  Blank lines are not records and are ignored.
- CSV (``.csv``) and TSV (``.tsv``): a header row, then one record a row, with
  standard CSV quoting (a quoted field may contain the delimiter or newlines).
  The label column holds one label, or, with ``label_separator``, several.

Text is UTF-8 (a leading byte-order mark is allowed). Integer labels in JSON
(e.g. ``0``/``1``) are read as strings (``"0"``/``"1"``), because spaCy's
``doc.cats`` keys are strings.

HTML line breaks
----------------
Some corpora (IMDB) keep the ``<br />`` tags of the original web pages. With
``clean_html=True`` (the default) every run of ``<br>``, ``<br/>`` or
``<br />`` tags (any case), together with the whitespace around it, becomes a
single space, and breaks at the start or end of a text are removed. A single
space is the choice because spaCy's tokenizer turns a newline into a token of
its own, which a recurrent model would then have to learn to ignore.

The reader ``spacy_rnn.JsonlCorpus.v1`` lets ``spacy train`` read these files
directly, like ``spacy.Corpus.v1`` reads ``.spacy`` files.
"""
import csv
import json
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry

from .output_file import write_bytes_atomically

if TYPE_CHECKING:
    from spacy.language import Language

PathLike = Union[str, Path]
# A path, or a binary stream (e.g. sys.stdin.buffer) read from its current position.
Source = Union[str, Path, IO[bytes]]

JSONL_SUFFIXES = (".jsonl", ".ndjson")
TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
FORMATS = ("jsonl", "csv", "tsv")

_BR_TAGS = r"(?:<br\s*/?\s*>\s*)+"
_BR_INNER = re.compile(r"\s*" + _BR_TAGS, re.IGNORECASE)
_BR_LEADING = re.compile(r"^\s*" + _BR_TAGS, re.IGNORECASE)
_BR_TRAILING = re.compile(r"\s*" + _BR_TAGS + r"$", re.IGNORECASE)

_SKIP_ADVICE = "or pass skip_invalid=True (--skip-invalid) to skip invalid records and list them"


class CorpusError(ValueError):
    """Invalid corpus input. The message says where and what to do.

    path (str): The file (or stream name) the problem is in.
    line (Optional[int]): The 1-based line number, if the problem has one.
    problem (str): What is wrong, without the location or the advice; the
        reason listed for a skipped record.
    field (Optional[str]): The record field concerned, if any.
    """

    def __init__(
        self,
        path: str,
        line: Optional[int],
        problem: str,
        advice: str = "",
        field: Optional[str] = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.advice = advice
        self.field = field
        where = self.path if line is None else f"{self.path}, line {line}"
        message = f"{where}: {problem}."
        if advice:
            message += f" {advice}" if advice.endswith((".", "\n")) else f" {advice}."
        super().__init__(message)

    def __reduce__(self):  # keep it picklable (worker processes, pytest-xdist)
        return (type(self), (self.path, self.line, self.problem, self.advice, self.field))


class CorpusWarning(UserWarning):
    """Invalid records were skipped (``skip_invalid=True``) and no report was kept."""


class Record(NamedTuple):
    """One labelled text: its labels, and the line it starts on."""

    text: str
    labels: List[str]
    line: int


@dataclass
class SkippedRecord:
    """An invalid record left out because of ``skip_invalid=True``."""

    line: Optional[int]
    reason: str
    error: CorpusError


@dataclass
class CorpusReport:
    """What a reader did with one file.

    path (str): The file read.
    n_records (int): Valid records yielded.
    skipped (List[SkippedRecord]): Invalid records skipped (``skip_invalid``).
    multi_label (Optional[bool]): Whether the records carry label lists
        (``labels_key`` or ``label_separator``); None before the first record.
    """

    path: str = ""
    n_records: int = 0
    skipped: List[SkippedRecord] = field(default_factory=list)
    multi_label: Optional[bool] = None

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self, max_listed: int = 20) -> str:
        """A human-readable account of the skipped records, one per line."""
        lines = [f"{self.path}: skipped {self.n_skipped} invalid record(s), kept {self.n_records}"]
        for skipped in self.skipped[:max_listed]:
            where = "?" if skipped.line is None else skipped.line
            lines.append(f"  line {where}: {skipped.reason}")
        if self.n_skipped > max_listed:
            lines.append(f"  ... and {self.n_skipped - max_listed} more")
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Text clean-up


def clean_html_breaks(text: str) -> str:
    """Replace HTML line breaks (``<br />``, ``<br/>``, ``<br>``, any case) by spaces.

    A run of breaks and the whitespace around it becomes one space; breaks at
    the start or the end of the text are removed. Other markup is kept.

    text (str): The text, e.g. an IMDB review.
    RETURNS (str): The text without line-break tags.
    """
    if "<" not in text:
        return text
    text = _BR_LEADING.sub("", text)
    text = _BR_TRAILING.sub("", text)
    return _BR_INNER.sub(" ", text)


# ---------------------------------------------------------------------------
# Low-level readers: lines, JSON objects and table rows, with line numbers.
# They yield a CorpusError in place of an item that cannot be read, so that
# callers can either raise it or skip the item and carry on.


def source_name(source: Source) -> str:
    """The name to use for a source in messages: its path, or the stream's name."""
    if isinstance(source, (str, Path)):
        return str(source)
    name = getattr(source, "name", None)
    if isinstance(name, str) and name:
        return name
    return "<stream>"


def _open_binary(source: Source) -> Tuple[IO[bytes], bool]:
    """Open a path for reading bytes, or pass a stream through. Returns (stream, owned)."""
    if not isinstance(source, (str, Path)):
        return source, False
    path = Path(source)
    if not path.exists():
        raise CorpusError(str(path), None, "no such file", "Check the path and try again.")
    if path.is_dir():
        raise CorpusError(
            str(path), None, "is a directory, not a file", "Give the path of one corpus file."
        )
    try:
        return path.open("rb"), True
    except OSError as e:
        raise CorpusError(str(path), None, f"cannot be opened ({e.strerror})", "Check its permissions.")


def _decode_error(name: str, line: int, raw: bytes, offset: int, err: UnicodeDecodeError) -> CorpusError:
    bad = raw[err.start : err.end].hex(" ")
    return CorpusError(
        name,
        line,
        f"not valid UTF-8: cannot decode byte(s) 0x{bad} at byte {err.start + 1} of the line "
        f"(byte offset {offset + err.start} in the file): {err.reason}",
        "Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN > OUT` for a Latin-1 file).",
    )


def _decoded_lines(stream: IO[bytes], name: str) -> Iterator[Tuple[int, str, Optional[CorpusError]]]:
    """Yield (line number, line with its line ending, decoding error or None).

    Lines end at b"\\n" only, so characters such as U+2028 or "\\r" alone stay
    inside a line. A line that is not valid UTF-8 comes with an error, decoded
    with replacement characters. A leading byte-order mark is removed.
    """
    offset = 0
    for number, raw in enumerate(stream, start=1):
        error = None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            error = _decode_error(name, number, raw, offset, e)
            line = raw.decode("utf-8", errors="replace")
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        offset += len(raw)
        yield number, line, error


def _strip_line_ending(line: str) -> str:
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def read_text_lines(source: Source, keep_errors: bool = False) -> Iterator[Tuple[int, Any]]:
    """Stream a plain-text file as one text a line.

    Every line is a text, blank ones included; the line ending ("\\n" or
    "\\r\\n") is removed, and nothing else.

    source (Union[str, Path, IO[bytes]]): A path or a binary stream.
    keep_errors (bool): Yield (line, CorpusError) for a line that is not
        UTF-8 and go on, instead of raising.
    YIELDS (Tuple[int, str]): The line number and the text (or the error).
    RAISES (CorpusError): The file is missing or a line is not UTF-8.
    """
    stream, owned = _open_binary(source)
    try:
        for number, line, error in _decoded_lines(stream, source_name(source)):
            if error is not None:
                if not keep_errors:
                    raise error
                yield number, error
                continue
            yield number, _strip_line_ending(line)
    finally:
        if owned:
            stream.close()


def _json_items(
    source: Source, keep_blank: bool = False
) -> Iterator[Tuple[int, Union[Dict[str, Any], CorpusError, None]]]:
    name = source_name(source)
    stream, owned = _open_binary(source)
    try:
        for number, line, error in _decoded_lines(stream, name):
            if error is not None:
                yield number, error
                continue
            if not line.strip():
                if keep_blank:
                    yield number, None
                continue
            text = _strip_line_ending(line)
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                # Without its line ending the line holds no "\n", so e.pos
                # (0-based) is the column; json's own colno counts from a
                # final "\n" and said "column 1" for an error at the end.
                column = f"column {e.pos + 1}"
                if e.pos >= len(text):
                    column = f"the end of the line (column {e.pos + 1})"
                yield number, CorpusError(
                    name,
                    number,
                    f"invalid JSON: {e.msg} at {column}",
                    "Each line of a JSONL file must be one JSON object, e.g. "
                    '{"text": "...", "label": "..."}; fix the line',
                )
                continue
            except (ValueError, RecursionError) as e:  # an int of over 4300 digits, deep nesting
                problem = "nested too deeply" if isinstance(e, RecursionError) else str(e)
                yield number, CorpusError(
                    name, number, f"cannot read the JSON: {problem}",
                    "Fix the line, e.g. write a huge number as a string",
                )
                continue
            if not isinstance(obj, dict):
                yield number, CorpusError(
                    name,
                    number,
                    f"the line is a JSON {_json_type(obj)}, not an object",
                    'Each line of a JSONL file must be one JSON object, e.g. {"text": "...", "label": "..."}',
                )
                continue
            yield number, obj
    finally:
        if owned:
            stream.close()


def read_jsonl_objects(
    source: Source, keep_blank: bool = False, keep_errors: bool = False
) -> Iterator[Tuple[int, Any]]:
    """Stream the JSON objects of a JSONL file with their line numbers.

    source (Union[str, Path, IO[bytes]]): A path or a binary stream.
    keep_blank (bool): Yield (line, None) for a blank line instead of skipping it.
    keep_errors (bool): Yield (line, CorpusError) for a line that cannot be
        read (not UTF-8, not JSON, not an object) and go on, instead of raising.
    YIELDS (Tuple[int, Optional[dict]]): The line number and the object.
    RAISES (CorpusError): Missing file, invalid UTF-8 or JSON, or a line that
        is not a JSON object.
    """
    for number, item in _json_items(source, keep_blank=keep_blank):
        if isinstance(item, CorpusError) and not keep_errors:
            raise item
        yield number, item


def delimiter_for(path: PathLike) -> str:
    """The delimiter of a table file, from its suffix: "," for .csv, tab for .tsv.

    RAISES (CorpusError): The suffix is neither.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_DELIMITERS:
        raise CorpusError(
            str(path),
            None,
            f"cannot tell the delimiter from the suffix {suffix!r}",
            "Name the file .csv (comma) or .tsv (tab), or pass the delimiter explicitly.",
        )
    return TABLE_DELIMITERS[suffix]


def _table_items(
    source: Source, delimiter: str, required: Sequence[Tuple[str, str]] = ()
) -> Iterator[Tuple[int, Union[Dict[str, str], CorpusError]]]:
    """Yield (first line of the row, row as a dict or CorpusError).

    required: (column, how to choose another) pairs that the header must have.
    Errors in the header are raised, since no row can be read without it.
    """
    name = source_name(source)
    stream, owned = _open_binary(source)
    bad_lines: Dict[int, CorpusError] = {}

    def lines() -> Iterator[str]:
        for number, line, error in _decoded_lines(stream, name):
            if error is not None:
                bad_lines[number] = error
            yield line

    try:
        reader = csv.reader(lines(), delimiter=delimiter, strict=True)
        header: Optional[List[str]] = None
        header_line = 0
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                # The row's undecodable lines (if any) belong to this error, not to the next row.
                for number in [n for n in bad_lines if n <= reader.line_num]:
                    del bad_lines[number]
                lines_read = f" (lines {start}-{reader.line_num})" if reader.line_num > start else ""
                error = CorpusError(
                    name,
                    start,
                    f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} row{lines_read}: {e}",
                    "Quote fields that contain the delimiter, quotes or newlines, and double "
                    'quotes inside quoted fields ("")',
                )
                if header is None:
                    raise error
                yield start, error
                continue
            errors = [bad_lines.pop(n) for n in sorted(bad_lines) if n <= reader.line_num]
            if errors:
                if header is None:
                    raise errors[0]
                yield start, errors[0]
                continue
            if not row:  # a blank line is not a record
                continue
            if header is None:
                header, header_line = row, start
                _check_header(name, start, header, required)
                continue
            if len(row) != len(header):
                yield start, CorpusError(
                    name,
                    start,
                    f"expected {len(header)} columns, as in the header on line {header_line}, "
                    f"but found {len(row)}",
                    f"Quote fields that contain the delimiter {delimiter!r}, and give every row "
                    "one value per header column",
                )
                continue
            yield start, dict(zip(header, row))
        if header is None:
            raise CorpusError(
                name, None, "the file is empty", "A table file needs a header row naming its columns."
            )
    finally:
        if owned:
            stream.close()


def _check_header(name: str, line: int, header: List[str], required: Sequence[Tuple[str, str]]) -> None:
    duplicates = sorted(col for col, n in Counter(header).items() if n > 1)
    if duplicates:
        raise CorpusError(
            name,
            line,
            f"the header names column(s) {', '.join(map(repr, duplicates))} more than once",
            "Give every column a unique name.",
        )
    for column, option in required:
        if column not in header:
            raise CorpusError(
                name,
                line,
                f"no column {column!r} in the header (columns: {', '.join(map(repr, header))})",
                f"Add a header row with this column, or choose the column with {option}.",
                field=column,
            )


def read_table_rows(
    source: Source,
    delimiter: str = ",",
    required_columns: Union[Sequence[str], Mapping[str, str]] = (),
    keep_errors: bool = False,
) -> Iterator[Tuple[int, Any]]:
    """Stream the rows of a CSV/TSV file with a header, as dicts.

    source (Union[str, Path, IO[bytes]]): A path or a binary stream.
    delimiter (str): The field delimiter.
    required_columns (Union[Sequence[str], Mapping[str, str]]): Columns the
        header must have; as a mapping, each with the option that chooses
        another column, for the error message (e.g. {"text": "--text-column"}).
    keep_errors (bool): Yield (line, CorpusError) for a row that cannot be
        read and go on, instead of raising. Errors in the header are raised.
    YIELDS (Tuple[int, Dict[str, str]]): The row's first line and its values by column.
    RAISES (CorpusError): Missing file, invalid UTF-8, an empty file, a missing
        column, malformed quoting or a row with the wrong number of columns.
    """
    if isinstance(required_columns, Mapping):
        required = list(required_columns.items())
    else:
        required = [(column, "the right column name") for column in required_columns]
    for number, item in _table_items(source, delimiter, required):
        if isinstance(item, CorpusError) and not keep_errors:
            raise item
        yield number, item


# ---------------------------------------------------------------------------
# Labelled records


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: "null", "a string", "an array", ..."""
    kind = _json_type(value)
    if kind == "null":
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


# A code point in U+D800-U+DFFF. In a Python str it is always a lone half of a
# pair (JSON's "\ud83d\ude00" decodes to one character), which UTF-8 cannot
# encode, so spaCy's string store cannot hash it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_unicode(name: str, line: Optional[int], field: Optional[str], value: str, kind: str = "text") -> None:
    """Raise a :class:`CorpusError` if ``value`` holds a lone surrogate.

    kind (str): What the field holds, for the message: "text" or "label".
    """
    match = _SURROGATE.search(value)
    if match is None:
        return
    where = f"the {kind} field {field!r}" if field is not None else f"the {kind}"
    code = ord(match.group())
    raise CorpusError(
        name, line,
        f"{where} holds a lone surrogate U+{code:04X} (from a JSON escape \\u{code:04x} without its pair) "
        f"at character {match.start() + 1}, which is not a Unicode character",
        "Fix the escape (a \\ud800-\\udbff escape must be followed by a \\udc00-\\udfff one), "
        f"{_SKIP_ADVICE}.",
        field=field,
    )


def check_text(
    name: str, line: Optional[int], field: Optional[str], text: str, max_length: Optional[int] = None
) -> None:
    """Raise a :class:`CorpusError` if spaCy cannot tokenize ``text``.

    That is a text with a lone surrogate, or one longer than ``max_length``
    characters (``nlp.max_length``, beyond which spaCy refuses a text with
    its error E088).
    """
    check_unicode(name, line, field, text)
    if max_length is not None and len(text) > max_length:
        where = f"the text field {field!r}" if field is not None else "the text"
        raise CorpusError(
            name, line,
            f"{where} is {len(text):,} characters long, more than the limit of {max_length:,} (nlp.max_length)",
            "Split the text, or raise the limit (--max-length N, 0 for no limit; nlp.max_length in Python), "
            f"{_SKIP_ADVICE}.",
            field=field,
        )


def _check_labels_arg(labels: Optional[Sequence[str]], where: str) -> Optional[List[str]]:
    if labels is None:
        return None
    if isinstance(labels, str):
        raise CorpusError(where, None, f"labels must be a list of strings, not the string {labels!r}",
                          "Pass e.g. labels=['negative', 'positive'] (--labels negative,positive).")
    labels = list(labels)
    if not labels or any(not isinstance(label, str) or not label for label in labels):
        raise CorpusError(where, None, f"the label list {labels!r} must hold non-empty strings",
                          "Pass e.g. labels=['negative', 'positive'] (--labels negative,positive), "
                          "or no list.")
    duplicates = sorted(label for label, n in Counter(labels).items() if n > 1)
    if duplicates:
        raise CorpusError(where, None, f"the label list repeats {', '.join(map(repr, duplicates))}",
                          "List every label once.")
    return labels


class _RecordChecker:
    """Validation shared by the JSONL and table readers."""

    def __init__(
        self,
        name: str,
        text_field: str,
        text_option: str,
        label_option: str,
        labels: Optional[Sequence[str]],
        clean_html: bool,
        allow_empty_labels: bool,
        max_length: Optional[int] = None,
    ) -> None:
        self.name = name
        self.text_field = text_field
        self.text_option = text_option
        self.label_option = label_option
        self.labels = _check_labels_arg(labels, name)
        self.label_set = set(self.labels) if self.labels is not None else None
        self.clean_html = clean_html
        self.allow_empty_labels = allow_empty_labels
        self.max_length = max_length
        self.multi_label: Optional[bool] = None
        self.first_line = 0

    def text(self, number: int, value: Any, present: bool, fields: Iterable[str]) -> str:
        field = self.text_field
        if not present:
            raise CorpusError(
                self.name, number,
                f"no text field {field!r} (fields: {', '.join(map(repr, fields))})",
                f"Choose the text field with {self.text_option}, or add the text, {_SKIP_ADVICE}.",
                field=field,
            )
        if not isinstance(value, str):
            raise CorpusError(
                self.name, number, f"the text field {field!r} is {json_kind(value)}, not a string",
                f"Make the text a string, {_SKIP_ADVICE}.", field=field,
            )
        text = clean_html_breaks(value) if self.clean_html else value
        if not text.strip():
            cleaned = " after removing HTML line breaks" if text != value else ""
            raise CorpusError(
                self.name, number, f"the text field {field!r} is empty{cleaned}",
                f"Every record needs a text: fill it in or remove the record, {_SKIP_ADVICE}.", field=field,
            )
        check_text(self.name, number, field, text, self.max_length)
        return text

    def label(self, number: int, field: str, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise CorpusError(
                self.name, number, f"the label field {field!r} holds {json_kind(value)}, not a string",
                f"Write labels as strings, {_SKIP_ADVICE}.", field=field,
            )
        check_unicode(self.name, number, field, value, kind="label")
        if not value.strip():
            raise CorpusError(
                self.name, number, f"the label field {field!r} is empty",
                f"Every record needs a label: fill it in or remove the record, {_SKIP_ADVICE}.", field=field,
            )
        if self.label_set is not None and value not in self.label_set:
            raise CorpusError(
                self.name, number,
                f"unknown label {value!r} in field {field!r} "
                f"(known labels: {', '.join(map(repr, self.labels or []))})",
                f"Fix the record, add the label to the label list (labels / --labels), {_SKIP_ADVICE}.",
                field=field,
            )
        return value

    def label_list(self, number: int, field: str, values: List[Any]) -> List[str]:
        labels: List[str] = []
        for value in values:
            label = self.label(number, field, value)
            if label not in labels:
                labels.append(label)
        if not labels and not self.allow_empty_labels:
            raise CorpusError(
                self.name, number, f"the label list {field!r} is empty",
                "Give every record at least one label, pass allow_empty_labels=True "
                f"(--allow-empty-labels) if records without labels are intended, {_SKIP_ADVICE}.",
                field=field,
            )
        return labels

    def kind(self, number: int, multi_label: bool, single_field: str, multi_field: str) -> None:
        if self.multi_label is None:
            self.multi_label, self.first_line = multi_label, number
        elif self.multi_label != multi_label:
            this, other = (multi_field, single_field) if multi_label else (single_field, multi_field)
            raise CorpusError(
                self.name, number,
                f"mixed single-label and multi-label records: this record has {this!r}, but the first "
                f"record (line {self.first_line}) has {other!r}",
                f"Use one kind for the whole file (for multi-label data, a list in {multi_field!r} for "
                f"every record, with one element where a record has one label), {_SKIP_ADVICE}.",
                field=this,
            )


def with_skip_advice(error: CorpusError) -> CorpusError:
    """The error, with the advice to pass skip_invalid (--skip-invalid) if it has none."""
    if "skip_invalid" in error.advice:
        return error
    advice = error.advice.rstrip(".")
    advice = f"{advice}, {_SKIP_ADVICE}" if advice else "P" + _SKIP_ADVICE[4:]
    return CorpusError(error.path, error.line, error.problem, advice, error.field)


def _collect(
    items: Iterator[Tuple[int, Union[Record, CorpusError]]],
    name: str,
    skip_invalid: bool,
    report: Optional[CorpusReport],
    checker: _RecordChecker,
) -> Iterator[Record]:
    own_report = report is None
    if report is None:
        report = CorpusReport(path=name)
    elif not report.path:
        report.path = name
    for number, item in items:
        if isinstance(item, CorpusError):
            if not skip_invalid:
                raise with_skip_advice(item)
            line = item.line if item.line is not None else number
            report.skipped.append(SkippedRecord(line, item.problem, item))
            continue
        report.n_records += 1
        report.multi_label = checker.multi_label
        yield item
    if report.multi_label is None:
        report.multi_label = checker.multi_label
    if own_report and report.skipped:
        warnings.warn(report.summary(), CorpusWarning, stacklevel=3)


def read_jsonl_records(
    path: Source,
    text_key: str = "text",
    label_key: str = "label",
    labels_key: str = "labels",
    *,
    labels: Optional[Sequence[str]] = None,
    clean_html: bool = True,
    skip_invalid: bool = False,
    allow_empty_labels: bool = False,
    report: Optional[CorpusReport] = None,
    max_length: Optional[int] = None,
) -> Iterator[Record]:
    """Stream labelled records from a JSON Lines file.

    Each line is an object with a text under ``text_key`` and either one label
    under ``label_key`` (a string) or a list of labels under ``labels_key``
    (multi-label). Other fields are ignored; blank lines are not records.

    path (Union[str, Path, IO[bytes]]): The file, or a binary stream.
    text_key (str): The field holding the text.
    label_key (str): The field holding a single label.
    labels_key (str): The field holding a list of labels.
    labels (Optional[Sequence[str]]): The known labels. Any other is an error.
    clean_html (bool): Replace HTML line breaks by spaces (see ``clean_html_breaks``).
    skip_invalid (bool): Skip invalid records instead of raising, and list
        them in ``report`` (or in a ``CorpusWarning`` if there is no report).
    allow_empty_labels (bool): Accept an empty label list (a multi-label record
        none of whose labels apply).
    report (Optional[CorpusReport]): Filled in while reading: counts, skipped
        records and whether the file is multi-label.
    max_length (Optional[int]): Refuse (or with ``skip_invalid`` skip) a text
        longer than this many characters, e.g. ``nlp.max_length``.
    YIELDS (Record): (text, labels, line) for each valid record.
    RAISES (CorpusError): Invalid input, unless ``skip_invalid``.
    """
    name = source_name(path)
    checker = _RecordChecker(
        name, text_key, "text_key (--text-key)", "label_key/labels_key",
        labels, clean_html, allow_empty_labels, max_length,
    )

    def items() -> Iterator[Tuple[int, Union[Record, CorpusError]]]:
        for number, obj in _json_items(path):
            if isinstance(obj, CorpusError):
                yield number, obj
                continue
            assert obj is not None
            try:
                yield number, _jsonl_record(checker, number, obj, text_key, label_key, labels_key)
            except CorpusError as e:
                yield number, e

    return _collect(items(), name, skip_invalid, report, checker)


def _jsonl_record(
    checker: _RecordChecker, number: int, obj: Dict[str, Any], text_key: str, label_key: str, labels_key: str
) -> Record:
    text = checker.text(number, obj.get(text_key), text_key in obj, obj.keys())
    has_single, has_multi = label_key in obj, labels_key in obj and labels_key != label_key
    if has_single and has_multi:
        raise CorpusError(
            checker.name, number, f"the record has both {label_key!r} and {labels_key!r}",
            f"Keep one: {label_key!r} for one label, {labels_key!r} for a list of labels, {_SKIP_ADVICE}.",
            field=labels_key,
        )
    if not has_single and not has_multi:
        raise CorpusError(
            checker.name, number,
            f"no label field {label_key!r} (or {labels_key!r} for a list of labels); "
            f"fields: {', '.join(map(repr, obj.keys()))}",
            f"Choose the label field with label_key/labels_key (--label-key/--labels-key), or add "
            f"the label, {_SKIP_ADVICE}.",
            field=label_key,
        )
    if has_single:
        value = obj[label_key]
        if isinstance(value, list):
            raise CorpusError(
                checker.name, number, f"the label field {label_key!r} holds a list",
                f"Put a list of labels under {labels_key!r} (labels_key / --labels-key), or a single "
                f"label string under {label_key!r}, {_SKIP_ADVICE}.", field=label_key,
            )
        checker.kind(number, False, label_key, labels_key)
        return Record(text, [checker.label(number, label_key, value)], number)
    values = obj[labels_key]
    if not isinstance(values, list):
        raise CorpusError(
            checker.name, number, f"the labels field {labels_key!r} holds {json_kind(values)}, not a list",
            f"Write a list of labels, e.g. {{{json.dumps(labels_key)}: [\"a\", \"b\"]}}, or put a single "
            f"label under {label_key!r}, {_SKIP_ADVICE}.", field=labels_key,
        )
    checker.kind(number, True, label_key, labels_key)
    return Record(text, checker.label_list(number, labels_key, values), number)


def read_table_records(
    path: Source,
    text_column: str = "text",
    label_column: str = "label",
    delimiter: Optional[str] = None,
    *,
    label_separator: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    clean_html: bool = True,
    skip_invalid: bool = False,
    allow_empty_labels: bool = False,
    report: Optional[CorpusReport] = None,
    max_length: Optional[int] = None,
) -> Iterator[Record]:
    """Stream labelled records from a CSV or TSV file with a header row.

    path (Union[str, Path, IO[bytes]]): The file, or a binary stream (then
        pass ``delimiter``).
    text_column (str): The column holding the text.
    label_column (str): The column holding the label(s).
    delimiter (Optional[str]): The field delimiter; by default "," for a .csv
        file and a tab for a .tsv file.
    label_separator (Optional[str]): If set, the label column holds a list of
        labels joined by this separator (e.g. "|"): the records are multi-label.
    labels (Optional[Sequence[str]]): The known labels. Any other is an error.
    clean_html (bool): Replace HTML line breaks by spaces (see ``clean_html_breaks``).
    skip_invalid (bool): Skip invalid rows instead of raising, and list them in
        ``report`` (or in a ``CorpusWarning`` if there is no report). Errors in
        the header are always raised.
    allow_empty_labels (bool): With ``label_separator``, accept an empty label cell.
    report (Optional[CorpusReport]): Filled in while reading.
    max_length (Optional[int]): Refuse (or with ``skip_invalid`` skip) a text
        longer than this many characters, e.g. ``nlp.max_length``.
    YIELDS (Record): (text, labels, first line of the row) for each valid row.
    RAISES (CorpusError): Invalid input, unless ``skip_invalid``.
    """
    name = source_name(path)
    if delimiter is None:
        if not isinstance(path, (str, Path)):
            raise CorpusError(name, None, "cannot tell the delimiter of a stream", "Pass delimiter.")
        delimiter = delimiter_for(path)
    checker = _RecordChecker(
        name, text_column, "text_column (--text-column)", "label_column (--label-column)",
        labels, clean_html, allow_empty_labels, max_length,
    )
    checker.multi_label = label_separator is not None
    required = [
        (text_column, "text_column (--text-column)"),
        (label_column, "label_column (--label-column)"),
    ]

    def items() -> Iterator[Tuple[int, Union[Record, CorpusError]]]:
        for number, row in _table_items(path, delimiter, required):
            if isinstance(row, CorpusError):
                yield number, row
                continue
            try:
                text = checker.text(number, row[text_column], True, row.keys())
                cell = row[label_column]
                if label_separator is None:
                    record = Record(text, [checker.label(number, label_column, cell)], number)
                else:
                    parts = cell.split(label_separator) if cell.strip() else []
                    record = Record(text, checker.label_list(number, label_column, parts), number)
                yield number, record
            except CorpusError as e:
                yield number, e

    return _collect(items(), name, skip_invalid, report, checker)


def corpus_format(path: PathLike, format: Optional[str] = None) -> str:
    """The format of a corpus file: "jsonl", "csv" or "tsv", from ``format`` or the suffix.

    RAISES (CorpusError): The format is unknown.
    """
    if format is not None:
        if format not in FORMATS:
            raise CorpusError(
                str(path), None, f"unknown format {format!r}", f"Choose one of: {', '.join(FORMATS)}."
            )
        return format
    suffix = Path(path).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    raise CorpusError(
        str(path), None, f"cannot tell the format from the suffix {suffix!r}",
        "Use a .jsonl, .csv or .tsv file, or give the format explicitly (--format jsonl|csv|tsv).",
    )


def read_records(
    path: PathLike,
    text_key: str = "text",
    label_key: str = "label",
    labels_key: str = "labels",
    *,
    format: Optional[str] = None,
    label_separator: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    clean_html: bool = True,
    skip_invalid: bool = False,
    allow_empty_labels: bool = False,
    report: Optional[CorpusReport] = None,
    max_length: Optional[int] = None,
) -> Iterator[Record]:
    """Stream labelled records from a JSONL, CSV or TSV file, by suffix or ``format``.

    For a table, ``text_key`` and ``label_key`` name the columns, and
    ``labels_key`` is not used. See ``read_jsonl_records`` and
    ``read_table_records`` for the other arguments (``max_length``: refuse
    longer texts, e.g. ``nlp.max_length``).
    """
    kind = corpus_format(path, format)
    common = dict(labels=labels, clean_html=clean_html, skip_invalid=skip_invalid,
                  allow_empty_labels=allow_empty_labels, report=report, max_length=max_length)
    if kind == "jsonl":
        if label_separator is not None:
            raise CorpusError(str(path), None, "label_separator only applies to CSV/TSV files",
                              f"Put lists of labels under {labels_key!r} in a JSONL file.")
        return read_jsonl_records(path, text_key, label_key, labels_key, **common)  # type: ignore[arg-type]
    delimiter = "," if kind == "csv" else "\t"
    return read_table_records(
        path, text_key, label_key, delimiter, label_separator=label_separator, **common  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------
# Docs and DocBins


def make_cats(record_labels: Iterable[str], labels: Sequence[str]) -> Dict[str, float]:
    """``doc.cats`` over the full label set: 1.0 for the record's labels, 0.0 for the rest."""
    positive = set(record_labels)
    return {label: 1.0 if label in positive else 0.0 for label in labels}


def records_to_docs(
    nlp: "Language", records: Iterable[Record], labels: Sequence[str], *, source: str = "<records>"
) -> Iterator[Doc]:
    """Tokenize records into ``Doc`` objects with ``doc.cats`` over all labels.

    nlp (Language): Its tokenizer (``nlp.make_doc``) is used; no components run.
    records (Iterable[Record]): (text, labels, line) tuples, e.g. from a reader.
    labels (Sequence[str]): The full label set; every record label must be in it.
    source (str): The name of the records' file, for messages.
    YIELDS (Doc): One doc a record, with ``doc.cats`` set.
    RAISES (CorpusError): A record has a label that is not in ``labels``, or
        a text spaCy cannot tokenize (a lone surrogate, or longer than
        ``nlp.max_length``).
    """
    labels = _check_labels_arg(labels, source) or []
    known = set(labels)
    for text, record_labels, line in records:
        unknown = [label for label in record_labels if label not in known]
        if unknown:
            raise CorpusError(
                source, line, f"unknown label {unknown[0]!r} (known labels: {', '.join(map(repr, labels))})",
                "Add the label to the label list, or fix the record.",
            )
        check_text(source, line, None, text, nlp.max_length)
        doc = nlp.make_doc(text)
        doc.cats = make_cats(record_labels, labels)
        yield doc


def count_labels(records: Iterable[Record], labels: Optional[Sequence[str]] = None) -> Dict[str, int]:
    """Count the records of each label (a multi-label record counts for each of its labels).

    labels (Optional[Sequence[str]]): Give every one of these a count, 0 included,
        in this order. By default the labels seen, sorted.
    """
    counts = Counter(label for record in records for label in record.labels)
    order = list(labels) if labels is not None else sorted(counts)
    return {label: counts.get(label, 0) for label in order}


def write_docbin(
    nlp: "Language",
    records: Iterable[Record],
    output_path: PathLike,
    labels: Optional[Sequence[str]] = None,
    *,
    source: str = "<records>",
) -> Dict[str, int]:
    """Convert records to docs and save them as a ``.spacy`` DocBin.

    nlp (Language): Its tokenizer is used, e.g. ``spacy.blank("en")``.
    records (Iterable[Record]): The records, e.g. from ``read_records``.
    output_path (Union[str, Path]): The ``.spacy`` file to write; missing
        parent directories are created. It is written to a temporary file
        first and moved into place, so a failure leaves it as it was.
    labels (Optional[Sequence[str]]): The full label set, in ``doc.cats``
        order. By default the labels of the records, sorted.
    source (str): The name of the records' file, for messages.
    RETURNS (Dict[str, int]): The number of records of each label, in label order.
    """
    records = list(records)
    if labels is None:
        labels = sorted({label for record in records for label in record.labels})
    doc_bin = DocBin(store_user_data=False)
    for doc in records_to_docs(nlp, records, labels, source=source):
        doc_bin.add(doc)
    write_bytes_atomically(output_path, doc_bin.to_bytes())
    return count_labels(records, labels)


# ---------------------------------------------------------------------------
# spaCy reader


class LabelledCorpus:
    """Iterate ``Example`` objects from a labelled JSONL, CSV or TSV file.

    The callable that ``spacy_rnn.JsonlCorpus.v1`` returns: like spaCy's
    ``Corpus``, it is called with the ``nlp`` object, tokenizes each text with
    ``nlp.make_doc`` and gives the reference doc ``cats`` over the full label
    set. Without ``labels``, the set is collected in one streaming pass over
    the file the first time it is needed, and sorted. A text longer than
    ``nlp.max_length`` is an invalid record: an error that names its line, or
    skipped with ``skip_invalid``.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        text_key: str = "text",
        label_key: str = "label",
        labels_key: str = "labels",
        labels: Optional[Sequence[str]] = None,
        limit: int = 0,
        format: Optional[str] = None,
        label_separator: Optional[str] = None,
        clean_html: bool = True,
        skip_invalid: bool = False,
        allow_empty_labels: bool = False,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            problem = "is a directory, not a file" if self.path.is_dir() else "no such file"
            raise CorpusError(str(self.path), None, problem,
                              "Check the corpus path in the config (e.g. --paths.train).")
        if limit < 0:
            raise CorpusError(
                str(self.path), None, f"limit must be 0 (all) or more, not {limit}", "Fix the config."
            )
        self.format = corpus_format(self.path, format)
        self.text_key = text_key
        self.label_key = label_key
        self.labels_key = labels_key
        self.labels = _check_labels_arg(labels, str(self.path))
        self.limit = limit
        self.label_separator = label_separator
        self.clean_html = clean_html
        self.skip_invalid = skip_invalid
        self.allow_empty_labels = allow_empty_labels
        self._warned = False

    def records(
        self, report: Optional[CorpusReport] = None, max_length: Optional[int] = None
    ) -> Iterator[Record]:
        """Stream the valid records (up to ``limit``); texts longer than ``max_length`` are invalid."""
        records = read_records(
            self.path, self.text_key, self.label_key, self.labels_key, format=self.format,
            label_separator=self.label_separator, labels=self.labels, clean_html=self.clean_html,
            skip_invalid=self.skip_invalid, allow_empty_labels=self.allow_empty_labels,
            report=report, max_length=max_length,
        )
        for i, record in enumerate(records):
            if self.limit and i >= self.limit:
                break
            yield record

    def get_labels(self) -> List[str]:
        """The full label set: the ``labels`` given, or those in the file, sorted."""
        if self.labels is None:
            report = CorpusReport(path=str(self.path))
            self.labels = sorted({label for record in self.records(report) for label in record.labels})
            self._warn(report)
        return list(self.labels)

    def _warn(self, report: CorpusReport) -> None:
        if report.skipped and not self._warned:
            self._warned = True
            warnings.warn(report.summary(), CorpusWarning)

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        labels = self.get_labels()
        report = CorpusReport(path=str(self.path))
        for record in self.records(report, max_length=nlp.max_length):
            doc = nlp.make_doc(record.text)
            yield Example.from_dict(doc, {"cats": make_cats(record.labels, labels)})
        self._warn(report)


@registry.readers("spacy_rnn.JsonlCorpus.v1")
def create_labelled_corpus_reader(
    path: Optional[PathLike],
    text_key: str = "text",
    label_key: str = "label",
    labels_key: str = "labels",
    labels: Optional[List[str]] = None,
    limit: int = 0,
    clean_html: bool = True,
    skip_invalid: bool = False,
    label_separator: Optional[str] = None,
) -> Callable[["Language"], Iterable[Example]]:
    """Read labelled examples from a JSONL, CSV or TSV file for ``spacy train``.

    [corpora.train]
    @readers = "spacy_rnn.JsonlCorpus.v1"
    path = ${paths.train}
    labels = ["negative", "positive"]

    path (Union[str, Path]): A .jsonl, .csv or .tsv file.
    text_key (str): The field (JSONL) or column (CSV/TSV) holding the text.
    label_key (str): The field or column holding a single label.
    labels_key (str): The JSONL field holding a list of labels (multi-label).
    labels (Optional[List[str]]): The full label set, in order; any other label
        is an error. By default, the labels found in the file, sorted.
    limit (int): Read at most this many records; 0 for all.
    clean_html (bool): Replace HTML line breaks (``<br />``) by spaces.
    skip_invalid (bool): Skip invalid records with a warning that lists them,
        instead of stopping with an error.
    label_separator (Optional[str]): For CSV/TSV, split the label column on
        this string into several labels (multi-label).
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus.
    """
    if path is None:
        raise CorpusError(
            "<config>", None, "no corpus path given",
            "Set the path in the config or on the command line, e.g. --paths.train train.jsonl.",
        )
    return LabelledCorpus(
        path, text_key=text_key, label_key=label_key, labels_key=labels_key, labels=labels,
        limit=limit, clean_html=clean_html, skip_invalid=skip_invalid, label_separator=label_separator,
    )
