"""A character-level recurrent network that turns words into vectors.

Each word is read as a sequence of characters (its first ``max_chars`` code
points). A character's id is a fixed hash of its code point into ``n_chars``
buckets, so there is no character vocabulary to build, store or extend: any
string, emoji and unpaired surrogates included, has ids. A bidirectional
``rnn``/``lstm``/``gru`` runs over the characters; the word vector is the
forward direction's state after the word's last character concatenated with
the backward direction's state after its first character.

Words are grouped by their exact length and each group runs as one padded-free
batch, so no direction ever reads padding and a word's vector does not depend
on the other words of the batch (faster than one ``PackedSequence`` call over
all words: ``docs/design/batching.md``). A batch repeats words a lot, so callers pass
the distinct words once and an ``inverse`` index that copies each distinct
word's vector to every place it occurs; autograd sums the gradients of the
copies back into the one computation.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Type

import numpy
import torch
from torch import nn

CHAR_CELLS: Dict[str, Type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# Knuth's multiplicative hash constant (odd): for a power-of-two bucket count
# the map is a bijection on the low bits, so ASCII never collides with itself
# once n_chars >= 128.
_HASH_MULTIPLIER = numpy.uint64(2654435761)


def encode_words(
    words: Sequence[str], max_chars: int, n_chars: int
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Hash the first ``max_chars`` characters of every word into ``n_chars`` ids.

    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): The ids of all words'
        characters, concatenated (int64), and each word's number of characters.
    """
    clipped = [word[:max_chars] for word in words]
    lengths = numpy.fromiter((len(w) for w in clipped), dtype="int64", count=len(clipped))
    # One encode call for the whole batch; surrogatepass keeps unpaired
    # surrogates (possible in Python strings) as their own code points.
    data = "".join(clipped).encode("utf-32-le", "surrogatepass")
    code_points = numpy.frombuffer(data, dtype="<u4").astype("uint64")
    ids = ((code_points * _HASH_MULTIPLIER) % numpy.uint64(2**32)) % numpy.uint64(n_chars)
    return ids.astype("int64"), lengths


class CharRNN(nn.Module):
    """Words (as hashed character ids) to vectors of width ``n_out``."""

    def __init__(self, cell: str, n_chars: int, char_width: int, n_out: int):
        super().__init__()
        if cell not in CHAR_CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CHAR_CELLS)}")
        if n_out < 2 or n_out % 2:
            raise ValueError(f"a bidirectional character RNN needs an even width >= 2, got {n_out}")
        self.cell = cell
        self.n_chars = n_chars
        self.char_width = char_width
        self.n_out = n_out
        self.hidden = n_out // 2
        self.embed = nn.Embedding(n_chars, char_width)
        self.rnn = CHAR_CELLS[cell](char_width, self.hidden, batch_first=True, bidirectional=True)

    def forward(
        self, ids: torch.Tensor, lengths: numpy.ndarray, inverse: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Vectors for the words whose character ids are ``ids`` (concatenated).

        ids (torch.Tensor): int64 character ids of all words, concatenated.
        lengths (numpy.ndarray): Each word's number of characters; a word of
            length 0 gets a zero vector.
        inverse (Optional[torch.Tensor]): If given, row ``i`` of the output is
            the vector of word ``inverse[i]``.
        RETURNS (torch.Tensor): (n_words, n_out), or (len(inverse), n_out).
        """
        n_words = len(lengths)
        device = ids.device
        starts = numpy.zeros(n_words, dtype="int64")
        if n_words:
            numpy.cumsum(lengths[:-1], out=starts[1:])
        chars = self.embed(ids) if ids.numel() else None
        pieces: List[torch.Tensor] = []
        order: List[numpy.ndarray] = []
        for length in numpy.unique(lengths):
            which = numpy.nonzero(lengths == length)[0]
            order.append(which)
            if length == 0:
                pieces.append(torch.zeros((len(which), self.n_out), device=device))
                continue
            rows = starts[which, None] + numpy.arange(length)[None, :]
            x = chars[torch.from_numpy(rows).to(device)]  # (n_words_L, length, char_width)
            h_n = self.rnn(x)[1]
            if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
                h_n = h_n[0]
            # h_n: (2, n, hidden), forward after the last char, backward after the first
            pieces.append(torch.cat([h_n[0], h_n[1]], dim=1))
        if not pieces:
            out = torch.zeros((0, self.n_out), device=device)
        else:
            out = torch.cat(pieces)
            positions = numpy.empty(n_words, dtype="int64")
            positions[numpy.concatenate(order)] = numpy.arange(n_words)
            out = out.index_select(0, torch.from_numpy(positions).to(device))
        if inverse is not None:
            out = out.index_select(0, inverse)
        return out
