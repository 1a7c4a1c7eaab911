"""Attention explanations: doc._.rnn_attention and the `explain` command."""
import html

import pytest
import spacy
from spacy.training import Example
from thinc.api import Config
from typer.testing import CliRunner

from spacy_rnn.cli import app, format_explanation
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.errors import ExplainError
from spacy_rnn.inference.explain import explain, explanation_html
from spacy_rnn.pipeline import DEFAULT_RNN_TEXTCAT_CONFIG

LABELS = ["negative", "positive"]
TEXTS = ["a gorgeous , witty film", "", "dull and lifeless", "   ", "ok", "emoji 😀 end"]
runner = CliRunner()


def small_model(pooling="attention", exclusive=True):
    cfg = Config().from_str(DEFAULT_RNN_TEXTCAT_CONFIG)
    cfg["model"]["pooling"] = pooling
    cfg["model"]["exclusive_classes"] = exclusive
    cfg["model"]["tok2vec"]["embed"]["width"] = 16
    cfg["model"]["tok2vec"]["encode"]["width"] = 16
    return cfg["model"]


def make_nlp(store_attention=True, pooling="attention", factory="rnn_textcat"):
    nlp = spacy.blank("en")
    config = {"model": small_model(pooling, factory == "rnn_textcat"), "store_attention": store_attention}
    nlp.add_pipe(factory, config=config)
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {l: float(l == LABELS[i % 2]) for l in LABELS}})
        for i, t in enumerate(TEXTS)
    ]
    optimizer = nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def nlp():
    return make_nlp()


@pytest.fixture(scope="module")
def model_dir(nlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "model"
    nlp.to_disk(path)
    return path


def check_weights(docs):
    for doc in docs:
        weights = doc._.rnn_attention
        assert isinstance(weights, list) and len(weights) == len(doc)
        assert all(type(w) is float for w in weights)
        if len(doc):
            assert sum(weights) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("factory", ["rnn_textcat", "rnn_textcat_multilabel"])
def test_weights_one_per_token_summing_to_one(factory):
    nlp = make_nlp(factory=factory)
    check_weights(list(nlp.pipe(TEXTS, batch_size=2)))
    check_weights([nlp(t) for t in TEXTS])
    check_weights(list(nlp.pipe(["", " "])))  # a batch without a single token


def test_none_when_off_and_the_pooling_keeps_nothing():
    nlp = make_nlp(store_attention=False)
    assert all(doc._.rnn_attention is None for doc in nlp.pipe(TEXTS))
    pooling = nlp.get_pipe("rnn_textcat").model.get_ref("pooling")
    assert pooling.attrs["store_weights"] is False and pooling.attrs["last_weights"] is None


def test_weights_do_not_change_the_prediction(nlp):
    on = [doc.cats for doc in nlp.pipe(TEXTS)]
    nlp.get_pipe("rnn_textcat").store_attention = False
    try:
        off = [doc.cats for doc in nlp.pipe(TEXTS)]
    finally:
        nlp.get_pipe("rnn_textcat").store_attention = True
    assert on == off


def test_with_two_processes(nlp):
    docs = list(nlp.pipe(TEXTS * 4, n_process=2, batch_size=3))
    check_weights(docs)
    assert docs[0]._.rnn_attention == pytest.approx(nlp(TEXTS[0])._.rnn_attention, abs=1e-6)


def test_saved_pipeline_keeps_the_setting(model_dir):
    loaded = spacy.load(model_dir)
    assert loaded.config["components"]["rnn_textcat"]["store_attention"] is True
    assert loaded.get_pipe("rnn_textcat").store_attention
    check_weights(list(loaded.pipe(TEXTS)))


def test_attention_without_attention_pooling_is_a_clear_error():
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValueError, match=r"E008.*'mean'.*pooling = \"attention\""):
        nlp.add_pipe("rnn_textcat", config={"model": small_model("mean"), "store_attention": True})
    pipe = nlp.add_pipe("rnn_textcat", name="off", config={"model": small_model("max")})
    with pytest.raises(ConfigValueError, match="E008"):
        pipe.store_attention = True


def test_explain_turns_weights_on_for_the_call_only():
    nlp = make_nlp(store_attention=False)
    explanation = explain(nlp, "a witty film")
    assert explanation.tokens == ["a", "witty", "film"]
    assert sum(explanation.weights) == pytest.approx(1.0, abs=1e-5)
    assert set(explanation.cats) == set(LABELS)
    assert not nlp.get_pipe("rnn_textcat").store_attention
    assert explain(nlp, "").weights == []


def test_explain_errors_name_the_fix():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    with pytest.raises(ExplainError, match="E009.*sentencizer"):
        explain(nlp, "text")
    with pytest.raises(ExplainError, match="E010"):
        explain(make_nlp(store_attention=False), "text", component="nope")


def test_cli_prints_tokens_and_writes_escaped_html(model_dir, tmp_path):
    text = 'a witty <script>alert("x")</script> film & more'
    out = tmp_path / "page" / "explain.html"
    result = runner.invoke(app, ["explain", str(model_dir), text, "--html", str(out)])
    assert result.exit_code == 0, result.output
    for token in ["witty", "<", "script", "film", "&", "more"]:
        assert token in result.output
    assert "*" in result.output and "positive" in result.output and "negative" in result.output
    page = out.read_text(encoding="utf8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" not in page  # tokens are escaped one by one
    assert "&lt;" in page and "&amp;" in page and "&quot;" in page
    nlp = spacy.load(model_dir)
    for token in nlp.make_doc(text):
        assert f">{html.escape(token.text)}</span>" in page
    assert page.index('class="cats"') < page.index('class="text"')


def test_cli_errors(model_dir, tmp_path):
    result = runner.invoke(app, ["explain", str(tmp_path / "missing"), "text"])
    assert result.exit_code == 1 and "Cannot load" in result.output
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("rnn_textcat", config={"model": small_model("mean")})
    for label in LABELS:
        pipe.add_label(label)
    nlp.initialize()
    nlp.to_disk(tmp_path / "mean")
    result = runner.invoke(app, ["explain", str(tmp_path / "mean"), "text"])
    assert result.exit_code == 1 and "E017" in result.output and "attention" in result.output
    spacy.blank("en").to_disk(tmp_path / "blank")
    result = runner.invoke(app, ["explain", str(tmp_path / "blank"), "text"])
    assert result.exit_code == 1 and "E009" in result.output


def test_text_table_and_html_of_an_empty_text(nlp):
    explanation = explain(nlp, "")
    assert "no tokens" in format_explanation(explanation)
    assert "<!DOCTYPE html>" in explanation_html(explanation)


@pytest.mark.parametrize("saved_with", [False, True])
def test_issue34_store_attention_from_the_load_config(tmp_path, saved_with):
    """Case 7: spacy.load(MODEL, config={... "store_attention": true}) gave [] for every doc:
    loading the weights restored the pooling's attrs as they were saved."""
    nlp = make_nlp(store_attention=saved_with)
    nlp.to_disk(tmp_path / "model")
    for wanted in (True, False):
        loaded = spacy.load(tmp_path / "model", config={"components": {"rnn_textcat": {"store_attention": wanted}}})
        doc = loaded("a fine film")
        if wanted:
            assert len(doc._.rnn_attention) == len(doc) and abs(sum(doc._.rnn_attention) - 1) < 1e-5
        else:
            assert doc._.rnn_attention is None


# ---------------------------------------------------------------------------
# Issue 34


def test_issue34_no_attention_pooling_is_not_blamed_on_a_setting(tmp_path):
    """Case 19: the user never set store_attention; say what the model does
    and what explain needs, with a config that has it."""
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("rnn_textcat", config={"model": small_model("max+mean")})
    for label in LABELS:
        pipe.add_label(label)
    nlp.initialize()
    with pytest.raises(ExplainError, match=r"E017.*'rnn_textcat'.* pools with 'max\+mean'.*explain needs attention pooling"):
        explain(nlp, "text")
    assert not pipe.store_attention
    nlp.to_disk(tmp_path / "model")
    result = runner.invoke(app, ["explain", str(tmp_path / "model"), "text"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "store_attention" not in output and "E008" not in output, output
    assert "pools with 'max+mean'" in output and 'pooling = "attention"' in output
    assert "configs/sentiment_bilstm.cfg" in output


def test_issue34_top_must_not_be_negative(model_dir):
    """Case 19: --top -1 marked every token but one."""
    result = runner.invoke(app, ["explain", str(model_dir), "a witty film", "--top", "-1"])
    assert result.exit_code == 2 and "--top" in result.output, result.output
    result = runner.invoke(app, ["explain", str(model_dir), "a witty film", "--top", "0"])
    assert result.exit_code == 0, result.output
    assert "*" not in result.output
    with pytest.raises(ExplainError, match="--top"):
        explain(spacy.load(model_dir), "a witty film").top(-1)


def test_issue34_text_from_stdin_or_a_file(model_dir, tmp_path):
    """Case 19: TEXT "-" reads stdin, --file a file: the whole input is one
    text (without its final line break)."""
    expected = runner.invoke(app, ["explain", str(model_dir), "a witty film\nso dull"])
    assert expected.exit_code == 0, expected.output
    result = runner.invoke(app, ["explain", str(model_dir), "-"], input="a witty film\nso dull\n")
    assert result.exit_code == 0, result.output
    assert result.output == expected.output
    path = tmp_path / "review.txt"
    path.write_text("a witty film\nso dull\n", encoding="utf8")
    result = runner.invoke(app, ["explain", str(model_dir), "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == expected.output
    result = runner.invoke(app, ["explain", str(model_dir), "text", "--file", str(path)])
    assert result.exit_code == 1 and "not both" in result.output
    result = runner.invoke(app, ["explain", str(model_dir), "--top", "2"])
    assert result.exit_code == 1 and "--file" in result.output and "-" in result.output
    path.write_bytes(b"caf\xe9 noir\n")
    result = runner.invoke(app, ["explain", str(model_dir), "--file", str(path)])
    assert result.exit_code == 1 and str(path) in result.output and "UTF-8" in result.output, result.output
    result = runner.invoke(app, ["explain", str(model_dir), "--file", str(tmp_path / "missing.txt")])
    assert result.exit_code == 2 and "--file" in result.output


def test_issue34_a_damaged_pipeline_is_a_clear_error(model_dir, tmp_path):
    """Case 17, for explain."""
    from test_scoring import check_damaged_pipeline_message, damaged_pipelines

    for _, path, target in damaged_pipelines(model_dir, tmp_path):
        result = runner.invoke(app, ["explain", str(path), "a witty film"])
        check_damaged_pipeline_message(result, path, target)
