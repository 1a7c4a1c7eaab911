"""Loading weights never runs code from them (issue 34): a pickle planted in
each of our weights files (encoder, character embedding, language-model
head) is refused with a clear error, whatever torch's default for
``weights_only``."""
import io
import os

import pytest
import spacy
import srsly
import torch
from thinc.api import Model

from spacy_rnn.errors import WeightsError
from spacy_rnn.layers.char_embed import CharRNNEmbed
from spacy_rnn.pretraining.lm_head import LanguageModelOutput


class Planted:
    """Unpickling this would create the file ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def planted_bytes(marker) -> bytes:
    filelike = io.BytesIO()
    torch.save({"weight": Planted(str(marker))}, filelike)
    return filelike.getvalue()


def plant(model_bytes: bytes, marker) -> bytes:
    """``model_bytes`` (Thinc's Model.to_bytes) with every shim's weights replaced by the pickle."""
    msg = srsly.msgpack_loads(model_bytes)
    planted = 0
    for node_shims in msg["shims"]:
        for i, shim_bytes in enumerate(node_shims):
            shim = srsly.msgpack_loads(shim_bytes)
            try:  # the encoder's own format: {"hparams": ..., "state": torch.save bytes}
                inner = srsly.msgpack_loads(shim["state"])
            except Exception:
                inner = None
            if isinstance(inner, dict) and "hparams" in inner:
                inner["state"] = planted_bytes(marker)
                shim["state"] = srsly.msgpack_dumps(inner)
            else:
                shim["state"] = planted_bytes(marker)
            node_shims[i] = srsly.msgpack_dumps(shim)
            planted += 1
    assert planted, "no weights to plant into"
    return srsly.msgpack_dumps(msg)


@pytest.fixture(autouse=True)
def torch_default_unsafe(monkeypatch):
    """Pretend a torch version whose ``torch.load`` unpickles anything by default."""
    original = torch.load

    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", load)


def test_the_planted_pickle_runs_where_loading_is_unsafe(tmp_path):
    # The test's own check: without weights_only, loading the bytes runs the code.
    marker = tmp_path / "ran"
    torch.load(io.BytesIO(planted_bytes(marker)))
    assert marker.exists()


def test_spacy_load_refuses_a_planted_encoder_pickle(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config={"model": {"bow_ngram_size": 0}})
    nlp.get_pipe("rnn_textcat").add_label("pos")
    nlp.get_pipe("rnn_textcat").add_label("neg")
    nlp.initialize()
    nlp.to_disk(tmp_path / "pipeline")
    weights = tmp_path / "pipeline" / "rnn_textcat" / "model"
    marker = tmp_path / "ran"
    weights.write_bytes(plant(weights.read_bytes(), marker))
    with pytest.raises(WeightsError, match="refused without running"):
        spacy.load(tmp_path / "pipeline")
    assert not marker.exists()


@pytest.mark.parametrize("make", [
    lambda: CharRNNEmbed(width=8, cell="lstm", char_width=4, n_chars=64, max_chars=8),
    lambda: LanguageModelOutput(n_classes=12, output_layer="full", nI=6),
], ids=["char_embedding", "lm_head"])
def test_layers_refuse_a_planted_pickle(tmp_path, make):
    model: Model = make()
    model.initialize()
    marker = tmp_path / "ran"
    planted = plant(model.to_bytes(), marker)
    fresh = make()
    fresh.initialize()
    with pytest.raises(WeightsError, match="not a plain PyTorch state dict"):
        fresh.from_bytes(planted)
    assert not marker.exists()
    fresh.from_bytes(model.to_bytes())  # the real weights still load
