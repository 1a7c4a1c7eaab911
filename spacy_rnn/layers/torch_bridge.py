"""The one Torch <-> Thinc bridge of our layers: Thinc's PyTorchWrapper pattern
with our thread choice.

A layer whose torch module lives in ``model.shims[0]`` (a
:class:`ThreadScopedShim`) runs through :func:`torch_forward`, which is
Thinc's own ``PyTorchWrapper_v2`` forward pass: ``model.attrs["convert_inputs"]``
turns the layer's input into the module's ``ArgsKwargs`` and returns the
function that turns the module's input gradients back; ``model.attrs
["convert_outputs"]`` turns the module's output into the layer's and returns
the function that turns the layer's output gradient into the ``ArgsKwargs``
of ``torch.autograd.backward``. So each layer writes only its conversions, as
spacy-transformers does, and Thinc's optimizer, ``grad_clip`` and
serialization apply as to any ``PyTorchWrapper``.
"""
import contextlib
from io import BytesIO
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy
import torch
from thinc.api import ArgsKwargs, NumpyOps, Ops, PyTorchShim, torch2xp, xp2torch
from thinc.types import Floats2d
from thinc.layers.pytorchwrapper import forward as torch_forward

from ..errors import WeightsError
from ..torch.threads import thread_scope

__all__ = [
    "ThreadScopedShim", "backward_args", "from_torch", "load_weights", "split_output", "to_torch", "torch_forward",
    "unflatten",
]


def to_torch(X: Any, requires_grad: bool = False, device: Optional["torch.device"] = None) -> torch.Tensor:
    """Thinc's ``xp2torch``; a NumPy array for the CPU becomes a tensor
    sharing its memory directly, without ``xp2torch``'s look-up of the
    default device and its DLPack round trip, a noticeable share of a
    one-sentence call (docs/design/threads.md)."""
    if isinstance(X, numpy.ndarray) and (device is None or device.type == "cpu"):
        # torch tensors have no negative strides (a reversed view): copy those
        Xt = torch.from_numpy(numpy.ascontiguousarray(X) if min(X.strides, default=0) < 0 else X)
        return Xt.requires_grad_() if requires_grad else Xt
    return xp2torch(X, requires_grad=requires_grad, device=device)


def from_torch(Yt: torch.Tensor, ops: Ops) -> Any:
    """Thinc's ``torch2xp(Yt, ops=ops)``, with a direct path for a CPU tensor
    and NumPy ops."""
    if isinstance(ops, NumpyOps) and Yt.device.type == "cpu":
        return Yt.detach().numpy()
    return torch2xp(Yt, ops=ops)


def unflatten(ops: Ops, X: Any, lengths: Sequence[int]) -> List[Any]:
    """``ops.unflatten(X, lengths)``: one array a document of ``lengths``
    rows; one document keeps ``X`` whole instead of going through
    ``numpy.array_split``."""
    return [X] if len(lengths) == 1 else ops.unflatten(X, ops.asarray1i(lengths))


def backward_args(Yt: torch.Tensor, dY: Any) -> ArgsKwargs:
    """The arguments of ``torch.autograd.backward`` for the module's output
    ``Yt`` and its gradient ``dY`` (an array of the same shape): what a
    layer's ``convert_outputs`` returns for the backward pass."""
    return ArgsKwargs(args=(Yt,), kwargs={"grad_tensors": (to_torch(dY, device=Yt.device),)})


def split_output(
    ops: Ops, Yt: torch.Tensor, lengths: Sequence[int]
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], ArgsKwargs]]:
    """A ``convert_outputs`` for a module whose flat ``(n_tokens, nO)`` output
    is one array a document of ``lengths`` tokens (0 allowed): the arrays, and
    the function from their gradients to the arguments of
    ``torch.autograd.backward``."""
    Ys = unflatten(ops, from_torch(Yt, ops), lengths)

    def convert_dY(dYs: List[Floats2d]) -> ArgsKwargs:
        return backward_args(Yt, ops.flatten([dy for dy in dYs if dy.shape[0]]))

    return Ys, convert_dY


def load_weights(data: bytes, device: "torch.device") -> Any:
    """A ``torch.save``d state dict, loaded with ``weights_only=True`` whatever
    torch's default: tensors and plain containers only, so a weights file
    can never run code (a planted pickle is refused).

    RAISES (WeightsError): The bytes are not a safe state dict.
    """
    try:
        return torch.load(BytesIO(data), map_location=device, weights_only=True)
    except Exception as e:  # pickle.UnpicklingError, RuntimeError for a bad archive, ...
        raise WeightsError(
            "the weights are not a plain PyTorch state dict (tensors only); they were refused without "
            f"running any of their code ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ) from None


def load_state_safely(module: Any, data: bytes, device: "torch.device") -> Any:
    """Thinc's default deserializer of a shim's module, with :func:`load_weights`."""
    module.load_state_dict(load_weights(data, device))
    return module.to(device)


class ThreadScopedShim(PyTorchShim):
    """A ``PyTorchShim`` whose forward pass and returned backprop each run
    inside :func:`~spacy_rnn.torch.threads.thread_scope` when the input is on
    the CPU: the encoder picks its threads per recurrent call, no torch op
    runs on more threads than there are CPUs, forked workers run on one
    thread, and the caller's thread count is restored afterwards, also after
    an exception. On another device the shim is Thinc's own."""

    def __init__(self, model: Any, *args: Any, deserialize_model: Optional[Callable] = None, **kwargs: Any) -> None:
        super().__init__(model, *args, deserialize_model=deserialize_model or load_state_safely, **kwargs)

    def __call__(self, inputs: ArgsKwargs, is_train: bool) -> Tuple[Any, Callable[[ArgsKwargs], ArgsKwargs]]:
        first = inputs.args[0]
        if not isinstance(first, torch.Tensor) or first.device.type != "cpu":
            return super().__call__(inputs, is_train)
        with thread_scope():
            output, torch_backprop = super().__call__(inputs, is_train)

        def backprop(grads: ArgsKwargs) -> ArgsKwargs:
            with thread_scope():
                return torch_backprop(grads)

        return output, backprop

    def predict(self, inputs: ArgsKwargs) -> Any:
        """Thinc's ``predict`` without its two walks over the module tree:
        Thinc's sets eval mode before every call and training mode after it,
        a noticeable share of a one-sentence ``nlp(text)`` (docs/design/threads.md). Here
        the module is switched to eval mode only when it is in training mode,
        and stays there until ``begin_update`` switches it back, as Thinc's
        does at every training call."""
        module = self._model
        if module.training:
            module.eval()
        with torch.no_grad():
            if self._mixed_precision:
                with torch.autocast(device_type="cuda", enabled=True):
                    return module(*inputs.args, **inputs.kwargs)
            return module(*inputs.args, **inputs.kwargs)

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]) -> Iterator[None]:
        """Use ``params`` (e.g. ``optimizer.averages``) as the module's weights
        inside the block. Thinc's ``finish_update`` hands each torch parameter
        to the optimizer under the key ``(shim.id, name)``, but Thinc's
        ``use_params`` looks for ``"pytorch_{id}_{name}"`` only, so with
        ``use_averages = true`` the averaged torch weights were never used:
        ``spacy train`` evaluated and saved averaged Thinc weights (embeddings,
        output layer) beside the raw recurrent ones. Both key forms are taken."""
        prefix = f"pytorch_{self.id}_"
        state = {}
        for key, value in params.items():
            if isinstance(key, tuple) and len(key) == 2 and key[0] == self.id:
                state[key[1]] = value
            elif isinstance(key, str) and key.startswith(prefix):
                state[key[len(prefix):]] = value
        if not state:
            yield
            return
        module = self._model
        backup = {name: tensor.clone() for name, tensor in module.state_dict().items()}
        module.load_state_dict({name: xp2torch(value, device=self.device) for name, value in state.items()}, strict=False)
        try:
            yield
        finally:
            module.load_state_dict(backup)

    # A spacy_rnn.gradient_flow.GradientFlow, set by attach_gradient_flow:
    # it sees each parameter gradient just before the optimizer clips it.
    gradient_flow = None

    def finish_update(self, optimizer) -> None:
        if self.gradient_flow is not None and self._model is not None:
            self.gradient_flow.record_update(self._model, getattr(optimizer, "grad_clip", None))
        super().finish_update(optimizer)
