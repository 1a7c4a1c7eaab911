"""The clockwork and depth-gated LSTM cells: shapes, batch-invariance, odd
lengths, gradients, serialization, agreement with slow references written
from the papers' equations, the clockwork's own properties, configuration
errors, and training through the ``rnn_textcat`` component."""
import itertools

import numpy
import pytest
import spacy
import torch
from numpy.testing import assert_allclose
from spacy.training import Example
from spacy.util import registry

from spacy_rnn.errors import ConfigValueError
from spacy_rnn.layers.encoder import RNNEncoder
from spacy_rnn.torch import ClockworkRNN, RecurrentEncoder
from encoder_helpers import N_IN, assert_input_gradients_match_finite_differences, make_inputs, with_param

# (cell, depth) pairs: the depth-gated LSTM needs two layers or more.
CELL_DEPTHS = [("clockwork", 1), ("clockwork", 2), ("dglstm", 2), ("dglstm", 3)]


def make_cell_encoder(cell, width=8, depth=2, bidirectional=True, X=None, **kwargs):
    model = RNNEncoder(cell, width, depth, bidirectional, 0.0, **kwargs)
    model.initialize(X=X if X is not None else make_inputs([3, 5]))
    return model


@pytest.mark.parametrize(
    "cell,depth,bidirectional",
    [(c, d, b) for (c, d), b in itertools.product(CELL_DEPTHS, [True, False])],
)
def test_output_shapes(cell, depth, bidirectional):
    lengths = [4, 0, 1, 9, 2]
    Xs = make_inputs(lengths)
    model = make_cell_encoder(cell, 8, depth, bidirectional, X=Xs)
    assert model.get_dim("nI") == N_IN and model.get_dim("nO") == 8
    Ys, backprop = model.begin_update(Xs)
    assert [y.shape for y in Ys] == [(n, 8) for n in lengths]
    assert all(y.dtype == numpy.float32 and numpy.isfinite(y).all() for y in Ys)
    dXs = backprop([numpy.ones_like(y) for y in Ys])
    assert [dx.shape for dx in dXs] == [(n, N_IN) for n in lengths]
    assert all(numpy.isfinite(dx).all() for dx in dXs)
    module = model.shims[0]._model
    assert len(module.forward_layers) + len(module.backward_layers) == depth * (1 + bidirectional)


@pytest.mark.parametrize("cell", ["clockwork", "dglstm"])
def test_batch_invariance(cell):
    """A document's output is the same alone as batched with 150 others of
    random lengths, across several length buckets."""
    rng = numpy.random.default_rng(1)
    lengths = [5] + list(rng.integers(0, 40, size=150)) + [5]
    Xs = make_inputs(lengths, seed=2)
    model = make_cell_encoder(cell, 8, 2, True, X=Xs)
    batched = model.predict(Xs)
    for i in [0, 3, 77, len(lengths) - 1]:
        assert_allclose(model.predict([Xs[i]])[0], batched[i], rtol=1e-5, atol=1e-6)


# --- Slow references, straight from the papers, one document at a time ------


def reference_clockwork_direction(layer: ClockworkRNN, x: torch.Tensor) -> torch.Tensor:
    """Koutník et al. 2014, eq. (1)-(2), module by module and step by step:
    module i updates at t when t mod T_i == 0, reading modules j with
    T_j >= T_i, and otherwise keeps its value."""
    periods = layer.periods
    size = layer.hidden // len(periods)
    blocks = [slice(i * size, (i + 1) * size) for i in range(len(periods))]
    h = torch.zeros(layer.hidden, dtype=x.dtype)
    outputs = []
    for t in range(x.shape[0]):
        new = h.clone()
        for i, T_i in enumerate(periods):
            if t % T_i != 0:
                continue
            total = layer.weight_ih[blocks[i]] @ x[t] + layer.bias[blocks[i]]
            for j, T_j in enumerate(periods):
                if T_j >= T_i:
                    total = total + layer.weight_hh[blocks[i], blocks[j]] @ h[blocks[j]]
            new[blocks[i]] = torch.tanh(total)
        h = new
        outputs.append(h)
    return torch.stack(outputs)


def reference_dglstm_direction(layer, x: torch.Tensor, lower_cells=None):
    """Yao et al. 2015: an LSTM whose cell adds d_t * c_t^{L-1}, with
    d_t = sigmoid(b_d + W_xd x_t + w_ld * c_t^{L-1} + w_cd * c_{t-1}^L)."""
    H = layer.hidden
    W_x = {name: layer.weight_ih[k * H : (k + 1) * H] for k, name in enumerate("ifgod"[: 4 + layer.depth_gated])}
    b = {name: layer.bias_ih[k * H : (k + 1) * H] for k, name in enumerate("ifgod"[: 4 + layer.depth_gated])}
    W_h = {name: layer.weight_hh[k * H : (k + 1) * H] for k, name in enumerate("ifgo")}
    for k, name in enumerate("ifgo"):
        b[name] = b[name] + layer.bias_hh[k * H : (k + 1) * H]
    h = torch.zeros(H, dtype=x.dtype)
    c = torch.zeros(H, dtype=x.dtype)
    hs, cs = [], []
    for t in range(x.shape[0]):
        i = torch.sigmoid(W_x["i"] @ x[t] + W_h["i"] @ h + b["i"])
        f = torch.sigmoid(W_x["f"] @ x[t] + W_h["f"] @ h + b["f"])
        g = torch.tanh(W_x["g"] @ x[t] + W_h["g"] @ h + b["g"])
        o = torch.sigmoid(W_x["o"] @ x[t] + W_h["o"] @ h + b["o"])
        c_new = f * c + i * g
        if lower_cells is not None:
            lower = lower_cells[t]
            d = torch.sigmoid(b["d"] + W_x["d"] @ x[t] + layer.weight_ld * lower + layer.weight_cd * c)
            c_new = c_new + d * lower
        c = c_new
        h = o * torch.tanh(c)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


def reference_encoder(enc: RecurrentEncoder, doc: torch.Tensor) -> torch.Tensor:
    """The stacked, bidirectional encoder on one document, without batching:
    the backward direction reads the document reversed, layer L > 1 reads
    both directions of layer L - 1, and dglstm layer L reads the cells of the
    same direction's layer L - 1."""
    x = doc
    lower = [None, None]
    for i in range(enc.depth):
        outputs, cells = [], []
        directions = [(enc.forward_layers[i], False)]
        if enc.bidirectional:
            directions.append((enc.backward_layers[i], True))
        for side, (layer, backward) in enumerate(directions):
            xs = x.flip(0) if backward else x
            if enc.cell == "clockwork":
                h, c = reference_clockwork_direction(layer, xs), None
            else:
                lc = lower[side]
                h, c = reference_dglstm_direction(layer, xs, None if lc is None else (lc.flip(0) if backward else lc))
                c = c.flip(0) if backward else c
            outputs.append(h.flip(0) if backward else h)
            cells.append(c)
        x = torch.cat(outputs, dim=1)
        lower = cells
    return x


@pytest.mark.parametrize(
    "cell,depth,bidirectional,periods",
    [
        ("clockwork", 2, True, None),
        ("clockwork", 1, False, [1, 3]),
        ("clockwork", 2, True, [4, 1, 2]),  # unsorted, and not powers of two
        ("dglstm", 2, True, None),
        ("dglstm", 3, False, None),
    ],
)
def test_matches_reference_from_the_paper(cell, depth, bidirectional, periods):
    torch.manual_seed(0)
    width = 12 if periods is not None and len(periods) == 3 else 8
    enc = RecurrentEncoder(cell, N_IN, width, depth=depth, bidirectional=bidirectional, periods=periods).eval()
    lengths = [1, 13, 0, 6, 9]
    X = torch.randn(sum(lengths), N_IN)
    with torch.no_grad():
        Y = enc(X, lengths)
        start = 0
        for n in lengths:
            if n:
                expected = reference_encoder(enc, X[start : start + n])
                torch.testing.assert_close(Y[start : start + n], expected, rtol=1e-5, atol=1e-5)
            start += n


def test_dglstm_first_layer_is_torch_lstm():
    """Layer 1 has no lower cell: it is exactly torch.nn.LSTM."""
    torch.manual_seed(0)
    enc = RecurrentEncoder("dglstm", N_IN, 8, depth=2, bidirectional=False).eval()
    ref = torch.nn.LSTM(N_IN, 8)
    ref.load_state_dict(
        {f"{name}_l0": getattr(enc.forward_layers[0], name) for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]}
    )
    x = torch.randn(7, 3, N_IN)
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_layers[0](x)[0], ref(x)[0], rtol=1e-5, atol=1e-6)


def test_dglstm_depth_gate_uses_the_lower_cells():
    """Zeroing the lower layer's cell removes the depth-gated term, so the
    output changes; the gate's weights get gradients."""
    torch.manual_seed(0)
    enc = RecurrentEncoder("dglstm", N_IN, 8, depth=2, bidirectional=True)
    layer = enc.forward_layers[1]
    x = torch.randn(5, 2, 8)
    lower = torch.randn(5, 2, 4)
    h, _ = layer(x, lower)
    h0, _ = layer(x, torch.zeros_like(lower))
    assert not torch.allclose(h, h0)
    h.sum().backward()
    assert layer.weight_ld.grad.abs().sum() > 0 and layer.weight_cd.grad.abs().sum() > 0


def test_backward_direction_starts_at_last_token():
    """The last token's backward half only depends on the last token: its
    state is the first step of the backward recurrence."""
    torch.manual_seed(0)
    for cell, depth in [("clockwork", 1), ("dglstm", 2)]:
        enc = RecurrentEncoder(cell, N_IN, 8, depth=depth, bidirectional=True).eval()
        doc = torch.randn(9, N_IN)
        other = doc.clone()
        other[:-1] = torch.randn(8, N_IN)
        with torch.no_grad():
            a = enc(torch.cat([doc, torch.randn(30, N_IN)]), [9, 30])
            b = enc(other, [9])
        if depth == 1:
            torch.testing.assert_close(a[8, 4:], b[8, 4:])
            assert not torch.allclose(a[0, 4:], b[0, 4:])  # the first token's does not
        # and it is exactly the reference, which reads the document reversed
        torch.testing.assert_close(a[:9], reference_encoder(enc, doc), rtol=1e-5, atol=1e-5)


# --- Clockwork properties ---------------------------------------------------


def test_clockwork_modules_hold_their_value_between_ticks():
    torch.manual_seed(0)
    layer = ClockworkRNN(5, 12, periods=[1, 2, 3, 5])
    with torch.no_grad():
        out, _ = layer(torch.randn(17, 4, 5))
    for i, T in enumerate(layer.periods):
        units = slice(3 * i, 3 * (i + 1))
        for t in range(1, 17):
            changed = not torch.equal(out[t, :, units], out[t - 1, :, units])
            assert changed == (t % T == 0), (T, t)


def test_clockwork_fast_modules_never_feed_slow_ones():
    """With the slow modules' input weights at zero, a slow module's value
    depends on the input only through the faster modules' states, which it
    must not read: changing the inputs changes the fast modules only."""
    torch.manual_seed(0)
    layer = ClockworkRNN(5, 8, periods=[1, 2, 4, 8])  # modules of 2 units
    with torch.no_grad():
        layer.weight_ih[4:] = 0.0  # modules with periods 4 and 8
    x = torch.randn(20, 3, 5)
    x2 = x.clone()
    x2[3:11] += torch.randn(8, 3, 5)
    with torch.no_grad():
        a, _ = layer(x)
        b, _ = layer(x2)
        assert not torch.allclose(a[3:, :, :4], b[3:, :, :4])  # fast modules see it
        torch.testing.assert_close(a[:, :, 4:], b[:, :, 4:], rtol=0, atol=0)
        # Sanity: without the block-triangular mask the slow modules would change.
        layer.recurrent_mask.fill_(1.0)
        layer.weight_hh.uniform_(-0.5, 0.5)
        a, _ = layer(x)
        b, _ = layer(x2)
        assert not torch.allclose(a[:, :, 4:], b[:, :, 4:])


def test_clockwork_masked_weights_get_no_gradient():
    torch.manual_seed(0)
    layer = ClockworkRNN(5, 8, periods=[1, 2, 4, 8])
    out, _ = layer(torch.randn(9, 3, 5))
    out.sum().backward()
    outside = 1.0 - layer.recurrent_mask
    assert float((layer.weight_hh.grad * outside).abs().sum()) == 0.0
    assert float((layer.weight_hh.detach() * outside).abs().sum()) == 0.0
    assert float((layer.weight_hh.grad * layer.recurrent_mask).abs().sum()) > 0.0


# --- Odd lengths, gradients, serialization ---------------------------------


@pytest.mark.parametrize("cell,bidirectional", [("clockwork", True), ("dglstm", False)])
def test_empty_one_token_and_long_documents(cell, bidirectional):
    """(The depth-gated LSTM's 5,000 steps take ~5 s a direction here.)"""
    model = make_cell_encoder(cell, 8, 2, bidirectional)
    assert model.predict([]) == []
    assert model.predict([numpy.zeros((0, N_IN), dtype="f")])[0].shape == (0, 8)
    Ys, backprop = model.begin_update(make_inputs([0, 0]))
    assert [d.shape for d in backprop(Ys)] == [(0, N_IN), (0, N_IN)]
    Ys = model.predict(make_inputs([1]))
    assert Ys[0].shape == (1, 8) and numpy.isfinite(Ys[0]).all()
    Xs = make_inputs([5_000, 2], seed=3)
    Ys, backprop = model.begin_update(Xs)
    assert Ys[0].shape == (5_000, 8) and numpy.isfinite(Ys[0]).all()
    dXs = backprop([numpy.ones_like(y) for y in Ys])
    assert dXs[0].shape == (5_000, N_IN) and numpy.isfinite(dXs[0]).all()
    assert_allclose(model.predict([Xs[1]])[0], Ys[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["clockwork", "dglstm"])
def test_gradients_match_finite_differences(cell):
    """The whole Thinc layer (buckets, reversal, both directions, two layers)
    against central differences in float64."""
    lengths = [3, 1, 0, 5]
    Xs = make_inputs(lengths, n_in=3, seed=4, dtype="float64")
    # clockwork: 2 units a direction, so two modules of one unit
    kwargs = {"periods": [1, 2]} if cell == "clockwork" else {}
    model = RNNEncoder(cell, 4, 2, True, 0.0, **kwargs)
    model.initialize(X=[x.astype("float32") for x in Xs])
    model.shims[0]._model.double()
    assert_input_gradients_match_finite_differences(model, Xs)


@pytest.mark.parametrize("cell", ["clockwork", "dglstm"])
def test_parameter_gradients_match_finite_differences(cell):
    torch.manual_seed(0)
    kwargs = {"periods": [1, 2]} if cell == "clockwork" else {}
    enc = RecurrentEncoder(cell, 3, 4, depth=2, bidirectional=True, **kwargs).double()
    lengths = [2, 3]
    X = torch.randn(5, 3, dtype=torch.float64)
    for param in enc.parameters():
        value = param.detach().clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda p: with_param(enc, param, p, X, lengths), (value,))


@pytest.mark.parametrize(
    "cell,depth,kwargs",
    [("clockwork", 2, {}), ("clockwork", 1, {"periods": [1, 3]}), ("dglstm", 2, {})],
)
def test_serialization_roundtrip(cell, depth, kwargs):
    Xs = make_inputs([3, 8, 0])
    model = make_cell_encoder(cell, 8, depth, True, X=Xs, **kwargs)
    fresh = RNNEncoder(cell, 8, depth, True, 0.0, **kwargs)  # nI unknown until loaded
    fresh.from_bytes(model.to_bytes())
    assert fresh.get_dim("nI") == N_IN
    assert fresh.shims[0]._model.hparams() == model.shims[0]._model.hparams()
    for a, b in zip(model.predict(Xs), fresh.predict(Xs)):
        assert_allclose(a, b)


# --- Configuration ----------------------------------------------------------


def test_registered_architecture_takes_modules_and_periods():
    encoder = registry.resolve(
        {"x": {"@architectures": "spacy_rnn.RNNEncoder.v1", "width": 16, "cell": "clockwork", "periods": [1, 4]}}
    )["x"]
    encoder.initialize(X=make_inputs([4]))
    assert encoder.shims[0]._model.hparams()["periods"] == [1, 4]
    assert encoder.shims[0]._model.hparams()["modules"] == 2


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"cell": "dglstm", "depth": 1}, r"depth = 1.*depth = 2 or more"),
        ({"modules": 4, "periods": [1, 2, 4]}, r"periods = \[1, 2, 4\].*one period per module"),
        ({"modules": 2, "periods": [1, 2, 4, 8]}, r"periods = \[1, 2, 4, 8\].*modules = 2"),
        ({"periods": [1, 0]}, r"periods = \[1, 0\].*positive ints"),
        ({"periods": [1, -2]}, r"periods = \[1, -2\].*positive ints"),
        ({"periods": []}, r"periods = \[\]"),
        ({"modules": 0}, r"modules = 0.*positive int"),
        ({"modules": 3}, r"modules = 3.*must divide 8"),
        ({"periods": [1, 2, 4]}, r"periods = \[1, 2, 4\].*modules \(3\) must divide 8"),
        ({"width": 12}, r"modules = 4.*must divide 6"),  # the default of 4 modules
        ({"cell": "lstm", "modules": 2}, r"modules = 2.*clockwork cell only.*'lstm'"),
        ({"cell": "dglstm", "depth": 2, "periods": [1, 2]}, r"periods = \[1, 2\].*clockwork cell only"),
        ({"cell": "gruu"}, r"'gruu'.*'clockwork', 'dglstm'"),
    ],
)
def test_config_errors_name_the_bad_value(kwargs, message):
    args = dict({"cell": "clockwork", "width": 16, "depth": 1, "bidirectional": True, "dropout": 0.0}, **kwargs)
    with pytest.raises(ConfigValueError, match=message):
        RNNEncoder(**args)


def test_torch_module_rejects_bad_settings_too():
    with pytest.raises(ValueError, match="depth"):
        RecurrentEncoder("dglstm", 4, 8, depth=1)
    with pytest.raises(ValueError, match="clockwork"):
        RecurrentEncoder("gru", 4, 8, modules=2)
    with pytest.raises(ValueError, match="periods"):
        RecurrentEncoder("clockwork", 4, 8, periods=[1, 0])


# --- Training ---------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [{"cell": "clockwork", "periods": [1, 2, 4, 8]}, {"cell": "dglstm", "depth": 2}],
    ids=["clockwork", "dglstm"],
)
def test_update_lowers_the_loss(encode):
    nlp = spacy.blank("en")
    encode = dict(encode, width=16)
    nlp.add_pipe(
        "rnn_textcat",
        config={"model": {"tok2vec": {"embed": {"width": 16}, "encode": encode}}},
    )
    texts = [
        ("I loved this film", "positive"),
        ("great acting and a great plot", "positive"),
        ("what a wonderful surprise", "positive"),
        ("boring and far too long", "negative"),
        ("the worst film of the year", "negative"),
        ("awful , dull and stupid", "negative"),
    ]
    labels = ["negative", "positive"]
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {l: float(l == label) for l in labels}})
        for t, label in texts
    ]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01  # ten steps of the default 0.001 barely move
    assert nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec").get_ref("encode").attrs["cell"] == encode["cell"]
    losses = []
    for _ in range(10):
        loss = {}
        nlp.update(examples, sgd=optimizer, losses=loss, drop=0.0)
        losses.append(loss["rnn_textcat"])
    assert losses[-1] < 0.7 * losses[0], losses
