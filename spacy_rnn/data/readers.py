"""The registered corpus readers: labelled examples for ``spacy train``, raw text for ``spacy pretrain``.

- ``spacy_rnn.LabelledCorpus.v1`` reads a
  labelled JSONL, CSV or TSV file (see :mod:`spacy_rnn.data.records`), as
  ``spacy.Corpus.v1`` reads ``.spacy`` files.
- ``spacy_rnn.RawTextCorpus.v1`` reads unlabelled text for ``[pretraining]
  corpus``; ``python -m spacy_rnn lm-vocab`` counts its target vocabulary over
  the same texts (:func:`iter_raw_texts`), read the same way.

A raw-text corpus is a file or a directory:

- ``.jsonl`` / ``.ndjson``: one JSON object a line, the text under
  ``text_key`` (other fields, e.g. a label, are ignored, so a labelled
  training file is also raw text);
- ``.txt``: one text a line;
- a directory: every such file in it and below it, in sorted path order
  (hidden files and directories skipped).

Suffixes are read in any case (:data:`~spacy_rnn.data.sources.SUFFIX_FORMATS`).
Blank texts are skipped. HTML line breaks are replaced as ``convert`` does
(``clean_html``), so that pretraining sees the same tokens as training.
spaCy's own ``spacy.JsonlCorpus.v1`` (``.jsonl`` only) and
``spacy.PlainTextCorpus.v1`` (``.txt`` only) also work for ``[pretraining]
corpus``; this reader adds both formats in one directory, the HTML clean-up,
and errors that name the file and line.
"""
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.training import Example
from spacy.util import registry

from ..errors import CorpusError, CorpusWarning
from .checks import check_labels_arg, check_unicode, clean_html_breaks, text_field
from .docs import make_cats
from .records import Record, read_records
from .report import CorpusReport
from .formats import LABELLED_FORMATS, RAW_TEXT_FORMATS, PathLike, file_format, suffix_format, suffixes_for
from .sources import read_jsonl_objects, read_text_lines

if TYPE_CHECKING:
    from spacy.language import Language


class LabelledCorpus:
    """Iterate ``Example`` objects from a labelled JSONL, CSV or TSV file.

    The callable that ``spacy_rnn.LabelledCorpus.v1`` returns: like spaCy's
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
        self.format = file_format(self.path, format, LABELLED_FORMATS)
        self.text_key = text_key
        self.label_key = label_key
        self.labels_key = labels_key
        self.labels = check_labels_arg(labels, str(self.path))
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


@registry.readers("spacy_rnn.LabelledCorpus.v1")
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
    @readers = "spacy_rnn.LabelledCorpus.v1"
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


def raw_text_files(path: Union[str, Path]) -> List[Path]:
    """The files of a raw-text corpus: ``path`` itself, or the ``.jsonl``,
    ``.ndjson`` and ``.txt`` files (suffixes in any case) under the directory
    ``path``, sorted.

    RAISES (CorpusError): The path does not exist, has another suffix, or is a
        directory without such files.
    """
    path = Path(path)
    allowed = ", ".join(suffixes_for(RAW_TEXT_FORMATS))
    if not path.exists():
        raise CorpusError(
            str(path), None, "no such file or directory",
            f"Give a raw-text file ({allowed}) or a directory of them.",
        )
    if path.is_file():
        if suffix_format(path) not in RAW_TEXT_FORMATS:
            raise CorpusError(
                str(path), None, f"has the suffix {path.suffix!r}, not one of {allowed}",
                "Rename it: .txt for one text a line, .jsonl for one JSON object a line.",
            )
        return [path]
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and suffix_format(p) in RAW_TEXT_FORMATS
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise CorpusError(
            str(path), None, f"is a directory without {allowed} files",
            "Put the raw texts there, or give the path of one file.",
        )
    return files


def iter_raw_texts(
    path: Union[str, Path], text_key: str = "text", clean_html: bool = True
) -> Iterator[str]:
    """Stream the non-blank texts of a raw-text corpus (see the module docstring).

    path (Union[str, Path]): A .jsonl, .ndjson or .txt file, or a directory.
    text_key (str): The JSONL field holding the text.
    clean_html (bool): Replace HTML line breaks (``<br />``) by spaces.
    YIELDS (str): The texts, file by file, in file order.
    RAISES (CorpusError): A file is missing or unreadable, or a JSONL record
        has no string under ``text_key``.
    """
    for file in raw_text_files(path):
        field: Optional[str] = None
        if suffix_format(file) == "jsonl":
            field = text_key
            items: Iterable[Tuple[int, str]] = (
                (number, text_field(str(file), number, obj, text_key, "text_key (--text-key)"))
                for number, obj in read_jsonl_objects(file)
            )
        else:
            items = read_text_lines(file)
        for number, text in items:
            check_unicode(str(file), number, field, text)
            if clean_html:
                text = clean_html_breaks(text)
            if text.strip():
                yield text


class RawTextCorpus:
    """Docs from a raw-text corpus, as ``Example(doc, doc)``: what ``spacy
    pretrain`` reads from ``[pretraining] corpus``."""

    def __init__(
        self,
        path: Optional[Union[str, Path]],
        *,
        text_key: str = "text",
        clean_html: bool = True,
        min_length: int = 0,
        max_length: int = 0,
        limit: int = 0,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.text_key = text_key
        self.clean_html = clean_html
        self.min_length = min_length
        self.max_length = max_length
        self.limit = limit

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        if self.path is None:
            raise CorpusError(
                "<config>", None, "no raw-text path given",
                "Set it on the command line, e.g. --paths.raw_text texts.jsonl, or in the config.",
            )
        n = 0
        for text in iter_raw_texts(self.path, self.text_key, self.clean_html):
            doc = nlp.make_doc(text)
            if self.min_length >= 1 and len(doc) < self.min_length:
                continue
            if self.max_length >= 1 and len(doc) > self.max_length:
                continue
            yield Example(doc, doc.copy())
            n += 1
            if self.limit >= 1 and n >= self.limit:
                return


@registry.readers("spacy_rnn.RawTextCorpus.v1")
def create_raw_text_reader(
    path: Optional[Union[str, Path]],
    text_key: str = "text",
    clean_html: bool = True,
    min_length: int = 0,
    max_length: int = 0,
    limit: int = 0,
) -> Callable[["Language"], Iterable[Example]]:
    """Read unlabelled texts for ``spacy pretrain`` (``[pretraining] corpus``).

    [corpora.pretrain]
    @readers = "spacy_rnn.RawTextCorpus.v1"
    path = ${paths.raw_text}

    Each text becomes one doc (tokenized by the pipeline's tokenizer), given
    as ``Example(doc, doc)`` like spaCy's raw-text readers do. The path is
    read again on every epoch, streaming, so corpora larger than memory work.

    path (Optional[Union[str, Path]]): A ``.jsonl``/``.ndjson`` file (one JSON object a
        line, the text under ``text_key``; other fields are ignored), a
        ``.txt`` file (one text a line), or a directory: every such file in
        and below it, in sorted order. Blank texts are skipped. None is
        accepted until the corpus is read (so that ``spacy debug config`` and
        ``spacy train`` work without raw text), then it is an error.
    text_key (str): The JSONL field holding the text.
    clean_html (bool): Replace HTML line breaks (``<br />``) by spaces, as
        ``python -m spacy_rnn convert`` does for the labelled data.
    min_length (int): Skip docs of fewer tokens; 0 for no minimum.
    max_length (int): Skip docs of more tokens; 0 for no maximum.
    limit (int): Read at most this many docs per epoch; 0 for all.
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus.
    """
    return RawTextCorpus(
        path, text_key=text_key, clean_html=clean_html, min_length=min_length,
        max_length=max_length, limit=limit,
    )
