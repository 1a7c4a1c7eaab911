"""``python -m spacy_rnn tune-thresholds``: per-label thresholds for
``rnn_textcat_multilabel``, chosen on a labelled corpus
(:func:`spacy_rnn.inference.thresholds.tune_thresholds`)."""
from pathlib import Path
from typing import Optional

from wasabi import table

from ..errors import CorpusError, EvaluationError, OutputError, ScoreError
from ..inference.thresholds import tune_thresholds
from ._util import Arg, Opt, advice_for, app, fail, good


@app.command("tune-thresholds", no_args_is_help=True)
def tune_thresholds_cli(
    # fmt: off
    model: str = Arg(..., help="Pipeline with an rnn_textcat_multilabel component: a path or an installed package name"),
    data_path: Path = Arg(..., help="Labelled documents the model was not trained on (a dev split): a .spacy file, a .jsonl/.csv/.tsv file, or a folder of them", exists=True),
    output_path: Path = Arg(..., help="A new folder for the pipeline with the thresholds (load it with spacy.load)", metavar="OUTPUT"),
    precision: Optional[float] = Opt(None, "--precision", help="Give each label the lowest threshold whose precision reaches this (the most recall at it). Default: each label's best F1"),
    component: Optional[str] = Opt(None, "--component", "-c", help="The component. Default: the last rnn_textcat_multilabel"),
    text_key: str = Opt("text", "--text-key", help="JSONL field or CSV column of the text (record files only)"),
    label_key: str = Opt("label", "--label-key", help="JSONL field or CSV column of the label (record files only)"),
    batch_size: Optional[int] = Opt(None, "--batch-size", "-b", min=1, help="Docs per nlp.pipe batch. Default: the pipeline's nlp.batch_size"),
    resamples: int = Opt(200, "--resamples", min=0, help="Bootstrap resamples that check each best-F1 threshold against the component's threshold on documents it was not fitted on; a label whose threshold does not beat it keeps it. 0: fit every label"),
    # fmt: on
) -> None:
    """Choose each label's threshold for a multi-label text classifier on a
    labelled corpus, and write a copy of the pipeline with them in the
    component's config ([components.NAME] thresholds). Its scorer and
    predicted_labels() use them; doc.cats keep the probabilities. Prints
    the thresholds and the F-scores before and after, on the same corpus:
    measure them on another with `evaluate`. A label whose best-F1
    threshold does not beat the component's threshold out of sample
    (bootstrap resamples of the corpus) keeps that threshold.
    """
    try:
        result = tune_thresholds(model, data_path, output_path, precision=precision, component=component,
                                 text_key=text_key, label_key=label_key, batch_size=batch_size,
                                 resamples=resamples)
    except CorpusError as e:
        fail(str(advice_for(e, "tune-thresholds")))
    except (EvaluationError, OutputError, ScoreError) as e:
        fail(str(e))
    per_type_before = result.before.get("cats_f_per_type", {})
    per_type_after = result.after.get("cats_f_per_type", {})
    rows = [(label, f"{t:.4f}", f"{per_type_before.get(label, {}).get('f', 0) * 100:.2f}",
             f"{per_type_after.get(label, {}).get('f', 0) * 100:.2f}") for label, t in result.thresholds.items()]
    print(table(rows, header=("label", "threshold", "F before", "F after"), aligns=("l", "r", "r", "r")))
    if result.kept_default:
        good(f"Kept the component's threshold for {', '.join(result.kept_default)}: a fitted one did not "
             f"beat it on the documents it was not fitted on")
    good(f"{result.component}: macro F {result.before['cats_macro_f'] * 100:.2f} -> "
         f"{result.after['cats_macro_f'] * 100:.2f} on the {result.n_docs} docs of {data_path} they were chosen on")
    good(f"Wrote the pipeline with the thresholds to {result.output_path}")
