"""int8 weights on disk: a saved classifier a quarter of the size.

With ``weights_dtype = "int8"`` in a component's config, the component saves
every float32 weight array of its model (Thinc's parameters and the torch
modules' state alike) as 8-bit integers in blocks of :data:`BLOCK` values,
each block with its own float32 scale (its largest absolute value / 127):
about 1.06 bytes a weight instead of 4. Small arrays (biases, gains: fewer
than :data:`MIN_SIZE` values) stay float32. Loading turns the integers back
into float32 weights, so the loaded model computes in float32 exactly as
before, with weights that differ from the trained ones by at most half a
step of their block's scale.

Computing in int8 is not what this buys: PyTorch's dynamic int8 LSTM was
measured against the float32 one at this package's widths and did not pay
(``benchmarks/int8.py``), and the hash embedding and bag-of-n-grams tables,
most of the weights, are lookups, not matrix products. What it buys is size:
the pipeline to ship, package, copy to workers and keep in a container image.

``python -m spacy_rnn quantize`` writes a copy of a trained pipeline with the
setting on (:func:`spacy_rnn.inference.quantize.quantize`). A component that
is trained further after loading keeps the setting, and is saved int8 again.
"""
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Union

import numpy
import srsly
import torch
from spacy import util
from spacy.errors import Errors as SpacyErrors

from .errors import ConfigValueError, Errors

WEIGHTS_DTYPES = ("float32", "int8")
# values per block that share one scale
BLOCK = 64
# arrays with fewer values stay float32: their scales would cost more than they save
MIN_SIZE = 256
# marks the bytes of a model saved int8 (a msgpack map with this key)
MARK = "spacy_rnn_int8"
# how those bytes begin: a msgpack map of two entries (0x82), MARK = 1 first
# (msgpack keeps the order), so a model saved float32 is told apart without
# decoding it
_INT8_PREFIX = b"\x82" + srsly.msgpack_dumps(MARK) + srsly.msgpack_dumps(1)


def check_weights_dtype(value: Any, where: str) -> str:
    """RAISES (ConfigValueError): ``value`` is not one of :data:`WEIGHTS_DTYPES`."""
    if value not in WEIGHTS_DTYPES:
        raise ConfigValueError(Errors.E040.format(
            where=where, name="weights_dtype", value=value,
            reason=f"choose one of {', '.join(map(repr, WEIGHTS_DTYPES))}"))
    return value


def encode_array(array: numpy.ndarray) -> Any:
    """``array`` as int8 blocks and their scales (a dict), or unchanged when
    it is not float32 or smaller than :data:`MIN_SIZE`."""
    if not isinstance(array, numpy.ndarray) or array.dtype != numpy.float32 or array.size < MIN_SIZE:
        return array
    flat = array.ravel()
    blocks = numpy.zeros((-(-flat.size // BLOCK), BLOCK), dtype="float32")
    blocks.ravel()[: flat.size] = flat
    scale = numpy.abs(blocks).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = numpy.rint(blocks / scale[:, None]).astype("int8")
    return {MARK: 1, "q": q, "scale": scale.astype("float32"), "shape": list(array.shape)}


def decode_array(value: Any) -> Any:
    """The float32 array of an :func:`encode_array` dict; anything else unchanged."""
    if not (isinstance(value, dict) and value.get(MARK)):
        return value
    shape = tuple(value["shape"])
    size = int(numpy.prod(shape)) if shape else 1
    blocks = value["q"].astype("float32") * value["scale"][:, None]
    return numpy.ascontiguousarray(blocks.ravel()[:size].reshape(shape), dtype="float32")


def _encode_torch_state(state: bytes) -> Dict[str, Any]:
    from .layers.torch_bridge import load_weights

    weights = load_weights(state, torch.device("cpu"))
    return {name: encode_array(t.detach().cpu().numpy()) if t.dtype == torch.float32 else t.numpy()
            for name, t in weights.items()}


def _decode_torch_state(encoded: Dict[str, Any]) -> bytes:
    state = {name: torch.from_numpy(numpy.array(decode_array(value))) for name, value in encoded.items()}
    buffer = BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _encode_state(state: bytes) -> Any:
    """A shim's saved module: ``torch.save`` bytes (a zip archive), or our
    encoder's msgpack map of its hyperparameters and such bytes."""
    if state[:2] == b"PK":
        return {MARK: 1, "torch": _encode_torch_state(state)}
    try:
        inner = srsly.msgpack_loads(state)
    except Exception:  # a format we do not know: saved as it is
        return state
    if isinstance(inner, dict) and isinstance(inner.get("state"), bytes) and inner["state"]:
        inner["state"] = _encode_state(inner["state"])
        return {MARK: 1, "msgpack": inner}
    return state


def _decode_state(value: Any) -> Any:
    if not (isinstance(value, dict) and value.get(MARK)):
        return value
    if "torch" in value:
        return _decode_torch_state(value["torch"])
    inner = value["msgpack"]
    inner["state"] = _decode_state(inner["state"])
    return srsly.msgpack_dumps(inner)


def _map_weights(msg: Dict[str, Any], array: Callable[[Any], Any], state: Callable[[Any], Any]) -> Dict[str, Any]:
    """A Thinc model's ``to_dict`` message with ``array`` applied to every
    node's parameters and ``state`` to every PyTorch shim's saved module."""
    msg["params"] = [
        None if params is None else {name: array(value) for name, value in params.items()}
        for params in msg["params"]
    ]
    shims = []
    for node_shims in msg["shims"]:
        mapped = []
        for shim_bytes in node_shims:
            shim = srsly.msgpack_loads(shim_bytes)
            if isinstance(shim, dict) and "state" in shim:
                shim["state"] = state(shim["state"])
            mapped.append(srsly.msgpack_dumps(shim))
        shims.append(mapped)
    msg["shims"] = shims
    return msg


def quantize_model_bytes(data: bytes) -> bytes:
    """A Thinc model's ``to_bytes`` with its float32 weights as int8 blocks:
    the parameters of every node and the state of every PyTorch shim."""
    encode_state = lambda state: _encode_state(state) if isinstance(state, bytes) else state  # noqa: E731
    msg = _map_weights(srsly.msgpack_loads(data), encode_array, encode_state)
    return srsly.msgpack_dumps({MARK: 1, "model": msg})


def is_quantized(data: bytes) -> bool:
    """Whether model bytes were written by :func:`quantize_model_bytes`."""
    return data.startswith(_INT8_PREFIX)


def dequantize_model_bytes(data: bytes) -> bytes:
    """The float32 ``to_bytes`` of a model saved by :func:`quantize_model_bytes`;
    other bytes unchanged and not decoded (a model saved float32 loads as it
    always did, at no extra cost)."""
    if not is_quantized(data):
        return data
    return srsly.msgpack_dumps(_map_weights(srsly.msgpack_loads(data)["model"], decode_array, _decode_state))


class Int8Storage:
    """A trainable component whose model is saved with int8 weights when its
    ``weights_dtype`` is ``"int8"`` (see the module docstring), and which
    loads a model saved either way."""

    _weights_dtype = "float32"

    def __init__(self, *args: Any, weights_dtype: str = "float32", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weights_dtype = weights_dtype

    @property
    def weights_dtype(self) -> str:
        """How the model's weights are saved: "float32" or "int8"."""
        return self._weights_dtype

    @weights_dtype.setter
    def weights_dtype(self, value: str) -> None:
        self._weights_dtype = check_weights_dtype(value, f"[components.{getattr(self, 'name', '?')}]")

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        data = super().to_bytes(exclude=exclude)  # type: ignore[misc]
        if self._weights_dtype != "int8" or "model" in exclude:
            return data
        msg = srsly.msgpack_loads(data)
        msg["model"] = quantize_model_bytes(msg["model"])
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> Any:
        msg = srsly.msgpack_loads(bytes_data)
        model = msg.get("model") if isinstance(msg, dict) else None
        if isinstance(model, bytes) and is_quantized(model) and "model" not in exclude:
            msg["model"] = dequantize_model_bytes(model)
            bytes_data = srsly.msgpack_dumps(msg)
        return super().from_bytes(bytes_data, exclude=exclude)  # type: ignore[misc]

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        if self._weights_dtype != "int8":
            super().to_disk(path, exclude=exclude)  # type: ignore[misc]
            return
        exclude = tuple(exclude)
        super().to_disk(path, exclude=exclude + ("model",))  # type: ignore[misc]
        # the model file written once, int8, where spaCy's to_disk writes it
        util.to_disk(Path(path), {"model": lambda p: Path(p).write_bytes(
            quantize_model_bytes(self.model.to_bytes()))}, exclude)  # type: ignore[attr-defined]

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> Any:
        exclude = tuple(exclude)
        super().from_disk(path, exclude=exclude + ("model",))  # type: ignore[misc]

        def load_model(p: Path) -> None:  # spaCy's, with the bytes dequantized first
            try:
                self.model.from_bytes(dequantize_model_bytes(Path(p).read_bytes()))  # type: ignore[attr-defined]
            except AttributeError:
                raise ValueError(SpacyErrors.E149) from None

        util.from_disk(Path(path), {"model": load_model}, exclude)
        return self
