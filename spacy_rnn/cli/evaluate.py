"""``python -m spacy_rnn evaluate``: ``spacy evaluate`` for text classifiers, streamed.

The corpus is read shard by shard and run a chunk at a time
(:func:`spacy_rnn.inference.evaluate.evaluate_stream`), so memory does not grow with
it; the scores, the printed tables and the JSON keys are ``spacy evaluate``'s
for ``doc.cats``.
"""
from pathlib import Path
from typing import Any, Dict, Optional

import srsly
from spacy.cli._util import setup_gpu
from spacy.cli.evaluate import handle_scores_per_type
from spacy.util import fix_random_seed
from wasabi import Printer

from ..errors import CorpusError, ScoreError
from ..inference.classifiers import load_pipeline, max_length_for, scoring_max_length
from ..memory import bound_primitive_cache
from ..output_file import same_file, write_bytes_atomically
from ._util import Arg, Opt, advice_for, app, fail, good, guard_output


@app.command("evaluate", no_args_is_help=True)
def evaluate_cli(
    # fmt: off
    model: str = Arg(..., help="Pipeline with a text classifier: a path or an installed package name"),
    data_path: Path = Arg(..., help="Labelled corpus: a .spacy file (as spacy evaluate takes), a .jsonl/.csv/.tsv file, or a folder of them (shards, read in name order)", exists=True),
    output: Optional[Path] = Opt(None, "--output", "-o", help="JSON file for the scores (spacy evaluate's keys)", dir_okay=False),
    plots: Optional[Path] = Opt(None, "--plots", help="Folder (new or existing) for confusion_matrix.png, reliability.png and evaluation.html (a page with both and the per-label table); other files in it are left alone. Needs matplotlib: pip install \"spacy-rnn[plots]\""),
    gpu_id: int = Opt(-1, "--gpu-id", "-g", help="GPU ID or -1 for CPU"),
    batch_size: Optional[int] = Opt(None, "--batch-size", "-b", min=1, help="Docs per nlp.pipe batch. Default: the pipeline's nlp.batch_size, as spacy evaluate"),
    chunk_size: int = Opt(1000, "--chunk-size", min=1, help="Docs read and run before they are dropped: memory is one chunk plus two cats dicts a doc"),
    text_key: str = Opt("text", "--text-key", help="JSONL field or CSV column of the text (record files only)"),
    label_key: str = Opt("label", "--label-key", help="JSONL field or CSV column of the label (record files only)"),
    max_length: Optional[int] = Opt(None, "--max-length", min=0, help="A text longer than this many characters stops the run with its file and line; 0: no limit. Default: no limit, or the pipeline's nlp.max_length if it has a parser or NER"),
    primitive_cache: int = Opt(16, "--primitive-cache", min=-1, help="Entries in oneDNN's cache of built LSTM/GRU kernels (-1: its default, 1,024). Documents of many lengths rarely reuse one, so a small cache bounds memory (docs/design/memory.md). A capacity in the environment (ONEDNN_PRIMITIVE_CACHE_CAPACITY) wins"),
    # fmt: on
) -> None:
    """Evaluate a pipeline's text classifiers on a labelled corpus, as
    `python -m spacy evaluate` does, in memory that does not grow with the
    corpus. Only doc.cats are scored: use spacy evaluate for other components
    and for the tokenization scores. With --plots, also draws a confusion
    matrix and a reliability diagram, and a page with both."""
    from ..data.streaming import StreamingCorpus
    from ..errors import EvaluationError, OutputError
    from ..inference.evaluate import EvaluationReport, evaluate_stream
    from ..inference.plots import check_plots_folder, require_matplotlib, write_evaluation_plots

    guard_output(output, [model, data_path], "--output")
    if plots is not None:
        try:
            written = check_plots_folder(plots, [model, data_path], option="--plots")
            require_matplotlib()
        except (OutputError, EvaluationError) as e:
            fail(str(e))
        if output is not None and any(same_file(output, path) for path in written):
            fail(f"--output {output} is one of the files --plots writes: choose another path for the scores.")
    bound_primitive_cache(primitive_cache)
    fix_random_seed()
    setup_gpu(gpu_id, silent=True)
    try:
        nlp = load_pipeline(model)
    except ScoreError as e:
        fail(str(e))
    report = EvaluationReport()
    try:
        corpus = StreamingCorpus(data_path, shuffle=False, text_key=text_key, label_key=label_key)
        with max_length_for(nlp, scoring_max_length(nlp, max_length)):
            scores = evaluate_stream(nlp, corpus.located_examples(nlp), batch_size=batch_size,
                                     chunk_size=chunk_size, report=report)
    except CorpusError as e:
        fail(str(advice_for(e, "evaluate")))
    except EvaluationError as e:
        fail(str(e))
    print_scores(scores)
    if output is not None:
        # spacy evaluate writes every score too (its handle_scores_per_type returns them all)
        write_bytes_atomically(output, srsly.json_dumps(scores, indent=2).encode("utf8") + b"\n")
        good(f"Saved results to {output}")
    if plots is not None:
        write_evaluation_plots(scores, plots, title=f"{model} on {data_path}", inputs=[model, data_path])
        good(f"Wrote the confusion matrix, the reliability diagram and evaluation.html to {plots}")
    good(f"Evaluated {', '.join(report.components)} on {report.n_docs} docs ({report.n_words} words) "
         f"in {report.seconds:.1f} s")


# The Results table: (row, score key, format), spacy evaluate's rows and ours.
RESULT_ROWS = (
    ("TEXTCAT", "cats_score", lambda value: f"{value * 100:.2f}"),
    ("ECE (%)", "cats_ece", lambda value: f"{value * 100:.2f}"),
    ("BRIER", "cats_brier", lambda value: f"{value:.4f}"),
    ("SPEED", "speed", lambda value: f"{value:.0f}"),
)


def print_scores(scores: Dict[str, Any]) -> None:
    """Print the Results table and the per-label tables as ``spacy evaluate``
    does, with the expected calibration error and the Brier score."""
    msg = Printer()
    results: Dict[str, str] = {}
    for metric, key, show in RESULT_ROWS:
        if key not in scores:
            continue
        if key == "cats_score":
            metric = f"{metric} ({scores.get('cats_score_desc', 'unk')})"
        value = scores[key]
        results[metric] = show(value) if isinstance(value, (int, float)) else "-"
    msg.table(results, title="Results")
    handle_scores_per_type(scores, {})
