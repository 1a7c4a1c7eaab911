"""Language-model pretraining of the recurrent encoder with ``spacy pretrain``.

``spacy_rnn.PretrainRNNLM.v1`` is an ``[pretraining.objective]``: it returns
the function ``(vocab, tok2vec) -> Model`` that ``spacy pretrain`` calls, and
the model's ``attrs["loss"]`` computes the loss and its gradient. The forward
direction's state at token t predicts the NORM of token t+1, the backward
direction's state at t the NORM of token t-1 (ELMo, ULMFiT). ``spacy
pretrain`` saves the tok2vec's weights as ``model{epoch}.bin``, which
``[initialize] init_tok2vec`` loads before training the classifier.

No leak: a direction must never have seen the token it predicts. Before
building the model, the objective checks the tok2vec (see
:func:`spacy_rnn.pretraining.leaks.check_no_leak`) and refuses, with an error
that says what to change, anything it cannot prove safe.
"""
import contextlib
from typing import Callable, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

from ..errors import ConfigValueError, Errors
from ..layers.checks import check_int, check_settings
from .leaks import WHERE, check_no_leak
from .saved_lm import restore_head, save_lm_parts
from .targets import PerplexityLog, lm_targets
from .lm_head import LanguageModelOutput
from .torch_lm_head import OUTPUT_LAYERS
from .vocab import LMVocab, read_lm_vocab

@registry.architectures("spacy_rnn.PretrainRNNLM.v1")
def create_pretrain_rnn_lm(
    vocab_path: Optional[str],
    output_layer: str = "adaptive",
    cutoffs: List[int] = [2000, 10000],
    div_value: float = 4.0,
    predict_boundaries: bool = True,
    log_every: int = 100000,
    lm_dir: Optional[str] = None,
    init_head: Optional[str] = None,
) -> Callable[[Vocab, Model], Model]:
    """Pretrain a recurrent tok2vec as a language model (``[pretraining.objective]``).

    [pretraining.objective]
    @architectures = "spacy_rnn.PretrainRNNLM.v1"
    vocab_path = ${paths.lm_vocab}

    Use it with ``[pretraining] component`` = the rnn_textcat component and
    ``layer = "tok2vec"``. The tok2vec must end in ``spacy_rnn.RNNEncoder.v1``
    (e.g. ``spacy.Tok2Vec.v2`` with it as ``encode``). With a bidirectional
    encoder, the first ``width // 2`` output columns (the forward state) at
    token t predict token t+1 and the other half (the backward state) predicts
    token t-1; a forward-only encoder trains a forward language model alone.
    Both directions share one output layer (as in ELMo).

    Targets are NORMs (``token.norm_``): the words of the vocabulary file get
    ids 2, 3, ... in order of falling frequency; any other NORM is id 0
    (unknown) and is predicted like a word. With ``predict_boundaries``, the
    forward state at a doc's last token and the backward state at its first
    token predict id 1 (a doc boundary), so every token is a prediction in
    each direction and the model learns how docs end and begin; otherwise
    those two states predict nothing.

    The loss is the mean negative log-likelihood (NLL, natural log) per
    predicted token over the batch, both directions together, so
    ``exp(loss)`` is the batch's perplexity. ``spacy pretrain`` prints the sum
    of these batch losses ("Loss" column: since the previous row), not a
    perplexity; this objective therefore prints its own line every
    ``log_every`` predicted tokens: the perplexity over those tokens, overall
    and per direction. The training loss is computed with dropout on.

    Refused, with an error that says what to change (the no-leak rule: a
    direction must never have seen the token it predicts): a tok2vec without
    exactly one ``spacy_rnn.RNNEncoder.v1`` at its output (E013); a
    bidirectional encoder with depth > 1 without ``separate_directions =
    true`` (E014); any known context-mixing layer in the tok2vec
    (``expand_window`` of spacy.MaxoutWindowEncoder/MishWindowEncoder, thinc
    ``lstm``, ``pytorch`` wrappers such as spacy.TorchBiLSTMEncoder,
    ``para-attn``) (E015); and, as a last check against unknown layers, a
    tok2vec whose forward half at a token changes when the next token
    changes, or whose backward half changes when the previous token changes,
    on a probe sentence with the freshly initialized weights (E015). A missing
    or invalid vocabulary file is E011 / E012; the file is read when
    pretraining starts, so ``spacy debug config`` and ``spacy train`` work
    without it.

    vocab_path (Optional[str]): The JSON file of target words written by
        ``python -m spacy_rnn lm-vocab RAW_TEXT OUTPUT.json --size N`` over
        the same raw text.
    output_layer (str): "adaptive" (``torch.nn.AdaptiveLogSoftmaxWithLoss``:
        exact; rare-word clusters are computed only where a target needs them) or "full" (a linear
        layer and a softmax over all classes).
    cutoffs (List[int]): The adaptive softmax's cluster boundaries over the
        target ids (frequent ids first); cutoffs at or above the number of
        classes are dropped, and with none left the output is a full softmax.
    div_value (float): Each tail cluster of the adaptive softmax projects to
        a width this many times smaller than the cluster before it.
    predict_boundaries (bool): Predict a doc-boundary id after the last and
        before the first token (see above), or skip those two predictions.
    log_every (int): Print a perplexity line (to stderr) every this many
        predicted tokens; 0 turns it off.
    lm_dir (Optional[str]): Keep the whole language model: each time
        ``spacy pretrain`` saves the tok2vec (``model{N}.bin``,
        ``model-last.bin``), also write the output layer, a copy of the
        vocabulary file and the training perplexity since the previous save
        to this directory (see :mod:`spacy_rnn.pretraining.saved_lm`). Give
        it ``spacy pretrain``'s output directory, where its ``config.cfg``
        is; then ``python -m spacy_rnn lm-eval`` and ``next-words`` load the
        language model from there. null: the output layer is discarded, as
        spaCy does.
    init_head (Optional[str]): Start the output layer from the one saved in
        this directory (an earlier run's ``lm_dir``) instead of random
        weights. ``spacy pretrain --resume-path`` restores only the tok2vec,
        so resume with ``--pretraining.objective.init_head`` set to the same
        directory, or the resumed epoch starts with an untrained output
        layer. The saved vocabulary and output-layer settings must equal
        this objective's (else E032). null: a fresh output layer.
    RETURNS (Callable[[Vocab, Model], Model]): The objective, for
        ``spacy pretrain``.
    """
    if output_layer not in OUTPUT_LAYERS:
        raise ConfigValueError(
            Errors.E002.format(
                name="output_layer", value=output_layer, where=WHERE,
                reason=f"choose one of {', '.join(repr(o) for o in OUTPUT_LAYERS)}.",
            )
        )
    check_settings(WHERE, int_lists={"cutoffs": cutoffs}, positive={"div_value": div_value})
    check_int(WHERE, "log_every", log_every, minimum=0)

    def create_objective(vocab: Vocab, tok2vec: Model) -> Model:
        encoder = check_no_leak(vocab, tok2vec)
        lm_vocab = read_lm_vocab(vocab_path, WHERE)
        if lm_vocab.lang and vocab.lang and lm_vocab.lang != vocab.lang:
            raise ConfigValueError(
                Errors.E012.format(
                    path=vocab_path, where=WHERE,
                    reason=f"it was counted with lang {lm_vocab.lang!r}, but the pipeline is {vocab.lang!r} "
                    "(pass --lang to lm-vocab)",
                )
            )
        return build_rnn_lm(
            tok2vec, encoder, lm_vocab, output_layer=output_layer, cutoffs=cutoffs,
            div_value=div_value, predict_boundaries=predict_boundaries, log_every=log_every,
            lm_dir=lm_dir, init_head=init_head,
        )

    return create_objective


class PretrainingLM(Model):
    """The pretraining model. ``spacy pretrain`` saves the tok2vec inside
    ``model.use_params(optimizer.averages)``, and nowhere else; on leaving
    that block (the tok2vec's file just written, the averaged weights still
    in place) this model calls ``attrs["save_lm"]``, if set, so that the
    output layer saved beside the tok2vec always matches it."""

    @contextlib.contextmanager
    def use_params(self, params):
        with super().use_params(params):
            yield
            save_lm = self.attrs.get("save_lm")
            if save_lm is not None:
                save_lm()


def build_rnn_lm(
    tok2vec: Model,
    encoder: Model,
    vocab: LMVocab,
    *,
    output_layer: str = "adaptive",
    cutoffs: Optional[List[int]] = None,
    div_value: float = 4.0,
    predict_boundaries: bool = True,
    log_every: int = 0,
    lm_dir: Optional[str] = None,
    init_head: Optional[str] = None,
) -> Model:
    """The pretraining model: ``tok2vec`` (ref "tok2vec") whose output is
    scored by a shared language-model output layer (ref "output_layer") in
    ``attrs["loss"]``, the function ``spacy pretrain`` calls as
    ``loss(ops, docs, prediction) -> (loss, d_prediction)``."""
    bidirectional = encoder.attrs["bidirectional"]
    width = encoder.get_dim("nO")
    half = width // 2 if bidirectional else width
    head = LanguageModelOutput(
        vocab.n_classes, output_layer=output_layer, cutoffs=cutoffs, div_value=div_value, nI=half
    )
    log = PerplexityLog(log_every)

    def lm_init(model: Model, X=None, Y=None) -> None:
        tok2vec.initialize(X=X)
        head.initialize()
        if init_head is not None:

            restore_head(head, vocab, init_head)

    def get_loss(ops, docs: List[Doc], prediction: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        fwd_rows, fwd_targets, bwd_rows, bwd_targets = lm_targets(vocab, docs, predict_boundaries)
        lengths = [len(doc) for doc in docs]
        H = ops.flatten([p for p in prediction if p.shape[0]]) if sum(lengths) else ops.alloc2f(0, width)
        parts = [H[fwd_rows, :half]]
        targets = [fwd_targets]
        if bidirectional:
            parts.append(H[bwd_rows, half:])
            targets.append(bwd_targets)
        n_predicted = sum(len(t) for t in targets)
        if n_predicted == 0:
            return 0.0, [ops.alloc2f(*p.shape) for p in prediction]
        logp, backprop = head.begin_update((ops.xp.concatenate(parts), numpy.concatenate(targets)))
        logp = ops.to_numpy(logp)
        loss = float(-logp.sum() / n_predicted)
        n_fwd = len(fwd_targets)
        log.add(0, float(-logp[:n_fwd].sum()), n_fwd)
        if bidirectional:
            log.add(1, float(-logp[n_fwd:].sum()), n_predicted - n_fwd)
        log.maybe_print()
        dlogp = ops.alloc1f(n_predicted)
        dlogp -= 1.0 / n_predicted
        d_parts, _ = backprop(dlogp)
        dH = ops.alloc2f(H.shape[0], width)
        dH[fwd_rows, :half] += d_parts[:n_fwd]
        if bidirectional:
            dH[bwd_rows, half:] += d_parts[n_fwd:]
        return loss, ops.unflatten(dH, ops.asarray1i(lengths))

    model: Model = PretrainingLM(
        "rnn_lm",
        lambda model, docs, is_train: tok2vec(docs, is_train),
        init=lm_init,
        layers=[tok2vec, head],
        attrs={
            "loss": get_loss, "perplexity_log": log, "lm_vocab": vocab,
            "bidirectional": bidirectional, "predict_boundaries": predict_boundaries,
        },
    )
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", head)
    if lm_dir is not None:

        model.attrs["save_lm"] = lambda: save_lm_parts(model, lm_dir)
    return model
