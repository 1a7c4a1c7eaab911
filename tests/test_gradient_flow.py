"""spacy_rnn.gradient_flow.v1 (issue 15): per-position input-gradient norms
and clip counts, recorded while spaCy trains a pipeline from its config."""
import json

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.cli.train import train
from spacy.tokens import DocBin
from thinc.api import Config

from conftest import REPO_ROOT
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.gradient_flow import GradientFlow, create_gradient_flow_callback

CONFIG = REPO_ROOT / "configs" / "sentiment_bilstm.cfg"


def test_norms_by_position_from_either_end():
    recorder = GradientFlow()
    # rows of norm 3, 4, 5 (a 3-token doc) and 1, 2 (a 2-token doc)
    recorder.record_input_gradient([
        numpy.array([[3.0, 0.0], [0.0, 4.0], [3.0, 4.0]], dtype="f"),
        numpy.array([[1.0, 0.0], [0.0, 2.0]], dtype="f"),
        numpy.zeros((0, 2), dtype="f"),
    ])
    assert_allclose(recorder.mean_norm(), [2.0, 3.0, 5.0])
    assert_allclose(recorder.mean_norm(from_end=True), [3.5, 2.5, 3.0])
    assert recorder.docs == 2 and recorder.tokens == 5
    s = recorder.summary()
    assert s["input_gradient"]["from_start"] == [
        {"first": 0, "last": 0, "mean_norm": 2.0, "tokens": 2},
        {"first": 1, "last": 1, "mean_norm": 3.0, "tokens": 2},
        {"first": 2, "last": 2, "mean_norm": 5.0, "tokens": 1},
    ]
    # geometric mean of 3/5 and 1/2
    assert_allclose(s["input_gradient"]["first_over_last"], (0.6 * 0.5) ** 0.5)


def tiny_corpus(path, review_sentences):
    nlp = spacy.blank("en")
    db = DocBin()
    for record in review_sentences[:24]:
        doc = nlp.make_doc(record["text"])
        doc.cats = {lab: float(record["label"] == lab) for lab in ("negative", "positive")}
        db.add(doc)
    db.to_disk(path)
    return path


@pytest.mark.parametrize("grad_clip,clipped", [(1e-6, "all"), (1e6, "none")])
def test_callback_records_while_spacy_trains(tmp_path, review_sentences, grad_clip, clipped):
    """The callback, set in the config, attaches to the encoder, reports every
    2 updates, and counts the clips Thinc's optimizer makes: every weight
    array with a tiny grad_clip, none with a huge one."""
    corpus = tiny_corpus(tmp_path / "train.spacy", review_sentences)
    log = tmp_path / "flow.jsonl"
    overrides = {
        "paths.train": str(corpus), "paths.dev": str(corpus),
        "components.rnn_textcat.model.tok2vec.embed.width": 8,
        "components.rnn_textcat.model.tok2vec.encode.width": 8,
        "training.max_steps": 5, "training.eval_frequency": 5,
        "training.optimizer.grad_clip": grad_clip,
        "training.batcher.size": 60,
        "training.before_update": {"@callbacks": "spacy_rnn.gradient_flow.v1", "every": 2, "path": str(log)},
    }
    config = Config().from_disk(CONFIG, overrides=overrides)
    config_path = tmp_path / "config.cfg"
    config.to_disk(config_path)
    train(config_path, output_path=None)
    reports = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in reports] == [2, 4]
    for r in reports:
        assert r["docs"] > 0 and r["input_gradient"]["from_start"][0]["first"] == 0
        assert all(b["mean_norm"] > 0 for b in r["input_gradient"]["from_end"])
        c = r["clipping"]
        assert c["updates"] == 2 and c["grad_clip"] == grad_clip and c["arrays"] > 0
        # a bidirectional 1-layer LSTM: 4 weight arrays a direction
        assert c["arrays"] == 2 * 8
    # The first update's encoder gradients are zero (spaCy's output layer
    # starts at zero weights), and a zero norm is not clipped; then all are.
    c = reports[-1]["clipping"]
    assert c["arrays_clipped"] == (c["arrays"] if clipped == "all" else 0)
    assert c["updates_clipped"] == (2 if clipped == "all" else 0)


@pytest.mark.parametrize("every", [0, -3, 2.5, True])
def test_every_must_be_a_positive_integer(every):
    with pytest.raises(ConfigValueError, match="every must be an integer of 1 or more"):
        create_gradient_flow_callback(every=every)


def test_chains_another_callback():
    calls = []
    callback = create_gradient_flow_callback(every=1, then=lambda nlp, info: calls.append(info["step"]))
    callback(spacy.blank("en"), {"step": 0, "epoch": 0})
    assert calls == [0] and callback.recorder.updates == 0
