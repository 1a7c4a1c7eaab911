"""Input files: paths and streams, UTF-8 lines, JSON objects and table rows, with line numbers.

The readers here stream: a file is read line by line, never whole. Text is
UTF-8 (a leading byte-order mark is allowed); a line that is not is an error
that names the file, the line and the byte. They yield a :class:`CorpusError`
in place of an item that cannot be read (with ``keep_errors``), so that a
caller can either raise it or skip the item and carry on.

Which format a path is in: :mod:`.formats`.
"""
import csv
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import CorpusError
from .formats import DELIMITERS, PathLike, suffix_format

# A path, or a binary stream (e.g. sys.stdin.buffer) read from its current position.
Source = Union[str, Path, IO[bytes]]

# How deep a line's arrays and objects may nest. json.loads recurses once per
# level and stops at the interpreter's recursion limit, which depends on how
# deep the caller's stack already is; and a garbage-collector finalizer that
# runs while it is that deep fails with an "unraisable" RecursionError. A line
# nested deeper than this is refused before json sees it, the same way on
# every call. No record of text and labels comes near it.
MAX_JSON_DEPTH = 200
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (strings ignored)."""
    depth = deepest = 0
    for char in _JSON_STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest

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


def _finite_float(text: str) -> float:
    """A JSON number as a float, refused where a float cannot hold it: written
    back, it would become ``Infinity``, which is not JSON."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is beyond the range of a 64-bit float")
    return value


def _not_json(constant: str) -> Any:
    """Python's json reads NaN, Infinity and -Infinity; JSON (RFC 8259) has none of them."""
    raise ValueError(f"{constant} is not a JSON value")


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
            # Counting brackets is cheap; the exact depth only when there are many.
            if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _json_depth(text) > MAX_JSON_DEPTH:
                yield number, CorpusError(
                    name, number,
                    f"cannot read the JSON: arrays or objects nested more than {MAX_JSON_DEPTH} levels deep",
                    'Each line of a JSONL file must be one flat JSON object, e.g. {"text": "...", "label": "..."}',
                )
                continue
            try:
                obj = json.loads(text, parse_float=_finite_float, parse_constant=_not_json)
            except json.JSONDecodeError as e:
                # Without its line ending the line holds no "\n", so e.pos
                # (0-based) is the column; json's own colno counts from a
                # final "\n" and said "column 1" for an error at the end.
                column = f"column {e.pos + 1}"
                if e.pos >= len(text):
                    column = f"the end of the line (column {e.pos + 1})"
                # Some of json's messages end in "at" ("Unterminated string
                # starting at", "Invalid control character at").
                message = e.msg[: -len(" at")] if e.msg.endswith(" at") else e.msg
                yield number, CorpusError(
                    name,
                    number,
                    f"invalid JSON: {message} at {column}",
                    "Each line of a JSONL file must be one JSON object, e.g. "
                    '{"text": "...", "label": "..."}; fix the line',
                )
                continue
            except ValueError as e:  # an int of over 4300 digits
                yield number, CorpusError(
                    name, number, f"cannot read the JSON: {e}",
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
    """The delimiter of a table file, from its suffix: "," for .csv, tab for .tsv or .tab.

    RAISES (CorpusError): The suffix is none of those.
    """
    found = suffix_format(path)
    if found not in DELIMITERS:
        raise CorpusError(
            str(path),
            None,
            f"cannot tell the delimiter from the suffix {Path(path).suffix!r}",
            "Name the file .csv (comma) or .tsv (tab), or pass the delimiter explicitly.",
        )
    return DELIMITERS[found]  # type: ignore[index]


def _table_items(
    source: Source, delimiter: str, required: Sequence[Tuple[str, str]] = (), quoted: Optional[bool] = None
) -> Iterator[Tuple[int, Union[Dict[str, str], CorpusError]]]:
    """Yield (first line of the row, row as a dict or CorpusError).

    required: (column, how to choose another) pairs that the header must have.
    quoted: Whether fields may be quoted; by default for a comma, not for a tab.
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
        if quoted is None:
            quoted = delimiter != "\t"
        quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
        reader = csv.reader(lines(), delimiter=delimiter, strict=True, quoting=quoting)
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
    quoted: Optional[bool] = None,
) -> Iterator[Tuple[int, Any]]:
    """Stream the rows of a CSV/TSV file with a header, as dicts.

    source (Union[str, Path, IO[bytes]]): A path or a binary stream.
    delimiter (str): The field delimiter.
    required_columns (Union[Sequence[str], Mapping[str, str]]): Columns the
        header must have; as a mapping, each with the option that chooses
        another column, for the error message (e.g. {"text": "--text-column"}).
    keep_errors (bool): Yield (line, CorpusError) for a row that cannot be
        read and go on, instead of raising. Errors in the header are raised.
    quoted (Optional[bool]): Whether a field may be quoted ("a, b", with ""
        for a quote inside). Default: for a comma, not for a tab (TSV, where a
        quote is a character like any other).
    YIELDS (Tuple[int, Dict[str, str]]): The row's first line and its values by column.
    RAISES (CorpusError): Missing file, invalid UTF-8, an empty file, a missing
        column, malformed quoting or a row with the wrong number of columns.
    """
    if isinstance(required_columns, Mapping):
        required = list(required_columns.items())
    else:
        required = [(column, "the right column name") for column in required_columns]
    for number, item in _table_items(source, delimiter, required, quoted):
        if isinstance(item, CorpusError) and not keep_errors:
            raise item
        yield number, item


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
