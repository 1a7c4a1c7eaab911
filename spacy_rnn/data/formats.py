"""File formats: :data:`SUFFIX_FORMATS` is the one table from a file's suffix
(in any case) to its format; each kind of input accepts some of the formats
(:data:`LABELLED_FORMATS`, :data:`SCORE_FORMATS`, :data:`RAW_TEXT_FORMATS`,
:data:`RAY_FORMATS`), and :func:`file_format` picks one for a path."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

from ..errors import CorpusError

PathLike = Union[str, Path]

# File suffix (lower case) -> format.
SUFFIX_FORMATS = {
    ".jsonl": "jsonl",  # one JSON object a line
    ".ndjson": "jsonl",
    ".csv": "csv",  # a header row, then one record a row
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "txt",  # one text a line
    ".parquet": "parquet",  # columns; read and written by the Ray engine only
}
# The field delimiter of each table format. A CSV field may be quoted ("a, b");
# a TSV field may not (a quote is a character like any other, as in the
# IANA definition of TSV) unless the format is "tsv-quoted", named explicitly:
# a review that starts with a quote must not swallow the lines after it.
DELIMITERS = {"csv": ",", "tsv": "\t", "tsv-quoted": "\t"}
# The formats each kind of input accepts.
LABELLED_FORMATS = ("jsonl", "csv", "tsv", "tsv-quoted")  # labelled corpora: convert, the corpus reader
SCORE_FORMATS = ("txt", "jsonl", "csv", "tsv", "tsv-quoted")  # texts to score
RAW_TEXT_FORMATS = ("jsonl", "txt")  # raw text for pretraining and lm-vocab
RAY_FORMATS = ("jsonl", "csv", "tsv", "parquet")  # read and written by `score --engine ray`


def quoted(format: str) -> bool:
    """Whether the table format ``format`` reads quoted fields: all but "tsv"."""
    return format != "tsv"


def suffixes_for(formats: Sequence[str]) -> List[str]:
    """The suffixes of ``formats``, in table order, e.g. [".jsonl", ".ndjson", ".txt"]."""
    return [suffix for suffix, fmt in SUFFIX_FORMATS.items() if fmt in formats]


def suffix_format(path: PathLike) -> Optional[str]:
    """The format that the suffix of ``path`` (in any case) names, or None."""
    return SUFFIX_FORMATS.get(Path(path).suffix.lower())


def file_format(
    path: PathLike, format: Optional[str] = None, allowed: Sequence[str] = LABELLED_FORMATS
) -> str:
    """The format of a file: ``format`` if given, else the one its suffix names.

    allowed (Sequence[str]): The formats this kind of input accepts.
    RAISES (CorpusError): ``format`` is not allowed, or the suffix names no
        allowed format.
    """
    if format is not None:
        if format not in allowed:
            raise CorpusError(
                str(path), None, f"unknown format {format!r}", f"Choose one of: {', '.join(allowed)}."
            )
        return format
    found = suffix_format(path)
    if found not in allowed:
        raise CorpusError(
            str(path), None, f"cannot tell the format from the suffix {Path(path).suffix!r}",
            f"Use a {describe_suffixes(allowed)} file, or give the format explicitly "
            f"(--format {'|'.join(allowed)}).",
        )
    return found  # type: ignore[return-value]


def describe_suffixes(formats: Sequence[str]) -> str:
    """The suffixes of ``formats`` for a message: ".jsonl, .csv or .tsv (also .ndjson, .tab)"."""
    main = [suffixes_for([fmt])[0] for fmt in formats if suffixes_for([fmt])]
    others = [suffix for suffix in suffixes_for(formats) if suffix not in main]
    listed = main[0] if len(main) == 1 else f"{', '.join(main[:-1])} or {main[-1]}"
    return f"{listed} (also {', '.join(others)})" if others else listed
