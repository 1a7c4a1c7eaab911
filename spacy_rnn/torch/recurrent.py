"""A stacked, optionally bidirectional recurrent encoder over ragged batches.

The module maps a flat ``(n_tokens, n_in)`` tensor plus the documents' lengths
to a flat ``(n_tokens, n_out)`` tensor. Each document's output depends only on
that document: documents are padded at their end inside length buckets, and the
backward direction reads a per-document reversed copy, so it starts at the
document's own last token. Bidirectional layers concatenate the forward and
backward states (``n_out // 2`` units each), and every layer after the first
reads both directions of the layer below, as in ``torch.nn.LSTM``. With
``separate_directions=True`` each direction instead reads only its own
direction of the layer below (two independent stacks, as in ELMo), so the
forward state at token t has seen tokens 0..t only and the backward state
tokens t..end only, at any depth: what a language model needs (the forward
stack predicts token t+1, the backward stack token t-1, without seeing it).

Cells: torch's own ``rnn``, ``lstm`` and ``gru``, the Clockwork RNN
(``clockwork``, see :mod:`.clockwork`; its clocks count from each document's
first token, or last for the backward direction, because padding only ever
follows a document) and the depth-gated LSTM (``dglstm``, see :mod:`.dglstm`;
each layer after the first also reads the cells of the same direction's layer
below, which the encoder carries from layer to layer in token order).
"""
from __future__ import annotations  # the nested functions' annotations cost a one-sentence call

import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Type

import torch
from torch import nn

from .batching import DEFAULT_BUCKET_SIZE, LengthBuckets
from .clockwork import ClockworkRNN, resolve_periods
from .dglstm import DepthGatedLSTMLayer
from .threads import (
    bucket_threads,
    choosing_threads,
    current_limit,
    direction_worker,
    parallel_directions,
    plan_threads,
    scope_of,
    set_threads,
)

# run_layer(i, inputs, cells) -> (outputs, cells) of layer i, one per direction: see RecurrentEncoder._stack
LayerRunner = Callable[
    [int, List[torch.Tensor], Optional[List[torch.Tensor]]], Tuple[List[torch.Tensor], List[torch.Tensor]]
]

CELLS: Dict[str, Type[nn.Module]] = {
    "rnn": nn.RNN,
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "clockwork": ClockworkRNN,
    "dglstm": DepthGatedLSTMLayer,
}


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
        modules: Optional[int] = None,
        periods: Optional[Sequence[int]] = None,
        separate_directions: bool = False,
    ):
        """``modules`` and ``periods`` configure the clockwork cell only (see
        :func:`.clockwork.resolve_periods` for their defaults).
        ``separate_directions``: layers after the first read only the same
        direction of the layer below (no effect at depth 1 or when
        unidirectional)."""
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        if bidirectional and n_out % 2:
            raise ValueError(f"a bidirectional encoder needs an even width, got {n_out}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if cell == "dglstm" and depth < 2:
            raise ValueError(f"a depth-gated LSTM needs depth of at least 2, got {depth}")
        if cell != "clockwork" and (modules is not None or periods is not None):
            raise ValueError(f"modules and periods are settings of the clockwork cell, not {cell!r}")
        self.cell = cell
        self.n_in = n_in
        self.n_out = n_out
        self.depth = depth
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.bucket_size = bucket_size
        self.separate_directions = bool(separate_directions)
        self.hidden = n_out // 2 if bidirectional else n_out
        # Stored resolved, so that a saved clockwork model keeps its clocks
        # even if the defaults change.
        self.periods: Optional[List[int]] = None
        if cell == "clockwork":
            self.periods = resolve_periods(self.hidden, modules, periods)
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for i in range(depth):
            self.forward_layers.append(self._make_layer(i))
            if bidirectional:
                self.backward_layers.append(self._make_layer(i))

    def _make_layer(self, i: int) -> nn.Module:
        """One direction of layer ``i``, called as ``layer(x)`` with ``x`` of
        shape ``(T, B, layer_in)`` and returning ``(outputs, ...)``."""
        if i == 0:
            layer_in = self.n_in
        elif self.separate_directions:
            layer_in = self.hidden
        else:
            layer_in = self.n_out
        if self.cell == "clockwork":
            return ClockworkRNN(layer_in, self.hidden, periods=self.periods)
        if self.cell == "dglstm":
            return DepthGatedLSTMLayer(layer_in, self.hidden, depth_gated=i > 0)
        return CELLS[self.cell](layer_in, self.hidden)

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
            modules=len(self.periods) if self.periods is not None else None,
            periods=self.periods,
            separate_directions=self.separate_directions,
        )

    def forward(self, X: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        if X.dim() != 2 or X.shape[1] != self.n_in:
            raise ValueError(
                f"expected input of shape (n_tokens, {self.n_in}), got {tuple(X.shape)}"
            )
        if len(lengths) == 1 and int(lengths[0]) == X.shape[0] > 0:
            # One document (nlp(text)): its bucket would be the whole input,
            # unpadded. Unless it wants threads, run it without the plan
            # (bucket_threads, unlike plan_threads, counts no probe).
            wanted = bucket_threads(self.cell, self.hidden, [(X.shape[0], 1)])
            if (wanted is None or max(wanted) == 1) and not (
                self.bidirectional and parallel_directions(X.shape[0])
            ):
                return self._forward_one_document(X)
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
        # Intra-op threads per bucket and direction when a thread_scope is
        # open, and which bucket of the first layer is timed (see .threads).
        threads = plan_threads(
            self.cell, self.hidden, [f.shape for f in plan.forward_index], self.bidirectional
        )
        # Both directions at once, one thread each; the plan's threads then
        # serve only the backward pass (see .threads.parallel_directions).
        # A probed call (threads.timed) compares its directions one after the
        # other, so it runs them so.
        parallel = (
            self.bidirectional
            and parallel_directions(plan.n_tokens)
            and (threads is None or threads.timed is None)
        )
        fwd_gather = torch.from_numpy(plan.forward_gather).to(device)
        directions = [(self.forward_layers, 0, fwd_gather)]
        if self.bidirectional:
            bwd_gather = torch.from_numpy(plan.backward_gather).to(device)
            directions.append((self.backward_layers, 1, bwd_gather))

        def run_layer(
            i: int, inputs: List[torch.Tensor], cells: Optional[List[torch.Tensor]]
        ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
            # each distinct input padded once, then shared by the directions
            padded_inputs = [_append_zero_row(x) for x in inputs]
            if len(padded_inputs) < len(directions):
                padded_inputs = padded_inputs * len(directions)
            calls = []
            for (layers, side, gather), padded in zip(directions, padded_inputs):
                indices = [bucket[side] for bucket in buckets]
                lower = None if cells is None else _append_zero_row(cells[side])
                side_threads = None if threads is None else threads.per_direction[side]
                timed = threads.timed if threads is not None and i == 0 else None  # None when parallel
                calls.append((layers[i], padded, lower, indices, gather, side_threads, timed, not parallel))
            if parallel:
                # the forward direction on the worker thread, the backward one here
                future = direction_worker().submit(
                    self._run_as_caller, torch.is_grad_enabled(), current_limit(), *calls[0]
                )
                backward = self._run_direction(*calls[1])
                results = [future.result(), backward]
            else:
                results = [self._run_direction(*call) for call in calls]
            if threads is not None and i == 0:
                threads.record([s for _, _, s in results])
            return [Y for Y, _, _ in results], [C for _, C, _ in results if C is not None]

        return self._stack(X, run_layer)

    def _forward_one_document(self, X: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` for one document on the thread count as it is: the
        same outputs and gradients as the bucketed path (one bucket of one
        document has no padding, and the backward direction reads the
        document reversed), without its index arithmetic, padding row and
        gathers, which cost a short sentence about as much as its two
        recurrent calls' fixed overhead."""
        directions = [self.forward_layers, self.backward_layers] if self.bidirectional else [self.forward_layers]

        def run_layer(
            i: int, inputs: List[torch.Tensor], cells: Optional[List[torch.Tensor]]
        ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
            if len(inputs) == 1 and len(directions) == 2:
                both = _both_directions(self.forward_layers[i], self.backward_layers[i], inputs[0], self.training)
                if both is not None:
                    return [both], []  # the directions' outputs side by side
            if len(inputs) < len(directions):
                inputs = inputs * len(directions)
            outputs: List[torch.Tensor] = []
            next_cells: List[torch.Tensor] = []
            for side, (layers, x) in enumerate(zip(directions, inputs)):
                reverse = side == 1
                x = (x.flip(0) if reverse else x).unsqueeze(1)
                if self.cell == "dglstm":
                    lower = None if cells is None else (cells[side].flip(0) if reverse else cells[side]).unsqueeze(1)
                    h, c = layers[i](x, lower)
                    c = c.reshape(-1, self.hidden)
                    next_cells.append(c.flip(0) if reverse else c)
                else:
                    h = layers[i](x)[0]
                h = h.reshape(-1, self.hidden)
                outputs.append(h.flip(0) if reverse else h)
            return outputs, next_cells

        return self._stack(X, run_layer)

    def _stack(self, X: torch.Tensor, run_layer: LayerRunner) -> torch.Tensor:
        """The layers from the bottom up, as both forward paths share them:
        dropout between layers; one input for both directions, or with
        ``separate_directions`` each direction's own; the directions' outputs
        concatenated. ``run_layer(i, inputs, cells)`` runs layer ``i`` of
        every direction on ``inputs`` (one tensor shared by the directions, or
        one each) and, for dglstm, ``cells`` (each direction's cells of the
        layer below, in token order), and returns each direction's outputs
        and (dglstm only) cells, ``(n_tokens, hidden)`` each, or the
        directions' outputs side by side as one ``(n_tokens, n_out)``
        tensor."""
        inputs = [X]
        cells: Optional[List[torch.Tensor]] = None
        for i in range(self.depth):
            if i > 0 and self.dropout > 0.0:
                inputs = [nn.functional.dropout(x, p=self.dropout, training=self.training) for x in inputs]
            outputs, next_cells = run_layer(i, inputs, cells)
            X = torch.cat(outputs, dim=1) if len(outputs) > 1 else outputs[0]
            if self.separate_directions and self.bidirectional and len(outputs) == 1:
                outputs = list(X.split(self.hidden, dim=1))
            inputs = outputs if self.separate_directions else [X]
            cells = next_cells or None
        return X

    def _run_direction(
        self,
        layer: nn.Module,
        padded: torch.Tensor,
        lower: Optional[torch.Tensor],
        indices: List[torch.Tensor],
        gather: torch.Tensor,
        threads: Optional[List[int]] = None,
        timed: Optional[int] = None,
        forward_threads: bool = True,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[float]]:
        """Run one direction of one layer over every bucket. ``indices`` are
        the buckets' ``(time, docs)`` row numbers into ``padded`` (and into
        ``lower``, the layer below's cells, for dglstm); ``gather`` puts the
        outputs back in token order; ``threads``, if given, the intra-op
        threads of each bucket's call, forward and backward. Returns the
        outputs and, for dglstm, the cells, both ``(n_tokens, hidden)``, and
        the seconds of the forward call of bucket ``timed`` (if given). With
        ``forward_threads=False`` the forward calls run on the thread count
        as it is, and ``threads`` apply to the backward pass only."""
        outputs: List[Optional[torch.Tensor]] = [None] * len(indices)
        cells: List[Optional[torch.Tensor]] = [None] * len(indices)
        seconds = None
        # the timed bucket first, so that no earlier parallel region of the
        # call has left a thread spinning when it starts
        order = list(range(len(indices)))
        if timed is not None:
            order.remove(timed)
            order.insert(0, timed)
        for b in order:
            index = indices[b]
            k = threads[b] if threads is not None else None
            if k is not None and forward_threads:
                set_threads(k)
            # In backward: k threads for the recurrent call, then one again.
            x = _mark_backward_threads(padded[index], 1 if k is not None else None)
            start = time.perf_counter()
            if self.cell == "dglstm":
                h, c = layer(x, None if lower is None else lower[index])
                c = _mark_backward_threads(c, k)
                cells[b] = c.reshape(-1, self.hidden)
            else:
                h = layer(x)[0]
            if b == timed:
                seconds = time.perf_counter() - start
            h = _mark_backward_threads(h, k)
            outputs[b] = h.reshape(-1, self.hidden)
        if threads is not None and forward_threads:
            set_threads(1)
        Y = torch.cat(outputs).index_select(0, gather)
        C = torch.cat(cells).index_select(0, gather) if self.cell == "dglstm" else None
        return Y, C, seconds


    def _run_as_caller(
        self, grad: bool, limit: Optional[int], *args
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[float]]:
        """``_run_direction`` on the worker thread, in the caller's grad mode
        and thread scope (both are per thread): the worker records a graph
        only if the caller does, and marks its backward pass's threads."""
        with torch.set_grad_enabled(grad), scope_of(limit):
            return self._run_direction(*args)


# torch's own cells, and the functional call that runs both directions of one
# layer at once (what nn.LSTM(bidirectional=True) calls)
_BIDIRECTIONAL_CALLS = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn_tanh"}


def _both_directions(
    forward_layer: nn.Module, backward_layer: nn.Module, x: torch.Tensor, training: bool
) -> Optional[torch.Tensor]:
    """Both directions of one layer of torch's own cells over one document
    ``x`` (``(n_tokens, n_in)``, on the CPU) in a single bidirectional call:
    ``(n_tokens, 2 * hidden)``, the forward direction's units first. The
    backward direction reads the document from its last token, as the two
    separate calls do, with the same weights; one call instead of two halves
    the recurrent kernel's fixed cost per call, a large part of a short
    sentence's time (docs/design/threads.md). None where that call does not
    apply: other modules (the clockwork and depth-gated cells, a quantized
    copy), another device, or an Elman RNN other than tanh."""
    cls = type(forward_layer)
    if type(backward_layer) is not cls or cls not in _BIDIRECTIONAL_CALLS or x.device.type != "cpu":
        return None
    if cls is nn.RNN and (forward_layer.nonlinearity != "tanh" or backward_layer.nonlinearity != "tanh"):
        return None
    if forward_layer.num_layers != 1 or forward_layer.batch_first or forward_layer.proj_size:
        return None
    # nn.RNNBase keeps _flat_weights in its parameters' order, as its own forward passes them
    weights = forward_layer._flat_weights + backward_layer._flat_weights
    h0 = x.new_zeros((2, 1, forward_layer.hidden_size))
    state = (h0, h0) if cls is nn.LSTM else h0
    call = getattr(torch, _BIDIRECTIONAL_CALLS[cls])
    return call(x.unsqueeze(1), state, weights, forward_layer.bias, 1, 0.0, training, True, False)[0].squeeze(1)


def _append_zero_row(X: torch.Tensor) -> torch.Tensor:
    """``X`` with one zero row after its last: the row padding indices point at."""
    return torch.cat([X, X.new_zeros((1, X.shape[1]))])


class _BackwardThreads(torch.autograd.Function):
    """Identity whose backward sets the threads for the recurrent call that
    produced its input. Autograd on CPU runs on the calling thread and takes
    the ready node with the highest sequence number first, so the recurrent
    call's backward comes right after this node's."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, k: int) -> torch.Tensor:
        ctx.k = k
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        set_threads(ctx.k)
        return grad, None


def _mark_backward_threads(x: torch.Tensor, k: Optional[int]) -> torch.Tensor:
    if k is None or not x.requires_grad or not choosing_threads():
        return x
    return _BackwardThreads.apply(x, k)
