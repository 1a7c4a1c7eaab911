"""Scoring in worker processes that send back each document's cats, not the document.

``nlp.pipe(n_process=N)`` has each worker send every document back whole
(``Doc.to_bytes``: its tokens, their attributes, its strings) for the parent
to rebuild with ``Doc.from_bytes``, and it starts its workers afresh for every
call. Scoring reads nothing of a document but ``doc.cats``, and
:func:`~spacy_rnn.inference.score.score_items` calls ``nlp.pipe`` once per
memory-zone chunk. :class:`CatsWorkers` starts the workers once per run; each
scores a batch of texts inside its own ``nlp.memory_zone()`` (so its vocab
does not grow with the input) and sends back one label -> probability dict a
text. The parent only reads, hands out batches in order and writes: at most
``2 * n_process`` batches are out at a time, so memory does not grow with the
input either.

Workers are forked, sharing the loaded pipeline with the parent, and run
every torch op on one thread (our layers do so in any forked child,
:mod:`spacy_rnn.torch.threads`). Where
processes cannot be forked (Windows; macOS, where forking a process that has
loaded system frameworks is unsafe), :func:`can_fork` is false and scoring
keeps ``nlp.pipe(n_process=N)``.

Ctrl-C: a terminal sends SIGINT to the workers too. They ignore it; the
parent, while it hands out and collects batches, only notes it and raises
``KeyboardInterrupt`` between batches. Raised inside the executor's own calls
(which hold its locks), it could leave the executor unable to shut down, and
the run would hang instead of stopping.
"""
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.util import minibatch

from ..errors import ScoreError

Cats = Dict[str, float]

# the pipeline a worker scores with: inherited from the parent through fork
_worker_nlp: Optional[Language] = None


def can_fork() -> bool:
    """Whether :class:`CatsWorkers` can start workers here (Linux)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def worker_count(n_process: int) -> int:
    """Processes for ``n_process`` (-1: one per CPU)."""
    return max(1, os.cpu_count() or 1) if n_process == -1 else n_process


def _start_worker(nlp: Language) -> None:
    import torch

    global _worker_nlp
    _worker_nlp = nlp
    # the parent decides when to stop (see the module's docstring)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # one thread for every torch op, ours or not: the workers are the parallelism
    torch.set_num_threads(1)


def _score_batch(texts: List[str], batch_size: int) -> List[Cats]:
    nlp = _worker_nlp
    assert nlp is not None, "the worker was not started with a pipeline"
    with nlp.memory_zone():
        return [{label: float(p) for label, p in doc.cats.items()}
                for doc in nlp.pipe(texts, batch_size=batch_size)]


class CatsWorkers:
    """``n_process`` forked workers scoring batches of texts with ``nlp``;
    :meth:`close` stops them (``score_items`` calls it in a ``finally``, so
    also when scoring stopped early or raised)."""

    def __init__(self, nlp: Language, n_process: int, batch_size: int) -> None:
        self.n_process = worker_count(n_process)
        self.batch_size = batch_size
        self._executor = ProcessPoolExecutor(
            max_workers=self.n_process, mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker, initargs=(nlp,),
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def pipe(self, pairs: Iterable[Tuple[str, Any]]) -> Iterator[Tuple[Cats, Any]]:
        """(cats, context) for each (text, context) pair, in order, lazily.

        RAISES (ScoreError): A worker process ended (killed, out of memory).
        """
        pending: Deque[Tuple[Future, List[Any]]] = deque()
        with _DeferredInterrupt() as interrupt:
            for batch in minibatch(pairs, self.batch_size):
                interrupt.check()
                pending.append(self._submit(batch))
                if len(pending) >= 2 * self.n_process:
                    yield from self._collect(*pending.popleft())
            while pending:
                yield from self._collect(*pending.popleft())
                interrupt.check()

    def _submit(self, batch: List[Tuple[str, Any]]) -> Tuple[Future, List[Any]]:
        try:
            future = self._executor.submit(_score_batch, [text for text, _ in batch], self.batch_size)
        except BrokenProcessPool as e:
            raise self._broken() from e
        return future, [context for _, context in batch]

    def _collect(self, future: Future, contexts: List[Any]) -> Iterator[Tuple[Cats, Any]]:
        try:
            cats = future.result()
        except BrokenProcessPool as e:
            raise self._broken() from e
        return zip(cats, contexts)

    def _broken(self) -> ScoreError:
        return ScoreError(
            "A worker process of --n-process ended while scoring (killed, or out of memory). "
            "Score with fewer processes (--n-process), a smaller --batch-size, or --n-process 1."
        )


class _DeferredInterrupt:
    """While open, SIGINT is noted instead of raised, and :meth:`check`
    raises ``KeyboardInterrupt`` at a point of the caller's choosing. Only
    where Python's own handler is in place (in the main thread): an ignored
    SIGINT or a handler of the application's stays as it is."""

    def __enter__(self) -> "_DeferredInterrupt":
        self.caught = False
        self.previous = None
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self.previous = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, frame: Any) -> None:
        self.caught = True

    def check(self) -> None:
        if self.caught:
            self.caught = False
            raise KeyboardInterrupt

    def __exit__(self, *exc_info: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
