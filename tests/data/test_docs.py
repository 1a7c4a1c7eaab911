"""Records as docs (spacy_rnn.data.docs): cats over the full label set, DocBins and label counts."""

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_rnn.data import (
    CorpusError,
    Record,
    count_labels,
    make_cats,
    records_to_docs,
    write_docbin,
)
from spacy_rnn.data.convert import write_shards


# ---------------------------------------------------------------------------
# Docs, cats over the full label set, DocBin and label counts


def test_make_cats_full_label_set():
    assert make_cats(["b"], ["a", "b", "c"]) == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert make_cats(["a", "c"], ["a", "b", "c"]) == {"a": 1.0, "b": 0.0, "c": 1.0}


def test_records_to_docs():
    nlp = spacy.blank("en")
    records = [Record("I liked it.", ["pos"], 1), Record("Meh", ["neutral"], 2)]
    docs = list(records_to_docs(nlp, records, ["neg", "neutral", "pos"]))
    assert [d.text for d in docs] == ["I liked it.", "Meh"]
    assert [len(d) for d in docs] == [4, 1]
    assert docs[0].cats == {"neg": 0.0, "neutral": 0.0, "pos": 1.0}
    assert docs[1].cats == {"neg": 0.0, "neutral": 1.0, "pos": 0.0}
    with pytest.raises(CorpusError, match=r"train\.jsonl, line 2: unknown label 'neutral'"):
        list(records_to_docs(nlp, records, ["neg", "pos"], source="train.jsonl"))


def test_write_docbin_and_label_counts(tmp_path):
    nlp = spacy.blank("en")
    records = [Record("a", ["pos"], 1), Record("b", ["neg"], 2), Record("c", ["pos"], 3)]
    counts = write_docbin(nlp, records, tmp_path / "out" / "train.spacy")
    assert counts == {"neg": 1, "pos": 2}
    docs = list(DocBin().from_disk(tmp_path / "out" / "train.spacy").get_docs(nlp.vocab))
    assert [d.text for d in docs] == ["a", "b", "c"]
    pos, neg = {"neg": 0.0, "pos": 1.0}, {"neg": 1.0, "pos": 0.0}
    assert [d.cats for d in docs] == [pos, neg, pos]
    # a given label set keeps its order and counts unseen labels as 0
    counts = write_docbin(nlp, records, tmp_path / "b.spacy", labels=["pos", "neutral", "neg"])
    assert list(counts.items()) == [("pos", 2), ("neutral", 0), ("neg", 1)]
    docs = list(DocBin().from_disk(tmp_path / "b.spacy").get_docs(nlp.vocab))
    assert docs[0].cats == {"pos": 1.0, "neutral": 0.0, "neg": 0.0}


def test_write_docbin_stores_only_what_records_carry(tmp_path):
    """Tokens (ORTH, and spaces, which DocBin always keeps) and cats: no
    columns of zeros for tags, lemmas or entities."""
    nlp = spacy.blank("en")
    write_docbin(nlp, [Record("Not bad at all!  Really.", ["pos"], 1)], tmp_path / "a.spacy")
    doc_bin = DocBin().from_disk(tmp_path / "a.spacy")
    assert doc_bin.attrs == [spacy.attrs.ORTH]
    doc = next(doc_bin.get_docs(nlp.vocab))
    expected = nlp.make_doc("Not bad at all!  Really.")
    assert doc.text == expected.text and [t.text for t in doc] == [t.text for t in expected]
    assert [t.norm_ for t in doc] == [t.norm_ for t in expected]
    write_shards(nlp, lambda: iter([Record("Fine.", ["pos"], 1)] * 3), tmp_path / "shards", shard_size=2)
    assert [DocBin().from_disk(p).attrs for p in sorted((tmp_path / "shards").iterdir())] == [[spacy.attrs.ORTH]] * 2


def test_count_labels_multi_label():
    records = [Record("a", ["x", "y"], 1), Record("b", ["y"], 2)]
    assert count_labels(records) == {"x": 1, "y": 2}


def test_issue16_write_docbin_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    """The .spacy file is written through a temporary file: a failure leaves the old one whole."""
    out = tmp_path / "train.spacy"
    write_docbin(spacy.blank("en"), [Record("a", ["pos"], 1)], out)
    before = out.read_bytes()

    def fail(self):
        raise ValueError("cannot serialize")

    monkeypatch.setattr(DocBin, "to_bytes", fail)
    with pytest.raises(ValueError, match="cannot serialize"):
        write_docbin(spacy.blank("en"), [Record("b", ["pos"], 1)], out)
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["train.spacy"]
