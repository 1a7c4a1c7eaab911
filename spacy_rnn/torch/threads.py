"""Keep PyTorch usable in processes forked from one that already used it.

``nlp.pipe(texts, n_process=2)`` forks worker processes. If the parent ran a
PyTorch op on more than one thread, its OpenMP thread pool does not survive the
fork and the first parallel op in the child waits forever (pytorch#17199; the
spaCy docs suggest ``torch.set_num_threads(1)`` in workers). Workers already
split the work between processes, so one intra-op thread each is also the
fastest setting. We register that once, at import.
"""
import os

import torch

_registered = False


def _one_thread_in_child() -> None:
    torch.set_num_threads(1)


def limit_threads_after_fork() -> None:
    global _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_one_thread_in_child)
        _registered = True
