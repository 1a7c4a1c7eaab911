"""Index arithmetic that turns a flat, ragged batch into length-bucketed padded
batches and back, with per-document time reversal for backward directions.

Inputs arrive as one flat ``(n_tokens, width)`` matrix holding every document's
rows one after the other (thinc's ``Ragged`` layout). We sort documents from
longest to shortest and cut the sorted list into buckets, each padded only to
its own longest document. A bucket closes when it holds ``bucket_size``
documents or when the next document is shorter than ``min_fill`` times the
bucket's longest, so no document is more than ``1 - min_fill`` padding.
Padding rows point at an extra all-zero row appended to the input, so no real
token is ever overwritten.

A length rule rather than a document count, because a time step costs far
more than an extra sequence in the batch; and padded buckets rather than
``torch.nn.utils.rnn.PackedSequence``, which was slower on CPU. The
measurements are in ``docs/design/batching.md``.
"""
from typing import List, Sequence, Tuple

import numpy

# Documents per padded bucket at most (docs/design/batching.md).
DEFAULT_BUCKET_SIZE = 64
# A bucket closes when the next document is shorter than this fraction of the
# bucket's longest one.
DEFAULT_MIN_FILL = 0.7


class LengthBuckets:
    """Gather/scatter indices for one batch of document lengths.

    For every bucket, ``forward_index[k]`` and ``backward_index[k]`` are
    ``(time, docs)`` int64 arrays of row numbers into the flat input extended
    with one zero row (row ``n_tokens``): the backward index reads each
    document from its own last token to its first, so a backward recurrence
    starts on real text, never on padding. ``forward_gather`` and
    ``backward_gather`` map each flat output row to its row in the
    concatenation of all buckets' ``(time * docs)`` outputs.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        bucket_size: int = DEFAULT_BUCKET_SIZE,
        min_fill: float = DEFAULT_MIN_FILL,
    ):
        if bucket_size < 1:
            raise ValueError(f"bucket_size must be at least 1, got {bucket_size}")
        if not 0.0 <= min_fill <= 1.0:
            raise ValueError(f"min_fill must be in [0, 1], got {min_fill}")
        lengths = numpy.asarray(lengths, dtype="int64")
        if lengths.ndim != 1 or (lengths < 0).any():
            raise ValueError("lengths must be a 1d sequence of non-negative ints")
        self.lengths = lengths
        self.n_tokens = int(lengths.sum())
        starts = numpy.zeros(len(lengths), dtype="int64")
        numpy.cumsum(lengths[:-1], out=starts[1:])
        order = numpy.argsort(-lengths, kind="stable")
        order = order[lengths[order] > 0]  # empty documents have no rows at all
        self.forward_index: List[numpy.ndarray] = []
        self.backward_index: List[numpy.ndarray] = []
        self.forward_gather = numpy.zeros(self.n_tokens, dtype="int64")
        self.backward_gather = numpy.zeros(self.n_tokens, dtype="int64")
        base = 0
        for docs in self._cut(lengths[order], bucket_size, min_fill, order):
            L = lengths[docs]
            n_docs = len(docs)
            t = numpy.arange(int(L.max()), dtype="int64")[:, None]
            valid = t < L[None, :]
            pad = self.n_tokens
            fwd = numpy.where(valid, starts[docs][None, :] + t, pad)
            bwd = numpy.where(valid, starts[docs][None, :] + L[None, :] - 1 - t, pad)
            self.forward_index.append(fwd)
            self.backward_index.append(bwd)
            # Output row (t, j) of this bucket sits at base + t * n_docs + j.
            out_rows = base + t * n_docs + numpy.arange(n_docs)[None, :]
            self.forward_gather[fwd[valid]] = out_rows[valid]
            self.backward_gather[bwd[valid]] = out_rows[valid]
            base += fwd.size
        self.n_padded = base

    @staticmethod
    def _cut(sorted_lengths, bucket_size, min_fill, order):
        first = 0
        for i in range(1, len(order) + 1):
            if (
                i == len(order)
                or i - first >= bucket_size
                or sorted_lengths[i] < min_fill * sorted_lengths[first]
            ):
                yield order[first:i]
                first = i

    @property
    def n_buckets(self) -> int:
        return len(self.forward_index)

    def buckets(self) -> List[Tuple[numpy.ndarray, numpy.ndarray]]:
        return list(zip(self.forward_index, self.backward_index))
