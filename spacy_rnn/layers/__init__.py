"""Thinc layers: the recurrent encoder and the pooling layers."""
from .encoder import RNNEncoder, check_encoder_args
from .pooling import POOLINGS, build_pooling

__all__ = ["RNNEncoder", "check_encoder_args", "POOLINGS", "build_pooling"]
