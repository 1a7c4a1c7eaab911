"""``python -m spacy_rnn quantize``: write a copy of a trained pipeline whose
classifiers are saved with int8 weights
(:func:`spacy_rnn.inference.quantize.quantize`)."""
from pathlib import Path
from typing import Optional

from ..errors import EvaluationError, OutputError, ScoreError
from ..inference.quantize import quantize
from ._util import Arg, Opt, app, fail, good


def _mb(n: Optional[int]) -> str:
    return "?" if n is None else f"{n / 1e6:.2f} MB"


@app.command("quantize", no_args_is_help=True)
def quantize_cli(
    # fmt: off
    model: str = Arg(..., help="Trained pipeline with rnn_textcat or rnn_textcat_multilabel components: a path or an installed package name"),
    output_path: Path = Arg(..., help="A new folder for the int8 copy (load it with spacy.load, package it with spacy package)", metavar="OUTPUT"),
    component: Optional[str] = Opt(None, "--component", "-c", help="Only this component. Default: every rnn_textcat and rnn_textcat_multilabel"),
    # fmt: on
) -> None:
    """Write a copy of a trained pipeline whose classifiers save their
    weights as int8 ([components.NAME] weights_dtype = "int8"): about a
    quarter of the size on disk. The copy loads with spacy.load and computes
    in float32 as before, with each weight rounded to 8 bits of its block's
    range; measure its accuracy with `evaluate`. The vectors table is copied
    as it is. The input pipeline is not changed.
    """
    try:
        result = quantize(model, output_path, component=component)
    except (EvaluationError, OutputError, ScoreError) as e:
        fail(str(e))
    good(f"{', '.join(result.components)}: weights saved as int8")
    good(f"Wrote the int8 pipeline to {result.output_path}: {_mb(result.bytes_after)} "
         f"({_mb(result.bytes_before)} before); without the vectors table {_mb(result.bytes_after_without_vectors)} "
         f"({_mb(result.bytes_before_without_vectors)} before)")
