"""Shared pieces of the ``python -m spacy_rnn`` command line.

Commands live in modules of this package and register themselves on ``app``
with ``@app.command(...)`` when imported (as spaCy's own CLI does); to add a
command, write a module and import it in ``spacy_rnn/cli/__init__.py``.
"""
import csv
import functools
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any, Callable, List, NoReturn, Optional, Sequence

import click
import typer
from wasabi import Printer, color

from .._spacy_cli import VERBOSE_ENV, verbose  # set to 1 (or give --verbose): tracebacks of unexpected errors
from ..errors import CorpusError

COMMAND = "python -m spacy_rnn"
NAME = "spacy_rnn"
HELP = """spacy-rnn command-line interface: prepare corpora for recurrent text
classifiers, score texts with a trained pipeline and explain its predictions.
"""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is: a command cleans up after it as
    after Ctrl+C (an output's lines kept in OUTPUT.partial), then exits 143."""


class _GuardedTyper(typer.Typer):
    """A Typer app whose commands never show the user a traceback: see
    :func:`guarded`. The functions stay as written (for Python callers)."""

    def command(self, name: Optional[str] = None, **kwargs: Any) -> Callable:
        register = super().command(name, **kwargs)

        def decorator(function: Callable) -> Callable:
            register(guarded(name or function.__name__, function))
            return function

        return decorator


app = _GuardedTyper(name=NAME, help=HELP, add_completion=False, no_args_is_help=True)

# Short names for Typer's annotations, as in spaCy's CLI.
Arg = typer.Argument
Opt = typer.Option


# spaCy's printer supplies the icons and colours of every message. Messages
# go to stderr (`score` writes its results to stdout) and are not re-wrapped,
# so that paths and the lines of a listing stay whole: the printer's own
# output (stdout, wrapped at 80 columns) would break both.
printer = Printer()


def _say(kind: str, text: str, err: bool) -> None:
    """Print ``text`` with the printer's icon for ``kind``; the first line
    coloured where the stream is a terminal, the others as they are. A
    setting named in both spellings keeps only its option (:func:`cli_spelling`)."""
    stream = sys.stderr if err else sys.stdout
    first, newline, rest = cli_spelling(text).partition("\n")
    title = f"{printer.icons[kind]} {first}"
    if printer.show_color and stream.isatty():
        title = color(title, fg=printer.colors[kind])
    print(title + newline + rest, file=stream, flush=True)


def good(text: str, err: bool = False) -> None:
    """Print a success message (on stderr if ``err``)."""
    _say("good", text, err)


def warn(text: str, err: bool = False) -> None:
    """Print a warning (on stderr if ``err``)."""
    _say("warn", text, err)


def guard_output(output: Optional[Path], inputs: Sequence[Any], option: str, folder: bool = False) -> None:
    """Stop before any work when ``output`` would overwrite or delete an input,
    or is not the command's to replace (:func:`spacy_rnn.output_file.check_output`)."""
    from ..errors import OutputError
    from ..output_file import check_output

    if output is None:
        return
    try:
        check_output(output, inputs, option=option, folder=folder)
    except OutputError as e:
        fail(str(e))


# "skip_invalid=True (--skip-invalid)", "text_key (--text-key)": how the
# library names a setting for both audiences; the command line keeps the flag.
_BOTH_SPELLINGS = re.compile(r"\b[a-z]+(?:_[a-z]+)+(?:=[\w.'\"]+)? \((--[a-z][a-z-]*)\)")


def cli_spelling(message: str) -> str:
    """``message`` with every setting named only by its command-line option."""
    return _BOTH_SPELLINGS.sub(r"\1", message)


def fail(message: str, exits: int = 1) -> NoReturn:
    """Print an error on stderr and exit with ``exits``, without a traceback."""
    _say("fail", message, err=True)
    raise typer.Exit(code=exits)


def guarded(name: str, function: Callable) -> Callable:
    """``function`` as the command ``name`` runs it: SIGTERM is raised as
    :class:`Terminated`, and any exception that reaches the top becomes a ✘
    message and exit code 1 (130 after Ctrl+C, 143 after SIGTERM). The
    traceback is shown with --verbose or SPACY_RNN_VERBOSE=1."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        restore = _raise_on_sigterm()
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Terminated:
            fail(f"{name}: stopped by SIGTERM.", exits=143)
        except KeyboardInterrupt:
            fail(f"{name}: interrupted.", exits=130)
        except BrokenPipeError:  # the reader of stdout went away (`| head`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(1)
        except Exception as error:
            if verbose():
                raise
            fail(describe_error(name, error))
        finally:
            restore()

    return run


def describe_error(command: str, error: BaseException) -> str:
    """One message for an error no command anticipated: what failed and what
    to do, without a traceback."""
    from ..errors import MESSAGE_ERRORS

    if isinstance(error, MESSAGE_ERRORS):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return (f"{command}: {error.strerror}{where}. Check the path, its permissions and the free space "
                "of its file system, then run the command again.")
    text = str(error).strip() or "(no message)"
    return (f"{command} failed: {type(error).__name__}: {text}\n"
            f"Run it again with --verbose (or {VERBOSE_ENV}=1) to see the traceback; if the inputs "
            "look right, please report it with that traceback.")


def _raise_on_sigterm() -> Callable[[], None]:
    """Raise :class:`Terminated` on SIGTERM (main thread only); returns the undo."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


# The corpus readers are shared with `convert`, `score` and the readers of
# `spacy train`, and their advice names the settings of all of them, e.g.
# "label_key/labels_key (--label-key/--labels-key)" or "or pass
# skip_invalid=True (--skip-invalid) ...". For a command that reads a
# labelled corpus with only --text-key and --label-key (evaluate, calibrate,
# tune-thresholds), a setting it has under another name is renamed, and a
# clause that needs an option it lacks is left out.
CORPUS_RENAMED = (
    ("label_key/labels_key (--label-key/--labels-key)", "--label-key"),
    ("text_column (--text-column)", "--text-key"),
    ("label_column (--label-column)", "--label-key"),
    ("--text-column", "--text-key"),
    ("--label-column", "--label-key"),
)
# asides that only name a setting such a command lacks, removed from a clause that keeps its sense without them
CORPUS_ASIDES = re.compile(r" \((?:labels_key ?/ ?)?--labels-key\)| \(labels ?/ ?--labels\)")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def advice_for(error: CorpusError, command: str) -> CorpusError:
    """``error`` with advice that names only options ``command`` has.

    The reader's advice is split into its clauses (at the commas outside
    brackets and quotes); a clause that still names an option this command
    lacks after the renaming (``--skip-invalid``, ``--allow-empty-labels``,
    ``--format``, ...) is dropped, unless the option follows another
    command (``python -m spacy_rnn convert ... --shard-size N``).
    """
    advice = error.advice
    for old, new in CORPUS_RENAMED:
        advice = advice.replace(old, new)
    advice = CORPUS_ASIDES.sub("", advice)
    own = _command_options(command)
    end = "." if advice.rstrip().endswith(".") else ""
    # options after "python -m spacy_rnn convert ..." are that command's
    kept = [clause for clause in _clauses(advice.rstrip().rstrip("."))
            if all(option in own for option in _OPTION.findall(clause.split("python -m ")[0]))]
    if kept and kept[0].startswith("or "):
        kept[0] = kept[0][3:4].upper() + kept[0][4:]
    advice = ", ".join(kept) + end if kept else "Fix the record, or remove it from the corpus."
    return CorpusError(error.path, error.line, error.problem, advice, error.field)


def _clauses(text: str) -> List[str]:
    """``text`` split at ", " outside brackets and quotes."""
    clauses, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"" and (i == 0 or not text[i - 1].isalnum()):  # not the ' of "pipeline's"
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0 and text[i + 1:i + 2] == " ":
            clauses.append(text[start:i])
            start = i + 2
    clauses.append(text[start:])
    return [clause for clause in clauses if clause.strip()]


def _command_options(command: str) -> List[str]:
    """The options of ``command`` (and of the whole command line, e.g. --verbose)."""
    import typer.main

    group = typer.main.get_command(app)
    params = [*getattr(group, "params", []), *group.commands[command].params]  # type: ignore[attr-defined]
    return [name for param in params for name in getattr(param, "opts", []) if name.startswith("--")]



def allow_large_csv_fields() -> None:
    """Raise the csv module's field limit (128 KiB by default), for long documents.

    Called by CLI commands, which own their process; the library leaves the
    limit alone.
    """
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


@app.callback()
def _main(
    verbose_option: bool = Opt(False, "--verbose", help=f"Show the traceback behind an unexpected error (or set {VERBOSE_ENV}=1)"),
) -> None:
    if verbose_option:
        os.environ[VERBOSE_ENV] = "1"


def setup_cli() -> None:
    """Run the command line (the entry point of ``python -m spacy_rnn``).
    ``--verbose`` may come anywhere before ``--``: it is moved in front of
    the command."""
    argv = sys.argv[1:]
    end = argv.index("--") if "--" in argv else len(argv)
    if "--verbose" in argv[:end]:
        argv = ["--verbose"] + [a for i, a in enumerate(argv) if not (a == "--verbose" and i < end)]
    command = typer.main.get_command(app)
    command(args=argv, prog_name=COMMAND)
