"""Property-based fuzzing of `convert` and `score` on hostile input (issue 16).

Hypothesis writes files of records, each built to be valid or to be invalid
in one known way (any unicode including lone surrogates and NUL, huge and
empty fields, wrong types, broken JSON, broken CSV quoting, bytes that are not
UTF-8), mixes them, and runs the commands in-process (Typer's CliRunner) on
the file. The properties:

- no Python traceback ever reaches the user: exit code 0 or 1, no exception
  but SystemExit, and no "Traceback" in the output;
- rows out plus rows reported as invalid equal rows in, and the rows reported
  are exactly the invalid ones, by line;
- a valid row's result does not depend on which invalid rows surround it:
  it equals the result of a file of the valid rows alone;
- without --skip-invalid, a run stops at the first invalid row after writing
  the result of every row before it.

Texts longer than --max-length 200 stand in for texts over spaCy's 1,000,000
characters (tests/test_cli_score.py and tests/test_corpus.py run those).

The default profile keeps the whole file under a minute; SPACY_RNN_FUZZ=long
selects a profile with 10x the examples:

    SPACY_RNN_FUZZ=long python -m pytest tests/test_fuzz_io.py
"""
import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin
from typer.testing import CliRunner

import spacy_rnn.cli.convert as convert_module
import spacy_rnn.inference.files as scoring_module
from spacy_rnn.cli import app

EXAMPLES = 100
settings.register_profile(
    "spacy-rnn-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("spacy-rnn-fuzz-long", settings.get_profile("spacy-rnn-fuzz"), max_examples=10 * EXAMPLES)
FUZZ = settings.get_profile("spacy-rnn-fuzz-long" if os.environ.get("SPACY_RNN_FUZZ") == "long" else "spacy-rnn-fuzz")

MAX_LENGTH = 200
runner = CliRunner()


class Row(NamedTuple):
    """One generated record: its bytes (with the line ending) and whether it is valid."""

    data: bytes
    valid: bool
    kind: str

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
WRONG_TYPES = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NOT_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])


def json_line(obj, ascii_only: bool) -> bytes:
    return (json.dumps(obj, ensure_ascii=ascii_only) + "\n").encode("utf8")


def nonblank(text: str) -> str:
    return f"{text}w{text[::-1]}"


@st.composite
def jsonl_row(draw, command: str) -> Row:
    """A JSONL line for `convert` ({"text", "label"}) or `score` ({"text", "id"})."""
    ascii_only = draw(st.booleans())
    extra = {"meta": draw(HUGE_FIELD)} if draw(st.integers(0, 9)) == 0 else {}
    text = draw(TEXT)
    good = {"text": nonblank(text) if command == "convert" else text, **extra}
    if command == "convert":
        good["label"] = draw(LABEL)
    kind = draw(st.sampled_from([
        "valid", "valid", "valid", "valid", "truncated", "garbage", "not_object", "no_text", "text_type",
        "surrogate", "too_long", "not_utf8", "raw_control", "huge_number", "deep",
    ] + (["empty_text", "label_type", "empty_label", "label_surrogate"] if command == "convert" else ["has_cats"])))
    if kind == "valid":
        return Row(json_line(good, ascii_only), True, kind)
    if kind == "truncated":
        line = json.dumps(good, ensure_ascii=ascii_only)
        return Row(line[: draw(st.integers(1, len(line) - 1))].encode("utf8") + b"\n", False, kind)
    if kind == "garbage":
        return Row(("not json " + draw(st.text(CHARS, max_size=20)).replace("\n", " ") + "\n").encode("utf8"), False, kind)
    if kind == "not_object":
        value = draw(st.one_of(st.lists(st.integers(), max_size=2), st.integers(), st.text(CHARS, max_size=5), st.none()))
        return Row(json_line(value, ascii_only), False, kind)
    if kind == "no_text":
        bad = {k: v for k, v in good.items() if k != "text"}
        bad["body"] = text
        return Row(json_line(bad, ascii_only), False, kind)
    if kind == "text_type":
        return Row(json_line({**good, "text": draw(WRONG_TYPES)}, ascii_only), False, kind)
    if kind == "surrogate":
        at = draw(st.integers(0, len(good["text"])))
        bad_text = good["text"][:at] + draw(SURROGATES) + good["text"][at:]
        return Row(json_line({**good, "text": bad_text}, True), False, kind)
    if kind == "too_long":
        return Row(json_line({**good, "text": draw(LONG_TEXT)}, ascii_only), False, kind)
    if kind == "not_utf8":
        line = json_line(good, ascii_only)
        at = draw(st.integers(0, len(line) - 1))
        return Row(line[:at] + draw(NOT_UTF8) + line[at:], False, kind)
    if kind == "raw_control":  # JSON strings may not hold raw control characters
        control = draw(st.sampled_from(["\x00", "\x01", "\x1f", "\t", "\r"]))
        return Row(json_line({**good, "text": "a\\u0000b"}, ascii_only).replace(b"\\\\u0000", control.encode()), False, kind)
    if kind == "huge_number":
        return Row(f'{{"text": "a", "n": {"9" * 5000}}}\n'.encode(), False, kind)
    if kind == "deep":
        return Row(("[" * 50_000 + "\n").encode(), False, kind)
    if kind == "empty_text":
        return Row(json_line({**good, "text": draw(st.sampled_from(["", " ", "\t", "<br />"]))}, ascii_only), False, kind)
    if kind == "label_type":
        return Row(json_line({**good, "label": draw(WRONG_TYPES)}, ascii_only), False, kind)
    if kind == "empty_label":
        return Row(json_line({**good, "label": draw(st.sampled_from(["", "  "]))}, ascii_only), False, kind)
    if kind == "label_surrogate":
        return Row(json_line({**good, "label": "p" + draw(SURROGATES)}, True), False, kind)
    if kind == "has_cats":
        return Row(json_line({**good, "cats": {"x": 1}}, ascii_only), False, kind)
    raise AssertionError(kind)


def csv_line(values) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)  # "\r\n" line ends, so a field with "\r" or "\n" is quoted
    return out.getvalue().encode("utf8")


@st.composite
def csv_row(draw, command: str, last: bool) -> Row:
    """A CSV row under the header "text,label" (convert) or "text,id" (score)."""
    text = draw(TEXT)
    text = nonblank(text) if command == "convert" else text
    second = draw(LABEL) if command == "convert" else str(draw(st.integers(0, 999)))
    kinds = ["valid", "valid", "valid", "columns", "quote_after", "too_long", "not_utf8"]
    kinds += ["empty_text", "empty_label"] if command == "convert" else []
    kinds += ["unterminated"] if last else []
    kind = draw(st.sampled_from(kinds))
    if kind == "valid":
        return Row(csv_line([text, second]), True, kind)
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
    raise AssertionError(kind)


@st.composite
def corpus(draw, command: str):
    """(format, header bytes, rows): at least one valid row for `convert`."""
    fmt = draw(st.sampled_from(["jsonl", "csv"]))
    n = draw(st.integers(1 if command == "convert" else 0, 10))
    if fmt == "jsonl":
        rows = [draw(jsonl_row(command)) for _ in range(n)]
        header = b""
    else:
        rows = [draw(csv_row(command, last=i == n - 1)) for i in range(n)]
        header = b"text,label\n" if command == "convert" else b"text,id\n"
    if command == "convert" and not any(row.valid for row in rows):
        # not after the last row, which may be an unclosed quote that runs to the end
        rows.insert(draw(st.integers(0, len(rows) - 1)), Row(json_line({"text": "ok", "label": "pos"}, True), True, "valid")
                    if fmt == "jsonl" else Row(csv_line(["ok", "pos"]), True, "valid"))
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
        ends.append(line - 1)
    path.write_bytes(header + b"".join(row.data for row in rows))
    return Written(path, lines, ends)


def jsonl_output(stdout: str) -> list:
    """The JSON objects of a JSONL output. Lines end at "\n" only: str.splitlines
    would also split at the U+2028 that a JSON string may hold."""
    assert stdout == "" or stdout.endswith("\n")
    return [json.loads(line) for line in stdout.split("\n")[:-1]]


def check_no_traceback(result) -> None:
    assert result.exit_code in (0, 1), (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def reported(text: str) -> Optional[int]:
    match = re.search(r"skipped (\d+) invalid record\(s\), kept (\d+)", text)
    return None if match is None else int(match.group(1))


def reported_lines(text: str) -> List[int]:
    return [int(n) for n in re.findall(r"^  line (\d+): ", text, flags=re.MULTILINE)]


def assert_same_results(results, reference) -> None:
    """The same records and labels, and the same cats up to float noise from other batch-mates."""
    assert len(results) == len(reference)
    for got, expected in zip(results, reference):
        assert got.keys() == expected.keys()
        assert {k: v for k, v in got.items() if k != "cats"} == {k: v for k, v in expected.items() if k != "cats"}
        assert got["cats"] == pytest.approx(expected["cats"], abs=1e-5)


@pytest.fixture(scope="module")
def fast_cli(tiny_textcat_dir):
    """Load the tiny pipeline and the blank tokenizer once, not in every run of a command."""
    nlp = spacy.load(tiny_textcat_dir)
    blank = spacy.blank("en")
    patch = pytest.MonkeyPatch()
    patch.setattr(scoring_module, "load_classifier", lambda model: nlp)
    patch.setattr(convert_module.spacy, "blank", lambda lang: blank)
    yield nlp, blank
    patch.undo()


# ---------------------------------------------------------------------------
# The properties


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
    assert result.exit_code == 0, result.output
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
    _, blank = fast_cli
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
