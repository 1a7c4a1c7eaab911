"""Corpus files written by the data and CLI tests."""
import json
from pathlib import Path

import pytest

from spacy_rnn.data import CorpusError


def write_lines(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf8")
    return path


def jsonl(path: Path, *objects) -> Path:
    return write_lines(path, [o if isinstance(o, str) else json.dumps(o) for o in objects])


def error_of(records) -> CorpusError:
    with pytest.raises(CorpusError) as info:
        list(records)
    return info.value
