"""PipelineScorer (spacy_rnn.scaling.scorer), the map_batches class, on Arrow batches without a cluster."""
import pytest
import spacy

pa = pytest.importorskip("pyarrow")

from spacy_rnn.data import clean_html_breaks  # noqa: E402
from spacy_rnn.scaling import PipelineScorer, label_columns  # noqa: E402
from spacy_rnn.scaling.columns import READ_ERROR  # noqa: E402
from spacy_rnn.inference.score import score_texts  # noqa: E402

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def scorer(tiny_textcat_dir):
    return PipelineScorer(str(tiny_textcat_dir), num_threads=1)


def test_columns_per_label_top_label_and_input_kept(scorer, tiny_textcat_dir):
    texts = ["a wonderful film", "", "dull <br /> and slow"]
    batch = pa.table({"id": [7, 8, 9], "text": texts, "source": ["a", "b", None]})
    out = scorer(batch)
    assert out.column_names == ["id", "text", "source", *label_columns(LABELS), "label", "error"]
    assert out.column("text").to_pylist() == texts  # the text as it was; the scored one has no <br />
    assert out.column("source").to_pylist() == ["a", "b", None]
    # the local engine cleans HTML line breaks from the texts it scores, as the scorer does
    local = list(score_texts(spacy.load(tiny_textcat_dir), [clean_html_breaks(t) for t in texts]))
    for i, result in enumerate(local):
        assert [out.column(f"cats.{label}")[i].as_py() for label in LABELS] == [result["cats"][label] for label in LABELS]
        assert out.column("label")[i].as_py() == result["label"]
        assert out.column("error")[i].as_py() is None


def test_bad_rows_get_an_error_and_keep_their_columns(scorer):
    batch = pa.table({"id": [0, 1, 2, 3], "text": ["fine", None, "ok", "x"],
                      READ_ERROR: [None, None, None, "in.jsonl, line 4: invalid JSON"]})
    out = scorer(batch).to_pylist()
    assert [row["id"] for row in out] == [0, 1, 2, 3]
    assert READ_ERROR not in out[0]
    assert out[0]["error"] is None and out[0]["label"] in LABELS
    assert "no text field 'text'" in out[1]["error"]
    assert out[2]["error"] is None
    assert out[3]["error"] == "in.jsonl, line 4: invalid JSON"
    for row in (out[1], out[3]):
        assert row["label"] is None and row["cats.positive"] is None


def test_a_text_that_is_not_a_string(scorer):
    out = scorer(pa.table({"text": [5, 6]})).to_pylist()
    assert [row["error"] for row in out] == ["the text field 'text' is a number, not a string"] * 2


def test_an_input_label_field_is_not_overwritten(scorer):
    """The local engine's rule: a record whose output field is taken is invalid, its value kept."""
    out = scorer(pa.table({"text": ["good", "bad"], "label": ["positive", None]})).to_pylist()
    assert out[0]["label"] == "positive" and "already has a field 'label'" in out[0]["error"]
    assert out[1]["error"] is None and out[1]["label"] in LABELS
