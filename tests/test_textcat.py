"""The RNNTextCat architecture and its pooling layers."""
import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from spacy.training import Example
from thinc.api import Config, NumpyOps

from encoder_helpers import central_differences
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.layers import POOLINGS, build_pooling
from spacy_rnn.layers.pooling import _tanh_
from spacy_rnn.pipeline import DEFAULT_RNN_TEXTCAT_CONFIG

TEXTS = ["This movie was great!", "", "   ", "terrible 😡😡", "ok", "a " * 60]


def small_config(pooling="attention", exclusive=True, cell="lstm", bidirectional=True):
    cfg = Config().from_str(DEFAULT_RNN_TEXTCAT_CONFIG)
    cfg["model"]["pooling"] = pooling
    cfg["model"]["exclusive_classes"] = exclusive
    cfg["model"]["tok2vec"]["embed"]["width"] = 16
    cfg["model"]["tok2vec"]["encode"].update({"width": 16, "cell": cell, "bidirectional": bidirectional})
    return {"model": cfg["model"]}


def make_examples(nlp, records, labels):
    return [
        Example.from_dict(nlp.make_doc(r["text"]), {"cats": {l: float(l in r["labels"]) for l in labels}})
        for r in records
    ]


RECORDS = [
    {"text": "I loved it", "labels": ["positive", "funny"]},
    {"text": "worst film ever", "labels": ["negative"]},
    {"text": "funny and sweet", "labels": ["positive", "funny"]},
    {"text": "boring", "labels": ["negative"]},
]


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("exclusive", [True, False])
def test_every_pooling_exclusive_and_multilabel(pooling, exclusive):
    nlp = spacy.blank("en")
    factory = "rnn_textcat" if exclusive else "rnn_textcat_multilabel"
    textcat = nlp.add_pipe(factory, config=small_config(pooling, exclusive))
    labels = ["negative", "positive"] if exclusive else ["negative", "positive", "funny"]
    records = [dict(r, labels=r["labels"][:1]) for r in RECORDS] if exclusive else RECORDS
    examples = make_examples(nlp, records, labels)
    optimizer = nlp.initialize(lambda: examples)
    model = textcat.model
    assert model.attrs["multi_label"] is (not exclusive)
    assert model.get_ref("tok2vec") is not None and model.get_ref("output_layer") is not None
    losses = {}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, losses=losses)
    docs = list(nlp.pipe(TEXTS))
    for doc in docs:
        assert set(doc.cats) == set(labels)
        probs = numpy.array(list(doc.cats.values()))
        assert numpy.isfinite(probs).all() and ((0 <= probs) & (probs <= 1)).all()
        if exclusive:
            assert abs(probs.sum() - 1.0) < 1e-5


@pytest.mark.parametrize("pooling", POOLINGS + ("max+mean", "last+max+mean", "attention+mean"))
def test_pooling_gradients_match_finite_differences(pooling):
    rng = numpy.random.default_rng(0)
    lengths = [3, 0, 1, 4]
    Xs = [rng.standard_normal((n, 4)) for n in lengths]
    model = build_pooling(pooling, bidirectional=True)
    model.initialize(X=[x.astype("f") for x in Xs])
    for node in model.walk():
        for name in node.param_names:
            node.set_param(name, node.get_param(name).astype("float64"))
    k = len(pooling.split("+"))  # joined poolings are concatenated
    W = rng.standard_normal((len(lengths), 4 * k))
    Y, backprop = model.begin_update(Xs)
    assert Y.shape == (4, 4 * k)
    assert_allclose(Y[1], 0.0)  # an empty document pools to zeros
    dXs = backprop(W.copy())
    # mean, max and last are piecewise linear, so a large step is exact for
    # them even where thinc computes in float32; attention is checked in float64.
    # A concatenation adds up its parts' float32 rounding.
    eps = 1e-3
    tolerance = 1e-3 if k > 1 else 1e-4
    def loss(inputs):  # summed in float64, so that the difference of two sums loses nothing
        return float((model.predict(inputs).astype("float64") * W).sum())

    for i, index, numeric in central_differences(loss, Xs, eps):
        assert abs(numeric - dXs[i][index]) < tolerance, (pooling, i, index)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_attention_tanh_is_numpys_in_place(dtype):
    rng = numpy.random.default_rng(0)
    Z = numpy.concatenate([rng.standard_normal((50, 8)) * s for s in (1e-4, 1.0, 30.0, 1e4)]).astype(dtype)
    U = Z.copy()
    assert _tanh_(NumpyOps(), U) is U
    assert numpy.isfinite(U).all() and U.dtype == Z.dtype
    assert_allclose(U, numpy.tanh(Z), rtol=0, atol=3e-7 if dtype == "float32" else 1e-12)


def test_last_pooling_takes_each_direction_where_it_ends():
    X = numpy.arange(3 * 4, dtype="f").reshape(3, 4)
    bi = build_pooling("last", bidirectional=True).predict([X])
    assert bi[0].tolist() == [8, 9, 2, 3]  # forward half of token 2, backward half of token 0
    uni = build_pooling("last", bidirectional=False).predict([X])
    assert uni[0].tolist() == [8, 9, 10, 11]


def test_attention_weights_are_a_masked_softmax():
    model = build_pooling("attention")
    Xs = [numpy.ones((3, 4), dtype="f"), numpy.zeros((0, 4), dtype="f"), numpy.ones((1, 4), dtype="f")]
    model.initialize(X=Xs)
    model.attrs["store_weights"] = True
    model.predict(Xs)
    weights = model.attrs["last_weights"]
    assert [w.shape for w in weights] == [(3,), (0,), (1,)]
    assert_allclose(weights[0].sum(), 1.0, rtol=1e-6)
    assert_allclose(weights[2], [1.0])


def test_attention_of_one_document_at_inference_is_the_batched_path():
    # nlp(text) takes a shortcut for one document: same output, same stored
    # weights, and a gradient if a caller asks for one
    rng = numpy.random.default_rng(0)
    X = rng.standard_normal((5, 8)).astype("f")
    other = rng.standard_normal((3, 8)).astype("f")
    model = build_pooling("attention")
    model.initialize(X=[X])
    model.attrs["store_weights"] = True
    alone, backprop = model([X], is_train=False)
    weights_alone = model.attrs["last_weights"]
    batched = model.predict([X, other])
    assert alone.shape == (1, 8)
    assert_allclose(alone[0], batched[0], rtol=1e-5, atol=1e-6)
    assert_allclose(weights_alone[0], model.attrs["last_weights"][0], rtol=1e-5, atol=1e-7)
    # a reversed view (negative strides) pools like its copy
    assert_allclose(model.predict([X[::-1]]), model.predict([X[::-1].copy()]), rtol=1e-6)
    dY = rng.standard_normal((1, 8)).astype("f")
    _, backprop_train = model([X], is_train=True)
    assert_allclose(backprop(dY)[0], backprop_train(dY)[0], rtol=1e-5, atol=1e-6)


def test_unknown_pooling_is_a_config_error():
    with pytest.raises(ConfigValueError, match="'avg'.*'mean', 'max', 'last', 'attention'"):
        build_pooling("avg")
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValueError, match="'sum'"):
        nlp.add_pipe("rnn_textcat", config=small_config(pooling="sum"))


def test_unknown_cell_in_config_names_value_and_choices():
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValueError, match="'lstn'.*'rnn', 'lstm', 'gru'"):
        nlp.add_pipe("rnn_textcat", config=small_config(cell="lstn"))


def test_loss_falls_on_review_sentences(review_sentences):
    """500 made-up one-sentence reviews (a fifth need context: negation, "but").
    Learning on real text is measured by benchmarks/textcat_benchmark.py."""
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    labels = ["negative", "positive"]
    examples = [
        Example.from_dict(nlp.make_doc(r["text"]), {"cats": {l: float(l == r["label"]) for l in labels}})
        for r in review_sentences[:500]
    ]
    optimizer = nlp.initialize(lambda: examples)
    epoch_losses = []
    for epoch in range(4):
        losses = {}
        for start in range(0, len(examples), 32):
            nlp.update(examples[start : start + 32], sgd=optimizer, losses=losses)
        epoch_losses.append(losses["rnn_textcat"])
    assert epoch_losses[-1] < 0.6 * epoch_losses[0], epoch_losses
    assert all(b < a for a, b in zip(epoch_losses, epoch_losses[1:])), epoch_losses


_NLP = None


def _trained_tiny_nlp():
    global _NLP
    if _NLP is None:
        nlp = spacy.blank("en")
        nlp.add_pipe("rnn_textcat", config=small_config())
        labels = ["negative", "positive"]
        examples = make_examples(nlp, [dict(r, labels=r["labels"][:1]) for r in RECORDS], labels)
        nlp.initialize(lambda: examples)
        _NLP = nlp
    return _NLP


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=80),
            st.sampled_from(["", " ", "\n\t  ", "😀", "👍🏽 great 🎬", "\u200b", "a\u0301"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_odd_texts_get_valid_cats(texts):
    nlp = _trained_tiny_nlp()
    docs = list(nlp.pipe(texts))
    assert len(docs) == len(texts)
    for doc, text in zip(docs, texts):
        assert doc.text == text
        values = list(doc.cats.values())
        assert len(values) == 2 and all(numpy.isfinite(values))
        assert abs(sum(values) - 1.0) < 1e-5
        # batch-invariance through the whole pipeline
        alone = nlp(text).cats
        for label in alone:
            assert abs(alone[label] - doc.cats[label]) < 1e-5


@pytest.mark.slow
def test_fifty_thousand_token_document():
    nlp = _trained_tiny_nlp()
    text = " ".join(["great", "awful", "😀", "film"] * 12_500)
    doc = nlp(text)
    assert len(doc) == 50_000
    assert abs(sum(doc.cats.values()) - 1.0) < 1e-5


# ---------------------------------------------------------------------------
# Issue 16, case 6: every numeric setting is range-checked when the model is built


def _tok2vec():
    from spacy_rnn.architectures import build_sum_hash_embed

    return build_sum_hash_embed(8, ["NORM"], [10])


@pytest.mark.parametrize("dropout", [1.5, -0.1, 1.0, float("nan"), "0.2"])
def test_issue16_textcat_dropout_out_of_range(dropout):
    from spacy_rnn.architectures import build_rnn_textcat

    with pytest.raises(ConfigValueError, match=r"E002.*dropout = .* in spacy_rnn\.RNNTextCat\.v1.*\[0, 1\)"):
        build_rnn_textcat(_tok2vec(), dropout=dropout)
    if isinstance(dropout, float) and numpy.isfinite(dropout):  # what a config can hold
        with pytest.raises(ConfigValueError, match=r"dropout = .*\[0, 1\)"):
            spacy.blank("en").add_pipe("rnn_textcat", config={"model": {"dropout": dropout}})


def test_issue16_textcat_dropout_in_range_does_not_zero_the_output():
    from spacy_rnn.architectures import build_rnn_textcat

    model = build_rnn_textcat(_tok2vec(), pooling="mean", dropout=0.5, nO=2)
    docs = [spacy.blank("en")("a good film")]
    model.initialize(X=docs)
    Y, _ = model.begin_update(docs)
    assert abs(float(Y.sum()) - 1.0) < 1e-5


@pytest.mark.parametrize(
    "builder,kwargs,name",
    [
        ("build_rnn_textcat", {"nO": 0}, "nO"),
        ("build_sum_hash_embed", {"width": 0}, "width"),
        ("build_sum_hash_embed", {"rows": [10, 0, 10, 10]}, "rows"),
        ("build_sum_hash_embed", {"rows": [10, 2.5, 10, 10]}, "rows"),
        ("build_sum_hash_embed", {"dropout": 1.0}, "dropout"),
        ("build_char_rnn_embed", {"hash_width": -1}, "hash_width"),
        ("build_char_rnn_embed", {"hash_rows": [0]}, "hash_rows"),
        ("build_char_rnn_embed", {"width": 3}, "width"),
        ("build_char_rnn_embed", {"char_width": 0}, "char_width"),
        ("build_char_rnn_embed", {"n_chars": 0}, "n_chars"),
        ("build_char_rnn_embed", {"max_chars": 0}, "max_chars"),
        ("build_rnn_encoder", {"width": 0}, "width"),
        ("build_rnn_encoder", {"width": True}, "width"),
        ("build_rnn_encoder", {"depth": 0}, "depth"),
        ("build_rnn_encoder", {"dropout": 1.5}, "dropout"),
        ("build_rnn_encoder", {"dropout": -0.1}, "dropout"),
        ("build_rnn_encoder", {"cell": "clockwork", "modules": 0}, "modules"),
        ("build_rnn_encoder", {"cell": "clockwork", "periods": [1, 0]}, "periods"),
        ("create_pretrain_rnn_lm", {"div_value": 0}, "div_value"),
        ("create_pretrain_rnn_lm", {"div_value": float("inf")}, "div_value"),
        ("create_pretrain_rnn_lm", {"cutoffs": [0, 100]}, "cutoffs"),
        ("create_pretrain_rnn_lm", {"log_every": -1}, "log_every"),
    ],
)
def test_issue16_every_numeric_setting_is_range_checked(builder, kwargs, name):
    """The message names the setting, its value, the architecture and the allowed range."""
    from spacy_rnn import architectures
    from spacy_rnn.pretraining import objective

    defaults = {
        "build_rnn_textcat": {"tok2vec": _tok2vec()},
        "build_sum_hash_embed": {"width": 8, "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"], "rows": [10] * 4},
        "build_char_rnn_embed": {},
        "build_rnn_encoder": {"width": 8},
        "create_pretrain_rnn_lm": {"vocab_path": None},
    }
    function = getattr(architectures, builder, None) or getattr(objective, builder)
    with pytest.raises(ConfigValueError, match=rf"E002\] Invalid value {name} = .* in spacy_rnn\.\w+\.v1: use "):
        function(**{**defaults[builder], **kwargs})
