"""Calling a layer's torch module with the thread choice of :mod:`spacy_rnn.torch.threads`."""
from typing import Any, Callable, Tuple

import torch
from thinc.api import ArgsKwargs, PyTorchShim

from ..torch.threads import thread_scope


def call_torch(
    shim: PyTorchShim, inputs: ArgsKwargs, is_train: bool, device: torch.device
) -> Tuple[Any, Callable[[ArgsKwargs], ArgsKwargs]]:
    """``shim(inputs, is_train)``, the forward pass and the returned backprop
    each inside :func:`~spacy_rnn.torch.threads.thread_scope` on CPU: the
    encoder picks its threads per recurrent call, no torch op runs on more
    threads than there are CPUs, forked workers run on one thread, and the
    caller's thread count is restored afterwards, also after an exception."""
    if device.type != "cpu":
        return shim(inputs, is_train)
    with thread_scope():
        output, torch_backprop = shim(inputs, is_train)

    def backprop(grads: ArgsKwargs) -> ArgsKwargs:
        with thread_scope():
            return torch_backprop(grads)

    return output, backprop
