"""Convert a labelled corpus file to a ``.spacy`` file or to a folder of
``.spacy`` shards: the library side of ``python -m spacy_rnn convert``."""
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from spacy.language import Language

from ..errors import CorpusError
from ..output_file import check_output, write_bytes_atomically
from .docs import new_docbin, records_to_docs, write_docbin
from .formats import PathLike
from .records import Record, read_records
from .report import CorpusReport
from .streaming import DOCBIN_SUFFIX

# More distinct labels than this is most likely the wrong field (an id, a title).
MAX_LABELS = 1000


def convert_corpus(
    input_path: Path,
    output_path: Path,
    nlp: Language,
    *,
    text_key: str = "text",
    label_key: str = "label",
    labels_key: str = "labels",
    labels: Optional[List[str]] = None,
    label_separator: Optional[str] = None,
    format: Optional[str] = None,
    skip_invalid: bool = False,
    allow_empty_labels: bool = False,
    clean_html: bool = True,
    shard_size: int = 0,
    max_labels: int = MAX_LABELS,
) -> Tuple[Dict[str, int], CorpusReport]:
    """Convert a labelled corpus file to a ``.spacy`` file, or with
    ``shard_size`` to a folder of ``.spacy`` shards of at most that many docs
    (streamed: memory does not grow with the corpus).

    nlp (Language): Its tokenizer splits the texts; a text longer than its
        ``max_length`` is an invalid record.
    max_labels (int): Refuse a corpus with more distinct labels (0: no
        limit). Every doc stores a score for every label, so a field that is
        not a label (an id, a free-text column) would make the output and the
        time to write it grow with the square of the corpus.
    RETURNS (Tuple[Dict[str, int], CorpusReport]): The label counts, and the
        reader's report (record count, skipped records, single/multi-label).
    RAISES (CorpusError): Invalid input, or no valid record at all.
    RAISES (OutputError): An output that is the input, holds it, or is not
        the command's to replace (:func:`spacy_rnn.output_file.check_output`).
    """
    check_output(output_path, [input_path], option="OUTPUT", folder=bool(shard_size))
    report = CorpusReport(path=str(input_path))

    def records(report: CorpusReport = report):
        return read_records(
            input_path, text_key, label_key, labels_key, format=format, label_separator=label_separator,
            labels=labels, clean_html=clean_html, skip_invalid=skip_invalid,
            allow_empty_labels=allow_empty_labels, report=report, max_length=nlp.max_length,
        )

    if shard_size:
        if labels is None:  # a first pass for the label set, with its own report
            labels = _label_set(records(CorpusReport(path=str(input_path))), max_labels, input_path, label_key)
        _check_label_count(labels, max_labels, input_path, label_key)
        counts, _ = write_shards(nlp, records, output_path, labels, shard_size=shard_size, source=str(input_path))
        return counts, report
    kept = list(records())
    if not kept:
        skipped = f"\n{report.summary()}" if report.skipped else ""
        raise CorpusError(str(input_path), None, "no valid records found",
                          f"Check the file and the text/label field names.{skipped}")
    if labels is None:
        labels = _label_set(kept, max_labels, input_path, label_key)
    _check_label_count(labels, max_labels, input_path, label_key)
    counts = write_docbin(nlp, kept, output_path, labels, source=str(input_path))
    return counts, report



def _label_set(records: Iterable[Record], max_labels: int, path: Path, label_key: str) -> List[str]:
    """The sorted labels of ``records``; stops counting past ``max_labels``."""
    found: Set[str] = set()
    for record in records:
        found.update(record.labels)
        if 0 < max_labels < len(found):
            _check_label_count(found, max_labels, path, label_key)
    return sorted(found)


def _check_label_count(labels: Iterable[str], max_labels: int, path: Path, label_key: str) -> None:
    labels = list(labels)
    if 0 < max_labels < len(labels):
        examples = ", ".join(repr(label) for label in sorted(labels)[:5])
        raise CorpusError(
            str(path), None,
            f"more than {max_labels} distinct labels (e.g. {examples}): every doc would store a score for "
            "each of them",
            f"Check that label_key (--label-key) {label_key!r} is the label field; for a corpus with that "
            "many labels, raise max_labels (--max-labels), 0 for no limit",
        )


def write_shards(
    nlp: Language,
    records: Callable[[], Iterable[Record]],
    output_dir: PathLike,
    labels: Optional[Sequence[str]] = None,
    *,
    shard_size: int = 10_000,
    source: str = "<records>",
) -> Tuple[Dict[str, int], int]:
    """Convert records to ``.spacy`` shards of at most ``shard_size`` docs
    each, in bounded memory: ``records`` is called once to collect the label
    set when ``labels`` is not given, and once to write. The shards are
    written into a new folder that then replaces ``output_dir``, so a failed
    run leaves an earlier output as it was.

    RETURNS (Tuple[Dict[str, int], int]): Records per label, and the number
        of shards written.
    RAISES (CorpusError): ``output_dir`` is a file or a folder holding other
        files than the shards an earlier conversion wrote there
        (``NAME-00000.spacy``, ...), or invalid records (from the reader).
    """
    output_dir = Path(output_dir)
    if shard_size < 1:
        raise CorpusError(str(output_dir), None, f"shard size must be 1 or more, not {shard_size}",
                          "Pass --shard-size N with N >= 1.")
    if output_dir.is_file():
        raise CorpusError(str(output_dir), None, "is a file: shards are written into a folder",
                          "Choose a folder path (without .spacy) for the shards.")
    if output_dir.is_dir():
        # only the shards an earlier conversion to this folder wrote may be replaced
        ours = re.compile(re.escape(output_dir.name) + r"-\d{5}" + re.escape(DOCBIN_SUFFIX) + "$")
        others = sorted(p.name for p in output_dir.iterdir() if not ours.match(p.name))
        if others:
            raise CorpusError(str(output_dir), None, f"holds other files than the shards convert writes ({others[0]!r})",
                              "Choose an empty or new folder for the shards.")
    if labels is None:
        labels = sorted({label for record in records() for label in record.labels})
    counts = {label: 0 for label in labels}
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # a folder as mkdir makes it, not mkdtemp's private 0700
    n_shards = 0
    try:
        doc_bin = new_docbin()

        def flush() -> None:
            nonlocal doc_bin, n_shards
            write_bytes_atomically(tmp / f"{output_dir.name}-{n_shards:05d}{DOCBIN_SUFFIX}", doc_bin.to_bytes())
            n_shards += 1
            doc_bin = new_docbin()

        def counted(stream: Iterable[Record]) -> Iterator[Record]:
            for record in stream:
                for label in record.labels:
                    counts[label] = counts.get(label, 0) + 1
                yield record

        for doc in records_to_docs(nlp, counted(records()), labels, source=source):
            doc_bin.add(doc)
            if len(doc_bin) >= shard_size:
                flush()
        if len(doc_bin):
            flush()
        if n_shards == 0:
            raise CorpusError(source, None, "no valid records found", "Check the file and the text/label field names.")
        if output_dir.exists():
            shutil.rmtree(output_dir)
        tmp.rename(output_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return counts, n_shards
