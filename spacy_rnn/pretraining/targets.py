"""What the language model predicts, and how well: the targets of a batch
(next and previous token ids per direction) and perplexity bookkeeping,
shared by the pretraining objective and the saved language model."""
import math
import sys
from typing import List, Tuple

import numpy
from spacy.attrs import NORM
from spacy.tokens import Doc

from .vocab import BOUNDARY, LMVocab


def lm_targets(
    vocab: LMVocab, docs: List[Doc], predict_boundaries: bool
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The language model's targets for a batch, in flat token order.

    Returns ``(fwd_rows, fwd_targets, bwd_rows, bwd_targets)``: the token rows
    whose forward state predicts something and the ids it predicts (the next
    token's, or BOUNDARY after a doc's last token), and the same for the
    backward state (the previous token's, or BOUNDARY before the first).
    """
    lengths = numpy.array([len(doc) for doc in docs], dtype="int64")
    n = int(lengths.sum())
    if n == 0:
        empty = numpy.zeros((0,), dtype="int64")
        return empty, empty, empty, empty
    norms = numpy.concatenate([doc.to_array(NORM).reshape(-1) for doc in docs if len(doc)])
    ids = vocab.ids(norms)
    ends = numpy.cumsum(lengths)[lengths > 0] - 1
    starts = ends - lengths[lengths > 0] + 1
    nxt = numpy.empty_like(ids)
    nxt[:-1] = ids[1:]
    nxt[ends] = BOUNDARY
    prev = numpy.empty_like(ids)
    prev[1:] = ids[:-1]
    prev[starts] = BOUNDARY
    rows = numpy.arange(n, dtype="int64")
    if predict_boundaries:
        return rows, nxt, rows, prev
    fwd_keep = numpy.ones(n, dtype=bool)
    fwd_keep[ends] = False
    bwd_keep = numpy.ones(n, dtype=bool)
    bwd_keep[starts] = False
    return rows[fwd_keep], nxt[fwd_keep], rows[bwd_keep], prev[bwd_keep]


class PerplexityLog:
    """Running NLL totals per direction; prints a perplexity line every
    ``every`` predicted tokens (to stderr, next to spacy pretrain's table)."""

    def __init__(self, every: int):
        self.every = every
        self.nll = [0.0, 0.0]
        self.count = [0, 0]
        self.total_tokens = 0
        # the same totals since the language model was last saved
        self.saved_nll = [0.0, 0.0]
        self.saved_count = [0, 0]

    def add(self, direction: int, nll: float, count: int) -> None:
        self.nll[direction] += nll
        self.count[direction] += count
        self.saved_nll[direction] += nll
        self.saved_count[direction] += count
        self.total_tokens += count

    def take_since_save(self) -> dict:
        """The training perplexity since the previous call (overall,
        "forward", "backward") and its token count; resets those totals."""
        record = perplexities(self.saved_nll, self.saved_count)
        self.saved_nll = [0.0, 0.0]
        self.saved_count = [0, 0]
        return record

    def maybe_print(self) -> None:
        if not self.every or sum(self.count) < self.every:
            return
        ppl = math.exp(sum(self.nll) / sum(self.count))
        parts = [
            f"{name} {math.exp(self.nll[d] / self.count[d]):.1f}"
            for d, name in enumerate(("forward", "backward")) if self.count[d]
        ]
        line = (
            f"spacy_rnn LM: {self.total_tokens} predicted tokens so far; perplexity over the "
            f"last {sum(self.count)}: {ppl:.1f} ({', '.join(parts)})"
        )
        print(line, file=sys.stderr, flush=True)
        self.nll = [0.0, 0.0]
        self.count = [0, 0]


def perplexities(nll: List[float], count: List[int]) -> dict:
    """``{"perplexity", "forward", "backward", "tokens"}`` from the NLL
    totals and token counts of the two directions (None where no tokens)."""
    total = sum(count)
    record = {"perplexity": math.exp(sum(nll) / total) if total else None, "tokens": total}
    for d, name in enumerate(("forward", "backward")):
        record[name] = math.exp(nll[d] / count[d]) if count[d] else None
    return record
