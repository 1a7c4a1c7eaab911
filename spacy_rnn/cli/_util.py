"""Shared pieces of the ``python -m spacy_rnn`` command line.

Commands live in modules of this package and register themselves on ``app``
with ``@app.command(...)`` when imported (as spaCy's own CLI does); to add a
command, write a module and import it in ``spacy_rnn/cli/__init__.py``.
"""
import csv
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional, Sequence

import typer
from wasabi import Printer, color

COMMAND = "python -m spacy_rnn"
NAME = "spacy_rnn"
HELP = """spacy-rnn command-line interface: prepare corpora for recurrent text
classifiers, score texts with a trained pipeline and explain its predictions.
"""

app = typer.Typer(name=NAME, help=HELP, add_completion=False, no_args_is_help=True)

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
    coloured where the stream is a terminal, the others as they are."""
    stream = sys.stderr if err else sys.stdout
    first, newline, rest = text.partition("\n")
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


def fail(message: str, exits: int = 1) -> NoReturn:
    """Print an error on stderr and exit with ``exits``, without a traceback."""
    _say("fail", message, err=True)
    raise typer.Exit(code=exits)


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


def setup_cli() -> None:
    """Run the command line (the entry point of ``python -m spacy_rnn``)."""
    command = typer.main.get_command(app)
    command(prog_name=COMMAND)
