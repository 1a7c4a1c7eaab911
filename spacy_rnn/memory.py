"""Give freed native memory back to the operating system while training.

PyTorch's CPU tensors come from the C allocator. Length-bucketed batches of
long documents allocate tensors of ever different sizes, and glibc keeps the
freed blocks in its heap, fragmented, so the process grows with every update
although the live data does not. ``spacy_rnn.trim_memory.v1`` is a
``[training] before_update`` callback with three remedies:

- ``malloc_trim(0)`` every ``every`` updates, and around each evaluation,
  returns the heap's free pages to the system;
- ``mmap_threshold`` fixes glibc's mmap threshold, so that blocks of at least
  that size are mapped on their own and unmapped as soon as they are freed
  (at the price of fresh, kernel-zeroed pages for each);
- ``primitive_cache`` bounds oneDNN's cache of built primitives (the kernels
  behind PyTorch's CPU LSTM and GRU, each with its buffers), which batches of
  long documents, rarely repeating a shape, only grow.

Where the C library is not glibc the trims and the threshold do nothing.
Measurements: ``docs/design/memory.md``.
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


# the variable oneDNN reads; DNNL_PRIMITIVE_CACHE_CAPACITY is its older name
ONEDNN_CACHE_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")


@registry.callbacks("spacy_rnn.trim_memory.v1")
def create_trim_memory(
    every: int = 10, eval_frequency: int = 0, mmap_threshold: int = 0, primitive_cache: int = -1
) -> Callable[[Language, Dict[str, Any]], None]:
    """A ``[training] before_update`` callback that keeps training memory
    from growing with the number of updates.

    [training.before_update]
    @callbacks = "spacy_rnn.trim_memory.v1"
    every = 7
    eval_frequency = ${training.eval_frequency}
    mmap_threshold = 16777216
    primitive_cache = 16

    It calls glibc's ``malloc_trim(0)`` before every ``every``-th update and,
    with ``eval_frequency``, before the update that each evaluation follows
    and the one after it, so that evaluation batches start from a trimmed
    heap and their freed docs do not stay in it.

    ``mmap_threshold`` is set with ``mallopt`` when the callback is created,
    for the whole process. ``primitive_cache`` goes into the environment
    variable ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` when the callback is created,
    which ``spacy train`` does before it initializes the pipeline; oneDNN
    reads it once, when it builds its first primitive in the process, so it
    has no effect where a oneDNN primitive ran earlier. A capacity already in
    the environment wins over the config.

    every (int): Updates between trims, 1 or more.
    eval_frequency (int): spaCy evaluates after update N when N is a multiple
        of this ([training] eval_frequency); 0: trim on ``every`` only.
    mmap_threshold (int): Bytes, at most 32 MB; 0 keeps glibc's dynamic
        threshold. Ignored without glibc.
    primitive_cache (int): oneDNN's cache capacity, 0 or more (0: no cache);
        -1 leaves oneDNN's default.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback.
    """
    where = "spacy_rnn.trim_memory.v1"
    if isinstance(primitive_cache, bool) or not isinstance(primitive_cache, int) or primitive_cache < -1:
        raise ConfigValueError(
            f"{where}: primitive_cache must be an integer of 0 or more, "
            f"or -1 for oneDNN's default, not {primitive_cache!r}"
        )
    if (isinstance(mmap_threshold, bool) or not isinstance(mmap_threshold, int)
            or not 0 <= mmap_threshold <= MAX_MMAP_THRESHOLD):
        raise ConfigValueError(
            f"{where}: mmap_threshold must be an integer from 0 to {MAX_MMAP_THRESHOLD} (32 MB), "
            f"not {mmap_threshold!r}"
        )
    callback = _trim_memory(every, eval_frequency, where)
    mallopt = _mallopt() if mmap_threshold else None
    if mallopt is not None and mallopt(M_MMAP_THRESHOLD, mmap_threshold) != 1:
        raise ConfigValueError(f"{where}: the C library refused mmap_threshold = {mmap_threshold}")
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


def _trim_memory(every: int, eval_frequency: int, where: str) -> Callable[[Language, Dict[str, Any]], None]:
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigValueError(f"{where}: every must be an integer of 1 or more, not {every!r}")
    if isinstance(eval_frequency, bool) or not isinstance(eval_frequency, int) or eval_frequency < 0:
        raise ConfigValueError(
            f"{where}: eval_frequency must be an integer of 0 or more, not {eval_frequency!r}"
        )
    trim = _malloc_trim()

    # spaCy evaluates after update N when N % eval_frequency == 0: trim before N and before N + 1
    around_evaluations = (0, 1)

    def before_update(nlp: Language, info: Dict[str, Any]) -> None:
        step = info["step"]
        if trim is not None and (
            step % every == 0 or (eval_frequency and step % eval_frequency in around_evaluations)
        ):
            trim(0)

    return before_update
