"""The depth-gated LSTM (Yao, Cohn, Vylomova, Duh and Dyer, 2015, arXiv 1508.03790).

A stack of LSTM layers in which layer ``L`` adds the memory cell of the layer
below, at the same step, to its own cell update, through a *depth gate*
``d_t``::

    i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)
    f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)
    g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)
    o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)
    d_t = σ(b_d + W_xd x_t + w_ld ⊙ c_t^{L-1} + w_cd ⊙ c_{t-1}^L)
    c_t^L = f_t ⊙ c_{t-1}^L + i_t ⊙ g_t + d_t ⊙ c_t^{L-1}
    h_t^L = o_t ⊙ tanh(c_t^L)

``x_t`` is layer ``L``'s input (the hidden states of the layer below), and
``w_ld``, ``w_cd`` are vectors (elementwise weights). The first layer has no
lower cell and is a plain LSTM, so ``depth`` must be at least 2 for the depth
gate to exist at all.

Choices made here:

- The gates are the LSTM of ``torch.nn.LSTM`` (gate order i, f, g, o; two
  biases ``bias_ih`` and ``bias_hh``; no peephole connections), so layer 1 is
  exactly ``torch.nn.LSTM`` and the depth gate is the only new part. The
  paper's note builds on a peephole LSTM; we leave the peepholes out, as every
  other cell in this package does.
- ``W_xd x_t + b_d`` is computed with the four gate projections as one
  ``(5 * hidden, n_in)`` matmul over all steps, and ``w_ld ⊙ c_t^{L-1}`` is
  added to it before the time loop too: only ``w_cd ⊙ c_{t-1}^L`` depends on
  the recurrence.
- The step loop runs eagerly. ``torch.jit.script`` made it slower
  (``docs/design/batching.md``) and its autodiff failed on the
  fused gate sigmoid (a shape error in the backward of ``sigmoid`` after
  ``chunk``).
- Bidirectional stacks: each direction has its own depth gates. Forward layer
  ``L`` reads the cells of forward layer ``L-1`` and backward layer ``L``
  reads those of backward layer ``L-1``, at the same token. A cell mixes a
  direction's memory over its own reading order, so adding the other
  direction's cell would mix two memories of different contexts. The layer
  *input* ``x_t`` still concatenates both directions of the layer below, as
  for the other cells and ``torch.nn.LSTM``.
"""
from typing import List, Optional, Tuple

import torch
from torch import nn


def _dglstm_steps(
    projected: torch.Tensor,
    weight_hh: torch.Tensor,
    lower_cells: Optional[torch.Tensor],
    depth_input: Optional[torch.Tensor],
    w_cd: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run the recurrence from zero states. ``projected`` holds the gates'
    input projections plus biases for all steps, ``(T, B, 4H)``;
    ``weight_hh`` is ``(4H, H)``. For a depth-gated layer, ``lower_cells``
    are the lower layer's cells ``(T, B, H)`` and ``depth_input`` the part of
    the depth gate known before the loop, ``b_d + W_xd x_t + w_ld ⊙ c_t^{L-1}``,
    also ``(T, B, H)``. Returns every step's hidden state and cell, each
    ``(T, B, H)``."""
    hidden = weight_hh.shape[1]
    batch = projected.shape[1]
    h = projected.new_zeros((batch, hidden))
    c = projected.new_zeros((batch, hidden))
    recurrent = weight_hh.t()
    hs: List[torch.Tensor] = []
    cs: List[torch.Tensor] = []
    # unbind, not projected[t]: the backward of indexing one step allocates a
    # gradient the size of the whole sequence, so T steps would cost O(T^2).
    steps = projected.unbind(0)
    lowers = lower_cells.unbind(0) if lower_cells is not None else steps
    depth_inputs = depth_input.unbind(0) if depth_input is not None else steps
    for t in range(len(steps)):
        gates = torch.addmm(steps[t], h, recurrent)
        # One sigmoid for all four blocks (the g block's is unused) costs
        # less than three separate calls at these sizes.
        i, f, _, o = torch.sigmoid(gates).chunk(4, 1)
        g = torch.tanh(gates.narrow(1, 2 * hidden, hidden))
        c_new = torch.addcmul(f * c, i, g)
        if lower_cells is not None:
            d = torch.sigmoid(torch.addcmul(depth_inputs[t], w_cd, c))
            c_new = torch.addcmul(c_new, d, lowers[t])
        c = c_new
        h = o * torch.tanh(c)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


class DepthGatedLSTMLayer(nn.Module):
    """One direction of one layer of a depth-gated LSTM stack.

    ``layer(x, lower_cells)`` takes a time-major ``(T, B, n_in)`` input and,
    when ``depth_gated``, the lower layer's cells ``(T, B, hidden)`` at the
    same steps; it returns ``(outputs, cells)``, both ``(T, B, hidden)``. With
    ``depth_gated=False`` (the first layer) it is ``torch.nn.LSTM`` with
    the same parameter names and initialization.
    """

    def __init__(self, n_in: int, hidden: int, depth_gated: bool):
        super().__init__()
        self.n_in = n_in
        self.hidden = hidden
        self.depth_gated = depth_gated
        n_proj = 5 * hidden if depth_gated else 4 * hidden
        # Rows: input, forget, cell and output gates, then (if gated) W_xd.
        self.weight_ih = nn.Parameter(torch.empty(n_proj, n_in))
        self.bias_ih = nn.Parameter(torch.empty(n_proj))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden, hidden))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden))
        if depth_gated:
            self.weight_ld = nn.Parameter(torch.empty(hidden))
            self.weight_cd = nn.Parameter(torch.empty(hidden))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(hidden), 1/sqrt(hidden)), as torch.nn.LSTM."""
        bound = self.hidden**-0.5
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def forward(
        self, x: torch.Tensor, lower_cells: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.depth_gated != (lower_cells is not None):
            raise ValueError(
                "a depth-gated layer needs the lower layer's cells, and only it"
            )
        if x.shape[0] == 0:
            empty = x.new_zeros((0, x.shape[1], self.hidden))
            return empty, empty
        gates = 4 * self.hidden
        bias = torch.cat([self.bias_ih[:gates] + self.bias_hh, self.bias_ih[gates:]])
        projected = torch.nn.functional.linear(x, self.weight_ih, bias)
        depth_input: Optional[torch.Tensor] = None
        w_cd = x.new_zeros(0)
        if lower_cells is not None:
            # b_d + W_xd x_t + w_ld * c_t^{L-1} for every step, out of the loop.
            depth_input = torch.addcmul(projected[:, :, gates:], self.weight_ld, lower_cells)
            projected = projected[:, :, :gates]
            w_cd = self.weight_cd
        return _dglstm_steps(projected, self.weight_hh, lower_cells, depth_input, w_cd)
