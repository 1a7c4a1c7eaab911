"""Plain PyTorch modules. Nothing in this subpackage imports spaCy or Thinc."""
from .batching import LengthBuckets
from .recurrent import CELLS, RecurrentEncoder

__all__ = ["CELLS", "LengthBuckets", "RecurrentEncoder"]
