"""``python -m spacy_rnn score``: classify texts with a pipeline, streaming JSONL out.

The input is read line by line and the output written as the docs come out of
``nlp.pipe``, so memory stays flat however large the input is. The output has
one line per input record, in input order: the record (for plain text,
``{"text": ...}``; for JSONL and CSV, all its fields), plus ``"cats"`` (label
-> probability) and ``"label"`` (the most probable label).
"""
import itertools
import json
import os
import sys
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, Optional, Tuple, Union

import spacy
from spacy.language import Language

from ..corpus import (
    CorpusError,
    Source,
    clean_html_breaks,
    read_jsonl_objects,
    read_table_rows,
    read_text_lines,
    source_name,
)
from ._util import Arg, Opt, allow_large_csv_fields, app, fail, good

STDIN = "-"
SCORE_FORMATS = ("txt", "jsonl", "csv", "tsv")
SUFFIX_FORMATS = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}

INPUT_HELP = (
    "Texts to score: .txt (one text a line), .jsonl (an object a line), .csv/.tsv "
    "(with a header), or - for stdin (one text a line unless --format says otherwise)"
)


@app.command("score", no_args_is_help=True)
def score_cli(
    # fmt: off
    model: str = Arg(..., metavar="MODEL", help="Pipeline with a text classifier: a path or an installed package name"),
    input_path: str = Arg(..., help=INPUT_HELP, metavar="INPUT"),
    output_path: Optional[Path] = Opt(None, "--output", "-o", help="JSONL file to write. Default: stdout", dir_okay=False),
    input_format: Optional[str] = Opt(None, "--format", "-f", help="txt, jsonl, csv or tsv. Default: from the suffix; txt for stdin"),
    text_key: str = Opt("text", "--text-key", help="JSONL field holding the text"),
    text_column: str = Opt("text", "--text-column", help="CSV/TSV column holding the text"),
    cats_field: str = Opt("cats", "--cats-field", help="Output field for the label probabilities"),
    label_field: str = Opt("label", "--label-field", help="Output field for the most probable label"),
    batch_size: int = Opt(256, "--batch-size", "-b", min=1, help="Texts per batch"),
    n_process: int = Opt(1, "--n-process", "-n", help="Worker processes (-1: one per CPU)"),
    clean_html: bool = Opt(True, "--clean-html/--no-clean-html", help="Replace HTML line breaks (<br />) by spaces before scoring, as `convert` does; the output keeps the original text"),
    # fmt: on
) -> None:
    """Score texts with a text classifier, writing JSON Lines.

    Each output line is an input record plus "cats" (label -> probability)
    and "label" (the top label): one line per input record, in input order;
    an empty text is scored too. The input is streamed, so memory stays flat
    for inputs of any size.
    """
    allow_large_csv_fields()
    try:
        n_written = score_file(
            model, input_path, output_path, format=input_format, text_key=text_key,
            text_column=text_column, cats_field=cats_field, label_field=label_field,
            batch_size=batch_size, n_process=n_process, clean_html=clean_html,
        )
    except (CorpusError, ScoreError) as e:
        fail(str(e))
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1)
    if output_path is not None:
        good(f"Scored {n_written} texts: {output_path}", err=True)


class ScoreError(ValueError):
    """The scoring run cannot start: bad options, or no usable pipeline."""


def score_file(
    model: Union[str, Path, Language],
    input_path: str,
    output_path: Optional[Path] = None,
    *,
    format: Optional[str] = None,
    text_key: str = "text",
    text_column: str = "text",
    cats_field: str = "cats",
    label_field: str = "label",
    batch_size: int = 256,
    n_process: int = 1,
    clean_html: bool = True,
) -> int:
    """Score a file (or stdin, for "-") and write JSONL to ``output_path`` or stdout.

    model (Union[str, Path, Language]): A pipeline, or its path or package name.
    input_path (str): The input file, or "-" for stdin.
    output_path (Optional[Path]): The JSONL file to write; None for stdout.
    format (Optional[str]): txt, jsonl, csv or tsv; by default from the suffix
        (txt for stdin).
    text_key (str): JSONL field holding the text.
    text_column (str): CSV/TSV column holding the text.
    cats_field (str): Output field for the label probabilities.
    label_field (str): Output field for the most probable label.
    batch_size (int): Texts per batch for ``nlp.pipe``.
    n_process (int): Processes for ``nlp.pipe`` (-1: one per CPU).
    clean_html (bool): Replace HTML line breaks by spaces in the texts scored.
    RETURNS (int): The number of lines written.
    RAISES (CorpusError): Unreadable input; the message names the line. The
        output written before the error stays, and the message says how much.
    RAISES (ScoreError): Bad options, or a pipeline that cannot be loaded or
        has no text classifier.
    """
    if batch_size < 1:
        raise ScoreError(f"The batch size must be 1 or more, not {batch_size} (--batch-size).")
    if n_process == 0 or n_process < -1:
        raise ScoreError(f"--n-process must be 1 or more, or -1 for one process per CPU, not {n_process}.")
    if cats_field == label_field:
        raise ScoreError(f"--cats-field and --label-field must differ, both are {cats_field!r}.")
    fmt = score_format(input_path, format)
    if input_path == STDIN:
        source: Source = _Named(sys.stdin.buffer, "<stdin>")
    else:
        path = Path(input_path)
        if not path.is_file():
            raise CorpusError(input_path, None, "is a directory" if path.is_dir() else "no such file",
                              "Check the path, or pass - to read from stdin.")
        if output_path is not None and output_path.exists() and output_path.resolve() == path.resolve():
            raise ScoreError(f"The output file {output_path} is the input file: choose another --output.")
        source = path
    nlp = model if isinstance(model, Language) else load_classifier(model)
    records = read_scoring_input(
        source, fmt, text_key=text_key, text_column=text_column, clean_html=clean_html
    )
    results = score_records(nlp, records, batch_size=batch_size, n_process=n_process,
                            cats_field=cats_field, label_field=label_field, source=source_name(source))
    n_written = 0
    try:
        with _open_output(output_path) as out:
            for result in _progress(results):
                out.write(_dumps(result))
                n_written += 1
    except CorpusError as e:
        if n_written:
            where = output_path if output_path is not None else "stdout"
            e.args = (f"{e.args[0]} The first {n_written} results were written to {where}.",)
        raise
    return n_written


class _Named:
    """A binary stream with a name for messages."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self._stream = stream
        self.name = name

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)


def score_format(input_path: str, input_format: Optional[str] = None) -> str:
    """The input format: ``input_format`` if given, else from the suffix (txt for stdin).

    RAISES (CorpusError): Unknown format or suffix.
    """
    if input_format is not None:
        if input_format not in SCORE_FORMATS:
            raise CorpusError(input_path, None, f"unknown format {input_format!r}",
                              f"Choose --format from: {', '.join(SCORE_FORMATS)}.")
        return input_format
    if input_path == STDIN:
        return "txt"
    suffix = Path(input_path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise CorpusError(input_path, None, f"cannot tell the format from the suffix {suffix!r}",
                          "Use a .txt, .jsonl, .csv or .tsv file, or pass "
                          f"--format ({'|'.join(SCORE_FORMATS)}).")
    return SUFFIX_FORMATS[suffix]


def load_classifier(model: Union[str, Path]) -> Language:
    """Load a pipeline with ``spacy.load`` and check that it sets ``doc.cats``.

    RAISES (ScoreError): It cannot be loaded, or has no text classifier.
    """
    try:
        nlp = spacy.load(model)
    except OSError as e:
        raise ScoreError(f"Cannot load the pipeline {str(model)!r}: {e}\nGive the path of a pipeline "
                         "directory (e.g. training/model-best) or the name of an installed pipeline package.")
    classifiers = [name for name in nlp.pipe_names if "doc.cats" in nlp.get_pipe_meta(name).assigns]
    if not classifiers:
        raise ScoreError(f"The pipeline {str(model)!r} has no text classifier (no component sets doc.cats); "
             f"its components are: {', '.join(nlp.pipe_names) or 'none'}. Train one with "
             "rnn_textcat or rnn_textcat_multilabel.")
    return nlp


def read_scoring_input(
    source: Source,
    format: str,
    *,
    text_key: str = "text",
    text_column: str = "text",
    clean_html: bool = True,
) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Stream (text to score, output record) pairs from a file or binary stream.

    - txt: every line is a text, blank lines included; the record is ``{"text": line}``.
    - jsonl: every line an object with a string under ``text_key`` (may be
      empty); the record is the object. A blank line counts as an empty text,
      with the record ``{text_key: ""}``, so that lines stay aligned.
    - csv/tsv: a header row, then a row a record; the record maps the header's
      columns to the row's values.

    clean_html (bool): Replace HTML line breaks in the text to score (not in
        the record) by spaces.
    RAISES (CorpusError): Unreadable input: missing file, invalid UTF-8 or
        JSON, a line that is not an object, a missing or non-string text, or
        a malformed CSV row. The message names the line.
    """
    prepare = clean_html_breaks if clean_html else (lambda text: text)
    name = source_name(source)
    if format == "txt":
        for _, line in read_text_lines(source):
            yield prepare(line), {"text": line}
    elif format == "jsonl":
        for number, obj in read_jsonl_objects(source, keep_blank=True):
            if obj is None:
                yield "", {text_key: ""}
                continue
            if text_key not in obj:
                raise CorpusError(
                    name, number, f"no text field {text_key!r} (fields: {', '.join(map(repr, obj))})",
                    "Choose the text field with --text-key.", field=text_key,
                )
            text = obj[text_key]
            if not isinstance(text, str):
                kind = "null" if text is None else type(text).__name__
                raise CorpusError(name, number, f"the text field {text_key!r} is {kind}, not a string",
                                  "Make every text a string.", field=text_key)
            yield prepare(text), obj
    elif format in ("csv", "tsv"):
        delimiter = "," if format == "csv" else "\t"
        for _, row in read_table_rows(source, delimiter, required_columns={text_column: "--text-column"}):
            yield prepare(row[text_column]), row
    else:
        raise CorpusError(
            name, None, f"unknown format {format!r}", f"Choose one of: {', '.join(SCORE_FORMATS)}."
        )


# Texts scored in one spaCy memory zone: strings and lexemes that the texts add
# to the vocab are freed at the end of each chunk, so that memory stays flat on
# inputs with an open vocabulary. With n_process > 1 each chunk starts fresh
# worker processes, which also bounds their memory.
CHUNK_SIZE = 10_000
_END = object()


def score_records(
    nlp: Language,
    records: Iterable[Tuple[str, Dict[str, Any]]],
    *,
    batch_size: int = 256,
    n_process: int = 1,
    cats_field: str = "cats",
    label_field: str = "label",
    source: str = "input",
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Dict[str, Any]]:
    """Classify a stream of (text, record) pairs, in order, lazily.

    Each record comes back as a new dict with ``cats_field`` (label ->
    probability, from ``doc.cats``) and ``label_field`` (the most probable
    label, None if the pipeline has no labels) added. The texts go through
    ``nlp.pipe(..., as_tuples=True)`` inside a ``nlp.memory_zone()`` per
    ``chunk_size`` records, so the vocab does not grow with the input.

    source (str): The name of the input, for messages.
    RAISES (CorpusError): A record already has a field named ``cats_field`` or
        ``label_field`` (overwriting it would lose data).
    """
    checked = iter(_check_fields(records, cats_field, label_field, source))
    while True:
        first = next(checked, _END)
        if first is _END:
            return
        chunk = itertools.chain([first], itertools.islice(checked, chunk_size - 1))
        with nlp.memory_zone():
            for doc, record in nlp.pipe(chunk, as_tuples=True, batch_size=batch_size, n_process=n_process):
                cats = {label: float(score) for label, score in doc.cats.items()}
                result = dict(record)
                result[cats_field] = cats
                result[label_field] = max(cats, key=cats.__getitem__) if cats else None
                yield result


def _check_fields(
    records: Iterable[Tuple[str, Dict[str, Any]]], cats_field: str, label_field: str, source: str
) -> Iterator[Tuple[str, Dict[str, Any]]]:
    for number, (text, record) in enumerate(records, start=1):
        for name, option in ((cats_field, "--cats-field"), (label_field, "--label-field")):
            if name in record:
                raise CorpusError(
                    source, None,
                    f"record {number} already has a field {name!r}, which the prediction would overwrite",
                    f"Name the output field otherwise, e.g. {option} predicted_{name}.", field=name,
                )
        yield text, record


def _dumps(obj: Dict[str, Any]) -> bytes:
    try:
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style JSON escapes
        return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")


class _open_output:
    """Open the output file for writing bytes, or use stdout's byte stream."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.stream: Optional[IO[bytes]] = None

    def __enter__(self) -> IO[bytes]:
        if self.path is None:
            self.stream = getattr(sys.stdout, "buffer", None) or _TextAsBytes(sys.stdout)
            return self.stream
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True)
        self.stream = self.path.open("wb")
        return self.stream

    def __exit__(self, *exc_info: Any) -> None:
        if self.path is not None and self.stream is not None:
            self.stream.close()
        elif self.stream is not None:
            self.stream.flush()


class _TextAsBytes:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


def _progress(results: Iterator[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    """Show progress on stderr when it is a terminal: tqdm (as spaCy's CLI), else a counter."""
    if not sys.stderr.isatty():
        yield from results
        return
    try:
        from tqdm import tqdm
    except ImportError:
        count = 0
        for count, result in enumerate(results, start=1):
            if count % 1000 == 0:
                sys.stderr.write(f"\rScored {count} texts")
                sys.stderr.flush()
            yield result
        sys.stderr.write(f"\rScored {count} texts\n")
        return
    yield from tqdm(results, unit=" texts", file=sys.stderr, desc="Scoring")
