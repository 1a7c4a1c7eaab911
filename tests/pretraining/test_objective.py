"""Language-model pretraining of the recurrent encoder through ``spacy pretrain``:
the objective, the no-leak rule (separate directions), its configuration
errors, the vocabulary file, and the round trip
pretrain -> model{epoch}.bin -> [initialize] init_tok2vec -> train."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
import torch
from numpy.testing import assert_allclose
from spacy.ml.models import MaxoutWindowEncoder, build_Tok2Vec_model
from spacy.tokens import DocBin
from spacy.training.pretrain import make_update
from thinc.api import Adam, Config, Model, chain
from typer.testing import CliRunner

from spacy_rnn.architectures import build_rnn_encoder, build_sum_hash_embed
from spacy_rnn.cli import app
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.pretraining.objective import create_pretrain_rnn_lm
from spacy_rnn.pretraining.targets import lm_targets
from spacy_rnn.pretraining.vocab import BOUNDARY, UNKNOWN, LMVocab, count_norms, write_lm_vocab
from spacy_rnn.torch import CELLS, RecurrentEncoder

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "pretrain_bilstm.cfg"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Tiny widths for the end-to-end runs.
TINY = [
    "--components.rnn_textcat.model.tok2vec.embed.width", "16",
    "--components.rnn_textcat.model.tok2vec.embed.rows", "[500,100,200,200]",
    "--components.rnn_textcat.model.tok2vec.encode.width", "16",
]


def run(*args):
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=ENV, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def texts(review_sentences):
    return [r["text"] for r in review_sentences[:300]]


@pytest.fixture(scope="module")
def data(tmp_path_factory, texts, review_sentences):
    """raw.jsonl (300 fixture review sentences), lm_vocab.json, and train/dev .spacy files."""
    path = tmp_path_factory.mktemp("pretrain")
    with (path / "raw.jsonl").open("w", encoding="utf8") as f:
        for text in texts:
            f.write(json.dumps({"text": text, "label": "ignored"}) + "\n")
    nlp = spacy.blank("en")
    counts, n_docs, n_tokens = count_norms(texts, nlp)
    write_lm_vocab(path / "lm_vocab.json", counts, 300, lang="en", n_docs=n_docs, n_tokens=n_tokens, sources=["raw"])
    db = DocBin()
    for record in review_sentences[300:340]:
        doc = nlp.make_doc(record["text"])
        doc.cats = {"negative": float(record["label"] == "negative"), "positive": float(record["label"] == "positive")}
        db.add(doc)
    db.to_disk(path / "train.spacy")
    return path


def make_tok2vec(depth=1, bidirectional=True, separate_directions=True, width=16):
    encoder = build_rnn_encoder(width, depth=depth, bidirectional=bidirectional, separate_directions=separate_directions)
    return build_Tok2Vec_model(build_sum_hash_embed(16, rows=[500, 100, 200, 200]), encoder)


def make_objective(data, tok2vec, **kwargs):
    nlp = spacy.blank("en")
    model = create_pretrain_rnn_lm(str(data / "lm_vocab.json"), log_every=0, **kwargs)(nlp.vocab, tok2vec)
    model.initialize(X=[nlp.make_doc("Give it a doc to infer shapes")])
    return nlp, model


# --- the objective ---------------------------------------------------------


@pytest.mark.parametrize("bidirectional,depth,output_layer", [(True, 2, "adaptive"), (False, 1, "full")])
def test_loss_falls(data, texts, bidirectional, depth, output_layer):
    """A few updates on 300 sentences lower the mean NLL (both directions,
    or a forward-only encoder alone), with either output layer."""
    nlp, model = make_objective(
        data, make_tok2vec(depth, bidirectional), output_layer=output_layer, cutoffs=[50, 150]
    )
    docs = [nlp.make_doc(t) for t in texts]
    optimizer = Adam(0.01)
    losses = []
    for _ in range(3):
        for i in range(0, len(docs), 50):
            losses.append(make_update(model, docs[i : i + 50], optimizer, model.attrs["loss"]))
    assert all(numpy.isfinite(losses))
    # the first loss is about log(n_classes): a uniform guess
    assert abs(losses[0] - numpy.log(302)) < 1.0
    assert numpy.mean(losses[-6:]) < numpy.mean(losses[:6]) - 0.2


def test_targets_and_boundaries():
    """Forward rows predict the next token, backward rows the previous one,
    with BOUNDARY at the ends; without boundaries those rows are skipped."""
    nlp = spacy.blank("en")
    vocab = LMVocab(["a", "b", "c"], "en")
    docs = [nlp.make_doc("a b zz"), nlp.make_doc(""), nlp.make_doc("c")]
    fwd_rows, fwd, bwd_rows, bwd = lm_targets(vocab, docs, predict_boundaries=True)
    a, b, c = 2, 3, 4
    assert fwd_rows.tolist() == [0, 1, 2, 3] and bwd_rows.tolist() == [0, 1, 2, 3]
    assert fwd.tolist() == [b, UNKNOWN, BOUNDARY, BOUNDARY]
    assert bwd.tolist() == [BOUNDARY, a, b, BOUNDARY]
    fwd_rows, fwd, bwd_rows, bwd = lm_targets(vocab, docs, predict_boundaries=False)
    assert fwd_rows.tolist() == [0, 1] and fwd.tolist() == [b, UNKNOWN]
    assert bwd_rows.tolist() == [1, 2] and bwd.tolist() == [a, b]
    assert fwd.dtype == numpy.int64 and c == 4


def test_gradient_matches_finite_difference(data):
    """The gradient the loss hands back to the tok2vec is d(mean NLL)/d(state)."""
    nlp, model = make_objective(data, make_tok2vec(1, True), output_layer="full")
    docs = [nlp.make_doc("a stirring , funny film"), nlp.make_doc("dull")]
    states = [numpy.random.default_rng(0).standard_normal(model.ops.to_numpy(s).shape).astype("f") for s in model.predict(docs)]
    loss_fn = model.attrs["loss"]
    loss, d_states = loss_fn(model.ops, docs, states)
    for doc_i, row, col in [(0, 0, 0), (0, 4, 12), (1, 0, 3)]:
        eps = 1e-2
        plus = [s.copy() for s in states]
        plus[doc_i][row, col] += eps
        minus = [s.copy() for s in states]
        minus[doc_i][row, col] -= eps
        numeric = (loss_fn(model.ops, docs, plus)[0] - loss_fn(model.ops, docs, minus)[0]) / (2 * eps)
        assert_allclose(d_states[doc_i][row, col], numeric, rtol=0.05, atol=1e-4)


# --- no leak ---------------------------------------------------------------


def leak_changes(cell, separate_directions, t=4, n=9, hidden=4):
    """How much each half of a 2-layer bidirectional encoder's state at token t
    moves when token t+1 changes (forward half) and token t-1 changes
    (backward half)."""
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, 6, 2 * hidden, depth=2, bidirectional=True, separate_directions=separate_directions)
    encoder.eval()
    X = torch.randn(n, 6)
    with torch.no_grad():
        base = encoder(X, [n])
        after = X.clone()
        after[t + 1] += 1.0
        before = X.clone()
        before[t - 1] += 1.0
        fwd_move = (encoder(after, [n])[: t + 1, :hidden] - base[: t + 1, :hidden]).abs().max().item()
        bwd_move = (encoder(before, [n])[t:, hidden:] - base[t:, hidden:]).abs().max().item()
    return fwd_move, bwd_move


@pytest.mark.parametrize("cell", list(CELLS))
def test_separate_directions_do_not_leak(cell):
    """Forward state at t (and before) ignores token t+1; backward state at t
    (and after) ignores token t-1."""
    fwd_move, bwd_move = leak_changes(cell, separate_directions=True)
    assert fwd_move == 0.0
    assert bwd_move == 0.0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_leak_test_catches_mixed_directions(cell):
    """The control: without separate directions layer 2 reads layer 1's other
    direction, so the same test sees the future, proving it can catch a leak."""
    fwd_move, bwd_move = leak_changes(cell, separate_directions=False)
    assert fwd_move > 1e-4
    assert bwd_move > 1e-4


def test_separate_directions_survives_serialization():
    encoder = build_rnn_encoder(8, depth=2, separate_directions=True)
    Xs = [numpy.random.default_rng(1).standard_normal((5, 6)).astype("f")]
    encoder.initialize(X=Xs)
    copy = build_rnn_encoder(8, depth=2, separate_directions=False).from_bytes(encoder.to_bytes())
    assert copy.attrs["separate_directions"] is True
    module = copy.shims[0]._model
    assert module.separate_directions and module.hparams()["separate_directions"]
    assert module.forward_layers[1].input_size == 4  # reads one direction (hidden 4), not both (8)
    assert_allclose(copy.predict(Xs)[0], encoder.predict(Xs)[0], rtol=1e-6)
    # bytes saved before the option existed load with the old behaviour
    hparams = module.hparams()
    del hparams["separate_directions"]
    assert RecurrentEncoder(**hparams).separate_directions is False


# --- refused configurations ------------------------------------------------


def test_refuses_mixed_directions(data):
    with pytest.raises(ConfigValueError, match=r"E014.*separate_directions = true"):
        make_objective(data, make_tok2vec(depth=2, separate_directions=False))
    # depth 1 and a forward-only stack need no separation
    make_objective(data, make_tok2vec(depth=1, separate_directions=False))
    make_objective(data, make_tok2vec(depth=2, bidirectional=False, separate_directions=False))


def test_refuses_window_encoder(data):
    window = MaxoutWindowEncoder(width=16, window_size=1, maxout_pieces=2, depth=1)
    tok2vec = build_Tok2Vec_model(
        build_sum_hash_embed(16, rows=[500, 100, 200, 200]), chain(window, build_rnn_encoder(16))
    )
    with pytest.raises(ConfigValueError, match=r"E015.*'expand_window'"):
        make_objective(data, tok2vec)


def test_refuses_tok2vec_without_the_encoder_at_its_output(data):
    from spacy.ml.models import BiLSTMEncoder

    spacy_bilstm = build_Tok2Vec_model(build_sum_hash_embed(16), BiLSTMEncoder(width=16, depth=1, dropout=0.0))
    with pytest.raises(ConfigValueError, match=r"E013.*no spacy_rnn.RNNEncoder.v1"):
        make_objective(data, spacy_bilstm)
    from thinc.api import Linear, with_array

    after = build_Tok2Vec_model(build_sum_hash_embed(16), chain(build_rnn_encoder(16), with_array(Linear(16, 16))))
    with pytest.raises(ConfigValueError, match=r"E013.*not from the encoder"):
        make_objective(data, after)


def test_probe_catches_an_unknown_mixing_layer(data):
    """A layer the named checks do not know is caught by the probe."""

    def forward(model, Xs, is_train):
        return [numpy.roll(x, -1, axis=0) for x in Xs], lambda dYs: [numpy.roll(d, 1, axis=0) for d in dYs]

    shift = Model("mystery_shift", forward)
    tok2vec = build_Tok2Vec_model(build_sum_hash_embed(16), chain(shift, build_rnn_encoder(16)))
    with pytest.raises(ConfigValueError, match=r"E015.*changed when token .* changed \(probe\)"):
        make_objective(data, tok2vec)


def test_missing_vocab_file(data, tmp_path):
    nlp = spacy.blank("en")
    tok2vec = make_tok2vec()
    tok2vec.initialize(X=[nlp.make_doc("a b")])
    objective = create_pretrain_rnn_lm(str(tmp_path / "nope.json"))
    with pytest.raises(ConfigValueError, match=r"E011.*nope.json.*python -m spacy_rnn lm-vocab"):
        objective(nlp.vocab, tok2vec)
    (tmp_path / "bad.json").write_text('{"words": ["a"]}')
    with pytest.raises(ConfigValueError, match=r"E012.*bad.json"):
        create_pretrain_rnn_lm(str(tmp_path / "bad.json"))(nlp.vocab, tok2vec)
    with pytest.raises(ConfigValueError, match=r"E002.*output_layer"):
        create_pretrain_rnn_lm(str(tmp_path / "bad.json"), output_layer="sampled")


# --- the vocabulary file ---------------------------------------------------


def test_lm_vocab_cli(data, tmp_path):
    out = tmp_path / "vocab.json"
    # in-process (a Python start-up less): `python -m spacy_rnn lm-vocab` runs in test_project's workflow
    result = CliRunner().invoke(app, ["lm-vocab", str(data / "raw.jsonl"), str(out), "--size", "50"])
    assert result.exit_code == 0, result.output
    vocab = json.loads(out.read_text())
    assert vocab["format"] == "spacy_rnn.lm_vocab.v1" and vocab["lang"] == "en"
    assert len(vocab["words"]) == 50 and vocab["n_docs"] == 300
    pairs = list(zip(vocab["counts"], vocab["words"]))
    assert pairs == sorted(pairs, key=lambda p: (-p[0], p[1]))  # reproducible order
    # the same words as the file the other tests count in-process
    assert vocab["words"] == json.loads((data / "lm_vocab.json").read_text())["words"][:50]


# --- spacy pretrain -> init_tok2vec -> spacy train ---------------------------


@pytest.fixture(scope="module")
def pretrained(data):
    out = data / "pretrain_out"
    run(
        "spacy", "pretrain", str(CONFIG), str(out), "--paths.raw_text", str(data / "raw.jsonl"),
        "--paths.lm_vocab", str(data / "lm_vocab.json"), "--pretraining.max_epochs", "1",
        "--pretraining.objective.log_every", "2000", *TINY,
    )
    return out


def tok2vec_weights(tok2vec):
    """Every Thinc parameter and torch tensor of a tok2vec, by position."""
    weights = {}
    for i, node in enumerate(tok2vec.walk()):
        for name in node.param_names:
            if node.has_param(name):
                weights[f"{i}.{node.name}.{name}"] = node.ops.to_numpy(node.get_param(name)).copy()
        for shim in node.shims:
            if shim._model is not None:
                for name, tensor in shim._model.state_dict().items():
                    weights[f"{i}.{node.name}.{name}"] = tensor.detach().cpu().numpy().copy()
    return weights


def tiny_config(config_path, data, weights) -> Config:
    """``config_path`` at the TINY widths, training on the fixture's data from ``weights``."""
    return Config().from_disk(config_path, overrides={
        "paths.train": str(data / "train.spacy"), "paths.dev": str(data / "train.spacy"),
        "paths.init_tok2vec": str(weights),
        **{TINY[i][2:]: json.loads(TINY[i + 1]) for i in range(0, len(TINY), 2)},
    })


def assert_holds_weights(tok2vec, weights):
    """``tok2vec`` holds exactly the weights saved in ``weights`` (LSTM ones included);
    returns them. Loads the file into ``tok2vec`` to get them."""
    loaded = tok2vec_weights(tok2vec)
    expected = tok2vec_weights(tok2vec.from_bytes(weights.read_bytes()))
    assert loaded.keys() == expected.keys() and any("weight_ih" in k for k in loaded)
    for key in expected:
        assert_allclose(loaded[key], expected[key], err_msg=key)
    return expected


def test_pretrain_then_train_with_init_tok2vec(pretrained, data, tmp_path):
    assert (pretrained / "model0.bin").exists()
    log = [json.loads(line) for line in (pretrained / "log.jsonl").read_text().splitlines()]
    assert log[0]["epoch"] == 0 and log[0]["nr_word"] > 0
    run(
        "spacy", "train", str(CONFIG), "--output", str(tmp_path / "trained"),
        "--paths.train", str(data / "train.spacy"), "--paths.dev", str(data / "train.spacy"),
        "--paths.init_tok2vec", str(pretrained / "model0.bin"), "--training.max_steps", "2", *TINY,
    )
    assert (tmp_path / "trained" / "model-last").exists()
    # In-process: right after initialize, the classifier's tok2vec holds the pretrained weights.
    from spacy.training.initialize import init_nlp

    config = tiny_config(CONFIG, data, pretrained / "model0.bin")
    tok2vec = init_nlp(config).get_pipe("rnn_textcat").model.get_ref("tok2vec")
    expected = assert_holds_weights(tok2vec, pretrained / "model0.bin")
    # ... and not the weights of a fresh initialization
    config["initialize"]["init_tok2vec"] = None  # the config is interpolated already
    fresh = tok2vec_weights(init_nlp(config).get_pipe("rnn_textcat").model.get_ref("tok2vec"))
    assert any(not numpy.allclose(fresh[k], expected[k]) for k in expected if "weight_ih" in k)


def test_long_document_config_loads_pretrained_weights(pretrained, data):
    """The main job's config carries a [pretraining] block, so init_tok2vec works with it."""
    from spacy.training.initialize import init_nlp

    weights = pretrained / "model0.bin"
    nlp = init_nlp(tiny_config(REPO / "configs" / "sentiment_bilstm_long.cfg", data, weights))
    assert_holds_weights(nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec"), weights)


def test_init_tok2vec_without_pretraining_block_is_refused(pretrained, data):
    """spaCy would silently skip the weights: the component says so instead (E016)."""
    from spacy.training.initialize import init_nlp

    with pytest.raises(ConfigValueError, match="E016.*pretraining"):
        init_nlp(tiny_config(REPO / "configs" / "sentiment_bilstm.cfg", data, pretrained / "model0.bin"))


def test_benchmark_pretrained_model_loads_the_weights(pretrained, data):
    """The benchmark's LM-pretrained row really starts from the pretrained tok2vec:
    spaCy reads init_tok2vec only through a [pretraining] block naming the component."""
    from spacy.training.initialize import init_nlp

    sys.path.insert(0, str(REPO / "benchmarks"))
    import textcat_benchmark as bench

    weights = pretrained / "model0.bin"
    config = bench.build_config(
        bench.PRETRAINED_MODEL, dict(bench.DATASETS["sst2"], max_epochs=1), data / "train.spacy",
        data / "train.spacy", pretrained={"tok2vec": str(weights), "lm_vocab": str(data / "lm_vocab.json")})
    assert config["pretraining"]["component"] == "textcat"
    for i in range(0, len(TINY), 2):  # the tiny widths the fixture pretrained with
        *path, key = TINY[i][2:].replace("rnn_textcat", "textcat").split(".")
        node = config
        for part in path:
            node = node[part]
        node[key] = json.loads(TINY[i + 1])
    config["training"]["eval_frequency"] = 1  # the tiny corpus makes a few updates (E036 otherwise)
    assert_holds_weights(init_nlp(config).get_pipe("textcat").model.get_ref("tok2vec"), weights)
    with pytest.raises(SystemExit, match="spacy pretrain"):
        bench.build_config(bench.PRETRAINED_MODEL, bench.DATASETS["sst2"], data / "t", data / "d")


def test_pretrain_resumes(pretrained, data):
    result = run(
        "spacy", "pretrain", str(CONFIG), str(pretrained), "--paths.raw_text", str(data / "raw.jsonl"),
        "--paths.lm_vocab", str(data / "lm_vocab.json"), "--pretraining.max_epochs", "2",
        "--resume-path", str(pretrained / "model0.bin"), "--epoch-resume", "1", *TINY,
    )
    assert (pretrained / "model1.bin").exists()
    assert "starting at epoch 1" in result.stdout


@pytest.mark.parametrize("recipe", ["sentiment_bilstm_long_vectors.cfg", "sentiment_bilstm_vectors.cfg"])
def test_pretraining_composes_with_static_vectors(recipe, data, texts, tmp_path):
    """Each vectors recipe pretrains as a language model with its static vectors
    (``spacy pretrain`` with ``--paths.vectors``), and its weights load back into
    the same recipe for fine-tuning: the table stays frozen, the projection
    and the recurrent weights come from pretraining."""
    from spacy.training.initialize import init_nlp

    words = sorted({w for text in texts for w in spacy.blank("en").make_doc(text).text.split()})[:300]
    rng = numpy.random.default_rng(0)
    vectors_txt = tmp_path / "vectors.txt"
    vectors_txt.write_text(
        f"{len(words)} 8\n" + "".join(f"{w} {' '.join(f'{x:.4f}' for x in rng.standard_normal(8))}\n" for w in words),
        encoding="utf8",
    )
    run("spacy", "init", "vectors", "en", str(vectors_txt), str(tmp_path / "vectors"))
    config_path = REPO / "configs" / recipe
    out = tmp_path / "pretrain_out"
    run(
        "spacy", "pretrain", str(config_path), str(out), "--paths.raw_text", str(data / "raw.jsonl"),
        "--paths.lm_vocab", str(data / "lm_vocab.json"), "--paths.vectors", str(tmp_path / "vectors"),
        # the long recipe's [training.max_steps] counts the training corpus, which spacy pretrain resolves too
        "--paths.train", str(data / "train.spacy"), "--pretraining.max_epochs", "1", "--pretraining.objective.log_every", "2000", *TINY,
    )
    weights = out / "model0.bin"
    config = tiny_config(config_path, data, weights)
    config["initialize"]["vectors"] = str(tmp_path / "vectors")  # the config is interpolated already
    nlp = init_nlp(config)
    assert nlp.vocab.vectors.shape == (len(words), 8)
    assert_holds_weights(nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec"), weights)
