"""Language-model pretraining of the recurrent encoder with ``spacy pretrain``.

- :mod:`.objective`: ``spacy_rnn.PretrainRNNLM.v1``, the ``[pretraining.objective]``.
- :mod:`.leaks`: the no-leak checks that the objective runs on the tok2vec.
- :mod:`.targets`: the targets of a batch and perplexity bookkeeping.
- :mod:`.saved_lm`: the language model saved beside the tok2vec (output layer, vocabulary), reloaded.
- :mod:`.vocab`: the target vocabulary file (``python -m spacy_rnn lm-vocab``).
- :mod:`.lm_head`: the Thinc output layer, around :mod:`.torch_lm_head`, the
  plain PyTorch module (no spaCy or Thinc imports).

The raw-text reader, ``spacy_rnn.RawTextCorpus.v1``, is in :mod:`spacy_rnn.data.readers`.
"""
from .objective import build_rnn_lm, create_pretrain_rnn_lm
from .targets import lm_targets
from .vocab import LMVocab, count_norms, read_lm_vocab, write_lm_vocab

__all__ = [
    "build_rnn_lm", "create_pretrain_rnn_lm", "lm_targets", "LMVocab", "count_norms",
    "read_lm_vocab", "write_lm_vocab",
]
