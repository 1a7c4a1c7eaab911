"""How many intra-op threads each of our torch calls gets, chosen from its work.

PyTorch runs a recurrent layer one time step after another, and with more
than one intra-op thread every step is an OpenMP parallel region: the threads
meet at a barrier at every token. That only pays when each step has enough
work to split, i.e. when the length bucket holds enough documents. Measured
on a 2-core machine (one LSTM direction, 64 units, 1 vs 2 threads, forward
and forward+backward, 25 to 900 steps): 2 threads were 0.86-1.06x as fast as
one with up to 4 documents per bucket, 0.98-1.11x with 8 documents at 25
steps but 1.07-1.31x at 100 steps or more, and 1.06-1.7x from 16 documents
on. Elman, GRU, clockwork and depth-gated cells gained nothing below 32
documents and at most 1.13x at 64 (40 steps).

So the encoder gives each bucket one thread or ``k``
(:func:`bucket_threads`): ``k`` threads where the bucket has at least
``MIN_DOCS_PER_THREAD`` documents (at 64 units a direction) for each, never
more than the caller's ``torch.get_num_threads()`` nor than the CPUs this
process may run on (threads beyond the cores wait for each other at every
step's barrier). The attention pooling's matrix products take threads by
their multiply-adds the same way (``MIN_MACS_PER_THREAD``).

The choice is made only inside :func:`thread_scope`, which the Thinc layers
open around their torch module's forward pass and again around its backward
pass (``spacy_rnn.layers._torch_call``); on leaving, it restores the caller's
thread count, also when the call raised, so the rest of the program never
sees a changed count. Outside a scope (the torch module used on its own)
nothing changes. OpenMP's thread count lives per OS thread, so other Python
threads are not affected. Switching costs about 0.15 microseconds.

Forked processes. GNU OpenMP's thread pool does not survive ``fork``: a child
whose parent already ran a parallel region hangs in its first parallel region
of more than one thread (pytorch#17199). ``nlp.pipe(n_process=N)`` forks, so
in a forked child our calls always run on one thread (the workers split the
work between processes anyway). The fork hook changes the child's own torch
thread count (to 1) only if our layers ran with several threads in the
parent, where the child would otherwise hang in any multi-threaded torch op;
importing spacy_rnn alone changes nothing in other programs' children.
"""
import os
import threading
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import torch

# Documents per thread, at 64 hidden units a direction (fewer for wider
# layers), that a recurrent call needs before one more thread helps, for
# buckets of fewer and of at least LONG_BUCKET time steps (see the module
# doc). LSTM (oneDNN's fused kernel) splits well; the other cells hardly.
MIN_DOCS_PER_THREAD = {"lstm": (8, 4)}
DEFAULT_MIN_DOCS_PER_THREAD = (32, 32)
LONG_BUCKET = 64
UNITS = 64
# Multiply-adds a thread needs in a matrix product (the attention pooling's):
# (200 x 128) by (128 x 128) already ran 1.15x faster on 2 threads than on one.
MIN_MACS_PER_THREAD = 2**20


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


@contextmanager
def thread_scope() -> Iterator[int]:
    """Let the encoder choose its threads per recurrent call inside this block.

    Yields the most threads it may use: the caller's current
    ``torch.get_num_threads()``, capped by the CPUs available, or 1 in a
    forked child. Restores the caller's thread count on exit."""
    caller = torch.get_num_threads()
    limit = 1 if _process.forked else max(1, min(caller, _process.cpus))
    outer = _limit()
    _local.limit = limit
    try:
        # The ops between recurrent calls (gathers, concatenations) run on
        # the limit, never on more threads than there are CPUs.
        if limit != caller:
            torch.set_num_threads(limit)
        if limit > 1:
            _process.used_threads = True
        yield limit
    finally:
        _local.limit = outer
        if torch.get_num_threads() != caller:
            torch.set_num_threads(caller)


def choosing_threads() -> bool:
    """Whether an :func:`thread_scope` scope is open in this thread."""
    return _limit() is not None


def threads_for(work: int, per_thread: int, limit: int) -> int:
    """Threads for a call of ``work`` units, at least ``per_thread`` units a
    thread, at most ``limit``."""
    return max(1, min(limit, work // per_thread))


def use_threads_for_work(work: int, per_thread: int, limit: Optional[int] = None) -> None:
    """Inside :func:`thread_scope`, set torch's intra-op threads for a call
    of ``work`` units (at most ``limit``, default the scope's); outside it,
    do nothing."""
    if limit is None:
        limit = _limit()
        if limit is None:
            return
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
    shapes, ``hidden`` units a direction; None outside :func:`thread_scope`.

    Each bucket gets either one thread or the same ``k`` for the whole call,
    the most threads any of its buckets has work for (at most the limit); a
    bucket runs on ``k`` when it has work for at least ``max(2, k // 2)``.
    Only two team sizes per call, because GNU OpenMP ends the surplus threads
    of its pool whenever a team is smaller than the one before (one thread
    excepted) and starts new ones when it grows: alternating 2- and 4-thread
    ops started two threads per switch here."""
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
