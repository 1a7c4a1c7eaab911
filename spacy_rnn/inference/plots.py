"""Draw an evaluation: a confusion matrix, a reliability diagram, and one
HTML page with both and the per-label scores.

:func:`write_evaluation_plots` takes the scores of
:func:`~spacy_rnn.inference.evaluate.evaluate_stream` (``python -m spacy_rnn
evaluate``) and writes three files into a folder, each through a temporary
file (:mod:`spacy_rnn.output_file`); nothing else in the folder is touched:

- ``confusion_matrix.png``, from ``cats_confusion``. Exclusive classes: gold
  label (rows) against the most probable label (columns), each cell with its
  count and shaded by its share of the row, so the diagonal reads as each
  label's recall. Multi-label: one row per label with its true positives,
  false negatives, false positives and true negatives at the threshold the
  scorer uses; TP and FN are shaded by their share of the documents that
  have the label, FP and TN by their share of those that do not (a 2x2
  matrix per label, laid out in a row).
- ``reliability.png``, from ``cats_calibration``: per probability bin, how
  often the predictions were right against the diagonal of a calibrated
  model, the gap to it shaded, the number of predictions per bin below, and
  the expected calibration error in the title.
- ``evaluation.html``: one self-contained page (inline CSS, both images as
  ``data:`` URIs, no script and nothing fetched) with the headline scores,
  both images and the per-label table (precision, recall, F, ROC AUC, and
  the counts). Every label and title is HTML-escaped.

matplotlib (``pip install "spacy-rnn[plots]"``) is imported only here, when
drawing, and draws with its Agg backend on figures of its own: pyplot and a
program's chosen backend are left alone.
"""
import base64
import html
import io
import os
import re
import warnings
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import EvaluationError
from ..output_file import check_output, write_bytes_atomically

CONFUSION_FILE = "confusion_matrix.png"
RELIABILITY_FILE = "reliability.png"
PAGE_FILE = "evaluation.html"
PLOT_FILES = (CONFUSION_FILE, RELIABILITY_FILE, PAGE_FILE)
PLOTS_EXTRA = 'pip install "spacy-rnn[plots]"'
_DPI = 150  # pixels per inch of the PNGs; the page shows them at 96 CSS pixels an inch, sharp on dense screens
_CSS_DPI = 96
_MAX_TICK = 28  # characters of a label on an axis; the table has it whole
_MAX_ANNOTATED = 60  # labels up to which every cell shows its count (cells stay 0.45 inch up to about 60)


def require_matplotlib() -> None:
    """Check that matplotlib can be imported, before any work that needs it.

    RAISES (EvaluationError): It is not installed, or older than 3.6; the message
        says how to install it.
    """
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as e:
        raise EvaluationError(
            f"Drawing the evaluation plots needs matplotlib, which is not installed ({e}). "
            f"Install it with: {PLOTS_EXTRA}"
        ) from None
    version = tuple(int(part) for part in re.findall(r"\d+", matplotlib.__version__)[:2])
    if version < (3, 6):  # Figure(layout=...)
        raise EvaluationError(f"Drawing the evaluation plots needs matplotlib 3.6 or later, not "
                              f"{matplotlib.__version__}. Upgrade it with: {PLOTS_EXTRA} --upgrade")


def check_plots_folder(
    folder: Union[str, Path], inputs: Sequence[Union[str, Path, None]], option: str = "the plots folder"
) -> List[Path]:
    """Refuse a folder for the plots that is an input (a pipeline, a corpus
    folder), lies inside one, or is a file, or where one of the three files
    would replace an input or something that is not a file. The folder may
    exist and hold other files (the corpus too): only the three names are written.

    RETURNS (List[Path]): The three paths that will be written.
    RAISES (OutputError): The message names the path, the input and what to do.
    """
    folder = Path(folder)
    resolved = Path(os.path.realpath(folder))
    given = [p for p in inputs if p is not None and str(p) != "-"]
    # an input below the folder is fine: only the three files are written, each checked below
    outside = [p for p in given if resolved not in Path(os.path.realpath(p)).parents]
    check_output(folder, outside, option=option, folder=True)
    paths = [folder / name for name in PLOT_FILES]
    for path in paths:
        check_output(path, given, option=option)
    return paths


def write_evaluation_plots(
    scores: Mapping[str, Any],
    folder: Union[str, Path],
    *,
    title: str = "Evaluation",
    inputs: Sequence[Union[str, Path, None]] = (),
) -> List[Path]:
    """Write ``confusion_matrix.png``, ``reliability.png`` and
    ``evaluation.html`` into ``folder`` (created if needed).

    scores (Mapping[str, Any]): What ``evaluate_stream`` returned (or the JSON
        that ``evaluate --output`` wrote): ``cats_confusion`` and
        ``cats_calibration`` are drawn, ``cats_f_per_type``,
        ``cats_auc_per_type`` and the headline scores go in the page's tables.
    folder (Union[str, Path]): Where to write; a new folder or an existing one.
    title (str): The page's heading, e.g. which model on which corpus.
    inputs (Sequence[Union[str, Path, None]]): What the evaluation read (the
        pipeline, the corpus): the folder must not be one of them or inside
        one (:func:`check_plots_folder`).
    RETURNS (List[Path]): The three files written.
    RAISES (EvaluationError): matplotlib is not installed, or ``scores`` lack
        ``cats_confusion`` or ``cats_calibration``.
    RAISES (OutputError): The folder or one of the files is refused, or cannot be written.
    """
    require_matplotlib()
    missing = [key for key in ("cats_confusion", "cats_calibration") if not scores.get(key)]
    if missing:
        raise EvaluationError(
            f"The scores lack {' and '.join(missing)}, which the plots are drawn from: pass the scores of "
            "spacy_rnn.inference.evaluate.evaluate_stream (python -m spacy_rnn evaluate), not spacy evaluate's."
        )
    paths = check_plots_folder(folder, inputs)
    confusion = confusion_png(scores["cats_confusion"])
    reliability = reliability_png(scores["cats_calibration"], scores.get("cats_ece"),
                                  bool(scores["cats_confusion"].get("exclusive", True)))
    page = evaluation_html(scores, confusion, reliability, title=title)
    for path, data in zip(paths, (confusion, reliability, page.encode("utf8"))):
        write_bytes_atomically(path, data)
    return paths


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph the font lacks is drawn as a box, not worth a warning
        figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _tick(label: str) -> str:
    """A label as an axis shows it: shortened, and ``$`` not read as mathtext."""
    text = label if len(label) <= _MAX_TICK else label[: _MAX_TICK - 1] + "\u2026"
    return text.replace("$", r"\$")


def _cells(axes: Any, counts: Sequence[Sequence[int]], shares: Sequence[Sequence[float]], size: float) -> None:
    """Shade a grid by ``shares`` (0-1) and write ``counts`` in its cells."""
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    if len(counts) > _MAX_ANNOTATED:
        return
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            axes.text(j, i, f"{count:,}", ha="center", va="center", fontsize=size,
                      color="white" if shares[i][j] > 0.55 else "#1a1a1a")


def confusion_png(confusion: Mapping[str, Any]) -> bytes:
    """``confusion_matrix.png`` of a ``cats_confusion`` entry, as PNG bytes."""
    labels = [str(label) for label in confusion["labels"]]
    n = max(len(labels), 1)
    size = max(6.0, min(10.0, 90.0 / n))
    if confusion.get("exclusive", True):
        matrix = confusion["matrix"]
        shares = [[count / max(sum(row), 1) for count in row] for row in matrix]
        grow = 0.45 * max(n - 8, 0)  # up to 8 labels the figure fits half the page
        figure = _figure(min(5.8 + grow, 30.0), min(4.8 + grow, 30.0))
        axes = figure.add_subplot()
        _cells(axes, matrix, shares, size)
        axes.set_xticks(range(n), [_tick(label) for label in labels], rotation=45, ha="right",
                        rotation_mode="anchor")
        axes.set_yticks(range(n), [_tick(label) for label in labels])
        axes.set_xlabel("predicted label (the most probable)")
        axes.set_ylabel("gold label")
        total = sum(map(sum, matrix))
        accuracy = sum(matrix[i][i] for i in range(len(matrix))) / total if total else 0.0
        axes.set_title(f"Confusion matrix: {total:,} documents, accuracy {accuracy:.1%}")
        shading = "share of the gold label's documents"
    else:
        per_label = confusion["per_label"]
        keys = ("tp", "fn", "fp", "tn")
        counts = [[per_label[label][key] for key in keys] for label in labels]
        shares = []
        for tp, fn, fp, tn in counts:
            shares.append([tp / max(tp + fn, 1), fn / max(tp + fn, 1), fp / max(fp + tn, 1), tn / max(fp + tn, 1)])
        figure = _figure(5.8, min(3.0 + 0.4 * n, 40.0))
        axes = figure.add_subplot()
        _cells(axes, counts, shares, size)
        axes.set_xticks(range(4), ["TP", "FN", "FP", "TN"])
        axes.set_yticks(range(n), [_tick(label) for label in labels])
        axes.axvline(1.5, color="#444444", linewidth=1.5)
        axes.set_xlabel("with the label: predicted (TP), missed (FN)\n"
                        "without it: predicted (FP), not predicted (TN)", fontsize=9)
        axes.set_ylabel("label")
        axes.set_title("Confusion per label, at the scorer's thresholds")
        shading = "share of the documents with / without the label"
    colorbar = figure.colorbar(axes.images[0], ax=axes, fraction=0.05, pad=0.02)
    colorbar.set_label(shading, fontsize=8)
    return _png(figure)


def reliability_png(bins: Sequence[Mapping[str, Any]], ece: Optional[float], exclusive: bool) -> bytes:
    """``reliability.png`` of a ``cats_calibration`` list, as PNG bytes."""
    figure = _figure(5.4, 4.8)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    filled = [b for b in bins if b.get("count")]
    lefts = [b["from"] for b in filled]
    widths = [b["to"] - b["from"] for b in filled]
    accuracy = [b["accuracy"] for b in filled]
    confidence = [b["mean_probability"] for b in filled]
    top.plot([0, 1], [0, 1], linestyle="--", color="#777777", linewidth=1, label="calibrated")
    top.bar(lefts, accuracy, width=widths, align="edge", color="#3a78b5", edgecolor="#1f4e79",
            label="accuracy of the bin's predictions")
    gaps = [c - a for a, c in zip(accuracy, confidence)]
    top.bar(lefts, gaps, bottom=accuracy, width=widths, align="edge", facecolor="none", edgecolor="#d1495b",
            hatch="//", linewidth=1, label="gap to the bin's mean probability")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("share right")
    top.legend(loc="upper left", fontsize=8, framealpha=0.95)
    shown = "n/a" if ece is None else f"{ece:.2%}"
    top.set_title(f"Reliability diagram: expected calibration error {shown}")
    bottom.bar([b["from"] for b in bins], [b.get("count", 0) for b in bins],
               width=[b["to"] - b["from"] for b in bins], align="edge", color="#8c8c8c", edgecolor="#555555")
    bottom.set_ylabel("predictions")
    bottom.set_xlabel("the top label's probability" if exclusive
                      else "probability of each (document, label) pair")
    return _png(figure)


def _percent(value: Any) -> str:
    return f"{value * 100:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "&ndash;"


def _headline(scores: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """(name, value) of the page's summary table."""
    confusion = scores["cats_confusion"]
    rows = []
    if "cats_score" in scores:
        rows.append((f"Score ({html.escape(str(scores.get('cats_score_desc', 'textcat')))})",
                     _percent(scores["cats_score"])))
    for key, name in (("cats_micro_f", "Micro F"), ("cats_macro_f", "Macro F"), ("cats_macro_auc", "Macro ROC AUC")):
        if key in scores:
            rows.append((name, _percent(scores[key])))
    if confusion.get("exclusive", True):
        matrix = confusion["matrix"]
        total = sum(map(sum, matrix))
        rows.append(("Accuracy", _percent(sum(matrix[i][i] for i in range(len(matrix))) / total if total else None)))
        rows.append(("Documents", f"{total:,}"))
        if confusion.get("left_out"):
            rows.append(("Left out (no gold label)", f"{confusion['left_out']:,}"))
    rows.append(("Expected calibration error (%)", _percent(scores.get("cats_ece"))))
    brier = scores.get("cats_brier")
    rows.append(("Brier score", f"{brier:.4f}" if isinstance(brier, (int, float)) else "&ndash;"))
    return rows


def _label_rows(scores: Mapping[str, Any]) -> Tuple[List[str], List[List[str]]]:
    """The per-label table: its header and its rows (already escaped)."""
    confusion = scores["cats_confusion"]
    labels = [str(label) for label in confusion["labels"]]
    f_per_type: Mapping[str, Any] = scores.get("cats_f_per_type") or {}
    auc_per_type: Mapping[str, Any] = scores.get("cats_auc_per_type") or {}
    if confusion.get("exclusive", True):
        header = ["Label", "Precision", "Recall", "F", "ROC AUC", "Gold", "Predicted"]
        matrix = confusion["matrix"]
        counts = [[f"{sum(matrix[i]):,}", f"{sum(row[i] for row in matrix):,}"] for i in range(len(labels))]
    else:
        header = ["Label", "Precision", "Recall", "F", "ROC AUC", "Threshold", "TP", "FN", "FP", "TN"]
        per_label = confusion["per_label"]
        counts = [[f"{confusion['thresholds'][label]:.3g}"] + [f"{per_label[label][k]:,}" for k in ("tp", "fn", "fp", "tn")]
                  for label in labels]
    rows = []
    for label, extra in zip(labels, counts):
        prf = f_per_type.get(label) or {}
        rows.append([html.escape(label), _percent(prf.get("p")), _percent(prf.get("r")), _percent(prf.get("f")),
                     _percent(auc_per_type.get(label))] + extra)
    return header, rows


def evaluation_html(scores: Mapping[str, Any], confusion: bytes, reliability: bytes, title: str = "Evaluation") -> str:
    """``evaluation.html``: the headline scores, the two PNGs (embedded) and the per-label table."""
    exclusive = bool(scores["cats_confusion"].get("exclusive", True))
    headline = "\n".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in _headline(scores))
    header, rows = _label_rows(scores)
    table_head = "".join(f"<th>{name}</th>" for name in header)
    table_rows = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)

    def image(data: bytes, alt: str) -> str:
        # shown at its size in inches: the width and height of the PNG's header, at 96 CSS pixels an inch
        width, height = (round(int.from_bytes(data[at:at + 4], "big") * _CSS_DPI / _DPI) for at in (16, 20))
        return (f'<img alt="{alt}" width="{width}" height="{height}" '
                f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">')

    return _PAGE.format(
        title=html.escape(title), headline=headline, table_head=table_head, table_rows=table_rows,
        confusion=image(confusion, "Confusion matrix"), reliability=image(reliability, "Reliability diagram"),
        kind="exclusive classes" if exclusive else "multi-label",
        confusion_caption=_EXCLUSIVE_CAPTION if exclusive else _MULTILABEL_CAPTION,
    )


_EXCLUSIVE_CAPTION = ("Confusion matrix: each gold label (row) against the most probable label (column), "
                      "shaded by the cell's share of the row; the diagonal is each label's recall.")
_MULTILABEL_CAPTION = ("Confusion per label at the thresholds the scorer uses: TP and FN shaded by their share "
                       "of the documents with the label, FP and TN by their share of those without it.")
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 1.5rem auto; max-width: 1180px; padding: 0 1rem; color: #1a1a1a; background: #ffffff; }}
h1 {{ font-size: 1.5rem; overflow-wrap: anywhere; }}
h2 {{ font-size: 1.15rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; margin: 0.5rem 0; }}
th, td {{ border: 1px solid #d0d0d0; padding: 0.3rem 0.7rem; text-align: right; }}
th {{ background: #f2f4f7; }}
td:first-child, th:first-child {{ text-align: left; overflow-wrap: anywhere; max-width: 24rem; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 1.25rem; align-items: flex-start; margin-top: 1rem; }}
figure {{ margin: 0; max-width: 100%; }}
img {{ max-width: 100%; height: auto; border: 1px solid #e0e0e0; }}
figcaption, .note {{ color: #555555; font-size: 0.9rem; }}
figcaption {{ max-width: 30rem; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="note">Text classification, {kind}. Scores in %, as spaCy reports them.</p>
<table class="headline">
{headline}
</table>
<div class="figures">
<figure>{confusion}
<figcaption>{confusion_caption}</figcaption></figure>
<figure>{reliability}
<figcaption>Reliability diagram: how often the predictions of each probability bin were right;
a calibrated model follows the diagonal.</figcaption></figure>
</div>
<h2>Per label</h2>
<table class="labels">
<thead><tr>{table_head}</tr></thead>
<tbody>
{table_rows}
</tbody>
</table>
</body>
</html>
"""
