"""Property-based fuzzing of the commands that read user files (issues 16, 34).

Hypothesis writes files of records, each built to be valid or to be invalid
in one known way (any unicode including lone surrogates and NUL, huge and
empty fields, wrong types, broken JSON, broken CSV quoting, stray tabs and
carriage returns in TSV, bytes that are not UTF-8, a last line without its
line break), mixes them, and runs the commands in-process (Typer's
CliRunner) on the file: `convert`, `score`, `evaluate`, `explain`,
`lm-vocab` and `export-tok2vec`. The outputs are put in hostile places as
well: beside the input, onto it, a link to it, inside the pipeline folder,
a folder, below a file, a dangling link, an earlier output or OUTPUT.partial
(tests/fuzz_helpers.py). `export-tok2vec` also reads damaged pipelines
(truncated weights, garbage or missing config.cfg, meta.json, strings, ...).

Every command has three properties:

1. no Python traceback ever reaches the user: exit code 0 or 1 (2 only for
   a usage error that Click reports before the command runs, e.g. a folder
   given to an option that takes a file; never 130 or 143), no exception but
   SystemExit, no "Traceback" in the output, and no unanticipated error (the
   command line's last-resort message "Run it again with --verbose ... to
   see the traceback");
2. rows out plus rows reported as invalid equal rows in: `convert
   --skip-invalid` (docs written + skipped), `score` with and without
   --skip-invalid, to stdout or -o FILE (output lines, error lines exactly
   the invalid rows; without --skip-invalid the lines before the first
   invalid row, in OUTPUT.partial for a file), `evaluate` (docs evaluated ==
   rows in, or a clean error that names an invalid row's line), `lm-vocab`
   (n_docs == the non-blank valid texts, or a clean error that names the
   first invalid line); where there are no rows, the output is what the
   library computes for the same input (`explain`: the printed table and
   the HTML page of the text as read from TEXT, stdin or --file;
   `export-tok2vec`: the tok2vec's bytes);
3. no file outside the command's declared outputs changes: every file and
   link under the test's temporary folder (the pipeline folder and the
   inputs included) is hashed before and after; only the outputs (their
   link targets, OUTPUT.partial and new folders above them) may change or
   appear, a failed run leaves its outputs as they were, a refused output
   (onto an input, inside the pipeline, ...) leaves everything as it was, and
   no hidden `.NAME....tmp` file remains.

For `convert` and `score` on stdout, also: the rows reported are exactly the
invalid ones, by line; a valid row's result does not depend on the invalid
rows around it (it equals the result of a file of the valid rows alone); and
without --skip-invalid a run stops at the first invalid row after writing
the result of every row before it.

Texts longer than --max-length 200 stand in for texts over spaCy's 1,000,000
characters (tests/test_cli_score.py and tests/test_corpus.py run those).

The default settings keep the whole file to about a minute on a loaded
2-core machine (45 s; 10x: about 6 minutes). FUZZ_EXAMPLES_FACTOR multiplies every test's
max_examples (SPACY_RNN_FUZZ=long is the same as FUZZ_EXAMPLES_FACTOR=10):

    FUZZ_EXAMPLES_FACTOR=10 python -m pytest tests/test_fuzz_io.py
"""
import csv
import importlib
import io
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest
import spacy
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin
from typer.testing import CliRunner

from fuzz_helpers import MODEL_KINDS, OUTPUT_KINDS, check_changes, check_unchanged, place_output, snapshot
from spacy_rnn.cli import app
from spacy_rnn.cli.explain import format_explanation
from spacy_rnn.data.checks import clean_html_breaks
from spacy_rnn.inference.explain import explain, explanation_html
from spacy_rnn.output_file import partial_path

convert_module = importlib.import_module("spacy_rnn.cli.convert")
evaluate_module = importlib.import_module("spacy_rnn.cli.evaluate")
explain_module = importlib.import_module("spacy_rnn.cli.explain")
export_module = importlib.import_module("spacy_rnn.cli.export_tok2vec")
scoring_module = importlib.import_module("spacy_rnn.inference.files")


def examples_factor() -> float:
    """FUZZ_EXAMPLES_FACTOR, or 10 for SPACY_RNN_FUZZ=long, else 1."""
    default = "10" if os.environ.get("SPACY_RNN_FUZZ") == "long" else "1"
    return float(os.environ.get("FUZZ_EXAMPLES_FACTOR", default))


EXAMPLES = 100
FACTOR = examples_factor()
BASE_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    """The settings of a test that runs ``examples`` examples at the default factor."""
    return settings(BASE_SETTINGS, max_examples=max(1, round(examples * FACTOR)))


FUZZ = fuzz(EXAMPLES)

MAX_LENGTH = 200
runner = CliRunner()


class Row(NamedTuple):
    """One generated record: its bytes (with the line ending), whether it is
    valid for the command it was made for, and its text where it has one."""

    data: bytes
    valid: bool
    kind: str
    text: Optional[str] = None

    def __repr__(self) -> str:  # keep failure reports short when a field is huge
        shown = self.data if len(self.data) <= 120 else self.data[:100] + b"..." + self.data[-10:]
        return f"Row({shown!r} ({len(self.data)} bytes), valid={self.valid}, kind={self.kind!r})"


# ---------------------------------------------------------------------------
# Strategies

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
# Any character that UTF-8 can encode: every plane, controls, NUL, U+2028, BOM...
CHARS = st.characters(blacklist_categories=("Cs",))
TEXT = st.one_of(
    st.text(CHARS, max_size=40),
    st.sampled_from(["", " ", "\x00", "\u2028", "\ufeff", "a<br />b", "<br />", "😀👍🏽", "\r", "\t\n"]),
)
HUGE_FIELD = st.integers(20_000, 200_000).map(lambda n: "h" * n)
LONG_TEXT = st.integers(MAX_LENGTH + 1, 3 * MAX_LENGTH).map(lambda n: "L" * n)
LABEL = st.sampled_from(["neg", "pos"])
TINY_LABEL = st.sampled_from(["negative", "positive"])  # the tiny pipeline's (tests/conftest.py)
WRONG_TYPES = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
BOM = "\ufeff".encode("utf8")
NOT_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])

# Commands whose records have a label; a kind of invalid row is valid for
# some commands: lm-vocab takes any length and ignores other fields.
LABELLED = ("convert", "evaluate")
ALSO_VALID = {"lm-vocab": {"too_long", "has_cats", "blank"}, "score": {"blank"}}
FORMATS = {
    "convert": ["jsonl", "csv", "tsv"],
    "score": ["jsonl", "csv", "tsv", "txt"],
    "evaluate": ["jsonl", "csv", "tsv"],
    "lm-vocab": ["jsonl", "txt"],
}


def is_valid(command: str, kind: str) -> bool:
    return kind == "valid" or kind in ALSO_VALID.get(command, ())


def json_line(obj, ascii_only: bool) -> bytes:
    return (json.dumps(obj, ensure_ascii=ascii_only) + "\n").encode("utf8")


def nonblank(text: str) -> str:
    return f"{text}w{text[::-1]}"


@st.composite
def jsonl_row(draw, command: str, labels=LABEL) -> Row:
    """A JSONL line for `convert`/`evaluate` ({"text", "label"}) or
    `score`/`lm-vocab` ({"text", "id"})."""
    labelled = command in LABELLED
    ascii_only = draw(st.booleans())
    extra = {"meta": draw(HUGE_FIELD)} if draw(st.integers(0, 9)) == 0 else {}
    text = draw(TEXT)
    good = {"text": nonblank(text) if labelled else text, **extra}
    if labelled:
        good["label"] = draw(labels)
    kinds = [
        "valid", "valid", "valid", "valid", "truncated", "garbage", "not_object", "no_text", "text_type",
        "surrogate", "too_long", "not_utf8", "raw_control", "huge_number", "deep",
    ]
    kinds += ["empty_text", "label_type", "empty_label", "label_surrogate"] if labelled else ["has_cats"]
    kinds += ["unknown_label"] if command == "evaluate" else []
    kind = draw(st.sampled_from(kinds))
    row_text = None
    if kind == "valid":
        data, row_text = json_line(good, ascii_only), good["text"]
    elif kind == "truncated":
        line = json.dumps(good, ensure_ascii=ascii_only)
        data = line[: draw(st.integers(1, len(line) - 1))].encode("utf8") + b"\n"
    elif kind == "garbage":
        data = ("not json " + draw(st.text(CHARS, max_size=20)).replace("\n", " ") + "\n").encode("utf8")
    elif kind == "not_object":
        value = draw(st.one_of(
            st.lists(st.integers(), max_size=2), st.integers(), st.text(CHARS, max_size=5), st.none()))
        data = json_line(value, ascii_only)
    elif kind == "no_text":
        bad = {k: v for k, v in good.items() if k != "text"}
        bad["body"] = text
        data = json_line(bad, ascii_only)
    elif kind == "text_type":
        data = json_line({**good, "text": draw(WRONG_TYPES)}, ascii_only)
    elif kind == "surrogate":
        at = draw(st.integers(0, len(good["text"])))
        bad_text = good["text"][:at] + draw(SURROGATES) + good["text"][at:]
        data = json_line({**good, "text": bad_text}, True)
    elif kind == "too_long":
        row_text = draw(LONG_TEXT)
        data = json_line({**good, "text": row_text}, ascii_only)
    elif kind == "not_utf8":
        line = json_line(good, ascii_only)
        at = draw(st.integers(0, len(line) - 1))
        data = line[:at] + draw(NOT_UTF8) + line[at:]
    elif kind == "raw_control":  # JSON strings may not hold raw control characters
        control = draw(st.sampled_from(["\x00", "\x01", "\x1f", "\t", "\r"]))
        data = json_line({**good, "text": "a\\u0000b"}, ascii_only).replace(b"\\\\u0000", control.encode())
    elif kind == "huge_number":
        data = f'{{"text": "a", "n": {"9" * 5000}}}\n'.encode()
    elif kind == "deep":
        data = ("[" * 50_000 + "\n").encode()
    elif kind == "empty_text":
        data = json_line({**good, "text": draw(st.sampled_from(["", " ", "\t", "<br />"]))}, ascii_only)
    elif kind == "label_type":
        data = json_line({**good, "label": draw(WRONG_TYPES)}, ascii_only)
    elif kind == "empty_label":
        data = json_line({**good, "label": draw(st.sampled_from(["", "  "]))}, ascii_only)
    elif kind == "label_surrogate":
        data = json_line({**good, "label": "p" + draw(SURROGATES)}, True)
    elif kind == "unknown_label":  # a label the pipeline does not predict
        data = json_line({**good, "label": draw(st.sampled_from(["neutral", "Positive", "pos"]))}, ascii_only)
    elif kind == "has_cats":
        row_text = good["text"]
        data = json_line({**good, "cats": {"x": 1}}, ascii_only)
    else:
        raise AssertionError(kind)
    return Row(data, is_valid(command, kind), kind, row_text)


def csv_line(values) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)  # "\r\n" line ends, so a field with "\r" or "\n" is quoted
    return out.getvalue().encode("utf8")


@st.composite
def csv_row(draw, command: str, last: bool, labels=LABEL) -> Row:
    """A CSV row under the header "text,label" (convert, evaluate) or "text,id" (score)."""
    labelled = command in LABELLED
    text = draw(TEXT)
    text = nonblank(text) if labelled else text
    second = draw(labels) if labelled else str(draw(st.integers(0, 999)))
    kinds = ["valid", "valid", "valid", "columns", "quote_after", "too_long", "not_utf8"]
    kinds += ["empty_text", "empty_label"] if labelled else []
    kinds += ["unterminated"] if last else []
    kinds += ["unknown_label"] if command == "evaluate" else []
    kind = draw(st.sampled_from(kinds))
    if kind == "valid":
        return Row(csv_line([text, second]), True, kind, text)
    if kind == "columns":
        return Row(csv_line([text, second, "extra"]), False, kind)
    if kind == "quote_after":  # a quoted field with something after its closing quote
        return Row(b'"' + text.replace('"', '""').encode() + b'"x,' + second.encode() + b"\n", False, kind)
    if kind == "too_long":
        return Row(csv_line([draw(LONG_TEXT), second]), False, kind)
    if kind == "not_utf8":  # in the text, where the bytes cannot change the row's quoting
        at = draw(st.integers(0, len(text)))
        line = csv_line([text[:at] + "\x07" + text[at:], second])
        return Row(line.replace(b"\x07", draw(NOT_UTF8), 1), False, kind)
    if kind == "empty_text":
        return Row(csv_line([draw(st.sampled_from([" ", "<br />"])), second]), False, kind)
    if kind == "empty_label":
        return Row(csv_line([text, ""]), False, kind)
    if kind == "unterminated":  # a quote that never closes runs to the end of the file
        return Row(b'"' + text.replace('"', '""').encode() + b"," + second.encode() + b"\n", False, kind)
    if kind == "unknown_label":
        return Row(csv_line([text, "neutral"]), False, kind)
    raise AssertionError(kind)


def tsv_line(values) -> bytes:
    return ("\t".join(values) + "\n").encode("utf8")


def tsv_text(text: str) -> str:
    """A TSV field never holds a tab or a line break (fields are never quoted)."""
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


@st.composite
def tsv_row(draw, command: str, labels=LABEL) -> Row:
    """A TSV row (fields never quoted: a quote is a character) under the header
    "text<TAB>label" (convert, evaluate) or "text<TAB>id" (score)."""
    labelled = command in LABELLED
    text = tsv_text(draw(TEXT))
    text = nonblank(text) if labelled else text
    second = draw(labels) if labelled else str(draw(st.integers(0, 999)))
    kinds = ["valid", "valid", "valid", "columns", "carriage_return", "too_long", "not_utf8"]
    kinds += ["empty_text", "empty_label"] if labelled else []
    kinds += ["unknown_label"] if command == "evaluate" else []
    kind = draw(st.sampled_from(kinds))
    if kind == "valid":
        return Row(tsv_line([text, second]), True, kind, text)
    if kind == "columns":  # a tab in the text
        at = draw(st.integers(0, len(text)))
        return Row(tsv_line([text[:at], text[at:], second]), False, kind)
    if kind == "carriage_return":  # a "\r" inside an unquoted field
        at = draw(st.integers(0, len(text)))
        return Row(tsv_line([text[:at] + "\r" + text[at:] + "x", second]), False, kind)
    if kind == "too_long":
        return Row(tsv_line([draw(LONG_TEXT), second]), False, kind)
    if kind == "not_utf8":
        at = draw(st.integers(0, len(text)))
        line = tsv_line([text[:at] + "\x07" + text[at:], second])
        return Row(line.replace(b"\x07", draw(NOT_UTF8), 1), False, kind)
    if kind == "empty_text":
        return Row(tsv_line([draw(st.sampled_from([" ", "<br />"])), second]), False, kind)
    if kind == "empty_label":
        return Row(tsv_line([text, ""]), False, kind)
    if kind == "unknown_label":
        return Row(tsv_line([text, "neutral"]), False, kind)
    raise AssertionError(kind)


@st.composite
def txt_row(draw, command: str) -> Row:
    """A line of a .txt file, one text a line (score, lm-vocab)."""
    kind = draw(st.sampled_from(["valid", "valid", "valid", "blank", "not_utf8", "too_long"]))
    text = draw(TEXT).replace("\n", " ")
    if text.startswith("\ufeff"):  # a byte-order mark only at the start of the file (see corpus)
        text = "x" + text
    if kind == "valid":
        return Row(text.encode("utf8") + b"\n", True, kind)
    if kind == "blank":
        return Row(draw(st.sampled_from([b"\n", b"  \n", b"\r\n", b"\t \r\n"])), is_valid(command, kind), kind)
    if kind == "not_utf8":
        at = draw(st.integers(0, len(text)))
        line = (text[:at] + "\x07" + text[at:] + "\n").encode("utf8")
        return Row(line.replace(b"\x07", draw(NOT_UTF8), 1), False, kind)
    if kind == "too_long":
        return Row(draw(LONG_TEXT).encode() + b"\n", is_valid(command, kind), kind)
    raise AssertionError(kind)


HEADERS = {"convert": "text,label\n", "evaluate": "text,label\n", "score": "text,id\n"}


@st.composite
def corpus(draw, command: str, valid_half: bool = False):
    """(format, header bytes, rows) for ``command``: at least one valid row for
    `convert`. With ``valid_half``, half the corpora keep only their valid rows
    (a command that stops at the first invalid row runs to the end on them)."""
    fmt = draw(st.sampled_from(FORMATS[command]))
    labels = TINY_LABEL if command == "evaluate" else LABEL
    n = draw(st.integers(1 if command == "convert" else 0, 10))
    header = b""
    if fmt == "jsonl":
        rows = [draw(jsonl_row(command, labels)) for _ in range(n)]
    elif fmt == "csv":
        rows = [draw(csv_row(command, last=i == n - 1, labels=labels)) for i in range(n)]
        header = HEADERS[command].encode()
    elif fmt == "tsv":
        rows = [draw(tsv_row(command, labels)) for _ in range(n)]
        header = HEADERS[command].replace(",", "\t").encode()
    else:
        rows = [draw(txt_row(command)) for _ in range(n)]
    if command == "convert" and not any(row.valid for row in rows):
        # not after the last row, which may be an unclosed quote that runs to the end
        ok = {"jsonl": json_line({"text": "ok", "label": "pos"}, True), "csv": csv_line(["ok", "pos"]),
              "tsv": tsv_line(["ok", "pos"])}[fmt]
        rows.insert(draw(st.integers(0, len(rows) - 1)), Row(ok, True, "valid", "ok"))
    if valid_half and draw(st.booleans()):
        rows = [row for row in rows if row.valid]
    if rows and rows[-1].data.endswith(b"\n") and len(rows[-1].data) > 1 and draw(st.booleans()):
        rows[-1] = rows[-1]._replace(data=rows[-1].data[:-1])  # a last line without its line break
    if draw(st.integers(0, 4)) == 0:  # a byte-order mark, which the readers skip
        if header:
            header = BOM + header
        elif rows:
            rows[0] = rows[0]._replace(data=BOM + rows[0].data)
    return fmt, header, rows


# ---------------------------------------------------------------------------
# Helpers


class Written(NamedTuple):
    path: Path
    lines: List[int]  # the first line of each row
    ends: List[int]  # the last line of each row (a quoted CSV field may hold newlines)

    def where(self, i: int, line: int) -> bool:
        """Whether an error reported on ``line`` is one of row i's lines: a row
        that is not UTF-8 names the line with the bad bytes."""
        return self.lines[i] <= line <= self.ends[i]


def write_rows(path: Path, header: bytes, rows: List[Row]) -> Written:
    lines, ends, line = [], [], 1 + header.count(b"\n")
    for row in rows:
        lines.append(line)
        line += row.data.count(b"\n")
        ends.append(line - 1 if row.data.endswith(b"\n") else line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + b"".join(row.data for row in rows))
    return Written(path, lines, ends)


def txt_texts(rows: List[Row]) -> List[str]:
    """The text of each line of a .txt file, as the reader takes it: without
    its "\\n" (and a "\\r" before it), and the first without a byte-order mark."""
    texts = []
    for i, row in enumerate(rows):
        text = row.data.decode("utf8", errors="replace")
        if text.endswith("\n"):
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        if i == 0 and text.startswith("\ufeff"):
            text = text[1:]
        texts.append(text)
    return texts


def jsonl_output(stdout: str) -> list:
    """The JSON objects of a JSONL output. Lines end at "\n" only: str.splitlines
    would also split at the U+2028 that a JSON string may hold."""
    assert stdout == "" or stdout.endswith("\n")
    return [json.loads(line) for line in stdout.split("\n")[:-1]]


def jsonl_file(path: Path) -> list:
    return jsonl_output(path.read_bytes().decode("utf8"))


# The last-resort message of spacy_rnn.cli._util.describe_error, for an error no command anticipated.
UNANTICIPATED = "to see the traceback"


def check_no_traceback(result, usage: bool = False) -> None:
    """Property 1: exit 0 or 1 (2 for a usage error when ``usage``), no
    exception but SystemExit, no traceback and no unanticipated error."""
    assert result.exit_code in ((0, 1, 2) if usage else (0, 1)), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert UNANTICIPATED not in result.output, result.output
    if result.exit_code == 2:
        assert "Invalid value" in result.output, result.output


def check_refused(result, output) -> None:
    """A refused output: exit 1 (2 where Click refuses it), with a message."""
    assert result.exit_code == (2 if output.expect == "usage" else 1), (output, result.output)
    assert result.output.strip(), output


def reported(text: str) -> Optional[int]:
    match = re.search(r"skipped (\d+) invalid record\(s\), kept (\d+)", text)
    return None if match is None else int(match.group(1))


def reported_lines(text: str) -> List[int]:
    return [int(n) for n in re.findall(r"^  line (\d+): ", text, flags=re.MULTILINE)]


def error_line(text: str) -> Optional[int]:
    """The line that a CorpusError message names ("PATH, line N: ...")."""
    match = re.search(r", line (\d+): ", text)
    return None if match is None else int(match.group(1))


def assert_same_results(results, reference) -> None:
    """The same records and labels, and the same cats up to float noise from other batch-mates."""
    assert len(results) == len(reference)
    for got, expected in zip(results, reference):
        assert got.keys() == expected.keys()
        assert {k: v for k, v in got.items() if k != "cats"} == {k: v for k, v in expected.items() if k != "cats"}
        assert got["cats"] == pytest.approx(expected["cats"], abs=1e-5)


def count_docs(path: Path, vocab, shards: bool) -> int:
    files = sorted(path.glob("*.spacy")) if shards else [path]
    return sum(len(list(DocBin().from_disk(file).get_docs(vocab))) for file in files)


class Fast(NamedTuple):
    nlp: "spacy.language.Language"
    blank: "spacy.language.Language"
    model: Path  # the pipeline folder in the arena, which the commands read


@pytest.fixture(scope="module")
def arena(tmp_path_factory, tiny_textcat_dir) -> Path:
    """The folder every example works in: a copy of the tiny pipeline
    (model/) and one fresh folder per example (see :func:`workspace`), all of
    it hashed before and after each command."""
    root = Path(os.path.realpath(tmp_path_factory.mktemp("fuzz_arena")))
    shutil.copytree(tiny_textcat_dir, root / "model")
    return root


@contextmanager
def workspace(arena: Path) -> Iterator[Path]:
    """A new folder in the arena for one example, removed afterwards (so that
    the arena's snapshot stays small)."""
    work = Path(tempfile.mkdtemp(prefix="ex-", dir=arena))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def invoke_placed(arena: Path, args: List[str], out: Any, **kwargs: Any) -> Tuple[Any, Dict[str, str]]:
    """Run a command whose output is placed by ``place_output``: no traceback;
    a placement that must be refused is refused with nothing changed (then
    the result is None). RETURNS: The result and the arena's files before."""
    before = snapshot(arena)
    result = runner.invoke(app, args, **kwargs)
    event(f"output {out.expect}: exit {result.exit_code}")
    check_no_traceback(result, usage=out.expect == "usage")
    if out.expect in ("refused", "usage"):
        check_refused(result, out)
        check_unchanged(arena, before)
        return None, before
    return result, before


@pytest.fixture(scope="module")
def fast_cli(arena):
    """Load the tiny pipeline and the blank tokenizer once, not in every run
    of a command: the arena's pipeline (or "MODEL") gives the loaded one;
    any other path (a damaged copy) is loaded for real."""
    model = arena / "model"
    nlp = spacy.load(model)
    blank = spacy.blank("en")
    real_pipeline = evaluate_module.load_pipeline
    real_classifier = scoring_module.load_classifier

    def ours(path) -> bool:
        return str(path) == "MODEL" or os.path.realpath(path) == str(model)

    patch = pytest.MonkeyPatch()
    patch.setattr(scoring_module, "load_classifier", lambda path: nlp if ours(path) else real_classifier(path))
    for module in (evaluate_module, explain_module, export_module):
        patch.setattr(module, "load_pipeline", lambda path: nlp if ours(path) else real_pipeline(path))
    patch.setattr(convert_module.spacy, "blank", lambda lang: blank)
    yield Fast(nlp, blank, model)
    patch.undo()


# ---------------------------------------------------------------------------
# convert and score, to stdout: the results themselves (issue 16)


@FUZZ
@given(data=corpus("score"), batch_size=st.integers(1, 4))
def test_fuzz_score(tmp_path, fast_cli, data, batch_size):
    fmt, header, rows = data
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # tmp_path is shared by all examples
    mixed = write_rows(tmp_path / f"mixed.{fmt}", header, rows)
    valid_only = write_rows(tmp_path / f"valid.{fmt}", header, [row for row in rows if row.valid])
    options = ["--max-length", str(MAX_LENGTH), "--batch-size", str(batch_size)]

    result = runner.invoke(app, ["score", "MODEL", str(mixed.path), *options, "--skip-invalid"])
    check_no_traceback(result)
    all_invalid = rows and not any(row.valid for row in rows)
    assert result.exit_code == (1 if all_invalid else 0), result.output  # nothing scored is a failure
    out = jsonl_output(result.stdout)
    assert len(out) == len(rows)  # one output line per input row
    errors = [i for i, r in enumerate(out) if "error" in r]
    assert errors == [i for i, row in enumerate(rows) if not row.valid], [(row.kind, r) for row, r in zip(rows, out)]
    assert all(mixed.where(i, out[i]["error"]["line"]) for i in errors)
    n_reported = reported(result.stderr) or 0
    assert len(out) - len(errors) + n_reported == len(rows)  # rows out + reported invalid == rows in
    assert reported_lines(result.stderr) == [out[i]["error"]["line"] for i in errors]

    alone = runner.invoke(app, ["score", "MODEL", str(valid_only.path), *options])
    check_no_traceback(alone)
    assert alone.exit_code == 0, alone.output
    reference = jsonl_output(alone.stdout)
    assert_same_results([r for r in out if "error" not in r], reference)

    stopped = runner.invoke(app, ["score", "MODEL", str(mixed.path), *options])
    check_no_traceback(stopped)
    first_bad = next((i for i, row in enumerate(rows) if not row.valid), None)
    written = jsonl_output(stopped.stdout)
    if first_bad is None:
        assert stopped.exit_code == 0 and len(written) == len(rows)
    else:
        assert stopped.exit_code == 1
        assert f"line {out[first_bad]['error']['line']}:" in stopped.stderr
        assert_same_results(written, out[:first_bad])  # every row before it, and nothing else
        assert (f"Wrote the {first_bad} output line(s) before it" if first_bad else "Wrote nothing") in stopped.stderr


@FUZZ
@given(data=corpus("convert"))
def test_fuzz_convert(tmp_path, fast_cli, data):
    fmt, header, rows = data
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # tmp_path is shared by all examples
    blank = fast_cli.blank
    mixed = write_rows(tmp_path / f"mixed.{fmt}", header, rows)
    valid_only = write_rows(tmp_path / f"valid.{fmt}", header, [row for row in rows if row.valid])
    options = ["--max-length", str(MAX_LENGTH)]

    out = tmp_path / "mixed.spacy"
    result = runner.invoke(app, ["convert", str(mixed.path), str(out), *options, "--skip-invalid"])
    check_no_traceback(result)
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(blank.vocab))
    invalid = [i for i, row in enumerate(rows) if not row.valid]
    n_reported = reported(result.stdout) or 0
    assert len(docs) + n_reported == len(rows), rows
    lines = reported_lines(result.stdout)
    assert len(lines) == len(invalid) and all(mixed.where(i, line) for i, line in zip(invalid, lines))

    reference_path = tmp_path / "valid.spacy"
    alone = runner.invoke(app, ["convert", str(valid_only.path), str(reference_path), *options])
    check_no_traceback(alone)
    assert alone.exit_code == 0, alone.output
    reference = list(DocBin().from_disk(reference_path).get_docs(blank.vocab))
    assert [(d.text, [t.text for t in d], d.cats) for d in docs] == [
        (d.text, [t.text for t in d], d.cats) for d in reference
    ]

    stopped_path = tmp_path / "stopped.spacy"
    stopped = runner.invoke(app, ["convert", str(mixed.path), str(stopped_path), *options])
    check_no_traceback(stopped)
    if invalid:
        assert stopped.exit_code == 1 and not stopped_path.exists()
        assert f"line {lines[0]}:" in stopped.stderr
    else:
        assert stopped.exit_code == 0 and len(DocBin().from_disk(stopped_path)) == len(rows)


# ---------------------------------------------------------------------------
# Every command that reads user files: the three properties, with outputs in
# hostile places (issue 34)


@fuzz(200)
@given(
    data=corpus("convert", valid_half=True), skip_invalid=st.booleans(), shard_size=st.sampled_from([0, 0, 1, 3]),
    spacy_suffix=st.booleans(), kind=st.sampled_from(OUTPUT_KINDS),
)
def test_fuzz_convert_outputs(fast_cli, arena, data, skip_invalid, shard_size, spacy_suffix, kind):
    fmt, header, rows = data
    with workspace(arena) as work:
        # named .spacy (read with --format), the input is a path the output could take
        src = write_rows(work / ("corpus.spacy" if spacy_suffix else f"corpus.{fmt}"), header, rows)
        out = place_output(kind, work, "shards" if shard_size else "docs.spacy", [src.path],
                           usage_for_dirs=False, folder=bool(shard_size))
        args = ["convert", str(src.path), str(out.path), "--max-length", str(MAX_LENGTH), "--format", fmt]
        args += ["--skip-invalid"] if skip_invalid else []
        args += ["--shard-size", str(shard_size)] if shard_size else []
        before = snapshot(arena)
        result = runner.invoke(app, args)
        event(f"output {out.expect}: exit {result.exit_code}")
        check_no_traceback(result)
        if out.expect == "refused":
            check_refused(result, out)
            check_unchanged(arena, before)
            return
        invalid = [i for i, row in enumerate(rows) if not row.valid]
        written = result.exit_code == 0
        check_changes(arena, before, [out.path], written=written, folder=bool(shard_size))
        if out.expect == "any" and not written:
            return
        if skip_invalid or not invalid:
            assert result.exit_code == 0, result.output
            docs = count_docs(out.path, fast_cli.blank.vocab, bool(shard_size))
            assert docs + (reported(result.output) or 0) == len(rows), rows  # rows out + reported == rows in
            assert docs == len(rows) - len(invalid)
        else:
            assert result.exit_code == 1, result.output
            assert any(src.where(invalid[0], line) for line in [error_line(result.output)] if line), result.output


SCORE_KINDS = OUTPUT_KINDS + MODEL_KINDS


@fuzz(200)
@given(
    data=corpus("score", valid_half=True), skip_invalid=st.booleans(), batch_size=st.integers(1, 4),
    kind=st.sampled_from(SCORE_KINDS),
)
def test_fuzz_score_outputs(fast_cli, arena, data, skip_invalid, batch_size, kind):
    fmt, header, rows = data
    with workspace(arena) as work:
        src = write_rows(work / f"texts.{fmt}", header, rows)
        out = place_output(kind, work, "scored.jsonl", [src.path], model=fast_cli.model)
        args = ["score", str(fast_cli.model), str(src.path), "-o", str(out.path),
                "--max-length", str(MAX_LENGTH), "--batch-size", str(batch_size)]
        args += ["--skip-invalid"] if skip_invalid else []
        result, before = invoke_placed(arena, args, out)
        if result is None:  # refused, and nothing changed
            return
        invalid = [i for i, row in enumerate(rows) if not row.valid]
        if skip_invalid:
            all_invalid = bool(rows) and len(invalid) == len(rows)
            assert result.exit_code == (1 if all_invalid else 0), result.output  # nothing scored is a failure
            check_changes(arena, before, [out.path])
            lines = jsonl_file(out.path)
            assert len(lines) == len(rows)  # one output line per input row
            errors = [i for i, line in enumerate(lines) if "error" in line]
            assert errors == invalid, [(row.kind, line) for row, line in zip(rows, lines)]
            assert len(lines) - len(errors) + (reported(result.stderr) or 0) == len(rows)
        elif not invalid:
            assert result.exit_code == 0, result.output
            check_changes(arena, before, [out.path])
            assert len(jsonl_file(out.path)) == len(rows)
        else:
            assert result.exit_code == 1, result.output
            after = check_changes(arena, before, [out.path], written=False)
            partial = partial_path(os.path.realpath(out.path))
            if invalid[0]:  # the lines before the first invalid row are kept
                assert [("error" in line) for line in jsonl_file(partial)] == [False] * invalid[0]
            else:
                assert after.get(os.path.relpath(partial, arena)) == before.get(os.path.relpath(partial, arena))


EVALUATE_KINDS = ["none", "none"] + OUTPUT_KINDS + MODEL_KINDS


@fuzz(200)
@given(
    data=corpus("evaluate", valid_half=True), as_folder=st.booleans(), chunk_size=st.integers(1, 4),
    batch_size=st.integers(1, 4),
    kind=st.sampled_from(EVALUATE_KINDS),
)
def test_fuzz_evaluate(fast_cli, arena, data, as_folder, chunk_size, batch_size, kind):
    fmt, header, rows = data
    with workspace(arena) as work:
        src = write_rows(work / "corpus" / f"part.{fmt}" if as_folder else work / f"corpus.{fmt}", header, rows)
        data_path = src.path.parent if as_folder else src.path
        out = place_output(kind, work, "scores.json", [data_path, src.path], model=fast_cli.model)
        args = ["evaluate", str(fast_cli.model), str(data_path), "--max-length", str(MAX_LENGTH),
                "--chunk-size", str(chunk_size), "--batch-size", str(batch_size)]
        args += ["--output", str(out.path)] if out.path is not None else []
        result, before = invoke_placed(arena, args, out)
        if result is None:  # refused, and nothing changed
            return
        invalid = [i for i, row in enumerate(rows) if not row.valid]
        if rows and not invalid:
            assert result.exit_code == 0, result.output
            assert f"on {len(rows)} docs" in result.output  # every row evaluated
            check_changes(arena, before, [out.path])
            if out.path is not None:
                assert "cats_score" in json.loads(out.path.read_bytes())
        else:  # a clean error that names an invalid row
            assert result.exit_code == 1, result.output
            check_changes(arena, before, [out.path], written=False)
            if invalid:
                line = error_line(result.output)
                assert line is not None and any(src.where(i, line) for i in invalid), (result.output, rows)


TEXT_SOURCES = ["arg", "arg", "stdin", "stdin", "file", "file", "both"]
HTML_KINDS = ["none", "none"] + OUTPUT_KINDS + MODEL_KINDS


@fuzz(200)
@given(
    source=st.sampled_from(TEXT_SOURCES), text=st.one_of(TEXT, LONG_TEXT, st.text(CHARS, max_size=300)),
    bom=st.booleans(), ending=st.sampled_from([b"", b"\n", b"\r\n"]),
    not_utf8=st.one_of(st.none(), st.none(), st.none(), st.tuples(st.floats(0, 1), NOT_UTF8)), n_top=st.integers(0, 5),
    kind=st.sampled_from(HTML_KINDS),
)
def test_fuzz_explain(fast_cli, arena, source, text, bom, ending, not_utf8, n_top, kind):
    """The text from TEXT, stdin or --file (any bytes); the page where --html puts it."""
    data = (BOM if bom else b"") + text.encode("utf8") + ending
    if not_utf8 is not None:
        at = round(not_utf8[0] * len(data))
        data = data[:at] + not_utf8[1] + data[at:]
    with workspace(arena) as work:
        text_file = work / "text.txt"  # a bystander unless --file reads it
        text_file.write_bytes(data)
        out = place_output(kind, work, "page.html", [text_file], model=fast_cli.model)
        if source not in ("file", "both") and kind in ("on_input", "link_to_input"):
            out = out._replace(expect="ok")  # the file is no input: the page replaces it
        args = ["explain", str(fast_cli.model), "--top", str(n_top)]
        args += ["--html", str(out.path)] if out.path is not None else []
        if source in ("file", "both"):
            args += ["--file", str(text_file)]
        arg_text = text if text != "-" else "-x"  # "-" is stdin
        if source in ("arg", "both"):
            args += ["--", arg_text]
        elif source == "stdin":
            args += ["-"]
        before = snapshot(arena)
        result = runner.invoke(app, args, input=data if source == "stdin" else None)
        event(f"{source}, output {out.expect}: exit {result.exit_code}")
        check_no_traceback(result, usage=out.expect == "usage")
        if source == "both":  # the text given twice
            assert result.exit_code == (2 if out.expect == "usage" else 1), result.output
            check_unchanged(arena, before)
            return
        if out.expect in ("refused", "usage"):
            check_refused(result, out)
            check_unchanged(arena, before)
            return
        if source == "arg":
            expected_text: Optional[str] = arg_text
        else:  # a whole file or stdin is one text, without its final line break
            try:
                expected_text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                expected_text = None
            if expected_text is not None and expected_text.endswith("\n"):
                expected_text = expected_text[:-2] if expected_text.endswith("\r\n") else expected_text[:-1]
        if expected_text is None:
            assert result.exit_code == 1 and "not valid UTF-8" in result.output, result.output
            check_unchanged(arena, before)
            return
        assert result.exit_code == 0, result.output
        check_changes(arena, before, [out.path])
        expected = explain(fast_cli.nlp, expected_text)
        assert format_explanation(expected, n_top).replace("\r\n", "\n") in result.stdout  # Click's stdout
        if out.path is not None:
            assert out.path.read_bytes() == explanation_html(expected, n_top).encode("utf8")


@fuzz(20)
@given(text=TEXT, at=st.floats(0, 1), escaped=st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF))
def test_fuzz_explain_undecodable_argument(fast_cli, arena, text, at, escaped):
    """A TEXT argument that is not UTF-8: Python decodes such bytes of the
    command line to lone surrogates U+DC80-U+DCFF (surrogateescape)."""
    i = round(at * len(text))
    before = snapshot(arena)
    result = runner.invoke(app, ["explain", str(fast_cli.model), "--", text[:i] + escaped + text[i:]])
    check_no_traceback(result)
    assert result.exit_code == 1, result.output
    check_unchanged(arena, before)


LM_VOCAB_KINDS = OUTPUT_KINDS


@fuzz(200)
@given(
    data=corpus("lm-vocab", valid_half=True), as_folder=st.booleans(), size=st.integers(1, 5), clean_html=st.booleans(),
    kind=st.sampled_from(LM_VOCAB_KINDS),
)
def test_fuzz_lm_vocab(fast_cli, arena, data, as_folder, size, clean_html, kind):
    fmt, header, rows = data
    with workspace(arena) as work:
        src = write_rows(work / "texts" / f"part.{fmt}" if as_folder else work / f"texts.{fmt}", header, rows)
        if as_folder:  # a hidden file in the folder is not read
            (src.path.parent / ".hidden.txt").write_bytes(b"\xff not text\n")
        input_path = src.path.parent if as_folder else src.path
        out = place_output(kind, work, "vocab.json", [input_path, src.path])
        args = ["lm-vocab", str(input_path), str(out.path), "--size", str(size)]
        args += [] if clean_html else ["--no-clean-html"]
        result, before = invoke_placed(arena, args, out)
        if result is None:  # refused, and nothing changed
            return
        first_bad = next((i for i, row in enumerate(rows) if not row.valid), None)
        if first_bad is not None:  # the run stops at the first invalid row, and names it
            assert result.exit_code == 1, result.output
            check_changes(arena, before, [out.path], written=False)
            line = error_line(result.output)
            assert line is not None and src.where(first_bad, line), (result.output, rows)
            return
        texts = txt_texts(rows) if fmt == "txt" else [row.text for row in rows]
        n_docs = sum(1 for text in texts if (clean_html_breaks(text) if clean_html else text).strip())
        if not n_docs:
            assert result.exit_code == 1 and "no tokens" in result.output, result.output
            check_changes(arena, before, [out.path], written=False)
            return
        assert result.exit_code == 0, result.output
        check_changes(arena, before, [out.path])
        vocab = json.loads(out.path.read_bytes())
        assert vocab["n_docs"] == n_docs, (vocab, texts)  # every non-blank text counted once
        assert 1 <= len(vocab["words"]) <= size and vocab["n_tokens"] >= n_docs


DAMAGES = [
    "truncated_weights", "garbage_config", "no_config", "no_meta", "garbage_meta", "garbage_strings",
    "garbage_tokenizer", "garbage_component_cfg", "no_component", "empty_folder",
]


def damage_pipeline(path: Path, damage: str, garbage: bytes, cut: float) -> None:
    """Damage the pipeline copy at ``path`` one way."""
    weights = path / "rnn_textcat" / "model"
    if damage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[: int(cut * (weights.stat().st_size - 1))])
    elif damage == "garbage_config":
        (path / "config.cfg").write_bytes(garbage)
    elif damage == "no_config":
        (path / "config.cfg").unlink()
    elif damage == "no_meta":
        (path / "meta.json").unlink()
    elif damage == "garbage_meta":
        (path / "meta.json").write_bytes(garbage)
    elif damage == "garbage_strings":
        (path / "vocab" / "strings.json").write_bytes(garbage)
    elif damage == "garbage_tokenizer":
        (path / "tokenizer").write_bytes(garbage)
    elif damage == "garbage_component_cfg":
        (path / "rnn_textcat" / "cfg").write_bytes(garbage)
    elif damage == "no_component":
        shutil.rmtree(path / "rnn_textcat")
    elif damage == "empty_folder":
        shutil.rmtree(path)
        path.mkdir()
    else:
        raise AssertionError(damage)


EXPORT_KINDS = ["beside", "new", "existing", "existing_partial", "dangling_link", "on_input", "link_to_input",
                "holds_input", "in_input_folder", "under_file", "is_dir", "link_into_model"]


@fuzz(100)
@given(
    damage=st.one_of(st.just(None), st.sampled_from(DAMAGES)),
    garbage=st.one_of(st.binary(max_size=30), st.sampled_from([b"", b"{}", b"[nlp]\n", b"\xff\xfe"])),
    cut=st.floats(0, 1), component=st.one_of(st.none(), st.just("rnn_textcat"), st.text(CHARS, max_size=12)),
    kind=st.sampled_from(EXPORT_KINDS),
)
def test_fuzz_export_tok2vec(fast_cli, arena, damage, garbage, cut, component, kind):
    """A pipeline folder, as trained or damaged, and the output in hostile places."""
    with workspace(arena) as work:
        pipeline = fast_cli.model
        if damage is not None:
            pipeline = work / "pipeline"
            shutil.copytree(fast_cli.model, pipeline)
            damage_pipeline(pipeline, damage, garbage, cut)
        out = place_output(kind, work, "tok2vec.bin", [pipeline], model=pipeline)
        args = ["export-tok2vec", str(pipeline), str(out.path)]
        args += [f"--component={component}"] if component is not None else []
        result, before = invoke_placed(arena, args, out)
        if result is None:  # refused, and nothing changed
            return
        written = result.exit_code == 0
        check_changes(arena, before, [out.path], written=written)
        if damage is not None:  # refused with a message, or a pipeline that still loads
            assert written or result.output.strip()
            return
        if component not in (None, "rnn_textcat"):
            assert result.exit_code == 1 and "has no component" in result.output, result.output
            return
        assert written, result.output
        assert out.path.read_bytes() == fast_cli.nlp.get_pipe("rnn_textcat").model.get_ref("tok2vec").to_bytes()
