"""Our errors under spaCy's own commands, as clean messages.

``spacy train``, ``spacy evaluate`` and ``spacy pretrain`` run our readers,
registered functions and components. spaCy prints its own config errors as
a ✘ message, and ours that are config errors too (:class:`ConfigValueError`)
the same way; but an error raised while spaCy reads a corpus or counts its
updates (a missing file, a bad line) would reach the user as a traceback.
When the running program is spaCy's CLI, this module shows such an error, one
of ours that says what is wrong and what to do, as a ✘ message instead.
Everything else, and every error of any other program, keeps Python's
traceback; ``SPACY_RNN_VERBOSE=1`` shows the traceback of ours too.
"""
import os
import sys
from types import TracebackType
from typing import Optional, Type

VERBOSE_ENV = "SPACY_RNN_VERBOSE"


def running_spacy_cli(argv0: Optional[str] = None) -> bool:
    """Whether the program is spaCy's CLI: ``python -m spacy`` or the ``spacy`` script."""
    path = sys.argv[0] if argv0 is None and sys.argv else (argv0 or "")
    name = os.path.basename(path)
    return name in ("spacy", "spacy.exe") or path.endswith(os.path.join("spacy", "__main__.py"))


def verbose() -> bool:
    """Whether to show tracebacks: SPACY_RNN_VERBOSE set to 1 (our commands' --verbose sets it)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes")


def _user_errors() -> tuple:
    from .errors import MESSAGE_ERRORS, ClockworkSettingError, WeightsError

    return MESSAGE_ERRORS + (ClockworkSettingError, WeightsError)


def excepthook(kind: Type[BaseException], error: BaseException, tb: Optional[TracebackType],
               previous=sys.__excepthook__) -> None:
    """Print one of our errors as a ✘ message; hand anything else to ``previous``."""
    if verbose() or not isinstance(error, _user_errors()):
        previous(kind, error, tb)
        return
    from wasabi import msg

    msg.fail(str(error), f"({kind.__name__}; {VERBOSE_ENV}=1 shows the traceback)")


def install() -> None:
    """Use :func:`excepthook` if the program is spaCy's CLI (once)."""
    if not running_spacy_cli() or getattr(sys.excepthook, "_spacy_rnn", False):
        return
    previous = sys.excepthook

    def hook(kind, error, tb):
        excepthook(kind, error, tb, previous)

    hook._spacy_rnn = True  # type: ignore[attr-defined]
    sys.excepthook = hook
