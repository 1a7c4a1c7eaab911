"""How many intra-op threads each of our torch calls gets, chosen from its work.

Inside :func:`thread_scope`:

- every torch op runs on one thread unless its work asks for more;
- each bucket's recurrent call runs on one thread or on ``k``
  (:func:`bucket_threads`), where it has ``MIN_DOCS_PER_THREAD`` documents
  (at 64 units a direction) for each thread; ``k`` is never more than the
  caller's ``torch.get_num_threads()`` nor than the CPUs this process may
  run on;
- the attention pooling's matrix products take threads by their
  multiply-adds (``MIN_MACS_PER_THREAD``);
- and all of that only while threads are measured to pay (:class:`Payoff`);
- a bidirectional call of at least ``MIN_TOKENS_FOR_PARALLEL_DIRECTIONS``
  tokens runs its two directions at once, the forward one on a worker
  thread, each on one intra-op thread (:func:`parallel_directions`); the
  buckets' threads then apply to the backward pass only.

The Thinc layers open the scope around their torch module's forward pass and
again around its backward pass (``spacy_rnn.layers.torch_bridge``); on
leaving, it restores the caller's thread count, also when the call raised,
so the rest of the program never sees a changed count. Outside a scope (the
torch module used on its own) nothing changes. OpenMP's thread count lives
per OS thread, so other Python threads are not affected.

Forked processes: in a forked child (``nlp.pipe(n_process=N)`` forks) our
calls always run on one thread. The fork hook changes the child's own torch
thread count (to 1) only if our layers ran with several threads in the
parent, where the child would otherwise hang in any multi-threaded torch op
(pytorch#17199); importing spacy_rnn alone changes nothing in other
programs' children.

The measurements behind these rules are in ``docs/design/threads.md``.
"""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import torch

# Documents per thread, at 64 hidden units a direction (fewer for wider
# layers), that a recurrent call needs before one more thread helps, for
# buckets of fewer and of at least LONG_BUCKET time steps. LSTM (oneDNN's
# fused kernel) splits well; the other cells hardly (docs/design/threads.md).
MIN_DOCS_PER_THREAD = {"lstm": (8, 4)}
DEFAULT_MIN_DOCS_PER_THREAD = (32, 32)
LONG_BUCKET = 64
UNITS = 64
# Multiply-adds a thread needs in a matrix product (the attention pooling's):
# 1,024 rows of (n x 128) by (128 x 128) (docs/design/threads.md).
MIN_MACS_PER_THREAD = 2**23
# Tokens a bidirectional call needs before its two directions run side by
# side, each on one thread (docs/design/threads.md).
MIN_TOKENS_FOR_PARALLEL_DIRECTIONS = 256


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _ProcessState:
    def __init__(self) -> None:
        self.cpus = available_cpus()
        # set in a forked child: our calls then run on one thread
        self.forked = False
        # set once our encoder ran with a limit of several threads
        self.used_threads = False
        self.hook_registered = False


_process = _ProcessState()
# The thread limit of the innermost open scope, per Python thread (None: no
# scope open, so the encoder leaves torch's thread count alone).
_local = threading.local()


def _limit() -> Optional[int]:
    return getattr(_local, "limit", None)


class thread_scope:
    """Let the encoder choose its threads per recurrent call inside this block.

    ``with thread_scope() as limit:`` gives the most threads it may use: the
    caller's current ``torch.get_num_threads()``, capped by the CPUs
    available, or 1 in a forked child. Restores the caller's thread count on
    exit, also after an exception. Scopes nest. (A class rather than a
    ``contextlib.contextmanager`` generator: the scope opens several times an
    ``nlp(text)`` call, and the generator cost more each time, measured in
    ``docs/design/threads.md``.)"""

    __slots__ = ("caller", "outer")

    def __enter__(self) -> int:
        self.caller = caller = torch.get_num_threads()
        limit = 1 if _process.forked else max(1, min(caller, _process.cpus))
        self.outer = _limit()
        _local.limit = limit
        # Every op runs on one thread unless its work asks for more (the
        # recurrent calls, large matrix products): gathers and concatenations
        # gain little from a second thread, and each parallel region waits
        # for every thread of the team, which on a busy machine may not be
        # running.
        if caller != 1:
            torch.set_num_threads(1)
        if limit > 1:
            _process.used_threads = True
        return limit

    def __exit__(self, *exc_info) -> None:
        _local.limit = self.outer
        if torch.get_num_threads() != self.caller:
            torch.set_num_threads(self.caller)


def choosing_threads() -> bool:
    """Whether an :func:`thread_scope` scope is open in this thread."""
    return _limit() is not None


def threads_for(work: int, per_thread: int, limit: int) -> int:
    """Threads for a call of ``work`` units, at least ``per_thread`` units a
    thread, at most ``limit``."""
    return max(1, min(limit, work // per_thread))


def use_threads_for_work(work: int, per_thread: int, limit: Optional[int] = None) -> None:
    """Inside :func:`thread_scope`, set torch's intra-op threads for a call
    of ``work`` units (at most ``limit``, default the scope's; one while
    threads do not pay, see :class:`Payoff`); outside it, do nothing."""
    if limit is None:
        limit = _limit()
        if limit is None:
            return
    if not payoff.pays:
        limit = 1
    k = threads_for(work, per_thread, limit)
    if k != torch.get_num_threads():
        torch.set_num_threads(k)


def set_threads(k: int) -> None:
    """Inside :func:`thread_scope`, run the next torch ops on ``k`` threads
    (at most the scope's limit); outside it, do nothing."""
    limit = _limit()
    if limit is None:
        return
    k = max(1, min(k, limit))
    if k != torch.get_num_threads():
        torch.set_num_threads(k)


def bucket_threads(cell: str, hidden: int, shapes: Sequence[Tuple[int, int]]) -> Optional[List[int]]:
    """Threads for the recurrent calls over buckets of ``(steps, n_docs)``
    shapes, ``hidden`` units a direction, from their work alone; None
    outside :func:`thread_scope`.

    Each bucket gets either one thread or the same ``k`` for the whole call,
    the most threads any of its buckets has work for (at most the limit); a
    bucket runs on ``k`` when it has work for at least ``max(2, k // 2)``.
    Only two team sizes per call: GNU OpenMP restarts pool threads whenever
    the team size changes (``docs/design/threads.md``)."""
    limit = _limit()
    if limit is None:
        return None
    short, long = MIN_DOCS_PER_THREAD.get(cell, DEFAULT_MIN_DOCS_PER_THREAD)
    wanted = [
        threads_for(n_docs * hidden, (long if steps >= LONG_BUCKET else short) * UNITS, limit)
        for steps, n_docs in shapes
    ]
    k = max(wanted, default=1)
    return [k if w >= max(2, k // 2) else 1 for w in wanted]


# Probing whether threads pay (see Payoff). A probe's threaded call must be
# at most WIN times the single-threaded one to count as a win. While threads
# pay, the gap between probed calls doubles with every win, up to
# PROBE_EVERY calls; once they lose, they are tried again after FIRST_WAIT
# seconds, the wait doubling up to MAX_WAIT while they keep losing, and must
# then win twice in a row.
WIN = 0.9
PROBE_EVERY = 16
MIN_PROBE_STEPS = 8
FIRST_WAIT = 1.0
MAX_WAIT = 16.0


class Payoff:
    """Whether the threads the work asks for make the recurrent calls faster
    right now, measured on the calls themselves (on a busy machine a parallel
    region waits for threads that are not running, and one thread is faster:
    see ``docs/design/threads.md``).

    In a probed call, of the buckets that want threads the one with the
    fewest steps (at least ``MIN_PROBE_STEPS`` where possible) runs its
    forward direction on one thread and then its backward direction (the
    same shape and cost) on the threads; each direction runs it before its
    other buckets, so no other parallel region of the call has left a thread
    spinning when the single-threaded run starts.

    Losing once turns threads off. They come back only after two clear wins
    (``WIN``) in a row, on probes of calls that otherwise stay on one
    thread, and the next call after that is probed again. A wrong "off"
    costs at most the threads' gain until the next probe; a wrong "on" under
    load costs far more, hence the asymmetry."""

    def __init__(self) -> None:
        self.pays = True
        self.trial = False
        self.calls = 0
        self.next_probe_call = 1
        self.wins = 0
        self.wait = FIRST_WAIT
        self.next_try = 0.0
        self.probes = 0
        self.last_ratio: Optional[float] = None

    def probe_now(self) -> bool:
        if self.pays:
            self.calls += 1
            return self.calls >= self.next_probe_call
        return self.trial or time.monotonic() >= self.next_try

    def record(self, threaded_s: float, single_s: float) -> None:
        self.probes += 1
        ratio = threaded_s / max(single_s, 1e-9)
        self.last_ratio = ratio
        if self.pays and ratio <= 1.0:
            self.wins += ratio <= WIN
            self.next_probe_call = self.calls + min(2**self.wins, PROBE_EVERY)
        elif not self.pays and ratio <= WIN and self.trial:
            self.pays, self.trial, self.wins, self.wait = True, False, 0, FIRST_WAIT
            self.next_probe_call = self.calls + 1
        elif not self.pays and ratio <= WIN:
            self.trial = True
        else:
            self.pays, self.trial, self.wins = False, False, 0
            self.next_try = time.monotonic() + self.wait
            self.wait = min(2 * self.wait, MAX_WAIT)


payoff = Payoff()


class ThreadPlan:
    """The threads of one encoder call: ``per_direction[side][bucket]``, and
    the bucket of the first layer whose two directions are compared
    (``timed``, or None)."""

    def __init__(self, per_direction: List[List[int]], timed: Optional[int], threaded_side: int):
        self.per_direction = per_direction
        self.timed = timed
        self.threaded_side = threaded_side

    def record(self, seconds: Sequence[Optional[float]]) -> None:
        if self.timed is None or len(seconds) < 2 or None in seconds:
            return
        payoff.record(seconds[self.threaded_side], seconds[1 - self.threaded_side])


def plan_threads(
    cell: str, hidden: int, shapes: Sequence[Tuple[int, int]], bidirectional: bool
) -> Optional[ThreadPlan]:
    """The :class:`ThreadPlan` of an encoder call over buckets of ``(steps,
    n_docs)`` shapes: :func:`bucket_threads`, kept while threads pay
    (:class:`Payoff`, bidirectional encoders only), else one thread
    everywhere; None outside :func:`thread_scope` and where every bucket
    runs on one thread anyway (the scope's default)."""
    wanted = bucket_threads(cell, hidden, shapes)
    if wanted is None:
        return None
    n_sides = 2 if bidirectional else 1
    k = max(wanted, default=1)
    if k == 1:
        # one thread everywhere, as the scope left it: nothing to set, and
        # no per-bucket autograd nodes for the backward pass
        return None
    if not bidirectional:
        return ThreadPlan([wanted] * n_sides, None, 0)
    probe = payoff.probe_now()
    chosen = wanted if payoff.pays else [1] * len(wanted)
    if not probe:
        return ThreadPlan([chosen, chosen], None, 0) if payoff.pays else None
    # compare on the bucket that wants threads with the fewest steps, 8 or
    # more if there is one (shorter calls are mostly fixed costs), then the
    # most documents; each direction runs it first: forward direction on one
    # thread, then backward direction on k (see Payoff)
    timed = min(
        (b for b, w in enumerate(wanted) if w > 1),
        key=lambda b: (shapes[b][0] < MIN_PROBE_STEPS, shapes[b][0], -shapes[b][1]),
    )
    threaded_side = 1
    sides = [list(chosen), list(chosen)]
    sides[threaded_side][timed] = k
    sides[1 - threaded_side][timed] = 1
    return ThreadPlan(sides, timed, threaded_side)


def parallel_directions(n_tokens: int) -> bool:
    """Whether a bidirectional call over ``n_tokens`` tokens runs its two
    directions at once, one Python thread each on one intra-op thread
    (:func:`direction_worker`): inside :func:`thread_scope` with a limit of
    two or more threads, and with at least
    ``MIN_TOKENS_FOR_PARALLEL_DIRECTIONS`` tokens. The two threads meet once
    per layer rather than at every time step, as an intra-op team does, so a
    busy machine costs them a wait per layer, not per token."""
    limit = _limit()
    return limit is not None and limit >= 2 and n_tokens >= MIN_TOKENS_FOR_PARALLEL_DIRECTIONS


class _DirectionWorker:
    def __init__(self) -> None:
        self.pid: Optional[int] = None
        self.executor: Optional[ThreadPoolExecutor] = None
        self.lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        # A forked child inherits the executor but not its thread: make a new one.
        with self.lock:
            if self.executor is None or self.pid != os.getpid():
                self.executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="spacy_rnn-direction", initializer=_one_thread
                )
                self.pid = os.getpid()
            return self.executor


@contextmanager
def scope_of(limit: Optional[int]) -> Iterator[None]:
    """Open, in this (worker) thread, the scope of limit ``limit`` that the
    calling thread has open, without touching this thread's thread count: the
    recurrent calls then mark their backward pass's threads as they would in
    the caller."""
    outer = _limit()
    _local.limit = limit
    try:
        yield
    finally:
        _local.limit = outer


def current_limit() -> Optional[int]:
    """The limit of the scope open in this thread (None: none open)."""
    return _limit()


def _one_thread() -> None:
    # OpenMP's and MKL's thread counts are per OS thread: this sets the
    # worker's own. (torch also records it as the default for threads that
    # have not run a torch op yet; the scope that started the worker restores
    # that default to the caller's count when it closes.)
    torch.set_num_threads(1)


_direction_worker = _DirectionWorker()


def direction_worker() -> ThreadPoolExecutor:
    """The process's one worker thread for :func:`parallel_directions`, on
    one intra-op thread."""
    return _direction_worker.get()


def _after_fork_in_child() -> None:
    _process.forked = True
    _local.limit = None
    if _process.used_threads:
        # The parent's OpenMP pool is gone: any parallel region of more than
        # one thread would wait forever for it (pytorch#17199).
        torch.set_num_threads(1)


def register_fork_hook() -> None:
    """Mark forked children (once per process); see the module doc."""
    if not _process.hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _process.hook_registered = True
