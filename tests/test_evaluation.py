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


def without_speed(scores):
    return {k: v for k, v in scores.items() if k != "speed" and not k.startswith("token_")}


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
    with pytest.raises(EvaluationError, match=r"E035\] Document 10 of the corpus has the gold label\(s\) 'neutral'.*"
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
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "positive"}\n{"text": "no label"}\n')
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl" in result.output and "line 2" in result.output
    (tmp_path / "neutral.jsonl").write_text('{"text": "fine", "label": "positive"}\n{"text": "meh", "label": "neutral"}\n')
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(tmp_path / "neutral.jsonl")])
    assert result.exit_code == 1
    assert "Document 2 of the corpus" in result.output and "'neutral'" in result.output
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "no_textcat")
    (tmp_path / "dev.jsonl").write_text('{"text": "fine", "label": "positive"}\n')
    result = runner.invoke(app, ["evaluate", str(tmp_path / "no_textcat"), str(tmp_path / "dev.jsonl")])
    assert result.exit_code == 1
    assert "(sentencizer) has no text classifier" in result.output and "spacy evaluate" in result.output
