"""spacy-rnn: recurrent networks (RNN, LSTM, GRU) for spaCy text classification."""
from . import architectures, data, gradient_flow, memory, pipeline, pretraining  # noqa: F401  (registers functions, readers and factories)
from .layers import RNNEncoder
from .pipeline import RNNMultiLabelTextCategorizer, RNNTextCategorizer

__version__ = "0.1.0"
__all__ = ["RNNEncoder", "RNNTextCategorizer", "RNNMultiLabelTextCategorizer", "__version__"]
