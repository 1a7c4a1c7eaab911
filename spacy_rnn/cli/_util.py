"""Shared pieces of the ``python -m spacy_rnn`` command line.

Commands live in modules of this package and register themselves on ``app``
with ``@app.command(...)`` when imported (as spaCy's own CLI does); to add a
command, write a module and import it in ``spacy_rnn/cli/__init__.py``.
"""
import csv
import sys
from typing import NoReturn

import typer

COMMAND = "python -m spacy_rnn"
NAME = "spacy_rnn"
HELP = """spacy-rnn command-line interface: prepare corpora for recurrent text
classifiers, score texts with a trained pipeline and explain its predictions.
"""

app = typer.Typer(name=NAME, help=HELP, add_completion=False, no_args_is_help=True)

# Short names for Typer's annotations, as in spaCy's CLI.
Arg = typer.Argument
Opt = typer.Option


def good(text: str, err: bool = False) -> None:
    """Print a success message (on stderr if ``err``), coloured on a terminal."""
    typer.secho(f"\u2714 {text}", fg=typer.colors.GREEN, err=err)


def warn(text: str, err: bool = False) -> None:
    """Print a warning (on stderr if ``err``). Lines after the first are printed as they are."""
    first, _, rest = text.partition("\n")
    typer.secho(f"\u26a0 {first}", fg=typer.colors.YELLOW, err=err)
    if rest:
        typer.echo(rest, err=err)


def fail(message: str, exits: int = 1) -> NoReturn:
    """Print an error on stderr and exit with ``exits``, without a traceback.

    Messages are not re-wrapped, so paths and quoted values stay intact.
    """
    typer.secho(f"\u2718 {message}", fg=typer.colors.RED, err=True)
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
