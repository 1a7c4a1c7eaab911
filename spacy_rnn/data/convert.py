"""Convert a labelled corpus file to a ``.spacy`` file or to a folder of
``.spacy`` shards: the library side of ``python -m spacy_rnn convert``."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from spacy.language import Language

from ..errors import CorpusError
from ..output_file import check_output
from .docs import write_docbin
from .records import read_records
from .report import CorpusReport
from .streaming import write_shards


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
) -> Tuple[Dict[str, int], CorpusReport]:
    """Convert a labelled corpus file to a ``.spacy`` file, or with
    ``shard_size`` to a folder of ``.spacy`` shards of at most that many docs
    (streamed: memory does not grow with the corpus).

    nlp (Language): Its tokenizer splits the texts; a text longer than its
        ``max_length`` is an invalid record.
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
            labels = sorted({label for record in records(CorpusReport(path=str(input_path))) for label in record.labels})
        counts, _ = write_shards(nlp, records, output_path, labels, shard_size=shard_size, source=str(input_path))
        return counts, report
    kept = list(records())
    if not kept:
        skipped = f"\n{report.summary()}" if report.skipped else ""
        raise CorpusError(str(input_path), None, "no valid records found",
                          f"Check the file and the text/label field names.{skipped}")
    counts = write_docbin(nlp, kept, output_path, labels, source=str(input_path))
    return counts, report
