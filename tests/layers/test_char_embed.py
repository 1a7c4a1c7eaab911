"""spacy_rnn.CharRNNEmbed.v1: token vectors from a character RNN."""
import numpy
import pytest
import spacy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from spacy.training import Example
from thinc.api import Adam, Config

from spacy_rnn.architectures import build_char_rnn_embed
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.pipeline import DEFAULT_RNN_TEXTCAT_CONFIG
from spacy_rnn.torch.chars import CharRNN, encode_words

NLP = spacy.blank("en")
TEXTS = ["A great film!", "", "greaaat fillm 😀👍🏽", "great great great", "\u200b\u0301 x\U0010ffff"]


def small_embed(also_hash_embed=False, cell="lstm", **kwargs):
    settings_ = dict(width=8, cell=cell, char_width=4, n_chars=64, max_chars=20,
                     also_hash_embed=also_hash_embed, hash_width=6)
    settings_.update(kwargs)
    model = build_char_rnn_embed(**settings_)
    model.initialize(X=[NLP(t) for t in TEXTS])
    return model


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("also_hash_embed", [False, True])
def test_one_row_per_token_of_width_nO(cell, also_hash_embed):
    model = small_embed(also_hash_embed, cell)
    nO = 14 if also_hash_embed else 8
    assert model.get_dim("nO") == nO
    docs = [NLP(t) for t in TEXTS]
    Ys = model.predict(docs)
    assert [y.shape for y in Ys] == [(len(doc), nO) for doc in docs]
    assert all(numpy.isfinite(y).all() for y in Ys)


@pytest.mark.parametrize("also_hash_embed", [False, True])
def test_empty_docs_and_empty_batch(also_hash_embed):
    model = small_embed(also_hash_embed)
    nO = model.get_dim("nO")
    assert model.predict([]) == []
    Ys, backprop = model.begin_update([NLP(""), NLP("")])
    assert [y.shape for y in Ys] == [(0, nO), (0, nO)]
    backprop(Ys)
    Ys, backprop = model.begin_update([])
    assert Ys == [] and backprop([]) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=4))
def test_any_unicode_text(texts):
    model = _SHARED_MODEL
    docs = [NLP.make_doc(t) for t in texts]
    Ys = model.predict(docs)
    assert [y.shape[0] for y in Ys] == [len(d) for d in docs]
    assert all(numpy.isfinite(y).all() for y in Ys)


_SHARED_MODEL = small_embed()


def test_char_ids_are_fixed_and_in_range():
    ids, lengths = encode_words(["abc", "", "😀\ud800", "x" * 50], max_chars=20, n_chars=128)
    assert lengths.tolist() == [3, 0, 2, 20]
    assert ids.min() >= 0 and ids.max() < 128
    # ASCII letters do not collide with a power-of-two bucket count >= 128
    ascii_ids, _ = encode_words([bytes(range(128)).decode("ascii")], 128, 128)
    assert len(set(ascii_ids.tolist())) == 128
    assert encode_words(["abc"], 20, 128)[0].tolist() == ids[:3].tolist()


def test_same_token_same_vector_whatever_the_batch():
    model = _SHARED_MODEL
    alone = model.predict([NLP("unbelievable")])[0][0]
    batch = model.predict([NLP("a short one"), NLP("so unbelievable , truly unbelievable 😀"), NLP("")])
    assert_allclose(batch[1][1], alone, rtol=1e-5, atol=1e-6)
    assert_allclose(batch[1][4], alone, rtol=1e-5, atol=1e-6)


def test_unique_words_trick_gives_the_same_output():
    model = small_embed()
    docs = [NLP(t) for t in TEXTS * 3]
    with_unique = model.predict(docs)
    model.attrs["unique_words"] = False
    without = model.predict(docs)
    for a, b in zip(with_unique, without):
        assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_reads_only_real_characters_both_ways():
    """Forward state at the last char, backward at the first: matches torch's
    own bidirectional LSTM run on the unpadded word."""
    torch.manual_seed(0)
    module = CharRNN("lstm", 64, 4, 6)
    ids, lengths = encode_words(["ab", "hello", "x"], 20, 64)
    out = module(torch.from_numpy(ids), lengths)
    word = torch.from_numpy(ids[2:7])[None, :]
    h_n = module.rnn(module.embed(word))[1][0]
    assert torch.allclose(out[1], torch.cat([h_n[0, 0], h_n[1, 0]]), atol=1e-6)


def test_update_lowers_a_loss():
    model = small_embed(also_hash_embed=True)
    optimizer = Adam(0.05)
    docs = [NLP("good film"), NLP("bad 😀")]
    losses = []
    for _ in range(10):
        Ys, backprop = model.begin_update(docs)
        losses.append(sum(float((y ** 2).sum()) for y in Ys))
        backprop([2 * y for y in Ys])  # gradient of the sum of squares
        model.finish_update(optimizer)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("also_hash_embed", [False, True])
def test_bytes_round_trip_into_a_fresh_model(also_hash_embed):
    model = small_embed(also_hash_embed)
    Ys, backprop = model.begin_update([NLP("train it a bit")])
    backprop([numpy.ones_like(y) for y in Ys])
    model.finish_update(Adam(0.1))
    fresh = small_embed(also_hash_embed).from_bytes(model.to_bytes())
    docs = [NLP(t) for t in TEXTS]
    for a, b in zip(model.predict(docs), fresh.predict(docs)):
        assert numpy.array_equal(a, b)


def test_bad_settings_are_named():
    with pytest.raises(ConfigValueError, match="width"):
        build_char_rnn_embed(width=7)
    with pytest.raises(ConfigValueError, match="E001"):
        build_char_rnn_embed(cell="transformer")
    with pytest.raises(ConfigValueError, match="n_chars"):
        build_char_rnn_embed(n_chars=0)


def char_textcat_config():
    cfg = Config().from_str(DEFAULT_RNN_TEXTCAT_CONFIG)
    cfg["model"]["tok2vec"]["embed"] = {
        "@architectures": "spacy_rnn.CharRNNEmbed.v1", "width": 16, "char_width": 8,
        "n_chars": 256, "also_hash_embed": True, "hash_width": 8,
    }
    cfg["model"]["tok2vec"]["encode"]["width"] = 16
    return {"model": cfg["model"]}


def test_in_rnn_textcat_an_update_lowers_the_loss_and_it_serializes(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config=char_textcat_config())
    texts = ["a good film", "a bad film", "grreat 😀", "awfull", ""]
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(i % 2 == 0), "neg": float(i % 2)}})
        for i, t in enumerate(texts)
    ]
    optimizer = nlp.initialize(lambda: examples)
    losses = []
    for _ in range(12):
        step = {}
        nlp.update(examples, sgd=optimizer, losses=step, drop=0.0)
        losses.append(step["rnn_textcat"])
    assert losses[-1] < losses[0]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    for a, b in zip(nlp.pipe(texts), loaded.pipe(texts)):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    fresh = spacy.blank("en")
    fresh.add_pipe("rnn_textcat", config=char_textcat_config())
    fresh.initialize(lambda: examples)
    fresh.from_bytes(nlp.to_bytes())
    assert fresh("grreat 😀").cats == pytest.approx(nlp("grreat 😀").cats, abs=1e-6)
