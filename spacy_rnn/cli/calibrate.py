"""``python -m spacy_rnn calibrate``: fit a text classifier's temperature on
a labelled corpus and write the calibrated pipeline
(:func:`spacy_rnn.inference.calibration.calibrate`)."""
from pathlib import Path
from typing import Optional

from ..errors import CorpusError, EvaluationError, OutputError, ScoreError
from ..inference.calibration import calibrate
from ._util import Arg, Opt, advice_for, app, fail, good


@app.command("calibrate", no_args_is_help=True)
def calibrate_cli(
    # fmt: off
    model: str = Arg(..., help="Pipeline with an rnn_textcat or rnn_textcat_multilabel component: a path or an installed package name"),
    data_path: Path = Arg(..., help="Labelled documents the model was not trained on (a dev split): a .spacy file, a .jsonl/.csv/.tsv file, or a folder of them", exists=True),
    output_path: Path = Arg(..., help="A new folder for the calibrated pipeline (load it with spacy.load)", metavar="OUTPUT"),
    component: Optional[str] = Opt(None, "--component", "-c", help="The component to calibrate. Default: the last rnn_textcat or rnn_textcat_multilabel"),
    text_key: str = Opt("text", "--text-key", help="JSONL field or CSV column of the text (record files only)"),
    label_key: str = Opt("label", "--label-key", help="JSONL field or CSV column of the label (record files only)"),
    batch_size: Optional[int] = Opt(None, "--batch-size", "-b", min=1, help="Docs per nlp.pipe batch. Default: the pipeline's nlp.batch_size"),
    # fmt: on
) -> None:
    """Fit the temperature that makes a text classifier's probabilities
    calibrated on a labelled corpus, and write a copy of the pipeline with
    it in the component's config ([components.NAME] temperature), so that
    doc.cats of the copy are calibrated. The most probable label never
    changes. Prints the expected calibration error and Brier score before
    and after, on the same corpus: measure them on another with `evaluate`.
    """
    try:
        result = calibrate(model, data_path, output_path, component=component, text_key=text_key,
                           label_key=label_key, batch_size=batch_size)
    except CorpusError as e:
        fail(str(advice_for(e, "calibrate")))
    except (EvaluationError, OutputError, ScoreError) as e:
        fail(str(e))

    def shown(scores):
        ece = scores["cats_ece"]
        return f"ECE {ece * 100:.2f}%, Brier {scores['cats_brier']:.4f}" if ece is not None else "no scores"

    good(f"{result.component}: temperature {result.temperature} from {result.n_docs} docs of {data_path} "
         f"({shown(result.before)} before, {shown(result.after)} after, on these docs)")
    good(f"Wrote the calibrated pipeline to {result.output_path}")
