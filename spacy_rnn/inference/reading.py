"""The records a scoring run reads: a text to score and the record to
write back, or why the record cannot be read, one item per input record."""
import sys
from pathlib import Path
from typing import IO, Any, Dict, Iterator, NamedTuple, Optional, Tuple, Union

from ..data.checks import clean_html_breaks, text_field
from ..data.formats import DELIMITERS, SCORE_FORMATS, file_format, quoted
from ..data.sources import Source, read_jsonl_objects, read_table_rows, read_text_lines, source_name
from ..errors import CorpusError

STDIN = "-"


def score_format(input_path: Union[str, Path], input_format: Optional[str] = None) -> str:
    """The input format: ``input_format`` if given, else from the suffix (txt for stdin).

    RAISES (CorpusError): Unknown format or suffix.
    """
    if input_format is None and input_path == STDIN:
        return "txt"
    return file_format(input_path, input_format, SCORE_FORMATS)


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
    clean_html: bool = True,
) -> Iterator[ScoreItem]:
    """Stream the records of a file or binary stream, an invalid one as an item with its error.

    - txt: every line is a text, blank lines included; the record is ``{"text": line}``.
    - jsonl: every line an object with a string under ``text_key`` (may be
      empty); the record is the object. A blank line counts as an empty text,
      with the record ``{text_key: ""}``, so that lines stay aligned.
    - csv/tsv: a header row, then a row a record, the text in the column
      ``text_key``; the record maps the header's columns to the row's values.

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
    elif format in DELIMITERS:
        rows = read_table_rows(
            source, DELIMITERS[format], required_columns={text_key: "--text-key"}, keep_errors=True,
            quoted=quoted(format),
        )
        for number, row in rows:
            if isinstance(row, CorpusError):
                yield ScoreItem(number, None, None, row)
            else:
                yield ScoreItem(number, prepare(row[text_key]), row, field=text_key)
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


class _Named:
    """A binary stream with a name for messages."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self.name = name

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)


def open_input(input_path: Union[str, Path]) -> Source:
    """The source to read: stdin for "-", else the file.

    RAISES (CorpusError): No such file, or a directory.
    """
    if input_path == STDIN:
        return _Named(sys.stdin.buffer, "<stdin>")
    path = Path(input_path)
    if not path.is_file():
        raise CorpusError(str(input_path), None, "is a directory" if path.is_dir() else "no such file",
                          "Check the path, or pass - to read from stdin.")
    return path
