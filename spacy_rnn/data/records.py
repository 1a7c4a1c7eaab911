"""Labelled records: checking each one, with errors that name the file, line and field.

Every reader yields :class:`Record` tuples ``(text, labels, line)`` and streams
(see :mod:`spacy_rnn.data.sources`). Bad input raises :class:`CorpusError` (a
``ValueError``) whose message names the file, the line, the field and what to
do about it. Nothing is dropped silently: with the explicit opt-in
``skip_invalid=True`` invalid records are skipped, and each one is listed
(line and reason) in a :class:`CorpusReport`, or, when no report is passed, in
a :class:`CorpusWarning` issued once the file has been read.

Formats
-------
- JSON Lines (``.jsonl``, ``.ndjson``): one JSON object a line, with the text
  under ``text_key`` and either one label (a string) under ``label_key`` or a
  list of labels under ``labels_key`` (multi-label). One file must use one of
  the two. Blank lines are not records and are ignored.
- CSV (``.csv``) and TSV (``.tsv``, ``.tab``): a header row, then one record a
  row, with standard CSV quoting (a quoted field may contain the delimiter or
  newlines). The label column holds one label, or, with ``label_separator``,
  several.

Integer labels in JSON (e.g. ``0``/``1``) are read as strings (``"0"``/``"1"``),
because spaCy's ``doc.cats`` keys are strings.

Every text goes through the checks of :mod:`spacy_rnn.data.checks` (the text
field, lone surrogates, ``max_length``, HTML line breaks), as in every other
reader of user text.
"""
import json
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from ..errors import CorpusError, CorpusWarning
from .checks import (
    _SKIP_ADVICE,
    check_labels_arg,
    check_text,
    check_unicode,
    clean_html_breaks,
    text_field,
    with_skip_advice,
)
from .report import CorpusReport, SkippedRecord
from .formats import DELIMITERS, LABELLED_FORMATS, PathLike, file_format, quoted
from .sources import Source, _json_items, _table_items, delimiter_for, json_kind, source_name

class Record(NamedTuple):
    """One labelled text: its labels, and the line it starts on."""

    text: str
    labels: List[str]
    line: int


class _RecordChecker:
    """Validation shared by the JSONL and table readers."""

    def __init__(
        self,
        name: str,
        text_key: str,
        text_option: str,
        label_option: str,
        labels: Optional[Sequence[str]],
        clean_html: bool,
        allow_empty_labels: bool,
        max_length: Optional[int] = None,
    ) -> None:
        self.name = name
        self.text_key = text_key
        self.text_option = text_option
        self.label_option = label_option
        self.labels = check_labels_arg(labels, name)
        self.label_set = set(self.labels) if self.labels is not None else None
        self.clean_html = clean_html
        self.allow_empty_labels = allow_empty_labels
        self.max_length = max_length
        self.multi_label: Optional[bool] = None
        self.first_line = 0

    def text(self, number: int, record: Mapping[str, Any]) -> str:
        field = self.text_key
        value = text_field(self.name, number, record, field, self.text_option)
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
    text = checker.text(number, obj)
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
    quoted: Optional[bool] = None,
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
    quoted (Optional[bool]): Whether a field may be quoted. Default: for a
        comma, not for a tab (TSV, where a quote is a character like any other).
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
        for number, row in _table_items(path, delimiter, required, quoted):
            if isinstance(row, CorpusError):
                yield number, row
                continue
            try:
                text = checker.text(number, row)
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
    kind = file_format(path, format, LABELLED_FORMATS)
    common = dict(labels=labels, clean_html=clean_html, skip_invalid=skip_invalid,
                  allow_empty_labels=allow_empty_labels, report=report, max_length=max_length)
    if kind == "jsonl":
        if label_separator is not None:
            raise CorpusError(str(path), None, "label_separator only applies to CSV/TSV files",
                              f"Put lists of labels under {labels_key!r} in a JSONL file.")
        return read_jsonl_records(path, text_key, label_key, labels_key, **common)  # type: ignore[arg-type]
    delimiter = DELIMITERS[kind]
    return read_table_records(
        path, text_key, label_key, delimiter, label_separator=label_separator, quoted=quoted(kind),
        **common,  # type: ignore[arg-type]
    )
