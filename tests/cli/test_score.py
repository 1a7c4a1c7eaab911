"""The `score` command: streaming JSONL predictions from txt, JSONL, CSV and stdin."""
import csv
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.training import Example
from typer.testing import CliRunner

from conftest import REPO_ROOT
from spacy_rnn.cli import app
from spacy_rnn.data import clean_html_breaks

LABELS = ["negative", "positive"]
TEXTS = ["a gorgeous , witty film", "", "dull and lifeless", "   ", "ok", "emoji 😀 <br /> end"]

runner = CliRunner()


# Twenty short reviews written for these tests (no shared data needed).
RECORDS = [
    {"text": t, "label": l}
    for t, l in [
        ("a warm , funny and generous film", "positive"), ("the plot collapses in the last act", "negative"),
        ("i smiled all the way through", "positive"), ("two hours i will never get back", "negative"),
        ("the cast is a joy to watch", "positive"), ("flat characters and clumsy dialogue", "negative"),
        ("a clever script that trusts its audience", "positive"), ("it drags , and then it drags some more", "negative"),
        ("gorgeous photography and a moving score", "positive"), ("the jokes land with a thud", "negative"),
        ("one of the year 's quiet surprises", "positive"), ("a muddled , forgettable sequel", "negative"),
        ("tender without ever being sappy", "positive"), ("loud , long and empty", "negative"),
        ("the lead gives a career-best turn", "positive"), ("nothing here you have n't seen before", "negative"),
        ("sharp , brisk and surprisingly deep", "positive"), ("the twist is obvious from the first scene", "negative"),
        ("a delight for kids and parents alike", "positive"), ("badly edited and worse acted", "negative"),
    ]
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A tiny rnn_textcat pipeline, initialized and briefly trained on RECORDS."""
    records = RECORDS
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    examples = [
        Example.from_dict(
            nlp.make_doc(r["text"]), {"cats": {label: float(label == r["label"]) for label in LABELS}}
        )
        for r in records
    ]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):  # so that the probabilities differ between texts
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("score") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def nlp(model_dir):
    return spacy.load(model_dir)


@pytest.fixture(scope="session")
def expected(nlp):
    """The cats of each of TEXTS, scored one at a time (HTML line breaks removed, as score does)."""
    return {text: nlp(clean_html_breaks(text)).cats for text in TEXTS}


def write_lines(path: Path, lines) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf8")
    return path


def parse(stdout: str):
    return [json.loads(line) for line in stdout.splitlines()]


def check_result(result, text, expected):
    assert set(result["cats"]) == set(LABELS)
    assert result["cats"] == pytest.approx(expected[text], abs=1e-5)
    assert sum(result["cats"].values()) == pytest.approx(1.0, abs=1e-5)
    assert result["label"] == max(result["cats"], key=result["cats"].get)


def invoke(*args, input=None):
    return runner.invoke(app, ["score", *map(str, args)], input=input)


# ---------------------------------------------------------------------------
# Inputs


def test_txt_one_output_per_line_in_order(tmp_path, model_dir, expected):
    path = write_lines(tmp_path / "texts.txt", TEXTS)
    result = invoke(model_dir, path)
    assert result.exit_code == 0, result.output
    results = parse(result.stdout)
    assert [r["text"] for r in results] == TEXTS
    assert all(set(r) == {"text", "cats", "label"} for r in results)
    for r in results:
        check_result(r, r["text"], expected)
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_txt_keeps_original_text_but_scores_cleaned_html(tmp_path, model_dir, nlp):
    path = write_lines(tmp_path / "texts.txt", ["good<br /><br />film"])
    (cleaned,) = parse(invoke(model_dir, path).stdout)
    assert cleaned["text"] == "good<br /><br />film"
    assert cleaned["cats"] == pytest.approx(nlp("good film").cats, abs=1e-5)
    (raw,) = parse(invoke(model_dir, path, "--no-clean-html").stdout)
    assert raw["cats"] == pytest.approx(nlp("good<br /><br />film").cats, abs=1e-5)


def test_txt_crlf_and_no_final_newline(tmp_path, model_dir):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"one\r\ntwo\r\n\r\nthree")
    assert [r["text"] for r in parse(invoke(model_dir, path).stdout)] == ["one", "two", "", "three"]


def test_jsonl_keeps_all_fields(tmp_path, model_dir, expected):
    objects = [{"id": i, "body": text, "meta": {"source": "test"}} for i, text in enumerate(TEXTS)]
    path = write_lines(tmp_path / "in.jsonl", [json.dumps(o, ensure_ascii=False) for o in objects])
    result = invoke(model_dir, path, "--text-key", "body")
    assert result.exit_code == 0, result.output
    results = parse(result.stdout)
    assert len(results) == len(objects)
    for obj, r in zip(objects, results):
        assert {k: r[k] for k in obj} == obj
        check_result(r, obj["body"], expected)


def test_jsonl_blank_line_still_gets_a_result(tmp_path, model_dir, expected):
    path = write_lines(tmp_path / "in.jsonl", ['{"text": "ok"}', "", '{"text": ""}'])
    results = parse(invoke(model_dir, path).stdout)
    assert [r["text"] for r in results] == ["ok", "", ""]
    assert results[1]["cats"] == results[2]["cats"]


def test_jsonl_existing_label_field(tmp_path, model_dir):
    path = write_lines(tmp_path / "dev.jsonl", ['{"text": "good", "label": "positive"}'])
    result = invoke(model_dir, path)
    assert result.exit_code == 1
    assert "already has a field 'label'" in result.stderr and "--label-field" in result.stderr
    result = invoke(model_dir, path, "--label-field", "predicted")
    assert result.exit_code == 0, result.output
    (r,) = parse(result.stdout)
    assert r["label"] == "positive" and r["predicted"] in LABELS


def test_csv_keeps_all_columns(tmp_path, model_dir, expected):
    path = tmp_path / "in.csv"
    with path.open("w", encoding="utf8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review"])
        for i, text in enumerate(TEXTS + ["two\nlines, with comma"]):
            writer.writerow([i, text])
    result = invoke(model_dir, path, "--text-column", "review")
    assert result.exit_code == 0, result.output
    results = parse(result.stdout)
    assert [r["review"] for r in results] == TEXTS + ["two\nlines, with comma"]
    assert [r["id"] for r in results] == [str(i) for i in range(len(TEXTS) + 1)]
    for r in results[:-1]:
        check_result(r, r["review"], expected)


def test_stdin_txt(model_dir, expected):
    result = invoke(model_dir, "-", input="\n".join(TEXTS) + "\n")
    assert result.exit_code == 0, result.output
    results = parse(result.stdout)
    assert [r["text"] for r in results] == TEXTS
    for r in results:
        check_result(r, r["text"], expected)


def test_stdin_with_format(model_dir):
    lines = '{"text": "a", "n": 1}\n{"text": "b", "n": 2}\n'
    result = invoke(model_dir, "-", "--format", "jsonl", input=lines)
    assert result.exit_code == 0, result.output
    assert [(r["text"], r["n"]) for r in parse(result.stdout)] == [("a", 1), ("b", 2)]
    result = invoke(model_dir, "-", "--format", "csv", input="text,n\na,1\n")
    assert [(r["text"], r["n"]) for r in parse(result.stdout)] == [("a", "1")]


def test_stdin_subprocess(model_dir, expected):
    """The real thing: python -m spacy_rnn, a pipe on stdin, JSONL on stdout."""
    data = ("\n".join(TEXTS) + "\n").encode("utf8")
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_rnn", "score", str(model_dir), "-", "--batch-size", "2"],
        input=data, capture_output=True, cwd=REPO_ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    results = [json.loads(line) for line in proc.stdout.decode("utf8").splitlines()]
    assert [r["text"] for r in results] == TEXTS
    for r in results:
        check_result(r, r["text"], expected)
    assert proc.stderr == b""


def test_output_file(tmp_path, model_dir):
    path = write_lines(tmp_path / "texts.txt", ["a", "b"])
    out = tmp_path / "sub" / "scores.jsonl"
    result = invoke(model_dir, path, "--output", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "Scored 2 texts" in result.stderr
    assert [r["text"] for r in parse(out.read_text(encoding="utf8"))] == ["a", "b"]


def test_batch_size_and_n_process_do_not_change_results(tmp_path, model_dir):
    lines = [f"text number {i} " + "word " * (i % 7) for i in range(40)] + [""] * 3
    path = write_lines(tmp_path / "texts.txt", lines)
    reference = parse(invoke(model_dir, path).stdout)
    for args in (["--batch-size", "1"], ["--batch-size", "7", "--n-process", "2"]):
        result = invoke(model_dir, path, *args)
        assert result.exit_code == 0, result.output
        results = parse(result.stdout)
        assert [r["text"] for r in results] == lines
        for a, b in zip(results, reference):
            assert a["cats"] == pytest.approx(b["cats"], abs=1e-5)


# ---------------------------------------------------------------------------
# Errors: a clear message naming file and line, exit code 1, no traceback


def check_error(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr


def test_missing_file(tmp_path, model_dir):
    check_error(invoke(model_dir, tmp_path / "nope.txt"), "nope.txt", "no such file")


def test_bad_json_line(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.jsonl", ['{"text": "a"}', '{"text": "b"', '{"text": "c"}'])
    check_error(invoke(model_dir, path), f"{path}, line 2: invalid JSON")


def test_jsonl_not_an_object(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.jsonl", ['{"text": "a"}', '"b"'])
    check_error(invoke(model_dir, path), f"{path}, line 2: the line is a JSON string, not an object")


def test_missing_text_key(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.jsonl", ['{"text": "a"}', '{"body": "b"}'])
    check_error(invoke(model_dir, path), f"{path}, line 2: no text field 'text'", "'body'", "--text-key")
    path = write_lines(tmp_path / "in2.jsonl", ['{"text": null}'])
    check_error(invoke(model_dir, path), f"{path}, line 1: the text field 'text' is null")


def test_missing_text_column(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.csv", ["review,id", "a,1"])
    check_error(invoke(model_dir, path), f"{path}, line 1: no column 'text'", "'review'", "--text-key")


def test_bad_csv_row(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.csv", ["text,id", "a,1", "b,2,3"])
    check_error(invoke(model_dir, path), f"{path}, line 3: expected 2 columns")


def test_bad_encoding(tmp_path, model_dir):
    path = tmp_path / "in.txt"
    path.write_bytes("fine\ncafé\n".encode("latin-1"))
    check_error(invoke(model_dir, path), f"{path}, line 2: not valid UTF-8", "0xe9")


def test_bad_encoding_on_stdin(model_dir):
    check_error(invoke(model_dir, "-", input=b"ok\n\xff\n"), "<stdin>, line 2: not valid UTF-8")


def test_unknown_suffix_and_format(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.xml", ["<a/>"])
    check_error(invoke(model_dir, path), "cannot tell the format", "--format")
    check_error(invoke(model_dir, path, "--format", "yaml"), "unknown format 'yaml'")
    assert invoke(model_dir, path, "--format", "txt").exit_code == 0


def test_bad_model(tmp_path):
    path = write_lines(tmp_path / "in.txt", ["a"])
    check_error(invoke(tmp_path / "no-model", path), "Cannot load the pipeline")
    spacy.blank("en").to_disk(tmp_path / "blank")
    check_error(invoke(tmp_path / "blank", path), "no text classifier")


def test_bad_options(tmp_path, model_dir):
    path = write_lines(tmp_path / "in.txt", ["a"])
    check_error(invoke(model_dir, path, "--n-process", "0"), "--n-process")
    check_error(invoke(model_dir, path, "--output", path), "is the input")
    check_error(invoke(model_dir, path, "--cats-field", "x", "--label-field", "x"), "must differ")
    assert invoke(model_dir, path, "--batch-size", "0").exit_code == 2  # rejected by the option's range


# ---------------------------------------------------------------------------
# Progress: only when stderr is a terminal, with tqdm


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal(monkeypatch):
    from spacy_rnn.cli.score import _progress

    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert list(_progress(iter(range(2500)))) == list(range(2500))
    shown = sys.stderr.getvalue()
    assert "2500" in shown


def test_no_progress_when_not_a_terminal(monkeypatch):
    from spacy_rnn.cli.score import _progress

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert list(_progress(iter(range(3)))) == [0, 1, 2]
    assert sys.stderr.getvalue() == ""


# ---------------------------------------------------------------------------
# Issue 16: every valid row gets its result, every bad one a clear error.
# These use a tiny pipeline built from made-up sentences (tiny_textcat_dir).


def jsonl_file(path: Path, rows) -> Path:
    return write_lines(path, [row if isinstance(row, str) else json.dumps(row) for row in rows])


def test_issue16_text_over_a_million_characters(tmp_path, tiny_textcat_dir):
    """Case 1: no E088 traceback. Any length by default; --max-length refuses or skips."""
    long_text = "x" * 1_000_001
    path = jsonl_file(tmp_path / "in.jsonl", [{"text": "first"}, {"text": long_text}, {"text": "last"}])
    result = invoke(tiny_textcat_dir, path)
    assert result.exit_code == 0, result.output
    assert [len(r["text"]) for r in parse(result.stdout)] == [5, 1_000_001, 4]
    result = invoke(tiny_textcat_dir, path, "--max-length", "1000")
    check_error(
        result, f"{path}, line 2: the text field 'text' is 1,000,001 characters long, more than the limit of 1,000",
        "--max-length", "--skip-invalid", "Wrote the 1 output line(s) before it to stdout",
    )
    assert [r["text"] for r in parse(result.stdout)] == ["first"]
    result = invoke(tiny_textcat_dir, path, "--max-length", "1000", "--skip-invalid")
    assert result.exit_code == 0, result.output
    rows = parse(result.stdout)
    assert [r.get("text") for r in rows] == ["first", None, "last"]
    assert rows[1]["error"]["line"] == 2 and rows[1]["error"]["field"] == "text"
    assert "1,000,001 characters long" in rows[1]["error"]["message"]
    assert "skipped 1 invalid record(s), kept 2" in result.stderr and "line 2:" in result.stderr


def test_issue16_lone_surrogate(tmp_path, tiny_textcat_dir):
    """Case 2: an error naming line and field, or with --skip-invalid an error line."""
    path = jsonl_file(tmp_path / "in.jsonl", ['{"text": "ok", "id": 1}', '{"text": "x\\ud800", "id": 2}', '{"text": "b", "id": 3}'])
    check_error(
        invoke(tiny_textcat_dir, path), f"{path}, line 2: the text field 'text' holds a lone surrogate U+D800",
        "Wrote the 1 output line(s) before it to stdout",
    )
    result = invoke(tiny_textcat_dir, path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    rows = parse(result.stdout)
    assert [r.get("id") for r in rows] == [1, None, 3]
    assert rows[1]["error"]["line"] == 2 and "lone surrogate" in rows[1]["error"]["message"]
    # a surrogate outside the text is only data: written back, escaped
    path = jsonl_file(tmp_path / "note.jsonl", ['{"text": "ok", "note": "\\udc00"}'])
    (row,) = parse(invoke(tiny_textcat_dir, path).stdout)
    assert row["note"] == "\udc00"


@pytest.mark.parametrize("batch_size", [256, 8])
def test_issue16_a_bad_line_does_not_cost_its_batch(tmp_path, tiny_textcat_dir, batch_size):
    """Case 3: line 50 lacks its text; the 49 lines before it are scored either way."""
    rows = [{"text": f"text number {i}", "i": i} for i in range(1, 50)] + [{"body": "no text"}, {"text": "after", "i": 51}]
    path = jsonl_file(tmp_path / "in.jsonl", rows)
    result = invoke(tiny_textcat_dir, path, "--batch-size", batch_size)
    check_error(result, f"{path}, line 50: no text field 'text'", "Wrote the 49 output line(s) before it to stdout")
    assert [r["i"] for r in parse(result.stdout)] == list(range(1, 50))
    result = invoke(tiny_textcat_dir, path, "--batch-size", batch_size, "--skip-invalid")
    assert result.exit_code == 0, result.output
    out = parse(result.stdout)
    assert len(out) == 51 and [r.get("i") for r in out] == list(range(1, 50)) + [None, 51]
    assert out[49] == {"error": {"line": 50, "field": "text", "message": "no text field 'text' (fields: 'body')"}}
    valid_only = parse(invoke(tiny_textcat_dir, jsonl_file(tmp_path / "valid.jsonl", rows[:49] + rows[50:])).stdout)
    for a, b in zip([r for r in out if "error" not in r], valid_only):
        assert a["cats"] == pytest.approx(b["cats"], abs=1e-6)


def test_issue16_skip_invalid_keeps_order_with_worker_processes(tmp_path, tiny_textcat_dir):
    lines = []
    for i in range(30):
        lines.append(json.dumps({"text": f"text {i} " + "word " * (i % 5), "i": i}))
        if i % 4 == 1:
            lines.append('{"text": 7}' if i % 8 == 1 else "{broken")
    path = write_lines(tmp_path / "in.jsonl", lines)
    reference = parse(invoke(tiny_textcat_dir, path, "--skip-invalid", "--batch-size", "1").stdout)
    result = invoke(tiny_textcat_dir, path, "--skip-invalid", "--batch-size", "3", "--n-process", "2")
    assert result.exit_code == 0, result.output
    rows = parse(result.stdout)
    assert len(rows) == len(lines) == len(reference)
    for a, b in zip(rows, reference):
        assert a.keys() == b.keys() and a.get("error") == b.get("error") and a.get("i") == b.get("i")
        if "cats" in a:
            assert a["cats"] == pytest.approx(b["cats"], abs=1e-6)


def test_issue16_failed_run_never_destroys_earlier_results(tmp_path, tiny_textcat_dir):
    """Case 4: the output is written through a temporary file; a failed run's lines go to OUTPUT.partial."""
    good = write_lines(tmp_path / "good.txt", [f"text {i}" for i in range(50)])
    out = tmp_path / "scores.jsonl"
    assert invoke(tiny_textcat_dir, good, "-o", out).exit_code == 0
    before = out.read_bytes()
    assert before.count(b"\n") == 50
    partial = tmp_path / "scores.jsonl.partial"
    # a header error: nothing written, the 50 results stay
    bad_header = write_lines(tmp_path / "bad.csv", ["review,id", "a,1"])
    check_error(invoke(tiny_textcat_dir, bad_header, "-o", out), "no column 'text'", f"Wrote nothing; {out} was left as it was")
    assert out.read_bytes() == before and not partial.exists()
    # an error on line 3: the 2 lines before it are kept, under a name that says partial
    bad_line = jsonl_file(tmp_path / "bad.jsonl", [{"text": "a"}, {"text": "b"}, {"text": 3}, {"text": "d"}])
    check_error(
        invoke(tiny_textcat_dir, bad_line, "-o", out), f"{bad_line}, line 3: the text field 'text' is a number",
        f"Wrote the 2 output line(s) before it to {partial}; {out} was left as it was",
    )
    assert out.read_bytes() == before
    assert [r["text"] for r in parse(partial.read_text(encoding="utf8"))] == ["a", "b"]
    # a failed run to a new path creates nothing there
    check_error(invoke(tiny_textcat_dir, bad_header, "-o", tmp_path / "new.jsonl"), "new.jsonl was not created")
    # a run that ends well replaces the file; no temporary file is left anywhere
    assert invoke(tiny_textcat_dir, bad_line, "-o", out, "--skip-invalid").exit_code == 0
    assert [r.get("text") for r in parse(out.read_text(encoding="utf8"))] == ["a", "b", None, "d"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.csv", "bad.jsonl", "good.txt", "scores.jsonl", "scores.jsonl.partial"
    ]


def test_issue16_interrupted_run_keeps_its_lines(tmp_path, tiny_textcat_dir, monkeypatch):
    import spacy_rnn.inference.files as scoring

    real = scoring.read_scoring_items

    def interrupted(*args, **kwargs):
        yield from itertools.islice(real(*args, **kwargs), 3)
        raise KeyboardInterrupt

    monkeypatch.setattr(scoring, "read_scoring_items", interrupted)
    path = write_lines(tmp_path / "in.txt", ["a", "b", "c", "d"])
    out = tmp_path / "out.jsonl"
    result = invoke(tiny_textcat_dir, path, "-o", out, "--batch-size", "1")
    assert result.exit_code == 130 and "Traceback" not in result.output
    assert f"Interrupted. Wrote 3 output line(s) to {out}.partial" in result.stderr
    assert not out.exists() and len(parse((tmp_path / "out.jsonl.partial").read_text())) == 3


def test_issue16_existing_output_field_names_the_line(tmp_path, tiny_textcat_dir):
    path = jsonl_file(tmp_path / "in.jsonl", [{"text": "a"}, {"text": "b", "cats": 1}])
    check_error(invoke(tiny_textcat_dir, path), f"{path}, line 2: the record already has a field 'cats'", "--cats-field")
    path = jsonl_file(tmp_path / "err.jsonl", [{"text": "a", "error": "none"}])
    assert invoke(tiny_textcat_dir, path).exit_code == 0  # "error" is only reserved with --skip-invalid
    result = invoke(tiny_textcat_dir, path, "--skip-invalid")  # an invalid record like any other
    assert result.exit_code == 1 and "None of the 1 record(s) could be scored" in result.output  # issue 34, case 21
    assert parse(result.stdout)[0]["error"]["message"].startswith("the record already has a field 'error'")
    result = invoke(tiny_textcat_dir, path, "--skip-invalid", "--error-field", "problem")
    assert result.exit_code == 0, result.output
    check_error(invoke(tiny_textcat_dir, path, "--skip-invalid", "--error-field", "label"), "must differ")


def test_primitive_cache_option_sets_onednn_capacity(tmp_path, model_dir, no_onednn_capacity):
    import os

    (tmp_path / "in.txt").write_text("great\n")
    result = invoke(model_dir, tmp_path / "in.txt", "--primitive-cache", 5, "--output", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "5"
