"""The no-leak rule of language-model pretraining: a direction never sees the token it predicts.

:func:`check_no_leak` refuses, with an error that says what to change, a
tok2vec it cannot prove safe: see ``spacy_rnn.PretrainRNNLM.v1`` for what is
checked.
"""
from typing import List

import numpy
from spacy.tokens import Doc
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.layers.chain import forward as chain_forward

from ..errors import ConfigValueError, Errors
from ..layers.encoder import find_encoders

WHERE = "spacy_rnn.PretrainRNNLM.v1"
# Layer names (thinc and spaCy) that mix neighbouring tokens: expand_window
# (spacy.MaxoutWindowEncoder / MishWindowEncoder), lstm (thinc's LSTM),
# pytorch (spacy.TorchBiLSTMEncoder and any other PyTorchWrapper, whose
# torch module cannot be inspected), para-attn (attention over a doc).
CONTEXT_MIXING_LAYERS = ("expand_window", "lstm", "pytorch", "para-attn")
PROBE_WORDS = "the quick brown fox jumps over a lazy dog near seven small houses".split()
PROBE_SWAP = "zebra"


def output_encoder(tok2vec: Model) -> Model:
    """The one ``spacy_rnn.RNNEncoder.v1`` of ``tok2vec``, which must be its output layer.

    RAISES (ConfigValueError): E013.
    """
    encoders = find_encoders(tok2vec)
    if len(encoders) != 1:
        reason = (
            f"it has no spacy_rnn.RNNEncoder.v1 (its layers: {tok2vec.name})."
            if not encoders
            else f"it has {len(encoders)} spacy_rnn.RNNEncoder.v1 layers; use one (set its depth instead)."
        )
        raise ConfigValueError(Errors.E013.format(where=WHERE, reason=reason))
    last = tok2vec
    while last is not encoders[0] and last._func is chain_forward:
        last = last.layers[-1]
    if last is not encoders[0]:
        raise ConfigValueError(
            Errors.E013.format(
                where=WHERE,
                reason=f"its output comes from {last.name!r}, not from the encoder; remove the "
                "layers after spacy_rnn.RNNEncoder.v1.",
            )
        )
    return encoders[0]


def check_no_leak(vocab: Vocab, tok2vec: Model) -> Model:
    """Check that each direction of ``tok2vec``'s output never sees the token
    it predicts; return the encoder. See :func:`create_pretrain_rnn_lm` for
    what is checked. Initializes ``tok2vec`` if it is not (for the probe).

    RAISES (ConfigValueError): E013, E014 or E015.
    """
    encoder = output_encoder(tok2vec)
    bidirectional = encoder.attrs["bidirectional"]
    depth = encoder.attrs["depth"]
    if bidirectional and depth > 1 and not encoder.attrs.get("separate_directions", False):
        raise ConfigValueError(Errors.E014.format(where=WHERE, depth=depth))
    inside_encoder = {id(node) for node in encoder.walk()}
    found = sorted(
        {node.name for node in tok2vec.walk()
         if id(node) not in inside_encoder and node.name in CONTEXT_MIXING_LAYERS}
    )
    if found:
        names = ", ".join(repr(name) for name in found)
        raise ConfigValueError(Errors.E015.format(where=WHERE, found=f"layers named {names}"))
    leak = probe_leak(vocab, tok2vec, bidirectional)
    if leak:
        raise ConfigValueError(Errors.E015.format(where=WHERE, found=leak))
    return encoder


def probe_leak(vocab: Vocab, tok2vec: Model, bidirectional: bool) -> str:
    """Change one token of a probe sentence and see which outputs move.

    The forward half at token t must not change when token t+1 changes; the
    backward half at t must not change when token t-1 changes. Returns a
    description of the first leak found, or "" if none. With random weights a
    leaking layer moves the output almost surely; a leak through weights that
    happen to be zero would go unseen, which is why the named checks come
    first.
    """
    if not _is_initialized(tok2vec):
        tok2vec.initialize(X=[Doc(vocab, words=PROBE_WORDS)])
    n = len(PROBE_WORDS)
    t = n // 2
    base = _predict(tok2vec, vocab, PROBE_WORDS)
    width = base.shape[1]
    half = width // 2 if bidirectional else width
    after = list(PROBE_WORDS)
    after[t + 1] = PROBE_SWAP
    moved = _predict(tok2vec, vocab, after)
    if not numpy.allclose(base[: t + 1, :half], moved[: t + 1, :half], atol=1e-6):
        return f"the forward half of the output at token {t} changed when token {t + 1} changed (probe)"
    if bidirectional:
        before = list(PROBE_WORDS)
        before[t - 1] = PROBE_SWAP
        moved = _predict(tok2vec, vocab, before)
        if not numpy.allclose(base[t:, half:], moved[t:, half:], atol=1e-6):
            return f"the backward half of the output at token {t} changed when token {t - 1} changed (probe)"
    return ""


def _is_initialized(tok2vec: Model) -> bool:
    return all(node.shims[0]._model is not None for node in find_encoders(tok2vec))


def _predict(tok2vec: Model, vocab: Vocab, words: List[str]) -> numpy.ndarray:
    output = tok2vec.predict([Doc(vocab, words=words)])[0]
    return tok2vec.ops.to_numpy(output)
