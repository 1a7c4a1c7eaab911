"""The `convert` command: a labelled corpus file to a .spacy file."""

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.data.convert import convert_corpus
from spacy_rnn.errors import OutputError
from spacy_rnn.data import CorpusError
from corpus_files import jsonl, write_lines


# ---------------------------------------------------------------------------
# The convert command

runner = CliRunner()


def test_convert_cli(tmp_path):
    path = jsonl(
        tmp_path / "train.jsonl",
        {"text": "a<br />b", "label": "pos"},
        {"text": "c", "label": "neg"},
        {"text": "d", "label": "pos"},
    )
    out = tmp_path / "train.spacy"
    result = runner.invoke(app, ["convert", str(path), str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 docs" in result.stdout and "single-label" in result.stdout
    assert [line.split() for line in result.stdout.splitlines() if line.startswith(("neg", "pos"))] == [
        ["neg", "1"],
        ["pos", "2"],
    ]
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert docs[0].text == "a b" and docs[0].cats == {"neg": 0.0, "pos": 1.0}
    args = ["convert", str(path), str(out), "--no-clean-html", "--labels", "pos,neg,other"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert docs[0].text == "a<br />b" and list(docs[0].cats) == ["pos", "neg", "other"]


def test_convert_cli_csv_columns(tmp_path):
    path = write_lines(tmp_path / "imdb.csv", ["review,sentiment", "good,positive", "bad,negative"])
    out = tmp_path / "imdb.spacy"
    args = ["convert", str(path), str(out), "--text-column", "review", "--label-column", "sentiment"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(DocBin().from_disk(out)) == 2


def test_convert_cli_bad_input(tmp_path):
    path = jsonl(tmp_path / "train.jsonl", {"text": "a", "label": "pos"}, "{oops", {"text": "b", "label": "x"})
    out = tmp_path / "train.spacy"
    result = runner.invoke(app, ["convert", str(path), str(out)])
    assert result.exit_code == 1
    assert f"{path}, line 2: invalid JSON" in result.stderr
    assert "Traceback" not in result.output and not out.exists()
    result = runner.invoke(app, ["convert", str(path), str(out), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 invalid record(s), kept 2" in result.stdout and "line 2: invalid JSON" in result.stdout
    assert len(DocBin().from_disk(out)) == 2


@pytest.mark.parametrize(
    "args,message",
    [
        (["missing.jsonl", "out.spacy"], "no such file"),
        (["train.jsonl", "out.json"], "must end in .spacy"),
        (["train.jsonl", "out.spacy", "--labels", "pos"], "unknown label 'neg'"),
        (["train.jsonl", "out.spacy", "--lang", "xx-nope"], "Unknown language"),
    ],
)
def test_convert_cli_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    jsonl(tmp_path / "train.jsonl", {"text": "a", "label": "pos"}, {"text": "b", "label": "neg"})
    result = runner.invoke(app, ["convert", *args])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


# ---------------------------------------------------------------------------
# Issue 16: convert


def test_issue16_convert_takes_a_text_over_a_million_characters(tmp_path):
    """Case 1: no E088 traceback; --max-length 0 for any length, N to refuse or skip. By
    default, nlp.max_length, beyond which spacy train and evaluate refuse the text (issue 34, case 11)."""
    long_text = "x" * 1_000_001
    path = jsonl(tmp_path / "a.jsonl", {"text": "ok", "label": "pos"}, {"text": long_text, "label": "neg"})
    out = tmp_path / "a.spacy"
    result = runner.invoke(app, ["convert", str(path), str(out)])
    assert result.exit_code == 1 and "more than the limit of 1,000,000 (nlp.max_length)" in result.stderr
    result = runner.invoke(app, ["convert", str(path), str(out), "--max-length", "0"])
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert [len(d.text) for d in docs] == [2, 1_000_001]
    out.unlink()
    result = runner.invoke(app, ["convert", str(path), str(out), "--max-length", "1000"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}, line 2: the text field 'text' is 1,000,001 characters long" in result.stderr
    assert "--max-length" in result.stderr and not out.exists()
    result = runner.invoke(app, ["convert", str(path), str(out), "--max-length", "1000", "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 invalid record(s), kept 1" in result.stdout and len(DocBin().from_disk(out)) == 1
    # the Python API keeps the nlp object's own limit, and names the line
    with pytest.raises(CorpusError, match="line 2: the text field 'text' is 1,000,001 characters long"):
        convert_corpus(path, out, spacy.blank("en"))


def test_issue16_convert_surrogate_is_skippable(tmp_path):
    """Case 2 in `convert`: an error naming the line, or skipped with --skip-invalid."""
    path = write_lines(tmp_path / "a.jsonl", ['{"text": "ok", "label": "pos"}', '{"text": "\\ud800", "label": "pos"}'])
    out = tmp_path / "a.spacy"
    result = runner.invoke(app, ["convert", str(path), str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}, line 2: the text field 'text' holds a lone surrogate U+D800" in result.stderr
    result = runner.invoke(app, ["convert", str(path), str(out), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert len(DocBin().from_disk(out)) == 1


def test_issue16_convert_refuses_to_overwrite_its_input(tmp_path):
    """Case 5: `convert x.spacy x.spacy --format jsonl` would replace its own input."""
    path = jsonl(tmp_path / "x.spacy", {"text": "a", "label": "pos"})
    before = path.read_bytes()
    for output in (path, tmp_path / "." / "x.spacy"):
        result = runner.invoke(app, ["convert", str(path), str(output), "--format", "jsonl"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "is the input" in result.stderr
    assert path.read_bytes() == before
    with pytest.raises(OutputError, match="is the input"):
        convert_corpus(path, path, spacy.blank("en"), format="jsonl")
