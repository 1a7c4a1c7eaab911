"""Score a file or stdin and write JSON Lines: the local engine, behind
``python -m spacy_rnn score``.

The input is read line by line and the output written as the docs come out
of ``nlp.pipe``, so memory stays flat however large the input is. The output
has one line per input record, in input order: the record (for plain text,
``{"text": ...}``; for JSONL and CSV, all its fields), plus ``"cats"`` (label
-> probability) and ``"label"`` (the most probable label).

An output file is written under a temporary name and moved into place when
the run ends well, so a failed run never destroys an earlier result; the
lines a failed run wrote are kept in ``OUTPUT.partial``.
"""
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, Optional, Union

from spacy.language import Language

from ..errors import CorpusError, OutputError, ScoreError
from ..output_file import AtomicOutput, check_output, json_line, partial_path
from .classifiers import load_classifier, max_length_for, scoring_max_length
from .options import ScoreOptions
from .reading import open_input, read_scoring_items, score_format, source_name
from .score import ScoreReport, score_items


def score_file(
    model: Union[str, Path, Language],
    input_path: Union[str, Path],
    output_path: Union[str, Path, None] = None,
    options: Optional[ScoreOptions] = None,
    *,
    format: Optional[str] = None,
    n_process: int = 1,
    report: Optional[ScoreReport] = None,
    progress: Optional[Callable[[Iterator[Dict[str, Any]]], Iterator[Dict[str, Any]]]] = None,
    **settings: Any,
) -> int:
    """Score a file (or stdin, for "-") and write JSONL to ``output_path`` or stdout.

    model (Union[str, Path, Language]): A pipeline, or its path or package name.
    input_path (Union[str, Path]): The input file, or "-" for stdin.
    output_path (Union[str, Path, None]): The JSONL file to write; None for stdout.
        It is written under a temporary name and moved into place at the end;
        a failed run leaves it as it was and keeps its lines in
        ``output_path`` + ".partial".
    options (Optional[ScoreOptions]): The text field, output fields, batch
        size, ``clean_html``, ``skip_invalid`` and ``max_length``; ``settings``
        replace single ones (``text_key="review"``).
    format (Optional[str]): txt, jsonl, csv or tsv; by default from the suffix
        (txt for stdin).
    n_process (int): Processes for ``nlp.pipe`` (-1: one per CPU).
    report (Optional[ScoreReport]): Filled in while scoring.
    progress (Optional[Callable]): Wraps the stream of results, e.g. to show
        a progress bar; it must yield every result it is given, in order.
    RETURNS (int): The number of lines written.
    RAISES (CorpusError): Unreadable input, or an invalid record without
        ``skip_invalid``; the message names the line, and says how many lines
        were written before it and where.
    RAISES (ScoreError): Bad options, or a pipeline that cannot be loaded or
        has no text classifier.
    RAISES (OutputError): ``output_path`` is an input, inside the pipeline's
        folder, or not a regular file (a device: write to stdout with None).
    """
    options = ScoreOptions.of(options, **settings)
    options.check()
    if n_process == 0 or n_process < -1:
        raise ScoreError(f"n_process (--n-process) must be 1 or more, or -1 for one process per CPU, not {n_process}.")
    fmt = score_format(input_path, format)
    if output_path is not None:
        output_path = Path(output_path)
    source = open_input(input_path)
    if output_path is not None:
        model_path = None if isinstance(model, Language) or not Path(model).exists() else model
        check_output(output_path, [source if isinstance(source, Path) else None, model_path], option="--output")
    nlp = model if isinstance(model, Language) else load_classifier(model)
    if report is None:
        report = ScoreReport()
    report.path = source_name(source)
    items = read_scoring_items(source, fmt, text_key=options.text_key, clean_html=options.clean_html)
    with max_length_for(nlp, scoring_max_length(nlp, options.max_length)):
        results = score_items(nlp, items, options, n_process=n_process, source=report.path, report=report)
        _write_results(progress(results) if progress else results, output_path, report)
    return report.n_written


def _write_results(results: Iterator[Dict[str, Any]], output_path: Optional[Path], report: ScoreReport) -> None:
    """Write the results as JSONL to stdout or through a temporary file; count them in ``report``."""
    if output_path is None:
        out = getattr(sys.stdout, "buffer", None) or _TextAsBytes(sys.stdout)
        try:
            for result in results:
                out.write(json_line(result))
                report.n_written += 1
            out.flush()
        except CorpusError as e:
            raise _with_note(e, f"{_wrote(report.n_written)} to stdout") from None
        except OSError as e:  # stdout on a full disk; a closed pipe is the caller's to handle
            if isinstance(e, BrokenPipeError):
                raise
            raise OutputError(f"Cannot write to stdout: {e.strerror or e}. Stopped after {report.n_written} "
                              "output line(s), the last of them possibly cut. Write to a file with --output instead, or free "
                              "some space.") from None
        return
    existed = output_path.exists()
    output = AtomicOutput(output_path)
    stream = output.open()
    try:
        for result in results:
            stream.write(json_line(result))
            report.n_written += 1
    except BaseException as e:
        report.partial = output.abandon(keep=report.n_written > 0)
        report.n_written = output.kept_lines  # whole lines only: the last one may have been cut
        if isinstance(e, OSError):  # disk full, file size limit
            raise OutputError(output.failure(e, report.partial)) from None
        if not isinstance(e, CorpusError):
            raise
        unchanged = f"{output_path} was left as it was" if existed else f"{output_path} was not created"
        where = f" to {report.partial}" if report.partial is not None else ""
        raise _with_note(e, f"{_wrote(report.n_written)}{where}; {unchanged}") from None
    try:
        output.commit()
    except OutputError:
        report.partial, report.n_written = (partial_path(output_path) if output.kept_lines else None), output.kept_lines
        raise


def _wrote(n_written: int) -> str:
    return f"Wrote the {n_written} output line(s) before it" if n_written else "Wrote nothing"


def _with_note(error: CorpusError, note: str) -> CorpusError:
    """The error with ``note`` (a sentence without its final period) after its advice."""
    advice = f"{error.advice.rstrip('.')}. {note}" if error.advice else note
    return CorpusError(error.path, error.line, error.problem, advice, error.field)


class _TextAsBytes:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()
