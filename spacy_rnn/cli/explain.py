"""``python -m spacy_rnn explain``: which tokens a prediction attended to."""
from pathlib import Path
from typing import Optional

import spacy
from wasabi import table

from ..errors import ConfigValueError
from ..errors import ExplainError
from ..inference.explain import Explanation, explain, explanation_html
from ..output_file import write_bytes_atomically
from ._util import Arg, Opt, app, fail, good, guard_output

BAR_WIDTH = 20


@app.command("explain", no_args_is_help=True)
def explain_cli(
    # fmt: off
    model: str = Arg(..., help="Trained pipeline: a directory (e.g. training/model-best) or a package name"),
    text: str = Arg(..., help="The text to classify and explain"),
    html_path: Optional[Path] = Opt(None, "--html", help="Also write an HTML page that shades each token by its weight", dir_okay=False),
    component: Optional[str] = Opt(None, "--component", "-c", help="The rnn_textcat component to explain. Default: the last one"),
    n_top: int = Opt(3, "--top", help="How many of the highest-weighted tokens to mark"),
    # fmt: on
) -> None:
    """Classify a text and show the attention weight of each token.

    Prints doc.cats and a table of the tokens with their weights (the
    highest marked with *), and with --html writes a self-contained page.
    Needs an rnn_textcat or rnn_textcat_multilabel component with
    pooling = "attention"; store_attention need not be on in its config.
    """
    guard_output(html_path, [model if Path(model).exists() else None], "--html")
    try:
        nlp = spacy.load(model)
    except OSError as e:
        fail(f"Cannot load the pipeline {model!r}: {e}\nGive the path of a pipeline directory "
             "(e.g. training/model-best) or the name of an installed pipeline package.")
    try:
        explanation = explain(nlp, text, component, model=model)
    except (ExplainError, ConfigValueError) as e:
        fail(str(e))
    print(format_explanation(explanation, n_top))
    if html_path is not None:
        write_bytes_atomically(html_path, explanation_html(explanation, n_top).encode("utf8"))
        good(f"Wrote {html_path}")


def format_explanation(explanation: Explanation, n_top: int = 3) -> str:
    """The cats (most probable first) and a table: token, weight, bar, top mark."""
    cats = sorted(explanation.cats.items(), key=lambda item: -item[1])
    cat_rows = [(label, f"{score:.3f}") for label, score in cats]
    lines = [f"Component {explanation.component!r}, doc.cats:",
             table(cat_rows, header=("label", "probability"), aligns=("l", "r"))]
    if not explanation.tokens:
        lines.append("The text has no tokens, so there are no weights.")
        return "\n".join(lines)
    top = set(explanation.top(n_top))
    max_weight = max(explanation.weights)
    rows = []
    for i, (token, weight) in enumerate(zip(explanation.tokens, explanation.weights)):
        bar = "\u2588" * round(BAR_WIDTH * weight / max_weight) if max_weight > 0 else ""
        rows.append((i, repr(token) if token.isspace() else token, f"{weight:.4f}", bar, "*" if i in top else ""))
    lines.append(f"Attention weights (sum {sum(explanation.weights):.3f}; * = the {len(top)} highest):")
    lines.append(table(rows, header=("#", "token", "weight", "", "top"), aligns=("r", "l", "r", "l", "l")))
    return "\n".join(lines)
