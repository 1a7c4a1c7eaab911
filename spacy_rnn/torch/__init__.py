"""Plain PyTorch modules. Nothing in this subpackage imports spaCy or Thinc."""
from .batching import LengthBuckets
from .chars import CHAR_CELLS, CharRNN, encode_words
from .clockwork import ClockworkRNN
from .dglstm import DepthGatedLSTMLayer
from .recurrent import CELLS, RecurrentEncoder
from .threads import register_fork_hook

register_fork_hook()

__all__ = [
    "CELLS", "CHAR_CELLS", "CharRNN", "ClockworkRNN", "DepthGatedLSTMLayer",
    "LengthBuckets", "RecurrentEncoder", "encode_words",
]
