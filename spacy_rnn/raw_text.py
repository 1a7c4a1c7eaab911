"""Unlabelled text for language-model pretraining: a reader for ``spacy pretrain``.

:func:`iter_raw_texts` streams the texts of a raw-text corpus, and the reader
``spacy_rnn.RawTextCorpus.v1`` turns them into docs for
``[pretraining] corpus``. ``python -m spacy_rnn lm-vocab`` counts its
target vocabulary over the same texts, read the same way.

A corpus is a file or a directory:

- ``.jsonl`` / ``.ndjson``: one JSON object a line, the text under
  ``text_key`` (other fields, e.g. a label, are ignored, so a labelled
  training file is also raw text);
- ``.txt``: one text a line;
- a directory: every such file in it and below it, in sorted path order
  (hidden files and directories skipped).

Blank texts are skipped. HTML line breaks are replaced as ``convert`` does
(``clean_html``), so that pretraining sees the same tokens as training.

spaCy's own ``spacy.JsonlCorpus.v1`` (``.jsonl`` only) and
``spacy.PlainTextCorpus.v1`` (``.txt`` only) also work for
``[pretraining] corpus``; this reader adds both formats in one directory,
the HTML clean-up, and errors that name the file and line.
"""
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, List, Optional, Union

from spacy.training import Example
from spacy.util import registry

from .corpus import JSONL_SUFFIXES, CorpusError, clean_html_breaks, read_jsonl_objects, read_text_lines

if TYPE_CHECKING:
    from spacy.language import Language

RAW_TEXT_SUFFIXES = JSONL_SUFFIXES + (".txt",)


def raw_text_files(path: Union[str, Path]) -> List[Path]:
    """The files of a raw-text corpus: ``path`` itself, or the ``.jsonl``,
    ``.ndjson`` and ``.txt`` files under the directory ``path``, sorted.

    RAISES (CorpusError): The path does not exist, has another suffix, or is a
        directory without such files.
    """
    path = Path(path)
    allowed = ", ".join(RAW_TEXT_SUFFIXES)
    if not path.exists():
        raise CorpusError(
            str(path), None, "no such file or directory",
            f"Give a raw-text file ({allowed}) or a directory of them.",
        )
    if path.is_file():
        if path.suffix not in RAW_TEXT_SUFFIXES:
            raise CorpusError(
                str(path), None, f"has the suffix {path.suffix!r}, not one of {allowed}",
                "Rename it: .txt for one text a line, .jsonl for one JSON object a line.",
            )
        return [path]
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix in RAW_TEXT_SUFFIXES
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
        if file.suffix in JSONL_SUFFIXES:
            items: Iterable = _jsonl_texts(file, text_key)
        else:
            items = (text for _, text in read_text_lines(file))
        for text in items:
            if clean_html:
                text = clean_html_breaks(text)
            if text.strip():
                yield text


def _jsonl_texts(file: Path, text_key: str) -> Iterator[str]:
    for number, obj in read_jsonl_objects(file):
        assert obj is not None
        text = obj.get(text_key)
        if not isinstance(text, str):
            found = "no such field" if text_key not in obj else f"a {type(text).__name__}"
            raise CorpusError(
                str(file), number, f"the field {text_key!r} holds {found}, not a string",
                f"Each line needs its text as a string under {text_key!r}; set text_key "
                "to the field that holds it.",
            )
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
