"""Thinc layers: the recurrent encoder, the character embedding and the pooling layers."""
from .char_embed import CharRNNEmbed
from .encoder import RNNEncoder, check_encoder_args, find_encoders
from .pooling import POOLINGS, build_pooling

__all__ = ["CharRNNEmbed", "RNNEncoder", "check_encoder_args", "find_encoders", "POOLINGS", "build_pooling"]
