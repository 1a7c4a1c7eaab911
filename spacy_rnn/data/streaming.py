"""A training corpus that streams and shuffles in bounded memory (the
sharded conversion that feeds it is :func:`spacy_rnn.data.convert.write_shards`).

spaCy keeps the whole training corpus in memory (a list of ``Example``
objects, each with two ``Doc``s) so that it can shuffle it every epoch,
unless ``[training] max_epochs = -1``: then it calls the reader again for
every pass and never builds the list, but shuffles nothing. This reader does
the shuffling itself, in bounded memory:

- the corpus is one file or a folder of shards (``.spacy`` DocBins and
  labelled JSONL/CSV/TSV files), read one shard at a time;
- every pass visits the shards in a new order and mixes the examples through
  a buffer of ``buffer_size`` examples;
- pass ``p`` of a reader with seed ``s`` always gives the same order, so a
  run can be repeated, and resumed at a given pass (``first_pass``).

Memory is bounded by the buffer plus one shard, whatever the corpus size.
spaCy calls the reader once per pass and never stops by itself in streaming
mode, so training ends at ``[training] max_steps``:
``spacy_rnn.steps_for_passes.v1`` (:mod:`spacy_rnn.schedule`) computes the
steps of a number of passes from the corpus and the training batcher, so that
a config can still think in epochs.
"""
import random
import warnings
from itertools import chain
from pathlib import Path
from typing import (
    Callable, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple, TypeVar, Union,
)

from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab

from ..errors import CorpusError, CorpusWarning
from .docs import make_cats
from .records import Record, read_records
from .report import CorpusReport
from .formats import LABELLED_FORMATS, describe_suffixes, suffixes_for

PathLike = Union[str, Path]
T = TypeVar("T")

DOCBIN_SUFFIX = ".spacy"
SHARD_SUFFIXES = (DOCBIN_SUFFIX, *suffixes_for(LABELLED_FORMATS))


def list_shards(path: PathLike) -> List[Path]:
    """The corpus files at ``path``: the file itself, or the files of a
    folder whose suffix is a corpus format (``.spacy``, ``.jsonl``,
    ``.csv``, ...), sorted by name. Other files in the folder are ignored.

    RAISES (CorpusError): The path does not exist, is a file whose suffix
        names no corpus format, or is a folder that holds no corpus file.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in SHARD_SUFFIXES:
            raise CorpusError(
                str(path), None, f"cannot tell the corpus format from the suffix {path.suffix!r}",
                f"Give a {DOCBIN_SUFFIX} file, or a labelled {describe_suffixes(LABELLED_FORMATS)} file "
                "(rename the file if it is one of these), or a folder of them",
            )
        return [path]
    if not path.is_dir():
        raise CorpusError(str(path), None, "no such file or folder",
                          "Check the corpus path in the config (e.g. --paths.train).")
    shards = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SHARD_SUFFIXES)
    if not shards:
        raise CorpusError(
            str(path), None, f"the folder holds no corpus file ({', '.join(SHARD_SUFFIXES)})",
            "Write shards into it with: python -m spacy_rnn convert INPUT FOLDER --shard-size N",
        )
    return shards


def read_docbin_rows(path: Path, nlp: Language) -> Iterator[DocBin]:
    """The docs of one ``.spacy`` shard, each as a one-doc DocBin (see
    ``docbin_rows``). Only this shard's bytes are held while it is read.

    RAISES (CorpusError): The file is not a readable DocBin, or holds no doc.
    """
    return docbin_rows(load_docbin(path), nlp.vocab)


def docbin_rows(doc_bin: DocBin, vocab: Vocab) -> Iterator[DocBin]:
    """The docs of ``doc_bin`` one at a time, still serialized: each is a
    one-doc DocBin holding copies of its row (token attributes, spaces, cats,
    flags, span groups, user data), so it keeps nothing of the shard alive,
    and ``row.get_docs(vocab)`` makes the same doc as ``doc_bin.get_docs``.

    The mixing buffer holds these rather than docs: a row of ``convert``'s
    DocBins (ORTH only) is several times smaller than the ``Doc`` it makes
    (docs/design/memory.md). The shard's strings go into ``vocab`` first, as
    ``DocBin.get_docs`` does, so a row needs none of its own.
    """
    for string in doc_bin.strings:
        vocab[string]
    for i in range(len(doc_bin)):
        row = DocBin(store_user_data=doc_bin.store_user_data)
        row.attrs = doc_bin.attrs  # the file's columns, in the file's order
        # the loaded arrays are views of the whole shard's buffer: copy this doc's part
        row.tokens = [doc_bin.tokens[i].copy()]
        row.spaces = [doc_bin.spaces[i].copy()]
        row.cats = [doc_bin.cats[i]]
        row.flags = [doc_bin.flags[i]]
        row.span_groups = [doc_bin.span_groups[i]]
        row.user_data = doc_bin.user_data[i:i + 1]  # get_docs reads it whatever store_user_data says
        yield row


def load_docbin(path: Path) -> DocBin:
    """One ``.spacy`` shard, checked.

    RAISES (CorpusError): The file is not a readable DocBin, or holds no doc.
    """
    try:
        doc_bin = DocBin().from_disk(path)
    except Exception as e:  # zlib, msgpack and spaCy's own errors: a damaged or foreign file
        raise CorpusError(
            str(path), None, f"not a readable .spacy file ({type(e).__name__}: {e})",
            "Rewrite it with python -m spacy_rnn convert, or remove it from the corpus folder.",
        ) from None
    if len(doc_bin) == 0:
        raise CorpusError(str(path), None, "the shard holds no documents",
                          "Remove the empty shard, or convert the corpus again.")
    return doc_bin


def shuffle_through_buffer(items: Iterable[T], buffer_size: int, rng: random.Random) -> Iterator[T]:
    """Every item of ``items`` exactly once, in an order mixed through a
    buffer of ``buffer_size`` items: each new item takes the place of a
    random one, which is yielded. Holds at most ``buffer_size`` items."""
    buffer: List[T] = []
    for item in items:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        i = rng.randrange(buffer_size)
        yield buffer[i]
        buffer[i] = item
    rng.shuffle(buffer)
    yield from buffer


class Origin(NamedTuple):
    """Where an example of a corpus comes from, for messages:
    ``str(origin)`` is "FILE, line N" for a record (JSONL/CSV/TSV) and
    "FILE, document N" for a doc of a ``.spacy`` file."""

    path: str
    line: Optional[int]  # the line the record starts on; None in a .spacy file
    index: int  # the example's number in its file, from 1

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}" if self.line is not None else f"{self.path}, document {self.index}"


class StreamingCorpus:
    """The callable that ``spacy_rnn.StreamingCorpus.v1`` returns.

    Each call is one pass over the corpus, numbered from ``first_pass``:
    the shards in an order drawn for this pass, their examples mixed through
    a buffer, every example exactly once. The order of pass ``p`` depends on
    ``seed`` and ``p`` only.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        seed: int = 0,
        buffer_size: int = 10_000,
        shuffle: bool = True,
        first_pass: int = 0,
        text_key: str = "text",
        label_key: str = "label",
        labels_key: str = "labels",
        labels: Optional[Sequence[str]] = None,
        clean_html: bool = True,
        skip_invalid: bool = False,
    ) -> None:
        if buffer_size < 1:
            raise CorpusError(str(path), None, f"buffer_size must be 1 or more, not {buffer_size}",
                              "Fix [corpora.train] buffer_size in the config.")
        if first_pass < 0:
            raise CorpusError(str(path), None, f"first_pass must be 0 or more, not {first_pass}",
                              "Fix [corpora.train] first_pass in the config.")
        self.path = Path(path)
        self.shards = list_shards(self.path)
        self.seed = seed
        self.buffer_size = buffer_size
        self.shuffle = shuffle
        self.next_pass = first_pass
        self.record_args = dict(text_key=text_key, label_key=label_key, labels_key=labels_key,
                                clean_html=clean_html, skip_invalid=skip_invalid)
        self.labels = list(labels) if labels is not None else None
        self._warned: Set[Path] = set()

    def __call__(self, nlp: Language) -> Iterator[Example]:
        pass_number = self.next_pass
        self.next_pass += 1
        return self.read_pass(nlp, pass_number)

    def rng(self, pass_number: int) -> random.Random:
        # a str seed is hashed with SHA-512: the same stream on every platform and run
        return random.Random(f"spacy_rnn.StreamingCorpus:{self.seed}:{pass_number}")

    def shard_order(self, pass_number: int) -> List[Path]:
        """The shards in the order pass ``pass_number`` reads them."""
        return self._shard_order(self.rng(pass_number))

    def _shard_order(self, rng: random.Random) -> List[Path]:
        order = list(self.shards)
        if self.shuffle:
            rng.shuffle(order)
        return order

    def read_pass(self, nlp: Language, pass_number: int) -> Iterator[Example]:
        """The examples of pass ``pass_number``, in its order.

        The buffer mixes what the shards hold, not examples: a ``.spacy``
        shard's docs still serialized (``docbin_rows``) and a record shard's
        records. Each example is made as it leaves the buffer, so the buffer
        holds no ``Doc``: a row of token attributes per ``.spacy`` example
        and only text and labels per record."""
        rng = self.rng(pass_number)
        order = self._shard_order(rng)
        items = chain.from_iterable(self.shard_items(nlp, shard) for shard in order)
        if self.shuffle:
            items = shuffle_through_buffer(items, self.buffer_size, rng)
        return (self.make_example(nlp, item) for item in items)

    def shard_examples(self, nlp: Language, shard: Path) -> Iterator[Example]:
        """The examples of one shard, in file order."""
        return (self.make_example(nlp, item) for item in self.shard_items(nlp, shard))

    def shard_items(self, nlp: Language, shard: Path) -> Iterator[Union[DocBin, Record]]:
        """What one shard holds, in file order: its reference docs as one-doc
        DocBins (``.spacy``) or its valid records (JSONL/CSV/TSV)."""
        if shard.suffix.lower() == DOCBIN_SUFFIX:
            yield from read_docbin_rows(shard, nlp)
            return
        report = CorpusReport(path=str(shard))
        yield from self.records(shard, report, max_length=nlp.max_length)
        if report.n_records == 0:
            raise CorpusError(str(shard), None, "the shard holds no valid records",
                              "Remove the empty shard, or fix its records.")

    def make_example(self, nlp: Language, item: Union[DocBin, Record]) -> Example:
        """The training example of a reference doc's row or a record."""
        if isinstance(item, DocBin):
            reference = next(item.get_docs(nlp.vocab))
            return Example(nlp.make_doc(reference.text), reference)
        return Example.from_dict(nlp.make_doc(item.text), {"cats": make_cats(item.labels, self.get_labels())})

    def located_examples(self, nlp: Language) -> Iterator[Tuple[Example, Origin]]:
        """One pass in file order (the shards in name order, each in file
        order, not mixed, whatever ``shuffle`` says), each example with its
        :class:`Origin`: for an evaluation, whose messages name the document.

        RAISES (CorpusError): As a pass does; and a document of a ``.spacy``
            shard longer than ``nlp.max_length`` (spaCy's E088, which names
            no document), with its file and number: the record reader refuses
            a longer record with its file and line.
        """
        for shard in self.shards:
            for index, item in enumerate(self.shard_items(nlp, shard), start=1):
                if isinstance(item, DocBin):
                    reference = next(item.get_docs(nlp.vocab))
                    if len(reference.text) > nlp.max_length:
                        raise CorpusError(
                            str(shard), None,
                            f"document {index} is {len(reference.text):,} characters long, more than the limit "
                            f"of {nlp.max_length:,} (nlp.max_length)",
                            "Split the text, or raise the limit: max_length (--max-length), 0 for none",
                        )
                    yield Example(nlp.make_doc(reference.text), reference), Origin(str(shard), None, index)
                else:
                    yield self.make_example(nlp, item), Origin(str(shard), item.line, index)

    def records(self, shard: Path, report: CorpusReport, max_length: Optional[int] = None) -> Iterator[Record]:
        """The valid records of a JSONL/CSV/TSV shard; with ``skip_invalid``,
        a warning lists the skipped ones (once a shard, not every pass)."""
        yield from read_records(shard, labels=self.labels, report=report, max_length=max_length, **self.record_args)
        if report.skipped and shard not in self._warned:
            self._warned.add(shard)
            warnings.warn(report.summary(), CorpusWarning)

    def get_labels(self) -> List[str]:
        """The label set of the record shards: ``labels`` if given, else
        every label in them, sorted (one streaming pass, the first time)."""
        if self.labels is None:
            found = set()
            for shard in self.shards:
                if shard.suffix.lower() != DOCBIN_SUFFIX:
                    report = CorpusReport(path=str(shard))
                    found.update(label for record in self.records(shard, report) for label in record.labels)
            self.labels = sorted(found)
        return list(self.labels)

    def count(self) -> int:
        """The number of examples in one pass (read once, shard by shard;
        a ``.spacy`` shard's docs are counted without building them)."""
        total = 0
        for shard in self.shards:
            if shard.suffix.lower() == DOCBIN_SUFFIX:
                total += len(load_docbin(shard))
            else:
                total += sum(1 for _ in self.records(shard, CorpusReport(path=str(shard))))
        return total


@registry.readers("spacy_rnn.StreamingCorpus.v1")
def create_streaming_corpus(
    path: Optional[PathLike],
    seed: int = 0,
    buffer_size: int = 10_000,
    shuffle: bool = True,
    first_pass: int = 0,
    text_key: str = "text",
    label_key: str = "label",
    labels_key: str = "labels",
    labels: Optional[List[str]] = None,
    clean_html: bool = True,
    skip_invalid: bool = False,
) -> Callable[[Language], Iterable[Example]]:
    """Stream training examples from one corpus file or a folder of shards,
    shuffled in bounded memory; for ``[training] max_epochs = -1``.

    [corpora.train]
    @readers = "spacy_rnn.StreamingCorpus.v1"
    path = ${paths.train}
    seed = ${system.seed}
    buffer_size = 10000

    path (Union[str, Path]): A ``.spacy``, ``.jsonl``, ``.csv`` or ``.tsv``
        file, or a folder of them (shards; other files are ignored).
    seed (int): Each pass's shard order and mixing are drawn from the seed
        and the pass number.
    buffer_size (int): Examples held for mixing. Memory is this many
        examples plus one shard; a larger buffer mixes more thoroughly.
    shuffle (bool): False reads the shards in name order, each in file
        order (for a dev corpus).
    first_pass (int): The number of the first pass, to resume a run with
        the order it would have had.
    text_key, label_key, labels_key, labels, clean_html, skip_invalid: For
        JSONL/CSV/TSV shards, as in ``spacy_rnn.LabelledCorpus.v1``.
    RETURNS (Callable[[Language], Iterable[Example]]): The corpus; each call
        is the next pass.
    """
    if path is None:
        raise CorpusError(
            "<config>", None, "no corpus path given",
            "Set the path in the config or on the command line, e.g. --paths.train corpus/train",
        )
    return StreamingCorpus(
        path, seed=seed, buffer_size=buffer_size, shuffle=shuffle, first_pass=first_pass, text_key=text_key,
        label_key=label_key, labels_key=labels_key, labels=labels, clean_html=clean_html,
        skip_invalid=skip_invalid,
    )
