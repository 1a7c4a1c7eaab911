"""The whole pretrained language model on disk, and loading it back.

``spacy pretrain`` saves only the tok2vec (``model{N}.bin``,
``model-last.bin``) and the config it ran with (``config.cfg``) in its output
directory. With ``[pretraining.objective] lm_dir`` set to that directory,
``spacy_rnn.PretrainRNNLM.v1`` writes the rest of the language model beside
them each time spaCy saves the tok2vec (:func:`save_lm_parts`):

- ``lm-head.bin``: the output layer (Thinc bytes: the torch ``state_dict``);
- ``lm-vocab.json``: a copy of the target vocabulary file (``lm-vocab``'s format);
- ``lm.json``: how to rebuild the output layer, the settings that decide the
  targets, and the training perplexity since the previous save (``train``,
  computed with dropout on, as trained) and the same for every earlier save
  (``history``).

The files are rewritten at every save, so they match the latest tok2vec file:
``model-last.bin`` after a finished run, else the newest ``model{N}.bin``.
:func:`load_pretrained_lm` reads such a directory back into a
:class:`PretrainedLM`, which scores held-out text (:meth:`PretrainedLM.evaluate`)
and predicts next words (:meth:`PretrainedLM.next_words`); the ``lm-eval``
and ``next-words`` commands are thin wrappers around them.
"""
import math
import os
import re
import shutil
from pathlib import Path
from typing import Iterable, List, Optional, Tuple, Union

import numpy
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import Model

from ..errors import ConfigValueError, Errors
from .lm_head import LanguageModelOutput
from .targets import lm_targets, perplexities
from .vocab import BOUNDARY, UNKNOWN, read_lm_vocab

FORMAT = "spacy_rnn.lm.v1"
HEAD_FILE = "lm-head.bin"
VOCAB_FILE = "lm-vocab.json"
META_FILE = "lm.json"
# How next-words names the two ids that are not words.
SPECIAL_NAMES = {UNKNOWN: "<unknown>", BOUNDARY: "<end of text>"}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def head_spec(head: Model) -> dict:
    """How to rebuild the output layer ``head`` (``lm.json``'s "head")."""
    return {
        "nI": head.get_dim("nI"),
        "n_classes": head.get_dim("nO"),
        "output_layer": head.attrs["output_layer"],
        "cutoffs": list(head.shims[0]._model.cutoffs),
        "div_value": head.attrs["div_value"],
    }


def read_meta(lm_dir: Path) -> dict:
    """``lm_dir``'s ``lm.json``. RAISES (ConfigValueError): E031 when it is
    not a saved language model's."""
    meta = srsly.read_json(lm_dir / META_FILE)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigValueError(Errors.E031.format(path=str(lm_dir / META_FILE), reason=f"it has no \"format\": \"{FORMAT}\""))
    return meta


def save_lm_parts(model: Model, lm_dir: Union[str, Path]) -> None:
    """Write the output layer, the vocabulary and ``lm.json`` of the
    pretraining ``model`` (built by ``spacy_rnn.PretrainRNNLM.v1``) to
    ``lm_dir``; see the module docstring."""
    lm_dir = Path(lm_dir)
    lm_dir.mkdir(parents=True, exist_ok=True)
    head = model.get_ref("output_layer")
    vocab = model.attrs["lm_vocab"]
    meta_path = lm_dir / META_FILE
    history = []
    if meta_path.is_file():
        old = srsly.read_json(meta_path)
        if isinstance(old, dict):
            history = list(old.get("history", []))
    since = model.attrs["perplexity_log"].take_since_save()
    # A save right after another (spacy pretrain's model-last.bin after the
    # last epoch's file) trained nothing since: it keeps the previous record.
    if since["tokens"]:
        history.append(since)
    train = history[-1] if history else since
    meta = {
        "format": FORMAT,
        "head": head_spec(head),
        "bidirectional": bool(model.attrs["bidirectional"]),
        "predict_boundaries": bool(model.attrs["predict_boundaries"]),
        "lang": vocab.lang,
        "train": train,
        "history": history,
    }
    _write_atomic(lm_dir / HEAD_FILE, head.to_bytes())
    vocab_copy = lm_dir / VOCAB_FILE
    if Path(vocab.path).resolve() != vocab_copy.resolve():
        tmp = vocab_copy.with_name(VOCAB_FILE + ".tmp")
        shutil.copyfile(vocab.path, tmp)
        os.replace(tmp, vocab_copy)
    _write_atomic(meta_path, srsly.json_dumps(meta, indent=2).encode("utf8"))


def restore_head(head: Model, vocab, lm_dir: Union[str, Path]) -> None:
    """Load the output layer saved in ``lm_dir`` (:func:`save_lm_parts`)
    into ``head``, an initialized output layer built for the target
    vocabulary ``vocab`` (an :class:`~spacy_rnn.pretraining.vocab.LMVocab`).
    The objective does this with ``[pretraining.objective] init_head``, for
    ``spacy pretrain --resume-path``, which restores only the tok2vec.

    RAISES (ConfigValueError): E030 (a file is missing), E031 (not such a
        model), E032 (a saved setting or the vocabulary differs).
    """
    lm_dir = Path(lm_dir)
    for needed in (lm_dir / META_FILE, lm_dir / HEAD_FILE, lm_dir / VOCAB_FILE):
        if not needed.is_file():
            raise ConfigValueError(Errors.E030.format(path=str(lm_dir), missing=str(needed)))
    saved = read_meta(lm_dir)["head"]
    for name, value in head_spec(head).items():
        if saved.get(name) != value:
            raise ConfigValueError(
                Errors.E032.format(path=str(lm_dir), reason=f"its output layer has {name} {saved.get(name)!r}, this one {value!r}")
            )
    saved_words = read_lm_vocab(lm_dir / VOCAB_FILE, str(lm_dir / VOCAB_FILE)).words
    if saved_words != vocab.words:
        differ = next((i for i, (a, b) in enumerate(zip(saved_words, vocab.words)) if a != b), min(len(saved_words), len(vocab.words)))
        raise ConfigValueError(
            Errors.E032.format(
                path=str(lm_dir),
                reason=f"its {VOCAB_FILE} differs from {vocab.path!r} from word {differ + 1} on (the words and their order must be the same)",
            )
        )
    head.from_bytes((lm_dir / HEAD_FILE).read_bytes())


def tok2vec_file(path: Union[str, Path]) -> Tuple[Path, Path]:
    """The directory and the tok2vec weights of a saved language model.

    ``path`` is ``spacy pretrain``'s output directory (its ``model-last.bin``,
    or the newest ``model{N}.bin`` if there is none) or one of those files.

    RAISES (ConfigValueError): E030 when the directory lacks a file.
    """
    path = Path(path)
    if path.is_file():
        lm_dir, weights = path.parent, path
    else:
        lm_dir = path
        weights = lm_dir / "model-last.bin"
        if not weights.is_file():
            numbered = [
                (int(m.group(1)), p) for p in lm_dir.glob("model*.bin")
                if (m := re.fullmatch(r"model(\d+)\.bin", p.name))
            ]
            weights = max(numbered)[1] if numbered else weights
    for needed in (weights, lm_dir / "config.cfg", lm_dir / META_FILE, lm_dir / HEAD_FILE, lm_dir / VOCAB_FILE):
        if not needed.is_file():
            raise ConfigValueError(Errors.E030.format(path=str(path), missing=str(needed)))
    return lm_dir, weights


class PretrainedLM:
    """A pretrained language model: the pipeline's tokenizer, the tok2vec,
    the output layer and the target vocabulary, in inference mode."""

    def __init__(self, nlp, tok2vec: Model, head: Model, vocab, meta: dict):
        self.nlp = nlp
        self.tok2vec = tok2vec
        self.head = head
        self.vocab = vocab
        self.meta = meta
        self.bidirectional = bool(meta["bidirectional"])
        self.predict_boundaries = bool(meta["predict_boundaries"])
        self.half = head.get_dim("nI")

    @property
    def train_perplexity(self) -> Optional[dict]:
        """The training perplexity recorded at the last save (dropout on), or None."""
        return self.meta.get("train")

    def word(self, class_id: int) -> str:
        """The word of a target id; ``<unknown>`` and ``<end of text>`` for the two special ids."""
        if class_id in SPECIAL_NAMES:
            return SPECIAL_NAMES[class_id]
        return self.vocab.words[class_id - len(SPECIAL_NAMES)]

    def evaluate(self, docs: Iterable[Doc], batch_words: int = 4000) -> dict:
        """The perplexity of each direction over ``docs``, dropout off: what
        the training objective computes, targets and boundaries included.
        Returns ``{"perplexity", "forward", "backward", "tokens", "docs",
        "unknown_share"}`` (``backward`` None for a forward-only model)."""
        nll = [0.0, 0.0]
        count = [0, 0]
        n_docs = n_unknown = 0
        for batch in _batches(docs, batch_words):
            n_docs += len(batch)
            fwd_rows, fwd_targets, bwd_rows, bwd_targets = lm_targets(self.vocab, batch, self.predict_boundaries)
            n_unknown += int((fwd_targets == UNKNOWN).sum())
            H = self.tok2vec.ops.flatten([h for h in self.tok2vec.predict(batch) if h.shape[0]])
            sides = [(0, H[fwd_rows, : self.half], fwd_targets)]
            if self.bidirectional:
                sides.append((1, H[bwd_rows, self.half :], bwd_targets))
            for d, states, targets in sides:
                if len(targets):
                    logp = self.head.predict((states, targets))
                    nll[d] -= float(self.head.ops.to_numpy(logp).sum())
                    count[d] += len(targets)
        record = perplexities(nll, count)
        record["docs"] = n_docs
        record["unknown_share"] = n_unknown / count[0] if count[0] else None
        return record

    def next_words(self, text: str, top: int = 5) -> List[Tuple[str, float]]:
        """The forward model's ``top`` most likely next words after ``text``
        and their probabilities (a NORM each; ``<unknown>`` stands for every
        word outside the vocabulary together)."""
        doc = self.nlp.make_doc(text)
        if not len(doc):
            raise ValueError("next-words needs a text with at least one token")
        H = self.tok2vec.predict([doc])[0]
        last = torch.as_tensor(numpy.ascontiguousarray(self.head.ops.to_numpy(H[-1:, : self.half])))
        module = self.head.shims[0]._model
        with torch.no_grad():
            logp = module.log_prob(last.to(next(module.parameters()).device))[0]
        k = min(top, logp.shape[0])
        values, ids = torch.topk(logp, k)
        return [(self.word(int(i)), math.exp(float(v))) for v, i in zip(values, ids)]


def _batches(docs: Iterable[Doc], batch_words: int) -> Iterable[List[Doc]]:
    batch: List[Doc] = []
    words = 0
    for doc in docs:
        if batch and words + len(doc) > batch_words:
            yield batch
            batch, words = [], 0
        batch.append(doc)
        words += len(doc)
    if batch:
        yield batch


def load_pretrained_lm(path: Union[str, Path]) -> PretrainedLM:
    """Load a language model saved by ``spacy pretrain`` with
    ``[pretraining.objective] lm_dir`` (see the module docstring): ``path``
    is the output directory or one of its ``model*.bin`` files.

    RAISES (ConfigValueError): E030 (a file is missing), E031 (not such a model).
    """
    from spacy.training.initialize import load_vectors_into_model
    from spacy.training.pretrain import get_tok2vec_ref
    from spacy.util import load_config, load_model_from_config

    lm_dir, weights = tok2vec_file(path)
    meta = read_meta(lm_dir)
    config = load_config(lm_dir / "config.cfg", interpolate=True)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    vectors = config.get("initialize", {}).get("vectors")
    if vectors:  # the table the tok2vec was pretrained with (a static-vectors embedding reads it)
        load_vectors_into_model(nlp, vectors, add_strings=False)
    tok2vec = get_tok2vec_ref(nlp, config["pretraining"])
    tok2vec.initialize(X=[nlp.make_doc("Give it a doc to infer shapes")])
    tok2vec.from_bytes(weights.read_bytes())
    vocab = read_lm_vocab(lm_dir / VOCAB_FILE, str(lm_dir / VOCAB_FILE))
    spec = meta["head"]
    if spec["n_classes"] != vocab.n_classes:
        raise ConfigValueError(
            Errors.E031.format(
                path=str(lm_dir / META_FILE),
                reason=f"its output layer has {spec['n_classes']} classes but {VOCAB_FILE} gives {vocab.n_classes}",
            )
        )
    head = LanguageModelOutput(
        spec["n_classes"], output_layer=spec["output_layer"], cutoffs=spec["cutoffs"],
        div_value=spec["div_value"], nI=spec["nI"],
    )
    head.initialize()
    head.from_bytes((lm_dir / HEAD_FILE).read_bytes())
    return PretrainedLM(nlp, tok2vec, head, vocab, meta)
