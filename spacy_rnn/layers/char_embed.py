"""Thinc layer around :class:`spacy_rnn.torch.CharRNN`: token vectors from characters.

A ``Model[List[Doc], List[Floats2d]]`` for the ``embed`` slot of
``spacy.Tok2Vec.v2``. The layer reads each token's text, runs the character
RNN over the batch's *distinct* token strings only (found with
``numpy.unique`` over the tokens' ORTH hashes, so a word that occurs 40 times
in a batch is encoded once) and copies each word's vector back to its tokens
(the measured gain is in ``docs/design/batching.md``).

The PyTorch module sits in a :class:`thinc.api.PyTorchShim`, so Thinc's
optimizer (with ``grad_clip``) trains it and its weights travel with
``to_bytes``/``to_disk``. All of its shapes are known from the settings, so
it is built in the constructor and deserializes with the shim's default
``state_dict`` loader.
"""
from typing import Callable, List, Optional, Tuple

import numpy
import torch
from spacy.attrs import ORTH
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, concatenate
from thinc.types import Floats2d
from thinc.util import get_torch_default_device

from ..errors import ConfigValueError, Errors
from ..torch.chars import CHAR_CELLS, CharRNN, encode_words
from .torch_bridge import ThreadScopedShim, split_output, torch_forward
from .checks import check_settings

WHERE = "spacy_rnn.CharRNNEmbed.v1"


def check_char_args(cell: str, width: int, char_width: int, n_chars: int, max_chars: int) -> None:
    """Raise a :class:`ConfigValueError` that names the bad setting."""
    if cell not in CHAR_CELLS:
        allowed = ", ".join(repr(c) for c in CHAR_CELLS)
        raise ConfigValueError(Errors.E001.format(cell=cell, where=WHERE, allowed=allowed))
    if not isinstance(width, int) or width < 2 or width % 2:
        raise ConfigValueError(Errors.E002.format(
            name="width", value=width, where=WHERE,
            reason="use an even int of 2 or more: each direction of the character RNN gets width / 2 units.",
        ))
    check_settings(WHERE, ints={"char_width": char_width, "n_chars": n_chars, "max_chars": max_chars})


def CharRNNEmbed(
    width: int, cell: str, char_width: int, n_chars: int, max_chars: int
) -> Model[List[Doc], List[Floats2d]]:
    """Build the character layer alone; see ``spacy_rnn.CharRNNEmbed.v1``."""
    check_char_args(cell, width, char_width, n_chars, max_chars)
    module = CharRNN(cell, n_chars, char_width, width).to(get_torch_default_device())
    return Model(
        "char_rnn_embed",
        forward,
        dims={"nO": width},
        attrs={
            "max_chars": max_chars, "n_chars": n_chars, "unique_words": True,
            "convert_inputs": convert_inputs, "convert_outputs": convert_outputs,
        },
        shims=[ThreadScopedShim(module)],
    )


def concatenate_embeds(
    chars: Model[List[Doc], List[Floats2d]], other: Model[List[Doc], List[Floats2d]]
) -> Model[List[Doc], List[Floats2d]]:
    """Thinc's ``concatenate`` of two token embeddings, per token, with ``nO`` set.

    Thinc's list concatenation fails on an empty batch, and the backward pass
    of Thinc's ``HashEmbed`` on a batch without tokens; this answers a batch
    without tokens itself, with ``(0, nO)`` arrays.
    """
    inner = concatenate(chars, other)
    model: Model[List[Doc], List[Floats2d]] = Model(
        "char_and_hash_embed",
        _concatenate_forward,
        init=_concatenate_init,
        layers=[inner],
        dims={"nO": chars.get_dim("nO") + other.get_dim("nO")},
    )
    return model


def _concatenate_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    model.layers[0].initialize(X=X, Y=Y)


def _concatenate_forward(model: Model, docs: List[Doc], is_train: bool):
    if not any(len(doc) for doc in docs):
        return [model.ops.alloc2f(0, model.get_dim("nO")) for _ in docs], lambda dYs: []
    return model.layers[0](docs, is_train)


def _words(model: Model, docs: List[Doc]) -> Tuple[List[str], numpy.ndarray]:
    """The strings to encode and, per token of the batch, the row of its string.

    With ``model.attrs["unique_words"]`` (the default) every distinct token
    string is encoded once; without it, every token is (kept to measure the
    difference: the output is the same).
    """
    if model.attrs["unique_words"]:
        orths = [doc.to_array(ORTH) for doc in docs if len(doc)]
        if not orths:
            return [], numpy.zeros(0, dtype="int64")
        unique, inverse = numpy.unique(numpy.concatenate(orths), return_inverse=True)
        strings = docs[0].vocab.strings
        return [strings[int(key)] for key in unique], inverse.astype("int64").reshape(-1)
    words = [token.text for doc in docs for token in doc]
    return words, numpy.arange(len(words), dtype="int64")


def forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    if not any(len(doc) for doc in docs):
        return [model.ops.alloc2f(0, model.get_dim("nO")) for _ in docs], lambda dYs: []
    return torch_forward(model, docs, is_train)


def convert_inputs(
    model: Model, docs: List[Doc], is_train: bool
) -> Tuple[ArgsKwargs, Callable[[ArgsKwargs], List]]:
    """The batch's words as character ids, their lengths, and each token's
    word; the docs take no gradient."""
    words, inverse = _words(model, docs)
    ids, char_lengths = encode_words(words, model.attrs["max_chars"], model.attrs["n_chars"])
    device = get_torch_default_device()
    args = (
        torch.from_numpy(ids).to(device),
        char_lengths,
        torch.from_numpy(inverse).to(device),
    )
    return ArgsKwargs(args=args, kwargs={}), lambda dX: []


def convert_outputs(
    model: Model, inputs_outputs: Tuple[List[Doc], "torch.Tensor"], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], ArgsKwargs]]:
    """One vector a token, one array a doc (:func:`.torch_bridge.split_output`)."""
    docs, Yt = inputs_outputs
    return split_output(model.ops, Yt, [len(doc) for doc in docs])
