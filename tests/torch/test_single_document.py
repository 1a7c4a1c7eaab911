"""RecurrentEncoder's path for one document (nlp(text)): the bucketed path's outputs and gradients, without its plan."""
import pytest
import torch
from numpy.testing import assert_allclose

from spacy_rnn.torch import RecurrentEncoder, threads

CASES = [
    # cell, depth, bidirectional, separate_directions, dropout
    ("rnn", 1, False, False, 0.0),
    ("rnn", 2, True, False, 0.1),
    ("lstm", 1, True, False, 0.0),
    ("gru", 2, True, False, 0.3),
    ("lstm", 2, True, True, 0.3),
    ("clockwork", 1, True, False, 0.0),
    ("dglstm", 3, True, False, 0.2),
    ("dglstm", 2, False, False, 0.0),
]


def run(encoder, X, lengths, seed=0):
    """Outputs, input gradient and parameter gradients of sum(Y * weights)."""
    encoder.zero_grad()
    X = X.detach().clone().requires_grad_(True)
    torch.manual_seed(seed)
    Y = encoder(X, lengths)
    weights = torch.arange(Y.numel(), dtype=Y.dtype).reshape(Y.shape).sin()
    (Y * weights).sum().backward()
    return [Y.detach(), X.grad] + [p.grad.clone() for p in encoder.parameters()]


@pytest.mark.parametrize("cell,depth,bidirectional,separate,dropout", CASES)
def test_one_document_gives_the_bucketed_results(cell, depth, bidirectional, separate, dropout, monkeypatch):
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, 6, 8, depth=depth, bidirectional=bidirectional, dropout=dropout,
                               separate_directions=separate)
    X = torch.randn(13, 6)
    calls = []
    monkeypatch.setattr(encoder, "_forward_one_document", lambda X: calls.append(1) or
                        RecurrentEncoder._forward_one_document(encoder, X))
    # [13] takes the one-document path; [13, 0] the bucketed one, over the
    # same tensors (the empty document has no rows), so dropout draws the same masks
    for training in (True, False):
        encoder.train(training)
        one = run(encoder, X, [13])
        assert calls, "the one-document path was not taken"
        calls.clear()
        bucketed = run(encoder, X, [13, 0])
        assert not calls
        for a, b in zip(one, bucketed):
            assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_one_document_inside_a_batch_reads_the_same():
    """The document's rows are what the bucketed path gives it beside other documents."""
    torch.manual_seed(0)
    encoder = RecurrentEncoder("lstm", 6, 8, depth=2).eval()
    docs = [torch.randn(n, 6) for n in (4, 13, 7)]
    with torch.no_grad():
        batch = encoder(torch.cat(docs), [4, 13, 7])
        alone = encoder(docs[1], [13])
    assert_allclose(alone.numpy(), batch[4:17].numpy(), rtol=1e-5, atol=1e-6)


def test_a_document_that_wants_threads_keeps_the_bucketed_path(monkeypatch):
    """Inside a thread scope with two threads, a long document runs its
    directions side by side (see test_threads), which the plan organises."""
    monkeypatch.setattr(threads, "MIN_TOKENS_FOR_PARALLEL_DIRECTIONS", 8)
    monkeypatch.setattr(threads._process, "cpus", 2)
    encoder = RecurrentEncoder("lstm", 6, 8).eval()
    taken = []
    monkeypatch.setattr(encoder, "_forward_one_document", lambda X: taken.append(1))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with threads.thread_scope(), torch.no_grad():
            Y = encoder(torch.randn(20, 6), [20])
    finally:
        torch.set_num_threads(before)
    assert not taken and Y.shape == (20, 8)


def test_length_mismatch_still_raises():
    encoder = RecurrentEncoder("lstm", 6, 8)
    with pytest.raises(ValueError, match="lengths sum to 5"):
        encoder(torch.randn(4, 6), [5])


@pytest.mark.parametrize("cell,call", [("lstm", "lstm"), ("gru", "gru"), ("rnn", "rnn_tanh")])
def test_one_document_runs_both_directions_in_one_call(cell, call, monkeypatch):
    """torch's own cells run a bidirectional layer as one call over the
    document, not one call a direction."""
    encoder = RecurrentEncoder(cell, 6, 8, depth=2).eval()
    calls = []
    real = getattr(torch, call)
    monkeypatch.setattr(torch, call, lambda *args: calls.append(args[7]) or real(*args))
    with torch.no_grad():
        encoder(torch.randn(5, 6), [5])
    assert calls == [True, True]  # one bidirectional call a layer


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_both_directions_need_torch_own_modules():
    """Another module in a direction (the int8 copy's, a relu Elman RNN) runs
    one call a direction, with the same results."""
    from spacy_rnn.torch.recurrent import _both_directions

    x = torch.randn(5, 6)
    relu = torch.nn.RNN(6, 4, nonlinearity="relu")
    assert _both_directions(relu, torch.nn.RNN(6, 4, nonlinearity="relu"), x, False) is None
    assert _both_directions(torch.nn.LSTM(6, 4), torch.nn.GRU(6, 4), x, False) is None
    quantized = torch.ao.nn.quantized.dynamic.LSTM(6, 4)
    assert _both_directions(quantized, quantized, x, False) is None
    torch.manual_seed(0)
    encoder = RecurrentEncoder("rnn", 6, 8).eval()
    encoder.forward_layers[0].nonlinearity = encoder.backward_layers[0].nonlinearity = "relu"
    with torch.no_grad():
        one = encoder(x, [5])
        bucketed = encoder(x, [5, 0])
    assert_allclose(one.numpy(), bucketed.numpy(), rtol=1e-5, atol=1e-6)
