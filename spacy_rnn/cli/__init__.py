"""The ``python -m spacy_rnn`` command line: ``convert``, ``evaluate``, ``calibrate``, ``score``, ``tune-thresholds``, ``explain``, ``lm-vocab``, ``lm-eval``, ``next-words``, ``export-tok2vec``, ``quantize``.

Each command is a module of this package that registers itself on ``app``
(``@app.command``) when imported; to add a command, add a module and import it
here. The library behind the commands (:mod:`spacy_rnn.data`,
:mod:`spacy_rnn.inference`, ...) is for Python use.
"""
from ._util import app, setup_cli  # noqa: F401
from .calibrate import calibrate_cli  # noqa: F401
from .convert import convert_cli  # noqa: F401
from .evaluate import evaluate_cli  # noqa: F401
from .explain import explain_cli, format_explanation  # noqa: F401
from .export_tok2vec import export_tok2vec_cli  # noqa: F401
from .lm import lm_eval_cli, next_words_cli  # noqa: F401
from .lm_vocab import lm_vocab_cli  # noqa: F401
from .quantize import quantize_cli  # noqa: F401
from .score import score_cli  # noqa: F401
from .tune_thresholds import tune_thresholds_cli  # noqa: F401

__all__ = [
    "app", "setup_cli", "calibrate_cli", "convert_cli", "evaluate_cli", "explain_cli", "format_explanation", "score_cli", "lm_vocab_cli", "lm_eval_cli",
    "next_words_cli", "export_tok2vec_cli", "quantize_cli", "tune_thresholds_cli",
]
