"""Thinc layer around :class:`spacy_rnn.pretraining.torch_lm_head.LanguageModelHead`.

The layer is a ``Model[Tuple[Floats2d, Ints1d], Floats1d]``: states and
target ids in, each row's target log-probability out; backprop takes the
gradient of the log-probabilities and returns the states' gradient (the
targets get none). Its torch module lives in a shim of :mod:`spacy_rnn.layers.torch_bridge`,
so Thinc's optimizer updates it with the rest of the pretraining model. The
module is built at ``initialize``, once ``nI`` (the width of one direction's
state) is known.
"""
from typing import Callable, List, Optional, Tuple

import torch
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats1d, Floats2d, Ints1d
from thinc.util import get_torch_default_device

from ..layers.torch_bridge import ThreadScopedShim, backward_args, torch_forward
from .torch_lm_head import LanguageModelHead

InT = Tuple[Floats2d, Ints1d]


def LanguageModelOutput(
    n_classes: int,
    output_layer: str = "adaptive",
    cutoffs: Optional[List[int]] = None,
    div_value: float = 4.0,
    nI: Optional[int] = None,
) -> Model[InT, Floats1d]:
    """The output layer of the language model; see
    ``spacy_rnn.PretrainRNNLM.v1`` for the arguments."""
    model: Model[InT, Floats1d] = Model(
        "rnn_lm_output",
        torch_forward,
        init=init,
        dims={"nI": nI, "nO": n_classes},
        attrs={
            "output_layer": output_layer,
            "cutoffs": list(cutoffs) if cutoffs is not None else None,
            "div_value": div_value,
            "convert_inputs": convert_inputs,
            "convert_outputs": convert_outputs,
        },
        shims=[ThreadScopedShim(None)],
    )
    return model


def init(model: Model, X: Optional[InT] = None, Y=None) -> None:
    if X is not None:
        model.set_dim("nI", X[0].shape[1])
    module = LanguageModelHead(
        model.get_dim("nI"),
        model.get_dim("nO"),
        output_layer=model.attrs["output_layer"],
        cutoffs=model.attrs["cutoffs"],
        div_value=model.attrs["div_value"],
    )
    model.shims[0]._model = module.to(get_torch_default_device())


def convert_inputs(model: Model, X: InT, is_train: bool) -> Tuple[ArgsKwargs, Callable[[ArgsKwargs], InT]]:
    """The states and the target ids as tensors; the states' gradient back
    (the targets get none)."""
    H, targets = X
    Ht = xp2torch(H, requires_grad=is_train)
    Tt = xp2torch(model.ops.asarray(targets, dtype="int64")).long()

    def convert_dX(dX: ArgsKwargs) -> InT:
        return torch2xp(dX.args[0], ops=model.ops), targets

    return ArgsKwargs(args=(Ht, Tt), kwargs={}), convert_dX


def convert_outputs(
    model: Model, inputs_outputs: Tuple[InT, "torch.Tensor"], is_train: bool
) -> Tuple[Floats1d, Callable[[Floats1d], ArgsKwargs]]:
    """The log-probabilities as an array; their gradient back as the
    arguments of ``torch.autograd.backward``."""
    _, Yt = inputs_outputs

    def convert_dY(dY: Floats1d) -> ArgsKwargs:
        return backward_args(Yt, model.ops.asarray(dY, dtype="float32"))

    return torch2xp(Yt, ops=model.ops), convert_dY
