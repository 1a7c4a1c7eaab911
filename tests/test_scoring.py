"""Scoring with a loaded pipeline (spacy_rnn.inference), from Python: streaming, order kept."""
import io
import itertools
import json

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_rnn.data import CorpusError
from spacy_rnn.data.checks import NO_MAX_LENGTH
from spacy_rnn.errors import ScoreError
from spacy_rnn.inference.classifiers import scoring_max_length
from spacy_rnn.inference.reading import ScoreItem, read_scoring_input
from spacy_rnn.inference.score import ScoreReport, score_items, score_records, score_texts
from spacy_rnn.inference.files import score_file

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def nlp(tiny_textcat_dir):
    return spacy.load(tiny_textcat_dir)


def jsonl_file(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf8")
    return path


def test_score_a_file_from_python(tmp_path, nlp):
    """No CLI: a loaded pipeline scores a JSONL file into another, in order."""
    path = jsonl_file(tmp_path / "in.jsonl", [{"id": 1, "text": "a wonderful film"}, {"id": 2, "text": "dull"}])
    out = tmp_path / "out.jsonl"
    assert score_file(nlp, path, out) == 2
    rows = [json.loads(line) for line in out.read_text(encoding="utf8").splitlines()]
    assert [r["id"] for r in rows] == [1, 2]
    for row in rows:
        assert row["cats"] == pytest.approx(nlp(row["text"]).cats, abs=1e-5)
        assert row["label"] == max(row["cats"], key=row["cats"].get)


def test_score_texts_in_order(nlp):
    texts = ["a wonderful film", "", "the worst film of the year"]
    results = list(score_texts(nlp, texts, batch_size=2))
    assert [r["text"] for r in results] == texts
    assert [set(r["cats"]) for r in results] == [set(LABELS)] * 3


# ---------------------------------------------------------------------------
# Streaming


LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=30).filter(
    lambda line: not line.endswith("\r")
)


def test_score_records_is_lazy(nlp):
    """An endless input: results come out while the input is still being read."""
    consumed = []

    def endless():
        for i in itertools.count():
            consumed.append(i)
            yield f"text {i}", {"i": i}

    results = score_records(nlp, endless(), batch_size=8)
    first = list(itertools.islice(results, 20))
    assert [r["i"] for r in first] == list(range(20))
    assert len(consumed) < 200


def test_reading_input_is_lazy():
    class Endless(io.RawIOBase):
        """A binary stream that never ends, and counts the lines read."""

        def __init__(self):
            self.lines = 0

        def __iter__(self):
            return self

        def __next__(self):
            self.lines += 1
            return b'{"text": "again"}\n'

    stream = Endless()
    first = list(itertools.islice(read_scoring_input(stream, "jsonl"), 5))
    assert first == [("again", {"text": "again"})] * 5 and stream.lines == 5


def test_library_errors(tmp_path, nlp):
    with pytest.raises(CorpusError, match="no such file"):
        score_file(nlp, str(tmp_path / "missing.txt"))
    with pytest.raises(ScoreError, match=r"batch_size \(--batch-size\) must be 1 or more"):
        score_file(nlp, str(tmp_path / "missing.txt"), batch_size=0)
    with pytest.raises(ScoreError, match="Unknown scoring option.*text_column"):
        score_file(nlp, str(tmp_path / "missing.txt"), text_column="review")


def test_one_options_object_for_both_engines(tmp_path, nlp, tiny_textcat_dir):
    """ScoreOptions carries the settings the local and Ray engines share; a
    keyword replaces one of them."""
    from spacy_rnn.inference.options import ScoreOptions

    path = tmp_path / "in.csv"
    path.write_text("review,stars\ngood,5\n", encoding="utf8")
    options = ScoreOptions(text_key="review", cats_field="p")
    out = tmp_path / "out.jsonl"
    score_file(nlp, str(path), out, options, label_field="top")
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(row) == {"review", "stars", "p", "top"}
    with pytest.raises(ScoreError, match=r"cats_field \(--cats-field\) and label_field \(--label-field\) must differ"):
        ScoreOptions(cats_field="x", label_field="x").check()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=8), batch_size=st.integers(1, 4))
def test_any_unicode_lines_round_trip(tmp_path, nlp, lines, batch_size):
    path = tmp_path / "any.txt"
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf8"))
    out = tmp_path / "any.jsonl"
    assert score_file(nlp, str(path), out, batch_size=batch_size) == len(lines)
    raw = out.read_bytes()
    assert raw.count(b"\n") == len(lines)
    results = [json.loads(line) for line in raw.decode("utf8").split("\n")[:-1]]
    assert [r["text"] for r in results] == lines
    assert all(set(r["cats"]) == set(LABELS) for r in results)


def test_memory_zones_keep_the_vocab_from_growing(nlp):
    n_strings = len(nlp.vocab.strings)
    records = ((f"unseenword{i} another{i}", {"i": i}) for i in range(50))
    results = list(score_records(nlp, records, batch_size=8, chunk_size=16))
    assert [r["i"] for r in results] == list(range(50))
    assert len(nlp.vocab.strings) == n_strings


def test_issue16_default_max_length_keeps_a_parsers_limit(tiny_textcat_dir):
    nlp = spacy.load(tiny_textcat_dir)
    assert scoring_max_length(nlp) == NO_MAX_LENGTH
    assert scoring_max_length(nlp, 0) == NO_MAX_LENGTH and scoring_max_length(nlp, 50) == 50
    nlp.add_pipe("parser")
    assert scoring_max_length(nlp) == nlp.max_length == 1_000_000


def test_issue16_score_file_restores_max_length(tmp_path, tiny_textcat_dir):
    nlp = spacy.load(tiny_textcat_dir)
    path = jsonl_file(tmp_path / "in.jsonl", [{"text": "x" * 1_000_001}])
    assert score_file(nlp, str(path), tmp_path / "out.jsonl") == 1
    assert nlp.max_length == 1_000_000
    with pytest.raises(ScoreError, match="--max-length"):
        score_file(nlp, str(path), max_length=-1)


def test_issue16_long_runs_of_invalid_records_keep_memory_flat(tiny_textcat_dir):
    """Error lines do not pile up until the next valid record: at most chunk_size wait."""
    nlp = spacy.load(tiny_textcat_dir)
    consumed = []

    def items():
        for i in range(1, 301):
            consumed.append(i)
            if i in (1, 300):
                yield ScoreItem(i, f"text {i}", {"i": i})
            else:
                yield ScoreItem(i, None, None, CorpusError("in.jsonl", i, "bad"))

    report = ScoreReport()
    outputs = score_items(nlp, items(), skip_invalid=True, chunk_size=8, batch_size=2, report=report)
    lines = []
    for output in outputs:
        lines.append(output)
        assert len(consumed) <= len(lines) + 8 + 2  # what waits is bounded, however long the run
    assert [r.get("i") for r in lines] == [1] + [None] * 298 + [300]
    assert [r["error"]["line"] for r in lines[1:-1]] == list(range(2, 300))
    assert report.n_records == 2 and report.n_invalid == report.n_skipped == 298
    assert len(report.skipped) == ScoreReport.KEEP_INVALID
    assert "skipped 298 invalid record(s), kept 2" in report.summary(max_listed=100)
    assert "... and 198 more" in report.summary(max_listed=100)


# ---------------------------------------------------------------------------
# Issue 34, case 17: a damaged pipeline is one clear message, not a traceback.


def damaged_pipelines(model_dir, tmp_path):
    """Copies of the pipeline at ``model_dir``, each damaged one way: (name,
    pipeline path, the file that was damaged)."""
    import shutil

    other = spacy.blank("en")
    textcat = other.add_pipe("textcat")
    for label in ("this", "that"):
        textcat.add_label(label)
    other.initialize()
    damaged = []
    for name in ("config", "truncated", "other_component"):
        path = tmp_path / f"damaged-{name}"
        shutil.copytree(model_dir, path)
        weights = path / "rnn_textcat" / "model"
        if name == "config":
            target = path / "config.cfg"
            target.write_text('[nlp\nlang = "en"\n', encoding="utf8")
        elif name == "truncated":
            target = weights
            target.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        else:  # the weights of another component
            target = weights
            target.write_bytes(other.get_pipe("textcat").model.to_bytes())
        damaged.append((name, path, target))
    return damaged


def check_damaged_pipeline_message(result, path, target):
    """exit 1, no traceback, and a message that names the pipeline, the damaged
    file, the error underneath (on one line) and what to do."""
    output = result.output
    assert result.exit_code == 1, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in output
    assert f"Cannot load the pipeline {str(path)!r}" in output, output
    assert f"{target} looks damaged" in output, output
    assert "Error:" in output  # the underlying error, with its type
    assert "train it again" in output and "save it again" in output and "Check that" in output
    assert len(output.strip().splitlines()) <= 3, output


def test_issue34_a_damaged_pipeline_is_a_clear_score_error(tmp_path, tiny_textcat_dir):
    from typer.testing import CliRunner
    from spacy_rnn.cli import app
    from spacy_rnn.inference.classifiers import load_classifier

    texts = tmp_path / "in.txt"
    texts.write_text("a fine film\n", encoding="utf8")
    for name, path, target in damaged_pipelines(tiny_textcat_dir, tmp_path):
        with pytest.raises(ScoreError, match="looks damaged") as raised:
            load_classifier(path)
        assert str(target) in str(raised.value)
        result = CliRunner().invoke(app, ["score", str(path), str(texts)])
        check_damaged_pipeline_message(result, path, target)
    result = CliRunner().invoke(app, ["score", str(tmp_path / "missing"), str(texts)])
    assert result.exit_code == 1 and "no such folder" in result.output and "Traceback" not in result.output
