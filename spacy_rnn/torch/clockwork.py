"""The Clockwork RNN (Koutník, Greff, Gomez and Schmidhuber, 2014).

The hidden state of ``hidden`` units is split into ``g`` equal modules, module
``i`` with a clock period ``T_i`` (default ``T_i = 2**i``: 1, 2, 4, ...). At
time step ``t`` (0-based, counted from the start of the sequence) a module
updates only when ``t mod T_i == 0``; otherwise it copies its previous value::

    h_t[i] = tanh(W_H[i] · h_{t-1} + W_I[i] · x_t + b[i])   if t mod T_i == 0
    h_t[i] = h_{t-1}[i]                                       otherwise

The recurrent matrix ``W_H`` is block-triangular: module ``i`` reads module
``j`` only when ``T_j >= T_i``, so slow modules feed fast ones but fast modules
never feed slow ones. We keep a full ``(hidden, hidden)`` weight and multiply
it by a fixed 0/1 block mask at every forward pass, so the masked weights get
zero gradient and never come into play whatever the optimizer does.

Design for speed: one sequence step cannot be vectorised over time, but
everything else is taken out of the step loop. ``W_I · x_t + b`` is one matmul
over all steps and documents; the masked ``W_H`` and the per-step update masks
(a ``(steps, hidden)`` bool table) are built once per call. Each step is then a
matmul, an add, a tanh and a select over the whole batch. The loop runs
eagerly: compiled with ``torch.jit.script`` it was slower on CPU
(``docs/design/batching.md``).

Because the encoder pads documents at their end and hands the backward
direction a per-document reversed copy, step ``t`` of every row is step ``t``
of that document (counted from its last token for the backward direction), so
the clocks of batched documents stay aligned and the output does not depend
on the batch.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..errors import ClockworkSettingError

# The number of modules when neither `modules` nor `periods` is given.
DEFAULT_MODULES = 4


def default_periods(modules: int) -> List[int]:
    """The exponential clock periods of the paper: 1, 2, 4, ..., 2**(modules-1)."""
    return [2**i for i in range(modules)]


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def resolve_periods(
    hidden: int, modules: Optional[int], periods: Optional[Sequence[int]]
) -> List[int]:
    """Check ``modules`` and ``periods`` against ``hidden`` units and return
    the period of every module. ``modules`` defaults to ``len(periods)`` or to
    :data:`DEFAULT_MODULES`; ``periods`` defaults to :func:`default_periods`.
    Raises :class:`ClockworkSettingError` naming the bad setting.
    """
    if modules is not None and not _is_positive_int(modules):
        raise ClockworkSettingError("modules", modules, "use a positive int, e.g. 4.")
    from_periods = periods is not None and modules is None
    if periods is not None:
        if (
            not isinstance(periods, (list, tuple))
            or not periods
            or not all(_is_positive_int(p) for p in periods)
        ):
            raise ClockworkSettingError(
                "periods", periods, "use a list of positive ints, e.g. [1, 2, 4, 8]."
            )
        if modules is not None and len(periods) != modules:
            raise ClockworkSettingError(
                "periods",
                periods,
                f"give one period per module: modules = {modules}, but "
                f"{len(periods)} periods. Leave modules unset to use len(periods).",
            )
        modules = len(periods)
    elif modules is None:
        modules = DEFAULT_MODULES
    if hidden % modules:
        raise ClockworkSettingError(
            "periods" if from_periods else "modules",
            periods if from_periods else modules,
            f"each direction's {hidden} hidden units are split into equal modules, "
            f"so the number of modules ({modules}) must divide {hidden}. "
            "Change the width or the number of modules.",
        )
    return list(periods) if periods is not None else default_periods(modules)


def _clockwork_steps(
    projected: torch.Tensor, recurrent: torch.Tensor, updates: torch.Tensor
) -> torch.Tensor:
    """Run the recurrence. ``projected`` is ``W_I · x + b``, ``(T, B, H)``;
    ``recurrent`` the masked ``W_H`` transposed, ``(H, H)``; ``updates`` the
    ``(T, H)`` bool table of units that update at each step. Returns every
    step's state, ``(T, B, H)``, starting from a zero state."""
    h = projected.new_zeros((projected.shape[1], projected.shape[2]))
    outputs: List[torch.Tensor] = []
    # unbind, not projected[t]: the backward of indexing one step allocates a
    # gradient the size of the whole sequence, so T steps would cost O(T^2).
    steps = projected.unbind(0)
    for t in range(len(steps)):
        candidate = torch.tanh(torch.addmm(steps[t], h, recurrent))
        h = torch.where(updates[t], candidate, h)
        outputs.append(h)
    return torch.stack(outputs)


class ClockworkRNN(nn.Module):
    """One direction of one Clockwork RNN layer.

    Called like ``torch.nn.RNN`` on a time-major ``(T, B, n_in)`` tensor with
    a zero initial state, it returns ``(outputs, h_last)`` with ``outputs`` of
    shape ``(T, B, hidden)`` and ``h_last`` of shape ``(1, B, hidden)``.
    """

    def __init__(
        self,
        n_in: int,
        hidden: int,
        modules: Optional[int] = None,
        periods: Optional[Sequence[int]] = None,
    ):
        super().__init__()
        self.n_in = n_in
        self.hidden = hidden
        self.periods = resolve_periods(hidden, modules, periods)
        self.modules_count = len(self.periods)
        size = hidden // self.modules_count
        unit_period = torch.tensor(self.periods, dtype=torch.long).repeat_interleave(size)
        # mask[i, j] == 1 where unit i may read unit j: period(j) >= period(i)
        mask = (unit_period[None, :] >= unit_period[:, None]).to(torch.get_default_dtype())
        self.register_buffer("unit_period", unit_period, persistent=False)
        self.register_buffer("recurrent_mask", mask, persistent=False)
        # W_I and b together, as in torch.nn.RNN's weight_ih / bias_ih.
        self.weight_ih = nn.Parameter(torch.empty(hidden, n_in))
        self.bias = nn.Parameter(torch.empty(hidden))
        # W_H, rows = receiving unit; entries outside the mask stay zero.
        self.weight_hh = nn.Parameter(torch.empty(hidden, hidden))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(hidden), 1/sqrt(hidden)), torch.nn.RNN's initialization."""
        bound = self.hidden**-0.5
        for param in (self.weight_ih, self.bias, self.weight_hh):
            nn.init.uniform_(param, -bound, bound)
        with torch.no_grad():
            self.weight_hh.mul_(self.recurrent_mask)

    def update_table(self, steps: int) -> torch.Tensor:
        """The ``(steps, hidden)`` bool table: unit updates at step t iff t mod T == 0."""
        t = torch.arange(steps, device=self.unit_period.device)
        return (t[:, None] % self.unit_period[None, :]) == 0

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if x.shape[0] == 0:
            empty = x.new_zeros((0, x.shape[1], self.hidden))
            return empty, x.new_zeros((1, x.shape[1], self.hidden))
        projected = torch.nn.functional.linear(x, self.weight_ih, self.bias)
        recurrent = (self.weight_hh * self.recurrent_mask).t()
        outputs = _clockwork_steps(projected, recurrent, self.update_table(x.shape[0]))
        return outputs, outputs[-1:]
