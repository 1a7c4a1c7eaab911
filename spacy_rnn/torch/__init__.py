"""Plain PyTorch modules. Nothing in this subpackage imports spaCy or Thinc."""
from .batching import LengthBuckets
from .clockwork import ClockworkRNN
from .dglstm import DepthGatedLSTMLayer
from .recurrent import CELLS, RecurrentEncoder
from .threads import limit_threads_after_fork

limit_threads_after_fork()

__all__ = ["CELLS", "ClockworkRNN", "DepthGatedLSTMLayer", "LengthBuckets", "RecurrentEncoder"]
