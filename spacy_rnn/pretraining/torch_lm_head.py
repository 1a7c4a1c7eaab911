"""The output layer of a word-level language model: log-probabilities of targets.

:class:`LanguageModelHead` maps states ``(n, n_in)`` and target class ids
``(n,)`` to the log-probability of each row's target, ``(n,)``. Summing its
negation gives the negative log-likelihood (NLL); the mean NLL per predicted
token is the log of the perplexity.

Two output layers:

- ``adaptive`` (default): :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`
  (Grave et al. 2017, "Efficient softmax approximation for GPUs"). Class ids
  must be sorted by falling frequency: the ids below ``cutoffs[0]`` form the
  head, computed for every row; rarer ids sit in tail clusters of smaller
  width, computed only for the rows whose target is in them. It is an exact,
  normalized distribution, not a sampled approximation.
- ``full``: a linear layer over every class and a log-softmax; the reference
  the adaptive softmax is measured against.
"""
from typing import Optional, Sequence

import torch
from torch import nn

OUTPUT_LAYERS = ("adaptive", "full")


def resolve_cutoffs(
    n_classes: int, cutoffs: Optional[Sequence[int]], n_in: int, div_value: float = 4.0
) -> list:
    """The adaptive softmax's cutoffs for ``n_classes``: the given ones that
    lie strictly inside (0, n_classes), increasing. Cutoffs at or above
    ``n_classes`` are dropped, so one setting serves vocabularies of any
    size; so are the last ones whose tail cluster would be projected to
    fewer than one unit (tail cluster i has ``n_in // div_value ** (i + 1)``
    units). An empty result means a full softmax in one cluster."""
    if cutoffs is None:
        cutoffs = (2000, 10000)
    resolved = sorted({int(c) for c in cutoffs if 0 < int(c) < n_classes})
    while resolved and int(n_in // (div_value ** len(resolved))) < 1:
        resolved.pop()
    return resolved


class LanguageModelHead(nn.Module):
    def __init__(
        self,
        n_in: int,
        n_classes: int,
        output_layer: str = "adaptive",
        cutoffs: Optional[Sequence[int]] = None,
        div_value: float = 4.0,
    ):
        """``n_in``: the width of a state; ``n_classes``: the number of target
        ids; ``cutoffs`` and ``div_value``: the adaptive softmax's clusters
        (see :func:`resolve_cutoffs`) and the factor by which each tail
        cluster's width shrinks."""
        super().__init__()
        if output_layer not in OUTPUT_LAYERS:
            raise ValueError(f"unknown output layer {output_layer!r}; choose one of {OUTPUT_LAYERS}")
        if n_classes < 2:
            raise ValueError(f"a language model needs at least 2 classes, got {n_classes}")
        self.output_layer = output_layer
        self.n_in = n_in
        self.n_classes = n_classes
        self.cutoffs = resolve_cutoffs(n_classes, cutoffs, n_in, div_value)
        self.div_value = div_value
        if output_layer == "adaptive" and self.cutoffs:
            self.adaptive: Optional[nn.AdaptiveLogSoftmaxWithLoss] = nn.AdaptiveLogSoftmaxWithLoss(
                n_in, n_classes, self.cutoffs, div_value=div_value
            )
            self.linear: Optional[nn.Linear] = None
        else:
            self.adaptive = None
            self.linear = nn.Linear(n_in, n_classes)

    def forward(self, H: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The log-probability of each row's target: ``(n,)`` for ``H`` of
        shape ``(n, n_in)`` and int64 ``targets`` of shape ``(n,)``."""
        if H.shape[0] == 0:
            return H.new_zeros((0,))
        if self.adaptive is not None:
            return self.adaptive(H, targets).output
        assert self.linear is not None
        logprobs = torch.log_softmax(self.linear(H), dim=-1)
        return logprobs.gather(1, targets.unsqueeze(1)).squeeze(1)

    def log_prob(self, H: torch.Tensor) -> torch.Tensor:
        """The log-probability of every class: ``(n, n_classes)`` for ``H`` of
        shape ``(n, n_in)``; each row sums (in probability) to 1. What
        next-word prediction reads; training needs only :meth:`forward`."""
        if self.adaptive is not None:
            return self.adaptive.log_prob(H)
        assert self.linear is not None
        return torch.log_softmax(self.linear(H), dim=-1)
