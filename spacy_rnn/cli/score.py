"""``python -m spacy_rnn score``: a thin command over :func:`spacy_rnn.inference.files.score_file`
and :func:`spacy_rnn.scaling.score_with_ray`."""
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from tqdm import tqdm

from ..errors import CorpusError
from ..memory import bound_primitive_cache
from ..errors import OutputError, ScoreError
from ..inference.options import ScoreOptions
from ..inference.score import ScoreReport
from ..inference.files import score_file
from ._util import Arg, Opt, Terminated, allow_large_csv_fields, app, fail, good, warn

INPUT_HELP = (
    "Texts to score: .txt (one text a line), .jsonl/.ndjson (an object a line), .csv/.tsv/.tab "
    "(with a header), or - for stdin (one text a line unless --format says otherwise). "
    "With --engine ray: files, directories or globs (local or s3://...), .jsonl, .csv, .tsv or .parquet"
)
OUTPUT_HELP = (
    "Where to write: the same as --output. With --engine ray (required): a directory, written as "
    "one file per block, in the format its suffix names (scored.parquet, scored.jsonl, ...) or the input's"
)
ENGINES = ("local", "ray")


@app.command("score", no_args_is_help=True)
def score_cli(
    # fmt: off
    model: str = Arg(..., metavar="MODEL", help="Pipeline with a text classifier: a path or an installed package name"),
    input_path: str = Arg(..., help=INPUT_HELP, metavar="INPUT"),
    output_arg: Optional[str] = Arg(None, help=OUTPUT_HELP, metavar="[OUTPUT]", show_default=False),
    output_option: Optional[Path] = Opt(None, "--output", "-o", help="JSONL file to write (through a temporary file: a failed run leaves it as it was, and keeps its lines in OUTPUT.partial). Default, or -: stdout", dir_okay=False),
    input_format: Optional[str] = Opt(None, "--format", "-f", help="txt, jsonl, csv, tsv (fields never quoted) or tsv-quoted (fields quoted as in CSV); with --engine ray: jsonl, csv, tsv or parquet. Default: from the suffix; txt for stdin"),
    engine: str = Opt("local", "--engine", "-e", help="local: this process (and --n-process workers); ray: a Ray cluster (pip install 'spacy-rnn[ray]'), see docs/usage/scoring-and-ray.md"),
    address: Optional[str] = Opt(None, "--address", help="With --engine ray: the cluster to use (ray://HOST:10001, HOST:6379 or auto). Default: $RAY_ADDRESS, else start a local one"),
    actors: Optional[int] = Opt(None, "--actors", min=1, help="With --engine ray: scoring actors, each loads the pipeline once. Default: the cluster's CPUs / --cpus-per-actor"),
    cpus_per_actor: float = Opt(1.0, "--cpus-per-actor", help="With --engine ray: CPUs (and torch threads) per actor"),
    output_format: Optional[str] = Opt(None, "--output-format", help="With --engine ray: jsonl, csv, tsv or parquet. Default: from OUTPUT's suffix, else the input's"),
    id_field: str = Opt("id", "--id-field", help="With --engine ray: the row id's field, kept if the input has it, else added (file k's rows: k * 1e9 + row number)"),
    text_key: str = Opt("text", "--text-key", "--text-column", help="The field holding the text: a JSONL key, or a CSV/TSV/Parquet column"),
    cats_field: str = Opt("cats", "--cats-field", help="Output field for the label probabilities"),
    label_field: str = Opt("label", "--label-field", help="Output field for the most probable label"),
    skip_invalid: bool = Opt(False, "--skip-invalid", help="Give each invalid record an output line with an error field, list them, and score the rest, instead of stopping at the first"),
    error_field: str = Opt("error", "--error-field", help="With --skip-invalid: the output field that holds an invalid record's line and problem"),
    max_length: Optional[int] = Opt(None, "--max-length", min=0, help="Texts longer than this many characters are invalid records; 0: no limit. Default: no limit, or the pipeline's nlp.max_length if it has a parser or NER"),
    batch_size: int = Opt(256, "--batch-size", "-b", min=1, help="Texts per batch"),
    n_process: int = Opt(1, "--n-process", "-n", help="Worker processes (-1: one per CPU)"),
    clean_html: bool = Opt(True, "--clean-html/--no-clean-html", help="Replace HTML line breaks (<br />) by spaces before scoring, as `convert` does; the output keeps the original text"),
    primitive_cache: int = Opt(16, "--primitive-cache", min=-1, help="Entries in oneDNN's cache of built LSTM/GRU kernels (-1: its default, 1,024). Documents of many lengths rarely reuse one, so a small cache bounds memory (docs/design/memory.md). With --engine local (this process and its --n-process workers). A capacity in the environment (ONEDNN_PRIMITIVE_CACHE_CAPACITY) wins"),
    # fmt: on
) -> None:
    """Score texts with a text classifier, writing JSON Lines.

    Each output line is an input record plus "cats" (label -> probability)
    and "label" (the top label): one line per input record, in input order;
    an empty text is scored too. The input is streamed, so memory stays flat
    for inputs of any size. An invalid record stops the run after the results
    before it are written, or, with --skip-invalid, gets a line with an
    "error" field in its place.

    With --engine ray, a pool of Ray actors scores the rows (every row once,
    with an "id"), and OUTPUT gets the input's columns plus a column per
    label ("cats.positive"), "label" and "error" (null, or why the row could
    not be scored: invalid rows never stop the job).
    """
    allow_large_csv_fields()
    if engine not in ENGINES:
        fail(f"Unknown engine {engine!r} (--engine): choose one of {', '.join(ENGINES)}.")
    if output_arg is not None and output_option is not None:
        fail(f"Give the output once: as OUTPUT ({output_arg}) or as --output ({output_option}), not both.")
    output_path = Path(output_arg) if output_arg is not None else output_option
    if output_path is not None and str(output_path) == "-":  # "-": stdout, as for the input
        output_path = None
    options = ScoreOptions(
        text_key=text_key, cats_field=cats_field, label_field=label_field, error_field=error_field,
        batch_size=batch_size, clean_html=clean_html, skip_invalid=skip_invalid, max_length=max_length,
    )
    if engine == "ray":
        if n_process != 1:
            fail("--n-process applies to --engine local; with --engine ray, set --actors.")
        _score_with_ray(
            model, input_path, output_path, options, input_format=input_format, output_format=output_format,
            address=address, actors=actors, cpus_per_actor=cpus_per_actor, id_field=id_field,
        )
        return
    ray_only = [name for name, value in (("--address", address), ("--actors", actors),
                ("--output-format", output_format)) if value is not None]
    if ray_only:
        fail(f"{', '.join(ray_only)} only apply with --engine ray.")
    bound_primitive_cache(primitive_cache)
    report = ScoreReport()
    try:
        score_file(
            model, input_path, output_path, options, format=input_format, n_process=n_process, report=report,
            progress=_progress,
        )
    except (CorpusError, ScoreError, OutputError) as e:
        _warn_invalid(report, error_field)
        fail(str(e))
    except KeyboardInterrupt as e:
        _warn_invalid(report, error_field)
        where = report.partial if report.partial is not None else "stdout" if output_path is None else None
        kept = f" to {where}" if where is not None and report.n_written else ""
        unchanged = f"; {output_path} was left as it was" if output_path is not None else ""
        how, code = ("Stopped by SIGTERM", 143) if isinstance(e, Terminated) else ("Interrupted", 130)
        fail(f"{how}. Wrote {report.n_written} output line(s){kept}{unchanged}.", exits=code)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(1)
    _warn_invalid(report, error_field)
    if report.skipped and not report.n_records:
        where = output_path if output_path is not None else "stdout"
        fail(f"None of the {len(report.skipped)} record(s) could be scored: {where} holds only their error lines. "
             "Check the input's format and --text-key.")
    if output_path is not None:
        good(f"Scored {report.n_records} texts: {output_path}", err=True)


def _score_with_ray(
    model: str, input_path: str, output_path: Optional[Path], options: ScoreOptions, **engine: Any
) -> None:
    """The Ray engine: spacy_rnn.scaling.score_with_ray, with its errors as messages."""
    from ..scaling import score_with_ray

    if output_path is None:
        fail("--engine ray writes a directory of files: give OUTPUT, e.g. scored.parquet or scored.jsonl.")
    try:
        job = score_with_ray(model, input_path, output_path, options, **engine)
    except (ScoreError, OutputError) as e:
        fail(str(e))
    except Exception as e:  # a Ray task's error wraps ours: show ours, without Ray's traceback
        cause = _corpus_cause(e)
        if cause is None:
            raise
        fail(str(cause))
    columns = ", ".join(f"{options.cats_field}.{label}" for label in job.labels)
    good(f"Scored {len(job.input_paths)} input path(s) with {job.actors} Ray actor(s): {job.output_path} "
         f"({job.output_format}; columns {columns}, {options.label_field}, {options.error_field}, "
         f"{engine['id_field']})", err=True)


def _corpus_cause(error: BaseException) -> Optional[CorpusError]:
    """The CorpusError that a (Ray) exception wraps, if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, CorpusError):
            return error
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return None


def _warn_invalid(report: ScoreReport, error_field: str) -> None:
    if report.skipped:
        warn(f"{report.summary(max_listed=100)}\nEach has an output line with an {error_field!r} field in "
             "its place.", err=True)


def _progress(results: Iterator[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    """Show progress on stderr when it is a terminal, with tqdm (as spaCy's CLI)."""
    if not sys.stderr.isatty():
        return results
    return tqdm(results, unit=" texts", file=sys.stderr, desc="Scoring")
