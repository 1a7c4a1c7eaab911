"""spacy_rnn.inference.evaluate and ``python -m spacy_rnn evaluate``: spaCy's scores, in bounded memory."""
import json
import tracemalloc

import pytest
import spacy
from spacy.training import Example
from typer.testing import CliRunner

from conftest import FIXTURE_DATA, read_jsonl
from spacy_rnn.cli import app
from spacy_rnn.data import Record, write_shards
from spacy_rnn.errors import EvaluationError
from spacy_rnn.inference.evaluate import EvaluationReport, evaluate_stream

runner = CliRunner()
LABELS = ["negative", "positive"]


def examples_of(nlp, records):
    return [
        Example.from_dict(nlp.make_doc(r["text"]), {"cats": {label: float(label == r["label"]) for label in LABELS}})
        for r in records
    ]


CALIBRATION = ("cats_ece", "cats_brier", "cats_calibration", "cats_confusion")  # ours, beside spaCy's (tests/test_calibration.py, tests/test_evaluation_plots.py)


def without_speed(scores):
    """spaCy's cats_* scores: without speed, the tokenization scores and our calibration."""
    return {k: v for k, v in scores.items() if k != "speed" and not k.startswith("token_") and k not in CALIBRATION}


@pytest.fixture(scope="module")
def dev_records():
    return read_jsonl(FIXTURE_DATA / "sentences" / "dev.jsonl", limit=60)


@pytest.mark.parametrize("chunk_size,batch_size", [(7, 3), (1000, None)])
def test_scores_are_those_of_language_evaluate(tiny_textcat_dir, dev_records, chunk_size, batch_size):
    nlp = spacy.load(tiny_textcat_dir)
    expected = nlp.evaluate(examples_of(nlp, dev_records))
    report = EvaluationReport()
    got = evaluate_stream(nlp, iter(examples_of(nlp, dev_records)), chunk_size=chunk_size,
                          batch_size=batch_size, report=report)
    assert without_speed(got) == without_speed(expected)
    assert 0.0 < got["cats_macro_auc"] < 1.0 and got["speed"] > 0
    assert report.n_docs == len(dev_records) and report.components == ["rnn_textcat"]
    assert report.n_words == sum(len(nlp.make_doc(r["text"])) for r in dev_records)


def test_multilabel_scores_are_those_of_language_evaluate(dev_records):
    nlp = spacy.blank("en")
    config = {"model": {"tok2vec": {"embed": {"width": 8, "rows": [100, 50, 50, 50]}, "encode": {"width": 8}}}}
    nlp.add_pipe("rnn_textcat_multilabel", config=config)
    examples = examples_of(nlp, dev_records)
    nlp.initialize(lambda: examples)
    assert without_speed(evaluate_stream(nlp, examples_of(nlp, dev_records), chunk_size=5)) == without_speed(
        nlp.evaluate(examples_of(nlp, dev_records))
    )


def test_a_pipeline_without_text_classifier_is_refused():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.raises(EvaluationError, match="no text classifier.*spacy evaluate"):
        evaluate_stream(nlp, [])


def test_chunk_size_must_be_positive(tiny_textcat_dir):
    with pytest.raises(EvaluationError, match="chunk_size must be 1 or more"):
        evaluate_stream(spacy.load(tiny_textcat_dir), [], chunk_size=0)



def test_a_gold_label_no_classifier_predicts_is_refused(tiny_textcat_dir, dev_records):
    """Language.evaluate would count such a document as a mistake without a word."""
    nlp = spacy.load(tiny_textcat_dir)
    examples = examples_of(nlp, dev_records[:9])
    # a label the document does not have (0.0) is scored right as it is
    examples[0] = Example.from_dict(examples[0].predicted, {"cats": {**examples[0].reference.cats, "neutral": 0.0}})
    expected = evaluate_stream(nlp, examples_of(nlp, dev_records[:9]))
    assert evaluate_stream(nlp, examples[:9])["cats_score"] == expected["cats_score"]
    examples.append(Example.from_dict(nlp.make_doc("so-so"), {"cats": {"neutral": 1.0, "positive": 0.0}}))
    with pytest.raises(EvaluationError, match=r"E035\] document 10 of the corpus: the document has the gold label\(s\) 'neutral'.*"
                                              r"\(rnn_textcat: negative, positive\).*'so-so'"):
        evaluate_stream(nlp, iter(examples), chunk_size=4)


def test_memory_is_one_chunk_not_the_corpus(tiny_textcat_dir):
    """Docs of 300 tokens, streamed: with chunks of 20 the traced peak stays a
    fraction of what holding all 400 examples at once takes."""
    nlp = spacy.load(tiny_textcat_dir)
    text = " ".join(["a wonderful , moving film"] * 60)

    def stream():
        for i in range(400):
            yield Example.from_dict(nlp.make_doc(text), {"cats": {"negative": float(i % 2), "positive": float(1 - i % 2)}})

    def traced_peak(chunk_size):
        tracemalloc.start()
        try:
            evaluate_stream(nlp, stream(), chunk_size=chunk_size, batch_size=20)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    streamed, whole = traced_peak(20), traced_peak(400)
    assert streamed < whole / 4, (streamed, whole)


def rounded(value):
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 10) if isinstance(value, float) else value


def test_cli_reads_shards_and_records_and_writes_spacy_evaluates_keys(tiny_textcat_dir, dev_records, tmp_path):
    nlp = spacy.load(tiny_textcat_dir)
    expected = without_speed(nlp.evaluate(examples_of(nlp, dev_records)))
    records = [Record(r["text"], [r["label"]], line) for line, r in enumerate(dev_records, 1)]
    _, n_shards = write_shards(nlp, lambda: records, tmp_path / "dev", LABELS, shard_size=25)
    assert n_shards == 3
    jsonl = tmp_path / "dev.jsonl"
    jsonl.write_text("".join(json.dumps({"review": r["text"], "label": r["label"]}) + "\n" for r in dev_records))
    for data, extra in ((tmp_path / "dev", []), (jsonl, ["--text-key", "review"])):
        output = tmp_path / f"{data.stem}-metrics.json"
        result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(data), "--output", str(output),
                                     "--chunk-size", "10", *extra])
        assert result.exit_code == 0, result.output
        assert "TEXTCAT (macro F)" in result.output and "ROC AUC" in result.output
        assert f"on {len(dev_records)} docs" in result.output
        scores = json.loads(output.read_text())
        assert scores["speed"] > 0
        # srsly writes floats to 10 digits, for spacy evaluate too
        assert without_speed(scores) == rounded(expected)



def test_cli_bounds_onednn_cache_unless_the_environment_does(tiny_textcat_dir, dev_records, tmp_path,
                                                             no_onednn_capacity, monkeypatch):
    """oneDNN keeps 1,024 built kernels by default; reviews of many lengths
    rarely reuse one (the main job's test half: 1,126 -> 778 MiB peak RSS with 16)."""
    import os

    corpus = tmp_path / "dev.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in dev_records[:5]))
    assert runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(corpus)]).exit_code == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "16"
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "3")
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(corpus), "--primitive-cache", "7"])
    assert result.exit_code == 0 and os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "3"

def test_cli_names_the_problem(tiny_textcat_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "empty" in result.output and "holds no corpus file" in result.output
    assert "python -m spacy_rnn convert INPUT FOLDER --shard-size N" in result.output  # another command's option
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "positive"}\n{"text": "no label"}\n')
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl" in result.output and "line 2" in result.output
    (tmp_path / "neutral.jsonl").write_text('{"text": "fine", "label": "positive"}\n{"text": "meh", "label": "neutral"}\n')
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(tmp_path / "neutral.jsonl")])
    assert result.exit_code == 1
    assert f"{tmp_path / 'neutral.jsonl'}, line 2: the document has" in result.output and "'neutral'" in result.output
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "no_textcat")
    (tmp_path / "dev.jsonl").write_text('{"text": "fine", "label": "positive"}\n')
    result = runner.invoke(app, ["evaluate", str(tmp_path / "no_textcat"), str(tmp_path / "dev.jsonl")])
    assert result.exit_code == 1
    assert "(sentencizer) has no text classifier" in result.output and "spacy evaluate" in result.output


# ---------------------------------------------------------------------------
# Issue 34


def evaluate_options():
    """The options `evaluate` has, as a user writes them."""
    import typer.main

    command = typer.main.get_command(app).commands["evaluate"]
    return {name for param in command.params for name in getattr(param, "opts", []) if name.startswith("--")}


def check_only_own_options(output):
    import re

    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", output))
    assert named <= evaluate_options(), (named - evaluate_options(), output)
    for setting in ("skip_invalid", "labels_key", "text_column", "label_column", "allow_empty_labels"):
        assert setting not in output, output


def write_docbin(path, texts_and_labels):
    from spacy.tokens import Doc, DocBin

    vocab = spacy.blank("en").vocab
    doc_bin = DocBin()
    for text, label in texts_and_labels:
        words = text.split(" ")
        doc = Doc(vocab, words=words, spaces=[True] * (len(words) - 1) + [False])
        doc.cats = {name: float(name == label) for name in ("negative", "positive", "neutral") if name in LABELS
                    or name == label}
        doc_bin.add(doc)
    doc_bin.to_disk(path)
    return path


def test_issue34_max_length(tiny_textcat_dir, tmp_path):
    """Case 11: --max-length, as score has it; by default no limit for a text
    classifier, and a text over the limit named by file and line (or document)."""
    long_text = "x" * 1_000_001
    jsonl = tmp_path / "long.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in [
        {"text": "a fine film", "label": "positive"}, {"text": long_text, "label": "negative"}]))
    docbin = write_docbin(tmp_path / "long.spacy", [("a fine film", "positive"), (long_text, "negative")])
    for path in (jsonl, docbin):
        result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(path)])
        assert result.exit_code == 0, result.output
        assert "on 2 docs" in result.output
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(jsonl), "--max-length", "1000"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (f"{jsonl}, line 2: the text field 'text' is 1,000,001 characters long, more than the limit of 1,000"
            in result.output), result.output
    assert "--max-length" in result.output
    check_only_own_options(result.output)
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(docbin), "--max-length", "1000"])
    assert result.exit_code == 1 and "E088" not in result.output, result.output
    assert f"{docbin}: document 2 is 1,000,001 characters long, more than the limit of 1,000" in result.output
    assert "--max-length" in result.output
    check_only_own_options(result.output)
    assert runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(docbin), "--max-length", "0"]).exit_code == 0


def test_issue34_the_pipelines_own_limit_is_named_too(tiny_textcat_dir, tmp_path):
    """Case 11: without --max-length, a pipeline with a parser keeps its
    nlp.max_length, and a longer text is refused with the same message (the
    .spacy one was spaCy's E088 traceback), from the command as from Python."""
    from spacy.training import Example
    from spacy_rnn.data.streaming import StreamingCorpus
    from spacy_rnn.errors import CorpusError

    nlp = spacy.load(tiny_textcat_dir)
    parser = nlp.add_pipe("parser")
    example = Example.from_dict(nlp.make_doc("good film"), {"heads": [1, 1], "deps": ["amod", "ROOT"]})
    parser.initialize(lambda: [example], nlp=nlp)
    nlp.to_disk(tmp_path / "with_parser")
    long_text = "x" * (nlp.max_length + 1)
    jsonl = tmp_path / "long.jsonl"
    jsonl.write_text(json.dumps({"text": long_text, "label": "negative"}) + "\n")
    docbin = write_docbin(tmp_path / "long.spacy", [("a fine film", "positive"), (long_text, "negative")])
    limit = f"{len(long_text):,} characters long, more than the limit of {nlp.max_length:,}"
    for path, where in ((jsonl, f"{jsonl}, line 1: the text field 'text' is"), (docbin, f"{docbin}: document 2 is")):
        result = runner.invoke(app, ["evaluate", str(tmp_path / "with_parser"), str(path)])
        assert result.exit_code == 1 and f"{where} {limit}" in result.output, result.output
        assert "--max-length" in result.output and "E088" not in result.output
        check_only_own_options(result.output)
    nlp = spacy.load(tiny_textcat_dir)
    nlp.max_length = 20
    corpus = StreamingCorpus(write_docbin(tmp_path / "short.spacy", [("fine", "positive"), ("x" * 50, "negative")]))
    with pytest.raises(CorpusError, match="document 2 is 50 characters long, more than the limit of 20"):
        list(corpus.located_examples(nlp))


def test_issue34_advice_rewritten_clause_by_clause():
    """What advice_for(error, "evaluate") keeps: its own options, another command's, and
    clauses with an apostrophe or quoted commas whole."""
    from spacy_rnn.cli._util import advice_for
    from spacy_rnn.errors import CorpusError

    def advice(text):
        return advice_for(CorpusError("f.jsonl", 3, "bad", text), "evaluate").advice

    assert advice("Fix the pipeline's record, or pass skip_invalid=True (--skip-invalid) to skip them.") == \
        "Fix the pipeline's record."
    assert advice('Write e.g. {"labels": ["a", "b"]}, or pass --skip-invalid') == 'Write e.g. {"labels": ["a", "b"]}'
    assert advice("or pass skip_invalid=True (--skip-invalid) to skip invalid records") == \
        "Fix the record, or remove it from the corpus."
    assert advice("Run python -m spacy_rnn convert IN OUT --shard-size N") == \
        "Run python -m spacy_rnn convert IN OUT --shard-size N"
    assert advice("Choose the column with text_column (--text-column), or raise max_length (--max-length)") == \
        "Choose the column with --text-key, or raise max_length (--max-length)"


def test_issue34_e035_names_the_file_and_line(tiny_textcat_dir, tmp_path):
    """Case 18: the document with an unknown gold label, by file and line (or index)."""
    jsonl = tmp_path / "neutral.jsonl"
    jsonl.write_text('{"text": "fine", "label": "positive"}\n\n{"text": "meh", "label": "neutral"}\n')
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(jsonl)])
    assert result.exit_code == 1
    assert f"E035] {jsonl}, line 3: the document has the gold label(s) 'neutral'" in result.output, result.output
    csv_path = tmp_path / "neutral.csv"
    csv_path.write_text('text,label\nfine,positive\n"two\nlines",negative\nmeh,neutral\n')
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(csv_path)])
    assert f"E035] {csv_path}, line 5: the document has" in result.output, result.output
    docbin = write_docbin(tmp_path / "neutral.spacy", [("fine", "positive"), ("meh", "neutral")])
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(docbin)])
    assert f"E035] {docbin}, document 2: the document has" in result.output, result.output
    folder = tmp_path / "shards"
    folder.mkdir()
    write_docbin(folder / "a.spacy", [("fine", "positive")])
    write_docbin(folder / "b.spacy", [("good", "positive"), ("meh", "neutral")])
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(folder)])
    assert f"E035] {folder / 'b.spacy'}, document 2: the document has" in result.output, result.output


BAD_CORPORA = {
    "no_label.jsonl": ('{"text": "fine", "label": "positive"}\n{"text": "no label"}\n', "line 2", "--label-key"),
    "list_label.jsonl": ('{"text": "fine", "label": ["positive"]}\n', "line 1", "'labels'"),
    "empty_labels.jsonl": ('{"text": "fine", "labels": []}\n', "line 1", "at least one label"),
    "bad_json.jsonl": ('{"text": "fine", "label": "positive"}\n{"text": \n', "line 2", "invalid JSON"),
    "no_text.jsonl": ('{"review": "fine", "label": "positive"}\n', "line 1", "--text-key"),
    "empty_text.jsonl": ('{"text": "  ", "label": "positive"}\n', "line 1", "is empty"),
    "no_text.csv": ("review,label\nfine,positive\n", "line 1", "--text-key"),
    "no_label.csv": ("text,stars\nfine,5\n", "line 1", "--label-key"),
    "short_row.csv": ("text,label\nfine\n", "line 2", "expected 2 columns"),
    "texts.txt": ("fine\n", "cannot tell the corpus format", ".spacy"),
}


@pytest.mark.parametrize("name", sorted(BAD_CORPORA))
def test_issue34_evaluate_advises_only_its_own_options(tiny_textcat_dir, tmp_path, name):
    """Case 18: the shared readers advise --skip-invalid, --labels-key,
    --text-column or --format, which evaluate does not have."""
    content, where, advice = BAD_CORPORA[name]
    path = tmp_path / name
    path.write_text(content, encoding="utf8")
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(path) in result.output and where in result.output and advice in result.output, result.output
    check_only_own_options(result.output)


def test_issue34_a_damaged_pipeline_is_a_clear_error(tiny_textcat_dir, tmp_path):
    """Case 17, for evaluate."""
    from test_scoring import check_damaged_pipeline_message, damaged_pipelines

    corpus = tmp_path / "dev.jsonl"
    corpus.write_text('{"text": "fine", "label": "positive"}\n')
    for _, path, target in damaged_pipelines(tiny_textcat_dir, tmp_path):
        result = runner.invoke(app, ["evaluate", str(path), str(corpus)])
        check_damaged_pipeline_message(result, path, target)
