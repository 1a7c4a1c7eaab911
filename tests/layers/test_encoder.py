"""The recurrent encoder: shapes, batch-invariance, odd lengths, gradients,
serialization and configuration errors."""
import itertools

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from spacy.util import registry
from thinc.api import Adam, Model

from spacy_rnn.errors import ConfigValueError
from spacy_rnn.layers.encoder import RNNEncoder
from spacy_rnn.torch import RecurrentEncoder
from spacy_rnn.torch.batching import LengthBuckets
from encoder_helpers import N_IN, assert_input_gradients_match_finite_differences, make_inputs, with_param

CELLS = ["rnn", "lstm", "gru"]


def make_encoder(cell="lstm", width=8, depth=1, bidirectional=True, dropout=0.0, X=None):
    model = RNNEncoder(cell, width, depth, bidirectional, dropout)
    model.initialize(X=X if X is not None else make_inputs([3, 5]))
    return model


@pytest.mark.parametrize(
    "cell,bidirectional,depth", list(itertools.product(CELLS, [True, False], [1, 2, 3]))
)
def test_output_shapes(cell, bidirectional, depth):
    lengths = [4, 0, 1, 9, 2]
    Xs = make_inputs(lengths)
    model = make_encoder(cell, 8, depth, bidirectional, X=Xs)
    assert model.get_dim("nI") == N_IN
    assert model.get_dim("nO") == 8  # not halved for bidirectional (thinc#484)
    Ys, backprop = model.begin_update(Xs)
    assert [y.shape for y in Ys] == [(n, 8) for n in lengths]
    assert all(y.dtype == numpy.float32 for y in Ys)
    dXs = backprop([numpy.ones_like(y) for y in Ys])
    assert [dx.shape for dx in dXs] == [(n, N_IN) for n in lengths]
    assert all(numpy.isfinite(dx).all() for dx in dXs)
    module = model.shims[0]._model
    expected_layers = depth * (2 if bidirectional else 1)
    assert len(module.forward_layers) + len(module.backward_layers) == expected_layers


@pytest.mark.parametrize("cell,bidirectional", list(itertools.product(CELLS, [True, False])))
def test_batch_invariance(cell, bidirectional):
    """A document's output is the same alone as batched with longer documents,
    including across several length buckets (more than 64 documents)."""
    rng = numpy.random.default_rng(1)
    lengths = [5] + list(rng.integers(0, 40, size=150)) + [5]
    Xs = make_inputs(lengths, seed=2)
    model = make_encoder(cell, 10, 2, bidirectional, X=Xs)
    batched = model.predict(Xs)
    for i in [0, 3, 77, len(lengths) - 1]:
        alone = model.predict([Xs[i]])[0]
        assert_allclose(alone, batched[i], rtol=1e-5, atol=1e-6)
    # The two identical-length docs at either end saw different batch-mates
    # in different buckets; identical inputs must give identical outputs.
    same = model.predict([Xs[0], Xs[0]] + Xs[1:40])
    assert_allclose(same[0], same[1], rtol=1e-5, atol=1e-6)


def test_backward_direction_starts_at_last_real_token():
    """Compare with torch.nn.LSTM run on the document alone: the reference
    bidirectional LSTM reads the document without any padding."""
    torch.manual_seed(0)
    enc = RecurrentEncoder("lstm", N_IN, 8, depth=2, bidirectional=True).eval()
    ref = torch.nn.LSTM(N_IN, 4, num_layers=2, bidirectional=True).eval()
    state = {}
    for layer in range(2):
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            state[f"{name}_l{layer}"] = getattr(enc.forward_layers[layer], f"{name}_l0")
            state[f"{name}_l{layer}_reverse"] = getattr(enc.backward_layers[layer], f"{name}_l0")
    ref.load_state_dict(state)
    lengths = [2, 11, 7, 1]
    X = torch.randn(sum(lengths), N_IN)
    with torch.no_grad():
        Y = enc(X, lengths)
        start = 0
        for n in lengths:
            expected = ref(X[start : start + n])[0]
            torch.testing.assert_close(Y[start : start + n], expected, rtol=1e-5, atol=1e-6)
            start += n


def test_changing_padding_neighbours_changes_nothing():
    model = make_encoder("gru", 8, 1, True)
    doc = make_inputs([4], seed=5)[0]
    out1 = model.predict([doc, make_inputs([30], seed=6)[0]])[0]
    out2 = model.predict([doc, make_inputs([30], seed=7)[0] * 100])[0]
    assert_allclose(out1, out2, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_empty_and_one_token_documents(cell):
    model = make_encoder(cell, 8, 2, True)
    assert model.predict([]) == []
    Ys = model.predict([numpy.zeros((0, N_IN), dtype="f")])
    assert Ys[0].shape == (0, 8)
    Ys, backprop = model.begin_update(make_inputs([0, 0]))
    assert [y.shape for y in Ys] == [(0, 8), (0, 8)]
    assert [d.shape for d in backprop(Ys)] == [(0, N_IN), (0, N_IN)]
    Ys = model.predict(make_inputs([1]))
    assert Ys[0].shape == (1, 8) and numpy.isfinite(Ys[0]).all()


@pytest.mark.slow
def test_very_long_document():
    model = make_encoder("lstm", 8, 1, True)
    Xs = make_inputs([50_000, 3], seed=3)
    Ys, backprop = model.begin_update(Xs)
    assert Ys[0].shape == (50_000, 8)
    assert numpy.isfinite(Ys[0]).all()
    dXs = backprop([numpy.ones_like(y) for y in Ys])
    assert dXs[0].shape == (50_000, N_IN) and numpy.isfinite(dXs[0]).all()
    assert_allclose(model.predict([Xs[1]])[0], model.predict(Xs)[1], rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(0, 70), min_size=0, max_size=8))
def test_any_lengths(lengths):
    model = _SHARED_MODEL
    Xs = make_inputs(lengths, seed=len(lengths))
    Ys = model.predict(Xs)
    assert [y.shape for y in Ys] == [(n, 8) for n in lengths]
    for X, Y in zip(Xs, Ys):
        assert_allclose(model.predict([X])[0], Y, rtol=1e-5, atol=1e-6)


_SHARED_MODEL = make_encoder("lstm", 8, 2, True)


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_match_finite_differences(cell):
    """Check the whole Thinc layer (flattening, buckets, reversal, both
    directions, two layers) against central differences in float64."""
    lengths = [3, 1, 0, 4]
    Xs = make_inputs(lengths, n_in=3, seed=4, dtype="float64")
    model = RNNEncoder(cell, 4, 2, True, 0.0)
    model.initialize(X=[x.astype("float32") for x in Xs])
    model.shims[0]._model.double()
    assert_input_gradients_match_finite_differences(model, Xs)


def test_parameter_gradients_match_finite_differences():
    torch.manual_seed(0)
    enc = RecurrentEncoder("gru", 3, 4, depth=2, bidirectional=True).double()
    lengths = [2, 3]
    X = torch.randn(5, 3, dtype=torch.float64)
    for param in enc.parameters():
        assert torch.autograd.gradcheck(lambda p: with_param(enc, param, p, X, lengths), (param.detach().clone().requires_grad_(),))


def test_predict_runs_in_eval_mode_and_training_in_train_mode():
    """The shim switches the module to eval mode only when it is in training
    mode and leaves it there; a training call switches it back. So dropout
    between layers applies in training calls only, however the calls mix."""
    model = make_encoder("lstm", 8, 3, True, dropout=0.5)
    module = model.shims[0]._model
    X = make_inputs([3, 5])
    first = model.predict(X)
    assert not module.training
    assert all(not m.training for m in module.modules())
    for a, b in zip(first, model.predict(X)):
        assert_allclose(a, b)
    trained, _ = model.begin_update(X)
    assert module.training and all(m.training for m in module.modules())
    # dropout 0.5 between three layers: a training pass differs from predict
    assert any(not numpy.allclose(a, b) for a, b in zip(first, trained))
    for a, b in zip(first, model.predict(X)):
        assert_allclose(a, b)
    assert not module.training


def test_trained_by_thinc_optimizer():
    """The torch weights are updated through Thinc's optimizer, so its
    settings (grad_clip, L2, learn rate schedules) apply to them."""
    model = make_encoder("lstm", 8, 1, True)
    seen = []

    adam = Adam(0.01, grad_clip=1.0)

    def spy(key, weights, gradient, *, lr_scale=1.0):
        seen.append(key)
        return adam(key, weights, gradient, lr_scale=lr_scale)

    before = {k: v.clone() for k, v in model.shims[0]._model.state_dict().items()}
    Ys, backprop = model.begin_update(make_inputs([3, 5]))
    backprop([numpy.ones_like(y) for y in Ys])
    model.finish_update(spy)
    names = {name for _, name in seen}
    assert names == set(before)
    after = model.shims[0]._model.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)


def test_optimizer_averages_are_used_for_the_torch_weights():
    """With ``use_averages``, ``model.use_params(optimizer.averages)`` (how
    ``spacy train`` evaluates and saves) swaps in the averaged torch weights,
    not only the Thinc ones, and puts the trained ones back afterwards."""
    model = make_encoder("lstm", 8, 1, True)
    adam = Adam(0.05, use_averages=True)
    Xs = make_inputs([3, 5])
    for _ in range(3):
        Ys, backprop = model.begin_update(Xs)
        backprop([numpy.ones_like(y) for y in Ys])
        model.finish_update(adam)
    module = model.shims[0]._model
    trained = {k: v.clone() for k, v in module.state_dict().items()}
    averaged = {name: adam.averages[(shim_id, name)] for shim_id, name in adam.averages}
    assert set(averaged) == set(trained)
    raw_output = model.predict(Xs)
    with model.use_params(adam.averages):
        for name, tensor in module.state_dict().items():
            assert_allclose(tensor.numpy(), averaged[name])
            assert not torch.equal(tensor, trained[name])
        averaged_output = model.predict(Xs)
    assert not numpy.allclose(averaged_output[1], raw_output[1])
    assert all(torch.equal(trained[k], v) for k, v in module.state_dict().items())
    with model.use_params({}):  # nothing for this shim: the weights stay
        assert all(torch.equal(trained[k], v) for k, v in module.state_dict().items())


def test_grad_clip_bounds_the_update():
    """With SGD and grad_clip, the first step's norm is at most lr * clip."""
    from thinc.api import SGD

    model = make_encoder("rnn", 8, 1, False)
    before = torch.cat([p.detach().clone().flatten() for p in model.shims[0]._model.parameters()])
    Ys, backprop = model.begin_update(make_inputs([30, 30]))
    backprop([numpy.full_like(y, 1e3) for y in Ys])
    model.finish_update(SGD(1.0, grad_clip=0.5, L2=0.0))
    after = torch.cat([p.detach().flatten() for p in model.shims[0]._model.parameters()])
    # thinc clips each parameter's gradient to norm <= grad_clip
    n_params = len(list(model.shims[0]._model.parameters()))
    assert float((after - before).norm()) <= 0.5 * n_params ** 0.5 + 1e-4


@pytest.mark.parametrize("cell,bidirectional", [("lstm", True), ("gru", False), ("rnn", True)])
def test_serialization_roundtrip(cell, bidirectional):
    Xs = make_inputs([3, 8, 0])
    model = make_encoder(cell, 8, 2, bidirectional, X=Xs)
    data = model.to_bytes()
    fresh = RNNEncoder(cell, 8, 2, bidirectional, 0.0)  # nI unknown until loaded
    fresh.from_bytes(data)
    assert fresh.get_dim("nI") == N_IN
    for a, b in zip(model.predict(Xs), fresh.predict(Xs)):
        assert_allclose(a, b)


def test_registered_architecture_and_tok2vec_slot():
    from spacy.ml.models.tok2vec import build_Tok2Vec_model, MultiHashEmbed
    import spacy

    encoder = registry.resolve(
        {"x": {"@architectures": "spacy_rnn.RNNEncoder.v1", "width": 16, "depth": 2, "cell": "gru"}}
    )["x"]
    assert isinstance(encoder, Model) and encoder.get_dim("nO") == 16
    tok2vec = build_Tok2Vec_model(MultiHashEmbed(12, ["NORM"], [100], False), encoder)
    docs = [spacy.blank("en")(t) for t in ["a short one", "", "and a longer one here ."]]
    tok2vec.initialize(X=docs)
    assert encoder.get_dim("nI") == 12
    assert [y.shape for y in tok2vec.predict(docs)] == [(3, 16), (0, 16), (6, 16)]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"cell": "lstmm"}, "'lstmm'"),
        ({"cell": "transformer"}, "'rnn', 'lstm', 'gru'"),
        ({"width": 7}, "must be even"),
        ({"depth": 0}, "depth"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_config_errors_name_the_bad_value(kwargs, message):
    args = {"cell": "lstm", "width": 8, "depth": 1, "bidirectional": True, "dropout": 0.0}
    args.update(kwargs)
    with pytest.raises(ConfigValueError, match=message):
        RNNEncoder(**args)


def test_uninitialized_width_error():
    model = RNNEncoder("lstm", 8, 1, True, 0.0)
    with pytest.raises(ValueError, match="E004"):
        model.initialize()


def test_length_buckets_cover_every_token_once():
    lengths = [0, 3, 1, 0, 7, 2]
    plan = LengthBuckets(lengths, bucket_size=2, min_fill=0.0)
    n = sum(lengths)
    real = numpy.concatenate([f[f < n] for f in plan.forward_index])
    assert sorted(real.tolist()) == list(range(n))
    real = numpy.concatenate([b[b < n] for b in plan.backward_index])
    assert sorted(real.tolist()) == list(range(n))
    assert plan.n_buckets == 2  # four non-empty documents, two per bucket


def test_buckets_close_before_padding_exceeds_min_fill():
    lengths = [100, 95, 72, 69, 10, 9, 8, 0]
    plan = LengthBuckets(lengths, bucket_size=64, min_fill=0.7)
    sizes = [f.shape for f in plan.forward_index]  # (time, docs) per bucket
    assert sizes == [(100, 3), (69, 1), (10, 3)]
    for f in plan.forward_index:
        real = (f < plan.n_tokens).sum(axis=0)
        assert real.min() >= 0.7 * f.shape[0] or f.shape[1] == 1
