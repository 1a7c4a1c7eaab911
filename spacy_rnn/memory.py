"""Give freed native memory back to the operating system while training.

PyTorch's CPU tensors come from the C allocator. Length-bucketed batches of
long documents allocate tensors of ever different sizes, and glibc keeps the
freed blocks in its heap, fragmented, so the process grows with every update
although the live data does not (benchmarks/memory_profile.py: the traced
Python heap stays flat while RSS climbs). ``malloc_trim(0)`` returns the free
pages to the system. The callback does it every ``every`` updates; where the
C library has no ``malloc_trim`` (not glibc), it does nothing.
"""
import ctypes
import ctypes.util
from typing import Any, Callable, Dict, Optional

from spacy.language import Language
from spacy.util import registry

from .errors import ConfigValueError


def _malloc_trim() -> Optional[Callable[[int], int]]:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


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
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigValueError(f"spacy_rnn.trim_memory.v1: every must be an integer of 1 or more, not {every!r}")
    if isinstance(eval_frequency, bool) or not isinstance(eval_frequency, int) or eval_frequency < 0:
        raise ConfigValueError(
            f"spacy_rnn.trim_memory.v1: eval_frequency must be an integer of 0 or more, not {eval_frequency!r}"
        )
    trim = _malloc_trim()

    def before_update(nlp: Language, info: Dict[str, Any]) -> None:
        step = info["step"]
        if trim is not None and (step % every == 0 or (eval_frequency and step % eval_frequency == 0)):
            trim(0)

    return before_update
