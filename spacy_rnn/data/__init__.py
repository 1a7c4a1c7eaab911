"""Input data: sources (files, encodings, formats), record checks, Doc building and the registered readers.

- :mod:`.sources`: paths and streams read line by line as UTF-8 text, JSON
  objects or table rows, with line numbers; the one suffix -> format table.
- :mod:`.checks`: the checks every reader of user text shares (text field,
  surrogates, length, HTML line breaks).
- :mod:`.records`: labelled records, each checked, with errors that name the
  file, line and field; :mod:`.report` what a reader skipped.
- :mod:`.docs`: records as docs with ``doc.cats``, and ``.spacy`` files.
- :mod:`.readers`: the corpus readers registered for ``spacy train`` and
  ``spacy pretrain``.
- :mod:`.streaming`: the streamed, shuffled training corpus for corpora
  larger than memory, and the sharded conversion that feeds it.
- :mod:`.convert`: labelled files to ``.spacy`` files or shards, behind
  ``python -m spacy_rnn convert``.
"""
from typing import TYPE_CHECKING

from .._lazy import lazy_module
from ..errors import CorpusError, CorpusWarning
from .checks import check_text, clean_html_breaks, text_field
from .records import Record, read_jsonl_records, read_records, read_table_records
from .report import CorpusReport, SkippedRecord
from .formats import LABELLED_FORMATS, RAW_TEXT_FORMATS, SCORE_FORMATS, SUFFIX_FORMATS, file_format
from .sources import Source, read_jsonl_objects, read_table_rows, read_text_lines, source_name

# Records and sources need only the standard library; docs, readers and
# streaming need spaCy, so they are imported on first use (see spacy_rnn._lazy).
_LAZY = {
    **dict.fromkeys(["count_labels", "make_cats", "records_to_docs", "write_docbin"], ".docs"),
    **dict.fromkeys(["LabelledCorpus", "RawTextCorpus", "create_labelled_corpus_reader", "create_raw_text_reader",
                     "iter_raw_texts", "raw_text_files"], ".readers"),
    **dict.fromkeys(["StreamingCorpus", "create_streaming_corpus"], ".streaming"),
    "write_shards": ".convert",
}
__getattr__, __dir__ = lazy_module(globals(), _LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .docs import count_labels, make_cats, records_to_docs, write_docbin
    from .readers import (
        LabelledCorpus,
        RawTextCorpus,
        create_labelled_corpus_reader,
        create_raw_text_reader,
        iter_raw_texts,
        raw_text_files,
    )
    from .convert import write_shards
    from .streaming import StreamingCorpus, create_streaming_corpus

__all__ = [
    "CorpusError", "CorpusReport", "CorpusWarning", "Record", "SkippedRecord", "LabelledCorpus",
    "RawTextCorpus", "create_labelled_corpus_reader", "create_raw_text_reader", "iter_raw_texts",
    "raw_text_files", "check_text", "clean_html_breaks", "text_field", "read_jsonl_records",
    "read_records", "read_table_records", "count_labels", "make_cats", "records_to_docs", "write_docbin",
    "SUFFIX_FORMATS", "LABELLED_FORMATS", "SCORE_FORMATS", "RAW_TEXT_FORMATS", "Source", "file_format",
    "read_jsonl_objects", "read_table_rows", "read_text_lines", "source_name",
    "StreamingCorpus", "create_streaming_corpus", "write_shards",
]
