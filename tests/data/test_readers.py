"""The registered readers (spacy_rnn.data.readers): labelled corpora and raw text."""
import warnings

import pytest
import spacy
from spacy.util import registry
from thinc.api import Config

from spacy_rnn.data import CorpusError, CorpusWarning, LabelledCorpus, RawTextCorpus, iter_raw_texts
from corpus_files import jsonl, write_lines


# ---------------------------------------------------------------------------
# The spaCy reader


def test_reader_is_registered_and_resolves(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", {"text": "a", "label": "pos"})
    assert registry.readers.get("spacy_rnn.LabelledCorpus.v1") is not None
    resolved = registry.resolve({"corpus": {"@readers": "spacy_rnn.LabelledCorpus.v1", "path": str(path)}})
    assert isinstance(resolved["corpus"], LabelledCorpus)


def test_reader_examples_have_full_label_set(tmp_path):
    path = jsonl(
        tmp_path / "train.jsonl",
        {"text": "I loved it", "label": "pos"},
        {"text": "Dull.<br />Boring", "label": "neg"},
        {"text": "fine", "label": "neutral"},
    )
    reader = registry.readers.get("spacy_rnn.LabelledCorpus.v1")
    nlp = spacy.blank("en")
    examples = list(reader(str(path))(nlp))
    assert [eg.reference.text for eg in examples] == ["I loved it", "Dull. Boring", "fine"]
    assert [eg.predicted.text for eg in examples] == ["I loved it", "Dull. Boring", "fine"]
    assert examples[0].reference.cats == {"neg": 0.0, "neutral": 0.0, "pos": 1.0}
    assert examples[1].reference.cats == {"neg": 1.0, "neutral": 0.0, "pos": 0.0}
    # a given label list fixes the order, and limit the number
    examples = list(reader(str(path), labels=["pos", "neg", "neutral"], limit=2)(nlp))
    assert len(examples) == 2 and list(examples[0].reference.cats) == ["pos", "neg", "neutral"]


def test_reader_errors(tmp_path):
    reader = registry.readers.get("spacy_rnn.LabelledCorpus.v1")
    with pytest.raises(CorpusError, match="no such file"):
        reader(str(tmp_path / "missing.jsonl"))
    with pytest.raises(CorpusError, match="paths.train"):
        reader(None)
    path = jsonl(tmp_path / "train.jsonl", {"text": "a", "label": "pos"}, {"text": "b", "label": "x"})
    with pytest.raises(CorpusError, match=r"line 2: unknown label 'x'"):
        list(reader(str(path), labels=["neg", "pos"])(spacy.blank("en")))


def test_reader_skip_invalid_warns_once(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", {"text": "a", "label": "pos"}, "{bad", {"text": "b", "label": "x"})
    corpus = registry.readers.get("spacy_rnn.LabelledCorpus.v1")(str(path), skip_invalid=True)
    nlp = spacy.blank("en")
    with pytest.warns(CorpusWarning, match="line 2"):
        assert len(list(corpus(nlp))) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(corpus(nlp))) == 2


def test_reader_trains_a_tiny_pipeline(tmp_path):
    path = tmp_path / "train.csv"
    write_lines(path, ["review,sentiment", "loved it,positive", "hated it,negative", "great,positive"])
    reader = registry.readers.get("spacy_rnn.LabelledCorpus.v1")
    corpus = reader(str(path), text_key="review", label_key="sentiment")
    nlp = spacy.blank("en")
    config = {"model": {"tok2vec": {"embed": {"width": 8}, "encode": {"width": 8}}}}
    textcat = nlp.add_pipe("rnn_textcat", config=config)
    optimizer = nlp.initialize(lambda: corpus(nlp))
    assert textcat.labels == ("negative", "positive")
    losses = {}
    nlp.update(list(corpus(nlp)), sgd=optimizer, losses=losses)
    assert losses["rnn_textcat"] >= 0
    assert set(nlp("loved").cats) == {"negative", "positive"}


# ---------------------------------------------------------------------------
# The raw-text reader


def test_raw_text_reader_reads_txt_jsonl_and_directories(tmp_path):
    (tmp_path / "b.txt").write_text("first line<br /><br />with a break\n\nsecond line\n", encoding="utf8")
    (tmp_path / "a.jsonl").write_text('{"text": "from jsonl", "label": "x"}\n\n', encoding="utf8")
    (tmp_path / "notes.md").write_text("ignored")
    assert list(iter_raw_texts(tmp_path)) == ["from jsonl", "first line with a break", "second line"]
    assert list(iter_raw_texts(tmp_path / "b.txt", clean_html=False))[0] == "first line<br /><br />with a break"
    nlp = spacy.blank("en")
    examples = list(RawTextCorpus(tmp_path, min_length=3)(nlp))
    assert [eg.reference.text for eg in examples] == ["first line with a break"]  # "second line": 2 tokens


def test_labelled_reader_reads_tsv_from_a_config(tmp_path):
    """spacy_rnn.LabelledCorpus.v1 reads CSV and TSV as well as JSONL."""
    path = write_lines(tmp_path / "train.tsv", ["text\tlabel", "a\tpos", "b\tneg"])
    saved = Config().from_str(f'[corpora]\n\n[corpora.train]\n@readers = "spacy_rnn.LabelledCorpus.v1"\npath = "{path}"\n')
    corpus = registry.resolve(saved)["corpora"]["train"]
    assert isinstance(corpus, LabelledCorpus)
    examples = list(corpus(spacy.blank("en")))
    assert [eg.reference.cats for eg in examples] == [{"neg": 0.0, "pos": 1.0}, {"neg": 1.0, "pos": 0.0}]
