"""The per-call thread choice (spacy_rnn.torch.threads): the caller's thread
count is restored after every call, also after an exception; the choice does
not change any result; each bucket's recurrent call runs on the threads
chosen for it, forward and backward; forked children are left alone unless
our encoder ran on several threads in the parent."""
import json
import os
import subprocess
import sys

import numpy
import pytest
import torch
from numpy.testing import assert_allclose

from spacy_rnn.layers.encoder import RNNEncoder
from spacy_rnn.layers.pooling import build_pooling
from spacy_rnn.torch import RecurrentEncoder, threads

# 40 documents of 30 tokens, 20 of 20, 3 of 10: three buckets.
LENGTHS = [30] * 40 + [20] * 20 + [10] * 3


@pytest.fixture
def caller_threads(monkeypatch):
    """Two threads for the caller, CPUs for up to four, restored afterwards;
    threads pay and are not probed (see test_payoff_* for that)."""
    monkeypatch.setattr(threads, "payoff", threads.Payoff())
    monkeypatch.setattr(threads.payoff, "probe_now", lambda: False)
    before, cpus = torch.get_num_threads(), threads._process.cpus
    threads._process.cpus = 4
    torch.set_num_threads(2)
    yield 2
    threads._process.cpus = cpus
    torch.set_num_threads(before)


@pytest.fixture
def two_threads_for_big_buckets(monkeypatch):
    """At 64 units a direction: buckets of 20 or more documents get 2
    threads, the 3-document bucket 1."""
    monkeypatch.setitem(threads.MIN_DOCS_PER_THREAD, "lstm", (8, 8))


def make_layer(width=128, depth=1, cell="lstm"):
    rng = numpy.random.default_rng(0)
    Xs = [rng.standard_normal((n, 6)).astype("f") for n in LENGTHS]
    model = RNNEncoder(cell, width, depth, True, 0.0)
    model.initialize(X=Xs)
    return model, Xs


def test_threads_for():
    assert threads.threads_for(0, 512, 4) == 1
    assert threads.threads_for(1023, 512, 4) == 1
    assert threads.threads_for(1024, 512, 4) == 2
    assert threads.threads_for(10**9, 512, 4) == 4
    assert threads.threads_for(10**9, 512, 1) == 1


def test_scope_restores_the_callers_count_and_caps_at_the_cpus(caller_threads):
    threads._process.cpus = 1
    with threads.thread_scope() as limit:
        assert limit == 1
        assert torch.get_num_threads() == 1
        threads.use_threads_for_work(10**9, 1)
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == caller_threads
    threads._process.cpus = 4
    torch.set_num_threads(3)
    with threads.thread_scope() as limit:
        assert limit == 3
        threads.use_threads_for_work(1, 512)
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 3


def test_scope_restores_after_an_exception(caller_threads):
    with pytest.raises(RuntimeError):
        with threads.thread_scope():
            threads.use_threads_for_work(1, 512)
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == caller_threads
    assert not threads.choosing_threads()


def test_outside_a_scope_nothing_changes(caller_threads):
    threads.use_threads_for_work(1, 512)
    assert torch.get_num_threads() == caller_threads
    enc = RecurrentEncoder("lstm", 6, 8)
    X = torch.randn(sum(LENGTHS), 6, requires_grad=True)
    enc(X, LENGTHS).sum().backward()
    assert torch.get_num_threads() == caller_threads


def test_layer_restores_after_forward_backprop_and_errors(caller_threads, two_threads_for_big_buckets,
                                                          monkeypatch):
    model, Xs = make_layer()
    Ys, backprop = model.begin_update(Xs)
    assert torch.get_num_threads() == caller_threads
    backprop([numpy.ones_like(y) for y in Ys])
    assert torch.get_num_threads() == caller_threads
    model.predict(Xs)
    assert torch.get_num_threads() == caller_threads
    # an error inside the torch module, after a bucket has set its threads ...
    torch.set_num_threads(3)  # the scope caps it at 2 on entry
    threads._process.cpus = 2
    module = model.shims[0]._model

    def fail(*args):
        threads.use_threads_for_work(1, 512)
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "_run_direction", fail)
    with pytest.raises(RuntimeError, match="boom"):
        model.predict(Xs)
    assert torch.get_num_threads() == 3
    monkeypatch.undo()
    # ... and inside torch's backward (gradient of the wrong shape)
    Ys, backprop = model.begin_update(Xs)
    with pytest.raises(RuntimeError):
        backprop([numpy.ones((y.shape[0], 3), dtype="f") for y in Ys])
    assert torch.get_num_threads() == 3
    assert not threads.choosing_threads()


@pytest.fixture
def sequential_directions(monkeypatch):
    """The two directions one after the other, whatever the call's size."""
    monkeypatch.setattr(threads, "MIN_TOKENS_FOR_PARALLEL_DIRECTIONS", 10**9)


def test_each_bucket_runs_on_its_threads_forward_and_backward(caller_threads, two_threads_for_big_buckets,
                                                              sequential_directions):
    torch.manual_seed(0)
    enc = RecurrentEncoder("lstm", 6, 128, depth=2)
    seen = []

    def record(module, args):
        x = args[0]
        n_docs = x.shape[1]
        seen.append(("forward", n_docs, torch.get_num_threads()))
        if x.requires_grad:
            # runs when this call's input gradient is ready: right after the
            # recurrent call's backward
            x.register_hook(lambda grad: seen.append(("backward", n_docs, torch.get_num_threads())))

    for layer in list(enc.forward_layers) + list(enc.backward_layers):
        layer.register_forward_pre_hook(record)
    X = torch.randn(sum(LENGTHS), 6, requires_grad=True)
    with threads.thread_scope():
        Y = enc(X, LENGTHS)
    with threads.thread_scope():
        Y.sum().backward()
    expected = {40: 2, 20: 2, 3: 1}
    assert len(seen) == 2 * 2 * 2 * 3  # passes x layers x directions x buckets
    for _, n_docs, k in seen:
        assert k == expected[n_docs]
    assert torch.get_num_threads() == caller_threads


def test_parallel_directions_run_on_two_os_threads_of_one_thread_each(caller_threads,
                                                                      two_threads_for_big_buckets):
    """Above MIN_TOKENS_FOR_PARALLEL_DIRECTIONS, the forward direction runs on
    the worker thread and the backward direction on the caller's, each on one
    intra-op thread; the backward pass still gets the buckets' threads."""
    import threading

    torch.manual_seed(0)
    enc = RecurrentEncoder("lstm", 6, 128, depth=2)
    seen = []

    def recorder(side):
        def record(module, args):
            x = args[0]
            n_docs = x.shape[1]
            seen.append(("forward", side, n_docs, torch.get_num_threads(), threading.get_ident()))
            if x.requires_grad:
                x.register_hook(lambda grad: seen.append(
                    ("backward", side, n_docs, torch.get_num_threads(), threading.get_ident())))
        return record

    for layer in enc.forward_layers:
        layer.register_forward_pre_hook(recorder("forward"))
    for layer in enc.backward_layers:
        layer.register_forward_pre_hook(recorder("backward"))
    X = torch.randn(sum(LENGTHS), 6, requires_grad=True)
    assert threads.parallel_directions(sum(LENGTHS)) is False  # no scope open
    with threads.thread_scope():
        assert threads.parallel_directions(sum(LENGTHS))
        Y = enc(X, LENGTHS)
    assert torch.get_num_threads() == caller_threads
    forward = [row for row in seen if row[0] == "forward"]
    assert len(forward) == 2 * 2 * 3  # layers x directions x buckets
    assert all(k == 1 for *_, k, _ in forward)
    caller = threading.get_ident()
    assert {ident for _, side, _, _, ident in forward if side == "backward"} == {caller}
    (worker,) = {ident for _, side, _, _, ident in forward if side == "forward"}
    assert worker != caller
    with threads.thread_scope():
        Y.sum().backward()
    expected = {40: 2, 20: 2, 3: 1}
    backward = [row for row in seen if row[0] == "backward"]
    assert len(backward) == 2 * 2 * 3
    for _, _, n_docs, k, _ in backward:
        assert k == expected[n_docs]
    assert torch.get_num_threads() == caller_threads


def test_parallel_directions_give_the_sequential_results(caller_threads, monkeypatch):
    """Outputs and gradients are the same with the directions side by side
    and one after the other, also in inference (no graph on either thread)."""
    model, Xs = make_layer(depth=2)
    results = {}
    for name, min_tokens in (("parallel", 0), ("sequential", 10**9)):
        monkeypatch.setattr(threads, "MIN_TOKENS_FOR_PARALLEL_DIRECTIONS", min_tokens)
        Ys, backprop = model.begin_update(Xs)
        dXs = backprop([numpy.ones_like(y) for y in Ys])
        results[name] = (Ys, dXs, model.predict(Xs))
    (Ys, dXs, Ps), (Ys2, dXs2, Ps2) = results["parallel"], results["sequential"]
    for a, b in zip(Ys + dXs + Ps, Ys2 + dXs2 + Ps2):
        assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru", "dglstm"])
def test_results_do_not_depend_on_the_thread_count(cell, caller_threads, monkeypatch):
    model, Xs = make_layer(depth=2, cell=cell)
    outputs = {}
    for k, docs_per_thread in ((1, (80, 80)), (2, (1, 1))):
        # k = 1: every call on one thread; k = 2: every call on two
        torch.set_num_threads(k)
        monkeypatch.setitem(threads.MIN_DOCS_PER_THREAD, cell, docs_per_thread)
        Ys, backprop = model.begin_update(Xs)
        dXs = backprop([numpy.ones_like(y) for y in Ys])
        outputs[k] = (Ys, dXs)
    for a, b in zip(outputs[1][0] + outputs[1][1], outputs[2][0] + outputs[2][1]):
        assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_attention_pooling_restores_and_matches_numpy(caller_threads):
    rng = numpy.random.default_rng(0)
    Xs = [rng.standard_normal((n, 8)).astype("f") for n in [300, 1, 0, 40]]
    model = build_pooling("attention")
    model.initialize(X=Xs)
    Y, backprop = model.begin_update(Xs)
    dXs = backprop(numpy.ones_like(Y))
    assert torch.get_num_threads() == caller_threads
    # the same layer in float64, where the products take NumPy's path
    for name in model.param_names:
        model.set_param(name, model.get_param(name).astype("float64"))
    Y64, backprop64 = model.begin_update([x.astype("float64") for x in Xs])
    assert_allclose(Y, Y64, rtol=1e-4, atol=1e-5)
    for dx, dx64 in zip(dXs, backprop64(numpy.ones_like(Y64))):
        assert_allclose(dx, dx64, rtol=1e-4, atol=1e-5)


CHILD_SCRIPT = """
import json, os, sys, torch
torch.set_num_threads(2)
import spacy_rnn
from spacy_rnn.torch import threads
threads._process.cpus = 2
if sys.argv[1] == "run-encoder":
    import numpy
    from spacy_rnn.layers.encoder import RNNEncoder
    threads.MIN_DOCS_PER_THREAD["lstm"] = (1, 1)
    model = RNNEncoder("lstm", 8, 1, True, 0.0)
    Xs = [numpy.ones((30, 4), dtype="f")] * 64
    model.initialize(X=Xs)
    model.predict(Xs)
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    result = {"threads": torch.get_num_threads()}
    if sys.argv[1] == "run-encoder":
        model.predict(Xs)  # would hang on two threads (pytorch#17199)
        result["threads_after_our_call"] = torch.get_num_threads()
    os.write(write, json.dumps(result).encode())
    os._exit(0)
os.waitpid(pid, 0)
print(os.read(read, 1000).decode())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("mode,expected", [("import-only", 2), ("run-encoder", 1)])
def test_forked_children(mode, expected):
    """Importing spacy_rnn leaves forked children's thread count alone; once
    our encoder ran on two threads, a child gets one (else it would hang) and
    our calls there work."""
    out = subprocess.run([sys.executable, "-c", CHILD_SCRIPT, mode], capture_output=True, text=True,
                         timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["threads"] == expected
    if mode == "run-encoder":
        assert result["threads_after_our_call"] == 1


def test_bucket_threads_uses_two_team_sizes_per_call():
    shapes = [(30, 64), (30, 32), (30, 8), (200, 8)]
    with threads.thread_scope():
        threads._local.limit = 16  # as on a 16-core machine
        assert threads.bucket_threads("lstm", 64, shapes) == [8, 8, 1, 1]
        threads._local.limit = 2
        assert threads.bucket_threads("lstm", 64, shapes) == [2, 2, 1, 2]
        assert threads.bucket_threads("gru", 64, shapes) == [2, 1, 1, 1]
        threads._local.limit = 1
        assert threads.bucket_threads("lstm", 64, shapes) == [1, 1, 1, 1]
    assert threads.bucket_threads("lstm", 64, shapes) is None


def test_payoff_turns_threads_off_and_retries_later(monkeypatch):
    payoff = threads.Payoff()
    monkeypatch.setattr(threads, "payoff", payoff)
    clock = [100.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock[0])
    shapes = [(30, 64), (30, 32), (30, 3)]
    with threads.thread_scope():
        threads._local.limit = 2
        # the first call with threads to gain is a probe on its first such
        # bucket: forward direction on 1 thread, backward direction on 2
        plan = threads.plan_threads("lstm", 64, shapes, True)
        assert plan.timed == 0 and plan.threaded_side == 1
        assert plan.per_direction == [[1, 2, 1], [2, 2, 1]]
        plan.record([1.0, 3.0])  # threads lost
        assert not payoff.pays
        # until the wait is over: one thread everywhere (no plan), nothing timed
        assert threads.plan_threads("lstm", 64, shapes, True) is None
        threads.use_threads_for_work(10**12, 1)
        assert torch.get_num_threads() == 1
        clock[0] += threads.FIRST_WAIT
        plan = threads.plan_threads("lstm", 64, shapes, True)
        assert plan.per_direction == [[1, 1, 1], [2, 1, 1]] and plan.timed == 0
        plan.record([1.0, 0.95])  # not a clear win: still off, the wait doubled
        assert not payoff.pays
        assert threads.plan_threads("lstm", 64, shapes, True) is None
        clock[0] += 2 * threads.FIRST_WAIT
        plan = threads.plan_threads("lstm", 64, shapes, True)
        plan.record([1.0, 0.6])  # a clear win: a trial, still one thread ...
        assert not payoff.pays
        plan = threads.plan_threads("lstm", 64, shapes, True)
        assert plan.per_direction == [[1, 1, 1], [2, 1, 1]] and plan.timed == 0  # ... probed at once
        plan.record([1.0, 0.6])  # the second win in a row: on, the next call probed
        assert payoff.pays
        plan = threads.plan_threads("lstm", 64, shapes, True)
        assert plan.per_direction == [[1, 2, 1], [2, 2, 1]] and plan.timed == 0
        plan.record([1.0, 0.6])  # confirmed: the next probe two calls on
        plan = threads.plan_threads("lstm", 64, shapes, True)
        assert plan.per_direction == [[2, 2, 1], [2, 2, 1]] and plan.timed is None
        assert threads.plan_threads("lstm", 64, shapes, True).timed == 0
        # of the buckets that want threads, the one with the fewest steps is probed
        assert threads.plan_threads("lstm", 64, [(40, 64), (12, 20), (9, 3)], True).timed == 1
    # unidirectional encoders and calls without threads to gain are not probed
    with threads.thread_scope():
        threads._local.limit = 2
        assert threads.plan_threads("lstm", 64, shapes, False).timed is None
        assert threads.plan_threads("lstm", 64, [(30, 3)], True) is None  # nothing to set


def test_probed_calls_record_and_give_the_same_results(monkeypatch):
    monkeypatch.setattr(threads, "payoff", threads.Payoff())
    monkeypatch.setattr(threads, "PROBE_EVERY", 1)  # every call probes
    before, cpus = torch.get_num_threads(), threads._process.cpus
    threads._process.cpus = 2
    torch.set_num_threads(2)
    try:
        model, Xs = make_layer()
        Ys, backprop = model.begin_update(Xs)
        dXs = backprop([numpy.ones_like(y) for y in Ys])
        assert threads.payoff.probes == 1 and threads.payoff.last_ratio is not None
        torch.set_num_threads(1)
        Ys1, backprop1 = model.begin_update(Xs)
        dXs1 = backprop1([numpy.ones_like(y) for y in Ys1])
        for a, b in zip(Ys + dXs, Ys1 + dXs1):
            assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    finally:
        threads._process.cpus = cpus
        torch.set_num_threads(before)
