"""Labelled records as spaCy docs: ``doc.cats`` over the full label set, and ``.spacy`` files."""
from collections import Counter
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, Optional, Sequence

from spacy.tokens import Doc, DocBin

from ..errors import CorpusError
from ..output_file import write_bytes_atomically
from .checks import check_labels_arg, check_text
from .records import Record
from .formats import PathLike

if TYPE_CHECKING:
    from spacy.language import Language


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
    labels = check_labels_arg(labels, source) or []
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


def new_docbin() -> DocBin:
    """An empty DocBin for records' docs. They carry a tokenization and
    ``doc.cats`` and nothing else, so it keeps one column, ORTH, beside the
    spaces that every DocBin keeps. spaCy's default keeps 13 columns of
    8 bytes a token: ORTH, NORM and 11 annotation columns (tags, lemmas,
    heads, entities...). Such docs leave the annotations empty, and training
    never reads a reference doc's NORM: spaCy's readers and ours give the
    model ``nlp.make_doc(text)``, the text tokenized again.
    """
    return DocBin(attrs=[], store_user_data=False)


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
    doc_bin = new_docbin()
    for doc in records_to_docs(nlp, records, labels, source=source):
        doc_bin.add(doc)
    write_bytes_atomically(output_path, doc_bin.to_bytes())
    return count_labels(records, labels)
