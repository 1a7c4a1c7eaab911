"""spacy_rnn.inference.plots and ``python -m spacy_rnn evaluate --plots``: a
confusion matrix, a reliability diagram and a self-contained page (issue 37,
plots). A real browser renders the page in benchmarks/evaluation_page.py."""
import base64
import hashlib
import json
import re
import sys

import pytest
import spacy
from spacy.training import Example
from typer.testing import CliRunner

from conftest import FIXTURE_DATA, TINY_LABELS, read_jsonl, train_tiny_pipeline
from spacy_rnn.cli import app
from spacy_rnn.errors import EvaluationError, OutputError
from spacy_rnn.inference.evaluate import confusion_scores, evaluate_stream
from spacy_rnn.inference.plots import PLOT_FILES, PLOTS_EXTRA, write_evaluation_plots

runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ODD = "<b>odd & co</b>"  # a label that must be escaped in the page
MULTI_LABELS = TINY_LABELS + [ODD]


def multi_cats(label, odd):
    return {**{lab: float(lab == label) for lab in TINY_LABELS}, ODD: float(odd)}


@pytest.fixture(scope="module")
def tiny_multilabel_dir(tmp_path_factory):
    """The tiny pipeline of tiny_textcat_dir, as rnn_textcat_multilabel with a third label."""
    return train_tiny_pipeline("rnn_textcat_multilabel", lambda label: multi_cats(label, label == "positive"),
                               tmp_path_factory.mktemp("tiny_multilabel") / "model")


@pytest.fixture(scope="module")
def dev_records():
    return read_jsonl(FIXTURE_DATA / "sentences" / "dev.jsonl", limit=40)


def gold_of(record, i, exclusive):
    return ({lab: float(lab == record["label"]) for lab in TINY_LABELS} if exclusive
            else multi_cats(record["label"], i % 3 == 0))


def scores_of(model_dir, records, exclusive):
    nlp = spacy.load(model_dir)
    examples = [Example.from_dict(nlp.make_doc(r["text"]), {"cats": gold_of(r, i, exclusive)})
                for i, r in enumerate(records)]
    return evaluate_stream(nlp, examples, chunk_size=7)


def write_corpus(path, records, exclusive):
    lines = [{"text": r["text"], "label": r["label"]} if exclusive else
             {"text": r["text"], "labels": [lab for lab, v in gold_of(r, i, False).items() if v]}
             for i, r in enumerate(records)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf8")
    return path


def digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check_png(path):
    from matplotlib import image

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 200
    assert pixels.std() > 0.05  # not blank
    return data


def check_page(folder, labels):
    page = (folder / "evaluation.html").read_text(encoding="utf8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2 and page.count("data:image/png;base64,") == 2
    assert [base64.b64decode(data) for data in images] == [
        (folder / "confusion_matrix.png").read_bytes(), (folder / "reliability.png").read_bytes()]
    # self-contained: nothing fetched, no script
    assert "<script" not in page and "http://" not in page and "https://" not in page and "url(" not in page
    table = page.split('<table class="labels">')[1]
    for label in labels:
        assert f"<td>{label.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</td>" in table
    assert "<b>" not in page
    return page


@pytest.mark.parametrize("exclusive", [True, False], ids=["rnn_textcat", "rnn_textcat_multilabel"])
def test_confusion_counts_are_the_scorers(tiny_textcat_dir, tiny_multilabel_dir, dev_records, exclusive):
    """The counts give back the precision and recall of spaCy's scorer."""
    scores = scores_of(tiny_textcat_dir if exclusive else tiny_multilabel_dir, dev_records, exclusive)
    confusion = scores["cats_confusion"]
    assert confusion["exclusive"] is exclusive
    for i, label in enumerate(confusion["labels"]):
        if exclusive:
            matrix = confusion["matrix"]
            tp, gold, predicted = matrix[i][i], sum(matrix[i]), sum(row[i] for row in matrix)
            assert sum(map(sum, matrix)) == len(dev_records) and confusion["left_out"] == 0
        else:
            counts = confusion["per_label"][label]
            tp, gold, predicted = counts["tp"], counts["tp"] + counts["fn"], counts["tp"] + counts["fp"]
            assert sum(counts.values()) == len(dev_records) and confusion["thresholds"][label] == 0.5
        prf = scores["cats_f_per_type"][label]
        assert prf["r"] == pytest.approx(tp / gold if gold else 0.0)
        assert prf["p"] == pytest.approx(tp / predicted if predicted else 0.0)


def test_confusion_scores_by_hand():
    pairs = [({"a": 0.7, "b": 0.3}, {"a": 1.0, "b": 0.0}), ({"a": 0.6, "b": 0.4}, {"a": 0.0, "b": 1.0}),
             ({"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 1.0}), ({"a": 0.2, "b": 0.8}, {"a": 0.0, "b": 0.0})]
    exclusive = confusion_scores(pairs, ["a", "b"], exclusive=True)["cats_confusion"]
    # a tie goes to the first label, as in spaCy's scorer; no gold label: left out
    assert exclusive["matrix"] == [[1, 0], [2, 0]] and exclusive["left_out"] == 1
    multi = confusion_scores(pairs, ["a", "b"], exclusive=False, thresholds={"a": 0.6})["cats_confusion"]
    assert multi["thresholds"] == {"a": 0.6, "b": 0.5}
    assert multi["per_label"]["a"] == {"tp": 1, "fn": 0, "fp": 1, "tn": 2}
    assert multi["per_label"]["b"] == {"tp": 1, "fn": 1, "fp": 1, "tn": 1}


@pytest.mark.parametrize("exclusive", [True, False], ids=["rnn_textcat", "rnn_textcat_multilabel"])
def test_write_evaluation_plots(tiny_textcat_dir, tiny_multilabel_dir, dev_records, tmp_path, exclusive):
    scores = scores_of(tiny_textcat_dir if exclusive else tiny_multilabel_dir, dev_records, exclusive)
    folder = tmp_path / "new" / "plots"
    written = write_evaluation_plots(scores, folder, title="<model> & dev")
    assert written == [folder / name for name in PLOT_FILES]
    assert sorted(p.name for p in folder.iterdir()) == sorted(PLOT_FILES)  # no temporary file left
    for name in ("confusion_matrix.png", "reliability.png"):
        check_png(folder / name)
    page = check_page(folder, TINY_LABELS if exclusive else MULTI_LABELS)
    assert "<h1>&lt;model&gt; &amp; dev</h1>" in page
    assert f"{scores['cats_ece'] * 100:.2f}" in page and "Brier" in page
    if exclusive:
        assert "Accuracy" in page and "<th>Gold</th>" in page
    else:
        assert "<th>TP</th>" in page and "<th>Threshold</th>" in page


def test_write_evaluation_plots_refuses_scores_without_what_it_draws(tmp_path):
    with pytest.raises(EvaluationError, match="lack cats_confusion and cats_calibration"):
        write_evaluation_plots({"cats_score": 0.5}, tmp_path / "plots")
    assert not (tmp_path / "plots").exists()


def test_write_evaluation_plots_refuses_an_input_folder(tiny_textcat_dir, dev_records, tmp_path):
    scores = scores_of(tiny_textcat_dir, dev_records[:5], True)
    before = digest(tiny_textcat_dir)
    with pytest.raises(OutputError, match="is the input"):
        write_evaluation_plots(scores, tiny_textcat_dir, inputs=[tiny_textcat_dir])
    assert digest(tiny_textcat_dir) == before


@pytest.mark.parametrize("exclusive", [True, False], ids=["rnn_textcat", "rnn_textcat_multilabel"])
def test_cli_plots(tiny_textcat_dir, tiny_multilabel_dir, dev_records, tmp_path, exclusive):
    """Into an existing folder that holds the corpus and a file of the user's:
    both stay as they were, the three files are added, and the JSON has the counts."""
    model = tiny_textcat_dir if exclusive else tiny_multilabel_dir
    folder = tmp_path / "eval"
    folder.mkdir()
    corpus = write_corpus(folder / "dev.jsonl", dev_records, exclusive)
    (folder / "notes.txt").write_text("mine")
    before = digest(folder)
    metrics = tmp_path / "metrics.json"
    result = runner.invoke(app, ["evaluate", str(model), str(corpus), "--plots", str(folder), "-o", str(metrics)])
    assert result.exit_code == 0, result.output
    assert f"to {folder}" in result.output
    after = digest(folder)
    assert {name: after[name] for name in before} == before
    assert sorted(after) == sorted([*before, *PLOT_FILES])
    scores = json.loads(metrics.read_text())
    assert scores["cats_confusion"]["exclusive"] is exclusive and "cats_calibration" in scores
    check_png(folder / "confusion_matrix.png")
    check_png(folder / "reliability.png")
    check_page(folder, TINY_LABELS if exclusive else MULTI_LABELS)
    # run again: the three files are replaced, nothing else changes
    result = runner.invoke(app, ["evaluate", str(model), str(corpus), "--plots", str(folder)])
    assert result.exit_code == 0, result.output
    assert sorted(digest(folder)) == sorted(after)


def refused(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "\u2718" in result.output, result.output
    for word in words:
        assert word in result.output, result.output


@pytest.fixture
def no_scoring(monkeypatch):
    """Fail the test if the command gets as far as loading the pipeline."""
    def load_pipeline(*args, **kwargs):
        raise AssertionError("the pipeline was loaded: the refusal came too late")

    monkeypatch.setattr("spacy_rnn.cli.evaluate.load_pipeline", load_pipeline)


@pytest.mark.parametrize("where,words", [
    ("model", ["is the input"]),
    ("model/plots", ["inside the input folder"]),
    ("model/rnn_textcat", ["inside the input folder"]),
    ("corpus", ["is a file"]),
    ("shards", ["is the input"]),
    ("shards/plots", ["inside the input folder"]),
    ("output", ["one of the files --plots writes"]),
])
def test_cli_plots_refusals(tiny_textcat_dir, dev_records, tmp_path, no_scoring, where, words):
    """Checked before anything is loaded or scored; the inputs stay as they were."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_textcat_dir, model)
    corpus = write_corpus(tmp_path / "dev.jsonl", dev_records[:5], True)
    (tmp_path / "shards").mkdir()
    write_corpus(tmp_path / "shards" / "a.jsonl", dev_records[:5], True)
    data = tmp_path / "shards" if where.startswith("shards") else corpus
    before = digest(tmp_path)
    args = ["evaluate", str(model), str(data), "--plots"]
    if where == "output":
        args += [str(tmp_path / "plots"), "-o", str(tmp_path / "plots" / "evaluation.html")]
    else:
        args += [str(corpus if where == "corpus" else tmp_path / where)]
    refused(runner.invoke(app, args), "--plots", *words)
    assert digest(tmp_path) == before
    assert not (tmp_path / "plots").exists() and not (model / "plots").exists()


def test_cli_plots_without_matplotlib(tiny_textcat_dir, dev_records, tmp_path, monkeypatch, no_scoring):
    corpus = write_corpus(tmp_path / "dev.jsonl", dev_records[:5], True)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    result = runner.invoke(app, ["evaluate", str(tiny_textcat_dir), str(corpus), "--plots", str(tmp_path / "plots")])
    refused(result, "matplotlib", PLOTS_EXTRA)
    assert not (tmp_path / "plots").exists()
    with pytest.raises(EvaluationError, match=re.escape(PLOTS_EXTRA)):
        write_evaluation_plots({}, tmp_path / "plots")
