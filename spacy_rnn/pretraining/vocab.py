"""The target vocabulary of language-model pretraining: the most frequent NORMs.

``python -m spacy_rnn lm-vocab`` (:func:`count_norms` and
:func:`write_lm_vocab`) counts the NORM of every token of a raw-text corpus
and writes the ``size`` most frequent ones to a JSON file;
``spacy_rnn.PretrainRNNLM.v1`` reads it back (:func:`read_lm_vocab`) as its
``vocab_path``. The file is the one record of which words the language model
predicts, so a pretraining run is reproducible from it and the corpus.

The file holds::

    {"format": "spacy_rnn.lm_vocab.v1", "attr": "NORM", "lang": "en",
     "size": 10000, "n_docs": ..., "n_tokens": ..., "sources": [...],
     "words": ["the", ",", ...], "counts": [531, 420, ...]}

``words`` is sorted by falling count, ties by the word (Unicode order), so the
same corpus always gives the same file. Target ids (:class:`LMVocab`):
0 is ``UNKNOWN`` (a NORM not in ``words``), 1 is ``BOUNDARY`` (before the
first or after the last token of a doc), and ``words[i]`` is ``2 + i``:
frequent classes get low ids, as the adaptive softmax wants.
"""
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Sequence, Tuple, Union

import numpy
import srsly

from ..errors import ConfigValueError, Errors
from ..output_file import write_bytes_atomically

FORMAT = "spacy_rnn.lm_vocab.v1"
UNKNOWN = 0
BOUNDARY = 1
N_SPECIAL = 2


def count_norms(texts: Iterable[str], nlp, batch_size: int = 1000) -> Tuple[Counter, int, int]:
    """Count the NORM of every token of ``texts``, tokenized by ``nlp``'s
    tokenizer. Returns ``(counts, n_docs, n_tokens)``."""
    counts: Counter = Counter()
    n_docs = n_tokens = 0
    for doc in nlp.tokenizer.pipe(texts, batch_size=batch_size):
        counts.update(token.norm_ for token in doc)
        n_docs += 1
        n_tokens += len(doc)
    return counts, n_docs, n_tokens


def most_frequent(counts: Counter, size: int) -> List[Tuple[str, int]]:
    """The ``size`` most frequent words, by falling count then by the word."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size]


def write_lm_vocab(
    path: Union[str, Path],
    counts: Counter,
    size: int,
    *,
    lang: str,
    n_docs: int,
    n_tokens: int,
    sources: Sequence[str],
) -> List[Tuple[str, int]]:
    """Write the ``size`` most frequent NORMs of ``counts`` to the JSON file
    ``path`` (see the module docstring). Returns the (word, count) pairs."""
    top = most_frequent(counts, size)
    data = {
        "format": FORMAT,
        "attr": "NORM",
        "lang": lang,
        "size": size,
        "n_docs": n_docs,
        "n_tokens": n_tokens,
        "sources": list(sources),
        "words": [word for word, _ in top],
        "counts": [count for _, count in top],
    }
    write_bytes_atomically(path, srsly.json_dumps(data, indent=2).encode("utf8") + b"\n")
    return top


class LMVocab:
    """Maps NORM hashes to target ids (see the module docstring)."""

    def __init__(self, words: Sequence[str], lang: str, path: str = "<memory>"):
        from spacy.strings import get_string_id

        self.words = list(words)
        self.lang = lang
        self.path = path
        self.n_classes = N_SPECIAL + len(self.words)
        keys = numpy.array([get_string_id(w) for w in self.words], dtype="uint64")
        order = numpy.argsort(keys)
        self._sorted_keys = keys[order]
        self._sorted_ids = (order + N_SPECIAL).astype("int64")

    def ids(self, norms: numpy.ndarray) -> numpy.ndarray:
        """The target ids (int64) of an array of NORM hashes: UNKNOWN for
        a NORM outside the vocabulary."""
        norms = numpy.asarray(norms, dtype="uint64")
        if not len(self._sorted_keys):
            return numpy.full(norms.shape, UNKNOWN, dtype="int64")
        pos = numpy.searchsorted(self._sorted_keys, norms)
        pos = numpy.minimum(pos, len(self._sorted_keys) - 1)
        found = self._sorted_keys[pos] == norms
        return numpy.where(found, self._sorted_ids[pos], UNKNOWN).astype("int64")


def read_lm_vocab(path: Union[str, Path, None], where: str) -> LMVocab:
    """Read a file written by ``python -m spacy_rnn lm-vocab``.

    RAISES (ConfigValueError): The path is unset or missing (E011), or the
        file is not such a vocabulary file (E012).
    """
    if path is None or not Path(path).is_file():
        raise ConfigValueError(Errors.E011.format(path=path, where=where))
    try:
        data = srsly.read_json(path)
    except (OSError, ValueError) as err:  # ValueError: not UTF-8, not JSON
        raise ConfigValueError(Errors.E012.format(path=path, where=where, reason=str(err))) from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigValueError(
            Errors.E012.format(path=path, where=where, reason=f"it has no \"format\": \"{FORMAT}\"")
        )
    words = data.get("words")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ConfigValueError(
            Errors.E012.format(path=path, where=where, reason="\"words\" is not a list of strings")
        )
    return LMVocab(words, str(data.get("lang", "")), path=str(path))

