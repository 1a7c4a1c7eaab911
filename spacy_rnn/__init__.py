"""spacy-rnn: recurrent networks (RNN, LSTM, GRU) for spaCy text classification.

The public names below are imported on first use (see :mod:`._lazy`): spaCy
finds the factories and registered functions through entry points, and a Ray
worker that only reads files never imports spaCy or torch.
"""
from typing import TYPE_CHECKING

from ._lazy import lazy_module
from ._spacy_cli import install as _install_spacy_cli_hook

__version__ = "0.1.0"

_LAZY = {
    "RNNEncoder": ".layers",
    "RNNTextCategorizer": ".pipeline",
    "RNNMultiLabelTextCategorizer": ".pipeline",
    # submodules, as `import spacy_rnn; spacy_rnn.pipeline` found them before
    "architectures": ".architectures",
    "data": ".data",
    "gradient_flow": ".gradient_flow",
    "layers": ".layers",
    "memory": ".memory",
    "pipeline": ".pipeline",
    "pretraining": ".pretraining",
    "scaling": ".scaling",
    "inference": ".inference",
    "schedule": ".schedule",
}
__getattr__, __dir__ = lazy_module(globals(), _LAZY)
_install_spacy_cli_hook()  # our errors under `spacy train` etc. as ✘ messages, not tracebacks

if TYPE_CHECKING:  # pragma: no cover
    from .layers import RNNEncoder
    from .pipeline import RNNMultiLabelTextCategorizer, RNNTextCategorizer

__all__ = ["RNNEncoder", "RNNTextCategorizer", "RNNMultiLabelTextCategorizer", "__version__"]
