"""A stacked, optionally bidirectional recurrent encoder over ragged batches.

The module maps a flat ``(n_tokens, n_in)`` tensor plus the documents' lengths
to a flat ``(n_tokens, n_out)`` tensor. Each document's output depends only on
that document: documents are padded at their end inside length buckets, and the
backward direction reads a per-document reversed copy, so it starts at the
document's own last token. Bidirectional layers concatenate the forward and
backward states (``n_out // 2`` units each), and every layer after the first
reads both directions of the layer below, as in ``torch.nn.LSTM``.
"""
from typing import Dict, Sequence, Type

import torch
from torch import nn

from .batching import DEFAULT_BUCKET_SIZE, LengthBuckets

CELLS: Dict[str, Type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(nn.Module):
    def __init__(
        self,
        cell: str,
        n_in: int,
        n_out: int,
        depth: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        bucket_size: int = DEFAULT_BUCKET_SIZE,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        if bidirectional and n_out % 2:
            raise ValueError(f"a bidirectional encoder needs an even width, got {n_out}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.cell = cell
        self.n_in = n_in
        self.n_out = n_out
        self.depth = depth
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.bucket_size = bucket_size
        self.hidden = n_out // 2 if bidirectional else n_out
        rnn_class = CELLS[cell]
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for i in range(depth):
            layer_in = n_in if i == 0 else n_out
            self.forward_layers.append(rnn_class(layer_in, self.hidden))
            if bidirectional:
                self.backward_layers.append(rnn_class(layer_in, self.hidden))

    def hparams(self) -> dict:
        """The constructor arguments, enough to rebuild an identical module."""
        return dict(
            cell=self.cell,
            n_in=self.n_in,
            n_out=self.n_out,
            depth=self.depth,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            bucket_size=self.bucket_size,
        )

    def forward(self, X: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        if X.dim() != 2 or X.shape[1] != self.n_in:
            raise ValueError(
                f"expected input of shape (n_tokens, {self.n_in}), got {tuple(X.shape)}"
            )
        plan = LengthBuckets(lengths, self.bucket_size)
        if plan.n_tokens != X.shape[0]:
            raise ValueError(
                f"lengths sum to {plan.n_tokens} but the input has {X.shape[0]} rows"
            )
        if plan.n_tokens == 0:
            return X.new_zeros((0, self.n_out))
        device = X.device
        buckets = [
            (torch.from_numpy(f).to(device), torch.from_numpy(b).to(device))
            for f, b in plan.buckets()
        ]
        fwd_gather = torch.from_numpy(plan.forward_gather).to(device)
        bwd_gather = torch.from_numpy(plan.backward_gather).to(device)
        for i in range(self.depth):
            if i > 0 and self.dropout > 0.0:
                X = nn.functional.dropout(X, p=self.dropout, training=self.training)
            padded = torch.cat([X, X.new_zeros((1, X.shape[1]))])
            fwd_out = [
                self.forward_layers[i](padded[f])[0].reshape(-1, self.hidden)
                for f, _ in buckets
            ]
            Y = torch.cat(fwd_out).index_select(0, fwd_gather)
            if self.bidirectional:
                bwd_out = [
                    self.backward_layers[i](padded[b])[0].reshape(-1, self.hidden)
                    for _, b in buckets
                ]
                Y_bwd = torch.cat(bwd_out).index_select(0, bwd_gather)
                Y = torch.cat([Y, Y_bwd], dim=1)
            X = Y
        return X
