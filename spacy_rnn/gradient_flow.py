"""Gradient flow through the recurrent encoder: how much the loss still "hears"
each time step, and how often gradient clipping fires.

Backpropagation through time carries the loss gradient from where the loss
reads the encoder (the last state, the pooled states) back over every step;
in an Elman RNN it shrinks (or grows) geometrically with the distance, which
is what the LSTM, the GRU and the Clockwork RNN were designed against. A
:class:`GradientFlow` recorder, attached to the ``spacy_rnn.RNNEncoder.v1``
layers of a model (:func:`attach_gradient_flow`), records while training:

- the norm of the loss gradient with respect to each token's encoder input,
  ``||dL/dx_t||``, summed by position counted from the document's first token
  and from its last (so documents of different lengths line up at either end),
  and the geometric mean over documents of ``||dL/dx_first|| / ||dL/dx_last||``
  (documents whose first token got an exact zero, the gradient having
  underflowed on the way, are counted apart);
- at each optimizer step, the gradient norm of every parameter array of the
  encoder, against the optimizer's ``grad_clip``: Thinc clips each array whose
  norm is at least ``grad_clip`` to that norm, so the recorder counts exactly
  the clips the optimizer makes on the encoder's weights.

Turn it on in a training config with the ``spacy_rnn.gradient_flow.v1``
``[training.before_update]`` callback (:func:`create_gradient_flow_callback`).
"""
import math
import sys
from typing import Any, Callable, Dict, List, Optional

import numpy
import srsly
import torch
from spacy.language import Language
from spacy.util import registry
from thinc.api import Model

from .errors import ConfigValueError
from .layers.encoder import find_encoders

WHERE = "spacy_rnn.gradient_flow.v1"


class GradientFlow:
    """Running totals of input-gradient norms by position and of clipping."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sum_from_start = numpy.zeros(0, dtype="float64")
        self.count_from_start = numpy.zeros(0, dtype="int64")
        self.sum_from_end = numpy.zeros(0, dtype="float64")
        self.count_from_end = numpy.zeros(0, dtype="int64")
        self.docs = 0
        self.tokens = 0
        # sum of log(||g_first|| / ||g_last||) over docs of 2+ tokens with non-zero gradients
        self.log_ratio_sum = 0.0
        self.log_ratio_docs = 0
        # docs whose first token got no gradient at all (it underflowed to 0)
        self.first_zero_docs = 0
        self.grad_clip: Optional[float] = None
        self.updates = 0
        self.updates_clipped = 0
        self.arrays = 0
        self.arrays_clipped = 0
        self.max_array_norm = 0.0
        self.total_norms: List[float] = []

    # -- recording ---------------------------------------------------------

    def record_input_gradient(self, dXs: List[Any]) -> None:
        """Add the input gradients of a batch: one ``(n_tokens, width)`` array a document."""
        for dX in dXs:
            n = dX.shape[0]
            if not n:
                continue
            dX = numpy.asarray(dX.get() if hasattr(dX, "get") else dX, dtype="float64")
            norms = numpy.sqrt((dX * dX).sum(axis=1))
            self._grow(n)
            self.sum_from_start[:n] += norms
            self.count_from_start[:n] += 1
            self.sum_from_end[:n] += norms[::-1]
            self.count_from_end[:n] += 1
            self.docs += 1
            self.tokens += n
            if n > 1 and norms[0] > 0 and norms[-1] > 0:
                self.log_ratio_sum += math.log(norms[0] / norms[-1])
                self.log_ratio_docs += 1
            elif n > 1 and norms[0] == 0 and norms[-1] > 0:
                self.first_zero_docs += 1

    def _grow(self, n: int) -> None:
        if n <= self.sum_from_start.shape[0]:
            return
        extra = n - self.sum_from_start.shape[0]
        for name in ("sum_from_start", "sum_from_end", "count_from_start", "count_from_end"):
            array = getattr(self, name)
            setattr(self, name, numpy.concatenate([array, numpy.zeros(extra, dtype=array.dtype)]))

    def record_update(self, module: torch.nn.Module, grad_clip: Optional[float]) -> None:
        """Check each parameter gradient of ``module`` against ``grad_clip``
        (called just before the optimizer applies them)."""
        norms = [float(p.grad.norm()) for p in module.parameters() if p.grad is not None]
        if not norms:
            return
        self.grad_clip = float(grad_clip) if grad_clip else None
        clipped = sum(1 for n in norms if self.grad_clip and n >= self.grad_clip)
        self.updates += 1
        self.updates_clipped += int(clipped > 0)
        self.arrays += len(norms)
        self.arrays_clipped += clipped
        self.max_array_norm = max(self.max_array_norm, max(norms))
        self.total_norms.append(math.sqrt(sum(n * n for n in norms)))

    # -- reading -----------------------------------------------------------

    def mean_norm(self, from_end: bool = False) -> numpy.ndarray:
        """Mean ``||dL/dx||`` at each position (0 = the first token, or the
        last with ``from_end``); NaN where no document reached."""
        sums, counts = (
            (self.sum_from_end, self.count_from_end) if from_end else (self.sum_from_start, self.count_from_start)
        )
        with numpy.errstate(invalid="ignore", divide="ignore"):
            return numpy.where(counts > 0, sums / numpy.maximum(counts, 1), numpy.nan)

    def binned(self, from_end: bool = False) -> List[Dict[str, Any]]:
        """The mean norm over position bins 0, 1, 2-3, 4-7, 8-15, ...:
        ``[{"first", "last", "mean_norm", "tokens"}]``."""
        sums, counts = (
            (self.sum_from_end, self.count_from_end) if from_end else (self.sum_from_start, self.count_from_start)
        )
        bins = []
        lo = 0
        while lo < sums.shape[0]:
            hi = min(max(1, 2 * lo), sums.shape[0])
            c = int(counts[lo:hi].sum())
            if c:
                bins.append({"first": lo, "last": hi - 1, "mean_norm": float(sums[lo:hi].sum() / c), "tokens": c})
            lo = hi
        return bins

    def summary(self) -> Dict[str, Any]:
        """The totals since the last :meth:`reset`, as a JSON-able dict."""
        ratio = math.exp(self.log_ratio_sum / self.log_ratio_docs) if self.log_ratio_docs else None
        return {
            "docs": self.docs,
            "tokens": self.tokens,
            "input_gradient": {
                "from_start": self.binned(),
                "from_end": self.binned(from_end=True),
                "first_over_last": ratio,
                "first_zero_docs": self.first_zero_docs,
            },
            "clipping": {
                "grad_clip": self.grad_clip,
                "updates": self.updates,
                "updates_clipped": self.updates_clipped,
                "arrays": self.arrays,
                "arrays_clipped": self.arrays_clipped,
                "max_array_norm": self.max_array_norm,
                "mean_total_norm": float(numpy.mean(self.total_norms)) if self.total_norms else None,
            },
        }

    def describe(self) -> str:
        """One line for a training log."""
        s = self.summary()
        parts = [f"{s['docs']} docs"]
        ratio = s["input_gradient"]["first_over_last"]
        if ratio is not None:
            parts.append(f"|dL/dx| first token / last token {ratio:.3g} (geometric mean)")
        if self.first_zero_docs:
            parts.append(f"no gradient at all reached the first token of {self.first_zero_docs} docs")
        c = s["clipping"]
        if c["updates"]:
            clip = f"grad_clip {c['grad_clip']:g}" if c["grad_clip"] else "no grad_clip"
            parts.append(
                f"clipping fired in {c['updates_clipped']}/{c['updates']} updates "
                f"({c['arrays_clipped']}/{c['arrays']} weight arrays; {clip}; largest norm {c['max_array_norm']:.3g})"
            )
        return "; ".join(parts)


def attach_gradient_flow(model: Model, recorder: GradientFlow) -> int:
    """Make every ``spacy_rnn.RNNEncoder.v1`` in ``model`` report to
    ``recorder``; returns how many there are. ``recorder=None`` detaches."""
    encoders = find_encoders(model)
    for encoder in encoders:
        encoder.attrs["gradient_flow"] = recorder
        encoder.shims[0].gradient_flow = recorder
    return len(encoders)


@registry.callbacks("spacy_rnn.gradient_flow.v1")
def create_gradient_flow_callback(
    every: int = 200,
    path: Optional[str] = None,
    then: Optional[Callable[[Language, Dict[str, Any]], None]] = None,
) -> Callable[[Language, Dict[str, Any]], None]:
    """A ``[training.before_update]`` callback that records the gradient flow
    of every recurrent encoder of the pipeline (:class:`GradientFlow`) and
    reports it every ``every`` updates: a line on stderr and, with ``path``,
    one JSON object a report appended to that file (the norms by position
    bin from each end, the first/last-token ratio, the clip counts).

    [training.before_update]
    @callbacks = "spacy_rnn.gradient_flow.v1"
    every = 200
    path = "training/gradient_flow.jsonl"

    every (int): Updates between reports, 1 or more. The updates after the
        last report are not reported (spaCy has no end-of-training callback).
    path (Optional[str]): A JSON-lines file to append each report to.
    then (Optional[Callable]): Another ``before_update`` callback to call
        first, e.g. ``spacy_rnn.trim_memory.v1`` (spaCy takes one callback):
        ``[training.before_update.then] @callbacks = "spacy_rnn.trim_memory.v1"``.
    RETURNS (Callable[[Language, Dict[str, Any]], None]): The callback; its
        ``recorder`` attribute is the :class:`GradientFlow` it fills.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigValueError(f"{WHERE}: every must be an integer of 1 or more, not {every!r}")
    recorder = GradientFlow()
    attached: Dict[int, bool] = {}

    def before_update(nlp: Language, info: Dict[str, Any]) -> None:
        if then is not None:
            then(nlp, info)
        if not attached:
            n = 0
            for _, pipe in nlp.pipeline:
                model = getattr(pipe, "model", None)
                if isinstance(model, Model):
                    n += attach_gradient_flow(model, recorder)
            attached[0] = True
            if not n:
                print(f"{WHERE}: the pipeline has no spacy_rnn.RNNEncoder.v1; nothing to record", file=sys.stderr)
        step = info["step"]
        if step and step % every == 0 and recorder.updates:
            record = {"step": step, "epoch": info.get("epoch"), **recorder.summary()}
            print(f"spacy_rnn gradient flow, updates {step - every}-{step - 1}: {recorder.describe()}", file=sys.stderr, flush=True)
            if path is not None:
                with open(path, "a", encoding="utf8") as f:
                    f.write(srsly.json_dumps(record) + "\n")
            recorder.reset()

    before_update.recorder = recorder  # type: ignore[attr-defined]
    return before_update
