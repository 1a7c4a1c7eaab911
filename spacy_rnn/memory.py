"""Give freed native memory back to the operating system while training.

PyTorch's CPU tensors come from the C allocator. Length-bucketed batches of
long documents allocate tensors of ever different sizes, and glibc keeps the
freed blocks in its heap, fragmented, so the process grows with every update
although the live data does not (benchmarks/memory_profile.py: the traced
Python heap stays flat while RSS climbs). ``malloc_trim(0)`` returns the free
pages to the system. The callback does it every ``every`` updates; where the
C library has no ``malloc_trim`` (not glibc), it does nothing.

Trimming every 10 updates still lets the heap grow between two trims: with
the main job's recipe, by up to 1.1 GB in the 10 updates after an
evaluation. The v2 callback can also stop the growth at its source. glibc
serves a large block from its heap once a freed block of that size has
raised its dynamic ``mmap`` threshold (up to 32 MB). With the threshold fixed
(``mallopt``), each larger block is mapped on its own and unmapped when
freed, at the price of fresh, kernel-zeroed pages for every such tensor.
Over 40 updates of that recipe, RSS peaked at 1,366 MB with glibc's dynamic
threshold, 1,221 MB with 16 MB, 904 MB with 4 MB and 856 MB with 1 MB; the
updates took 0.43, 0.41, 0.53 and 0.65 s.

The v3 callback also bounds a cache that is not the allocator's. PyTorch runs
its CPU LSTM and GRU through oneDNN, and oneDNN keeps every primitive it has
built for a shape, with that primitive's buffers, in a cache of 1,024 entries
by default. Batches of long documents rarely repeat a shape, so the cache only
grows: in a 130-update run of the main job's recipe the process peaked at
2.08-2.19 GB RSS with oneDNN's default and at 1.63 GB with 16 entries, without
slower updates. oneDNN reads the capacity from the environment
(``ONEDNN_PRIMITIVE_CACHE_CAPACITY``) when it builds its first primitive, so
the callback sets that variable when it is created: before ``spacy train``
initializes the pipeline. Short sentences repeat shapes and do gain from the
cache (with 16 entries the sentence recipe's ``nlp.pipe`` ran about 15%
slower), so the sentence recipes leave it alone.
"""
import ctypes
import ctypes.util
import os
from typing import Any, Callable, Dict, Optional

from spacy.language import Language
from spacy.util import registry

from .errors import ConfigValueError


# mallopt's parameter number for the mmap threshold (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
# glibc refuses thresholds above HEAP_MAX_SIZE / 2 on 64-bit systems
MAX_MMAP_THRESHOLD = 32 * 2**20


def _libc_function(name: str) -> Optional[Callable[..., int]]:
    path = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(path), name) if path else None
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> Optional[Callable[[int], int]]:
    return _libc_function("malloc_trim")


def _mallopt() -> Optional[Callable[[int, int], int]]:
    return _libc_function("mallopt")


@registry.callbacks("spacy_rnn.trim_memory.v1")
def create_trim_memory(every: int = 10, eval_frequency: int = 0) -> Callable[[Language, Dict[str, Any]], None]:
    """A ``[training] before_update`` callback that calls glibc's
    ``malloc_trim(0)`` before every ``every``-th update, so that training
    memory does not grow with the number of updates; with ``eval_frequency``,
    also before each update that an evaluation follows, so that the
    evaluation's batches start from a trimmed heap.

    [training.before_update]
    @callbacks = "spacy_rnn.trim_memory.v1"
    every = 10
    eval_frequency = ${training.eval_frequency}

    every (int): Updates between trims, 1 or more.
    eval_frequency (int): spaCy evaluates after update N when N is a multiple
        of this ([training] eval_frequency); 0: trim on ``every`` only.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback.
    """
    return _trim_memory(every, eval_frequency, "spacy_rnn.trim_memory.v1")


@registry.callbacks("spacy_rnn.trim_memory.v2")
def create_trim_memory_v2(
    every: int = 10, eval_frequency: int = 0, mmap_threshold: int = 0
) -> Callable[[Language, Dict[str, Any]], None]:
    """``spacy_rnn.trim_memory.v1``, which also trims before the update that
    follows each evaluation (the evaluation's freed docs would otherwise stay
    in the heap until the next trim); and with ``mmap_threshold`` a fixed
    glibc mmap threshold for the whole training process, set when the
    callback is created: blocks of at least this many bytes are mapped on
    their own and returned to the system as soon as they are freed.

    [training.before_update]
    @callbacks = "spacy_rnn.trim_memory.v2"
    every = 10
    eval_frequency = ${training.eval_frequency}
    # 4 MB: the main job's spacy train peaked at 1.54 GB instead of 2.47 GB, but took 9:52 instead of 7:52
    mmap_threshold = 4194304

    every (int): Updates between trims, 1 or more.
    eval_frequency (int): As in v1; 0: trim on ``every`` only.
    mmap_threshold (int): Bytes, at most 32 MB; 0 keeps glibc's dynamic
        threshold (v1's behaviour). Ignored without glibc.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback.
    """
    return _trim_memory_v2(every, eval_frequency, mmap_threshold, "spacy_rnn.trim_memory.v2")


def _trim_memory_v2(
    every: int, eval_frequency: int, mmap_threshold: int, where: str
) -> Callable[[Language, Dict[str, Any]], None]:
    if (isinstance(mmap_threshold, bool) or not isinstance(mmap_threshold, int)
            or not 0 <= mmap_threshold <= MAX_MMAP_THRESHOLD):
        raise ConfigValueError(
            f"{where}: mmap_threshold must be an integer from 0 to {MAX_MMAP_THRESHOLD} (32 MB), "
            f"not {mmap_threshold!r}"
        )
    callback = _trim_memory(every, eval_frequency, where, after_evaluations=True)
    mallopt = _mallopt() if mmap_threshold else None
    if mallopt is not None and mallopt(M_MMAP_THRESHOLD, mmap_threshold) != 1:
        raise ConfigValueError(f"{where}: the C library refused mmap_threshold = {mmap_threshold}")
    return callback


# the variable oneDNN reads; DNNL_PRIMITIVE_CACHE_CAPACITY is its older name
ONEDNN_CACHE_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")


@registry.callbacks("spacy_rnn.trim_memory.v3")
def create_trim_memory_v3(
    every: int = 10, eval_frequency: int = 0, mmap_threshold: int = 0, primitive_cache: int = -1
) -> Callable[[Language, Dict[str, Any]], None]:
    """``spacy_rnn.trim_memory.v2``, which with ``primitive_cache`` also
    bounds oneDNN's cache of built primitives: the kernels that PyTorch's CPU
    LSTM and GRU run, each with its own buffers. oneDNN keeps 1,024 by
    default, and batches of long documents rarely repeat a shape, so the
    cache only grows.

    [training.before_update]
    @callbacks = "spacy_rnn.trim_memory.v3"
    every = 10
    eval_frequency = ${training.eval_frequency}
    mmap_threshold = 0
    primitive_cache = 16

    The capacity goes into the environment variable
    ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` when the callback is created, which
    ``spacy train`` does before it initializes the pipeline. oneDNN reads the
    variable once, when it builds its first primitive in the process, so the
    capacity holds for the whole process, evaluations included, and has no
    effect where a oneDNN primitive ran earlier in the process. A capacity
    already in the environment wins over the config.

    every (int): Updates between trims, 1 or more.
    eval_frequency (int): As in v2.
    mmap_threshold (int): As in v2.
    primitive_cache (int): oneDNN's cache capacity, 0 or more (0: no cache);
        -1 leaves oneDNN's default.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback.
    """
    if isinstance(primitive_cache, bool) or not isinstance(primitive_cache, int) or primitive_cache < -1:
        raise ConfigValueError(
            "spacy_rnn.trim_memory.v3: primitive_cache must be an integer of 0 or more, "
            f"or -1 for oneDNN's default, not {primitive_cache!r}"
        )
    callback = _trim_memory_v2(every, eval_frequency, mmap_threshold, "spacy_rnn.trim_memory.v3")
    bound_primitive_cache(primitive_cache)
    return callback


def bound_primitive_cache(capacity: int) -> bool:
    """Set oneDNN's primitive cache capacity for this process (and the
    processes it starts) through ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``, unless
    that variable or its older name is already set: the environment wins.
    oneDNN reads it when it builds its first primitive, so call this before
    the first LSTM or GRU runs.

    capacity (int): Entries, 0 or more; -1 leaves oneDNN's default (1,024).
    RETURNS (bool): Whether the variable was set.
    """
    if capacity < 0 or any(name in os.environ for name in ONEDNN_CACHE_VARIABLES):
        return False
    os.environ[ONEDNN_CACHE_VARIABLES[0]] = str(capacity)
    return True


def _trim_memory(
    every: int, eval_frequency: int, where: str, after_evaluations: bool = False
) -> Callable[[Language, Dict[str, Any]], None]:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigValueError(f"{where}: every must be an integer of 1 or more, not {every!r}")
    if isinstance(eval_frequency, bool) or not isinstance(eval_frequency, int) or eval_frequency < 0:
        raise ConfigValueError(
            f"{where}: eval_frequency must be an integer of 0 or more, not {eval_frequency!r}"
        )
    trim = _malloc_trim()

    # spaCy evaluates after update N when N % eval_frequency == 0: trim before N, and with
    # after_evaluations before N + 1 too
    around_evaluations = (0, 1) if after_evaluations else (0,)

    def before_update(nlp: Language, info: Dict[str, Any]) -> None:
        step = info["step"]
        if trim is not None and (
            step % every == 0 or (eval_frequency and step % eval_frequency in around_evaluations)
        ):
            trim(0)

    return before_update
