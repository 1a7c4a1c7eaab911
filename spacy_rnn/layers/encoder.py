"""Thinc wrapper around :class:`spacy_rnn.torch.RecurrentEncoder`.

The layer is a ``Model[List[Floats2d], List[Floats2d]]``, the contract of the
``encode`` slot of ``spacy.Tok2Vec.v2``. Its PyTorch module lives in a
:class:`thinc.api.PyTorchShim`, so Thinc's optimizer (and with it
``[training.optimizer] grad_clip``) updates the weights and the weights travel
with the pipeline's ``to_bytes``/``to_disk``.

The input width ``nI`` may be left open and inferred at ``initialize``. The
module is then only built once its shape is known, which is why the shim
serializes the module's constructor arguments next to its ``state_dict``:
deserialization rebuilds the module before loading the weights (the problem
reported in spaCy#8319 does not arise).
"""
from io import BytesIO
from typing import Callable, List, Optional, Tuple

import numpy
import srsly
import torch
from thinc.api import ArgsKwargs, Model
from thinc.util import get_torch_default_device
from thinc.types import Floats2d

from ..errors import ConfigValueError, Errors
from .checks import check_int, check_rate
from ..torch import CELLS, RecurrentEncoder
from ..errors import ClockworkSettingError
from ..torch.clockwork import resolve_periods
from .torch_bridge import (
    ThreadScopedShim, from_torch, load_weights, split_output, to_torch, torch_forward, unflatten
)

_CPU = torch.device("cpu")
# The name of every RNNEncoder layer: how find_encoders knows one in a model.
ENCODER_NAME = "rnn_encoder"


def find_encoders(model: Model) -> List[Model]:
    """The ``spacy_rnn.RNNEncoder.v1`` layers in ``model`` (itself included),
    in the order of ``model.walk()``."""
    return [node for node in model.walk() if node.name == ENCODER_NAME]


def check_encoder_args(
    cell: str,
    width: int,
    depth: int,
    bidirectional: bool,
    dropout: float,
    where: str,
    modules: Optional[int] = None,
    periods: Optional[List[int]] = None,
) -> None:
    """Raise a :class:`ConfigValueError` that names the bad setting."""
    if cell not in CELLS:
        allowed = ", ".join(repr(c) for c in CELLS)
        raise ConfigValueError(Errors.E001.format(cell=cell, where=where, allowed=allowed))
    check_int(where, "width", width)
    if bidirectional and width % 2:
        raise ConfigValueError(
            Errors.E002.format(
                name="width",
                value=width,
                where=where,
                reason="a bidirectional encoder splits its width between two "
                "directions, so the width must be even.",
            )
        )
    check_int(where, "depth", depth)
    check_rate(where, "dropout", dropout)
    if cell == "dglstm" and depth < 2:
        raise ConfigValueError(Errors.E007.format(depth=depth, where=where))
    if cell == "clockwork":
        _check_clockwork_args(width // 2 if bidirectional else width, modules, periods, where)
    else:
        for name, value in (("modules", modules), ("periods", periods)):
            if value is not None:
                raise ConfigValueError(
                    Errors.E006.format(name=name, value=value, where=where, cell=cell)
                )


def _check_clockwork_args(
    hidden: int, modules: Optional[int], periods: Optional[List[int]], where: str
) -> None:
    """Check the clockwork cell's ``modules`` and ``periods`` for ``hidden``
    units per direction."""
    try:
        resolve_periods(hidden, modules, periods)
    except ClockworkSettingError as err:
        raise ConfigValueError(
            Errors.E002.format(name=err.name, value=err.value, where=where, reason=err.reason)
        ) from err


def serialize_module(module: Optional[RecurrentEncoder]) -> bytes:
    if module is None:
        return srsly.msgpack_dumps({"hparams": None, "state": b""})
    filelike = BytesIO()
    torch.save(module.state_dict(), filelike)
    return srsly.msgpack_dumps({"hparams": module.hparams(), "state": filelike.getvalue()})


def deserialize_module(
    module: Optional[RecurrentEncoder], data: bytes, device: "torch.device"
) -> Optional[RecurrentEncoder]:
    msg = srsly.msgpack_loads(data)
    if msg["hparams"] is None:
        return module
    # Bytes saved before an option existed rebuild with its default.
    module = RecurrentEncoder(**msg["hparams"])
    state = load_weights(msg["state"], device)
    module.load_state_dict(state)
    return module.to(device)


def RNNEncoder(
    cell: str,
    width: int,
    depth: int,
    bidirectional: bool,
    dropout: float,
    nI: Optional[int] = None,
    modules: Optional[int] = None,
    periods: Optional[List[int]] = None,
    separate_directions: bool = False,
) -> Model[List[Floats2d], List[Floats2d]]:
    """Build the Thinc layer; see ``spacy_rnn.RNNEncoder.v1`` for the arguments."""
    check_encoder_args(
        cell, width, depth, bidirectional, dropout, "spacy_rnn.RNNEncoder.v1", modules, periods
    )
    shim = ThreadScopedShim(
        None, serialize_model=serialize_module, deserialize_model=deserialize_module
    )
    model: Model[List[Floats2d], List[Floats2d]] = Model(
        ENCODER_NAME,
        forward,
        init=init,
        dims={"nI": nI, "nO": width},
        attrs={
            "cell": cell,
            "depth": depth,
            "bidirectional": bidirectional,
            "dropout": dropout,
            "modules": modules,
            "periods": list(periods) if periods is not None else None,
            "separate_directions": bool(separate_directions),
            "convert_inputs": convert_inputs,
            "convert_outputs": convert_outputs,
        },
        shims=[shim],
    )
    if nI is not None:
        _build_module(model)
    return model


def _build_module(model: Model) -> None:
    shim = model.shims[0]
    module = RecurrentEncoder(
        model.attrs["cell"],
        model.get_dim("nI"),
        model.get_dim("nO"),
        depth=model.attrs["depth"],
        bidirectional=model.attrs["bidirectional"],
        dropout=model.attrs["dropout"],
        modules=model.attrs["modules"],
        periods=model.attrs["periods"],
        separate_directions=model.attrs.get("separate_directions", False),
    )
    shim._model = module.to(get_torch_default_device())


def init(model: Model, X: Optional[List[Floats2d]] = None, Y=None) -> None:
    if X is not None:
        widths = {x.shape[1] for x in X if x.ndim == 2}
        if widths:
            model.set_dim("nI", widths.pop())
    if not model.has_dim("nI"):
        raise ValueError(Errors.E004)
    # (Re)build so that initialize() always starts from fresh weights.
    _build_module(model)


def forward(
    model: Model[List[Floats2d], List[Floats2d]], Xs: List[Floats2d], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    if model.shims[0]._model is None:
        raise ValueError(Errors.E004)
    if not any(x.shape[0] for x in Xs):
        ops, nO = model.ops, model.get_dim("nO")
        return [ops.alloc2f(0, nO) for _ in Xs], lambda dYs: [ops.alloc2f(0, x.shape[1]) for x in Xs]
    return torch_forward(model, Xs, is_train)


def _lengths(Xs: List[Floats2d]) -> numpy.ndarray:
    return numpy.array([x.shape[0] for x in Xs], dtype="int64")


def convert_inputs(
    model: Model, Xs: List[Floats2d], is_train: bool
) -> Tuple[ArgsKwargs, Callable[[ArgsKwargs], List[Floats2d]]]:
    """The documents as one flat tensor and their lengths; the input
    gradient back as one array a document."""
    ops = model.ops
    lengths = _lengths(Xs)
    X = Xs[0] if len(Xs) == 1 else ops.flatten([x for x in Xs if x.shape[0]])
    if X.shape[1] != model.get_dim("nI"):
        raise ValueError(Errors.E005.format(expected=model.get_dim("nI"), got=X.shape[1]))
    # CPU ops (NumpyOps) run the module on the CPU; others (a GPU, Apple's
    # MPS) where its weights are
    device = _CPU if ops.device_type == "cpu" else model.shims[0].device
    Xt = to_torch(X, requires_grad=is_train, device=device)

    def convert_dX(dX: ArgsKwargs) -> List[Floats2d]:
        dXs = unflatten(ops, from_torch(dX.args[0], ops), lengths)
        recorder = model.attrs.get("gradient_flow")  # see spacy_rnn.gradient_flow
        if recorder is not None:
            recorder.record_input_gradient(dXs)
        return dXs

    return ArgsKwargs(args=(Xt, lengths), kwargs={}), convert_dX


def convert_outputs(
    model: Model, inputs_outputs: Tuple[List[Floats2d], "torch.Tensor"], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], ArgsKwargs]]:
    """The flat output as one array a document (:func:`.torch_bridge.split_output`)."""
    Xs, Yt = inputs_outputs
    return split_output(model.ops, Yt, _lengths(Xs))
