"""The batched n-gram extractor and the faster StaticVectors forward give what
spaCy's own pieces give (the layers they replace), on odd inputs too."""
import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from spacy.attrs import LOWER
from spacy.ml import staticvectors as spacy_static_vectors
from spacy.vectors import Vectors
from thinc.api import fix_random_seed
from thinc.types import Ragged

from spacy_rnn.layers.bow import hashed_ngrams
from spacy_rnn.layers import static_vectors
from spacy_rnn.layers.static_vectors import StaticVectors, rows_of

WORDS = ["good", "bad", "film", "the", "a", "plot", "!", "😀", "dull", "great"]


def spacy_extract_ngrams(ops, docs, ngram_size, attr=LOWER):
    """spaCy's ``extract_ngrams``, one doc at a time (with the short-doc guard)."""
    keys_, vals_ = [], []
    for doc in docs:
        unigrams = ops.asarray(doc.to_array([attr]))
        ngrams = [unigrams] + [ops.ngrams(n, unigrams) for n in range(2, min(ngram_size, len(unigrams)) + 1)]
        keys, vals = ops.xp.unique(ops.xp.concatenate(ngrams), return_counts=True)
        keys_.append(keys)
        vals_.append(vals)
    lengths = numpy.asarray([len(k) for k in keys_], dtype="int32")
    return numpy.concatenate(keys_), numpy.concatenate(vals_).astype("f"), lengths


doc_words = st.lists(st.sampled_from(WORDS), max_size=30)


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(doc_words, max_size=8), ngram_size=st.integers(1, 4))
def test_batched_ngrams_are_spacys(batch, ngram_size):
    nlp = spacy.blank("en")
    docs = [spacy.tokens.Doc(nlp.vocab, words=words) for words in batch]
    model = hashed_ngrams(ngram_size)
    (keys, vals, lengths), _ = model(docs, is_train=False)
    assert keys.dtype == numpy.uint64 and vals.dtype == numpy.float32 and lengths.dtype == numpy.int32
    assert len(lengths) == len(docs)
    if not docs or not sum(len(d) for d in docs):
        assert len(keys) == 0 and not lengths.any()
        return
    want_keys, want_vals, want_lengths = spacy_extract_ngrams(model.ops, docs, ngram_size)
    assert_array_equal(lengths, want_lengths)
    assert_array_equal(keys, want_keys)
    assert_array_equal(vals, want_vals)


@settings(max_examples=40, deadline=None)
@given(batch=st.lists(doc_words, max_size=6), ngram_size=st.integers(1, 3))
def test_ngram_values_are_counts_their_log_or_ones(batch, ngram_size):
    """Every ``counts`` choice keeps spaCy's keys and lengths and changes only the values."""
    nlp = spacy.blank("en")
    docs = [spacy.tokens.Doc(nlp.vocab, words=words) for words in batch]
    (keys, counts, lengths), _ = hashed_ngrams(ngram_size)(docs, is_train=False)
    for choice, want in [("log", numpy.log1p(counts)), ("binary", numpy.ones_like(counts))]:
        (k, values, n), _ = hashed_ngrams(ngram_size, counts=choice)(docs, is_train=False)
        assert_array_equal(k, keys)
        assert_array_equal(n, lengths)
        assert values.dtype == numpy.float32
        assert_allclose(values, want, rtol=1e-6)


def test_ngram_values_of_a_repeated_word():
    nlp = spacy.blank("en")
    doc = nlp("bad bad bad film")
    values = {}
    for choice in ("count", "log", "binary"):
        (keys, vals, _), _ = hashed_ngrams(1, counts=choice)([doc], is_train=False)
        values[choice] = dict(zip(keys.tolist(), vals.tolist()))
    bad = nlp.vocab.strings["bad"]
    assert values["count"][bad] == 3 and values["binary"][bad] == 1
    assert values["log"][bad] == pytest.approx(numpy.log(4))
    with pytest.raises(ValueError, match="count, log, binary"):
        hashed_ngrams(1, counts="tfidf")


def test_batched_ngrams_never_cross_documents():
    nlp = spacy.blank("en")
    docs = [nlp("good film"), nlp("bad plot")]
    (keys, _, lengths), _ = hashed_ngrams(2)(docs, is_train=False)
    # unigrams and the one bigram of each doc: "film bad" is not a bigram
    assert list(lengths) == [3, 3]
    (joined, _, _), _ = hashed_ngrams(2)([nlp("good film bad plot")], is_train=False)
    assert len(set(joined.tolist()) - set(keys.tolist())) == 1


def vocab_with_vectors(n_rows=6, width=5, seed=0):
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(seed)
    data = rng.normal(size=(n_rows, width)).astype("f")
    # two words share a row, as pruned tables have them; "dull" and "😀" have none
    keys = ["good", "bad", "film", "the", "a", "plot", "!", "great"]
    rows = [0, 1, 2, 3, 4, 5, 0, 1]
    nlp.vocab.vectors = Vectors(data=data, keys=keys[:n_rows], strings=nlp.vocab.strings)
    for key, row in zip(keys[n_rows:], rows[n_rows:]):
        nlp.vocab.vectors.add(key, row=row)
    return nlp


def pair(nlp, docs, nO=4, dropout=None):
    ours = StaticVectors(nO=nO, dropout=dropout)
    theirs = spacy_static_vectors.StaticVectors(nO=nO, dropout=dropout)
    ours.initialize(X=docs)
    theirs.initialize(X=docs)
    theirs.set_param("W", ours.get_param("W").copy())
    return ours, theirs


def test_rows_are_spacys_find():
    nlp = vocab_with_vectors()
    keys = numpy.asarray([nlp.vocab.strings.add(w) for w in WORDS + ["unseen"]], dtype="uint64")
    assert_array_equal(rows_of(nlp.vocab.vectors, keys), nlp.vocab.vectors.find(keys=keys))
    # a key added later is found: the lookup is rebuilt
    nlp.vocab.vectors.add("dull", row=3)
    assert rows_of(nlp.vocab.vectors, keys)[WORDS.index("dull")] == 3
    assert rows_of(Vectors(shape=(0, 0)), keys).tolist() == [-1] * len(keys)


@pytest.mark.parametrize("distinct_from", [0, 1000])
def test_static_vectors_forward_and_gradient_are_spacys(monkeypatch, distinct_from):
    # 0: the batch path (distinct rows projected once); 1000: a token at a time
    monkeypatch.setattr(static_vectors, "DISTINCT_FROM", distinct_from)
    nlp = vocab_with_vectors()
    docs = [nlp("good film , the plot"), nlp(""), nlp("a great great film !")]  # "," has no vector
    ours, theirs = pair(nlp, docs)
    Y, backprop = ours(docs, is_train=True)
    Y_theirs, backprop_theirs = theirs(docs, is_train=True)
    assert_array_equal(Y.lengths, Y_theirs.lengths)
    assert_allclose(Y.data, Y_theirs.data, rtol=1e-5, atol=1e-6)
    dY = numpy.random.default_rng(1).normal(size=Y.data.shape).astype("f")
    backprop(Ragged(dY.copy(), Y.lengths))
    # spaCy's backward also takes the tokens without a vector, times the table's last row;
    # their output is the constant zero, so ours leaves them out: compare with them zeroed
    unknown = nlp.vocab.vectors.find(keys=numpy.concatenate([d.to_array("ORTH") for d in docs])) < 0
    assert unknown.sum() == 1
    dY_known = dY.copy()
    dY_known[unknown] = 0
    backprop_theirs(Ragged(dY_known, Y.lengths))
    assert_allclose(ours.get_grad("W"), theirs.get_grad("W"), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("distinct_from", [0, 1000])
def test_static_vectors_dropout_is_spacys(monkeypatch, distinct_from):
    monkeypatch.setattr(static_vectors, "DISTINCT_FROM", distinct_from)
    nlp = vocab_with_vectors()
    docs = [nlp("good film the plot a bad")]
    ours, theirs = pair(nlp, docs, nO=64, dropout=0.5)
    fix_random_seed(3)
    Y, _ = ours(docs, is_train=True)
    fix_random_seed(3)
    Y_theirs, _ = theirs(docs, is_train=True)
    assert (Y.data == 0).all(axis=0).any()  # whole dimensions dropped
    assert_allclose(Y.data, Y_theirs.data, rtol=1e-5, atol=1e-6)


def test_static_vectors_edge_cases_and_weights_interchange():
    nlp = vocab_with_vectors()
    ours, theirs = pair(nlp, [nlp("good")])
    empty, _ = ours([nlp(""), nlp("")], is_train=False)
    assert empty.data.size == 0 and empty.lengths.tolist() == [0, 0]
    unknown, _ = ours([nlp("dull 😀")], is_train=False)
    assert not unknown.data.any()
    # the same layer as spaCy's: saved weights load both ways
    fresh = spacy_static_vectors.StaticVectors(nO=4)
    fresh.initialize(X=[nlp("good")])
    fresh.from_bytes(ours.to_bytes())
    assert_array_equal(fresh.get_param("W"), ours.get_param("W"))
    assert ours.name == theirs.name and ours.attrs == theirs.attrs


def test_floret_tables_take_spacys_forward(tmp_path):
    nlp = spacy.blank("en")
    data = numpy.random.default_rng(0).normal(size=(10, 4)).astype("f")
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, mode="floret", data=data, hash_count=1, minn=1, maxn=3)
    docs = [nlp("an unseen word")]
    ours, theirs = pair(nlp, docs)
    assert_allclose(ours(docs, is_train=False)[0].data, theirs(docs, is_train=False)[0].data)
    assert ours(docs, is_train=False)[0].data.any()
