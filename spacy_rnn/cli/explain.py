"""``python -m spacy_rnn explain``: which tokens a prediction attended to."""
import os
import sys
from pathlib import Path
from typing import Optional

from wasabi import table

from ..errors import ConfigValueError, ExplainError, ScoreError
from ..inference.classifiers import load_pipeline, max_length_for, scoring_max_length
from ..inference.explain import Explanation, explain, explanation_html
from ..output_file import write_bytes_atomically
from ._util import Arg, Opt, app, fail, good, guard_output

BAR_WIDTH = 20


@app.command("explain", no_args_is_help=True)
def explain_cli(
    # fmt: off
    model: str = Arg(..., help="Trained pipeline: a directory (e.g. training/model-best) or a package name"),
    text: Optional[str] = Arg(None, help="The text to classify and explain, or - to read it from stdin (all of it, as one text)", show_default=False),
    file: Optional[Path] = Opt(None, "--file", help="Read the text from this UTF-8 file instead of TEXT: the whole file is one text", exists=True, dir_okay=False),
    html_path: Optional[Path] = Opt(None, "--html", help="Also write an HTML page that shades each token by its weight", dir_okay=False),
    component: Optional[str] = Opt(None, "--component", "-c", help="The rnn_textcat component to explain. Default: the last one"),
    n_top: int = Opt(3, "--top", min=0, help="How many of the highest-weighted tokens to mark (0: none)"),
    # fmt: on
) -> None:
    """Classify a text and show the attention weight of each token.

    Prints doc.cats and a table of the tokens with their weights (the
    highest marked with *), and with --html writes a self-contained page.
    The text is TEXT, stdin (TEXT is -) or a file (--file): a whole file or
    stdin is one text, without its final line break. Needs an rnn_textcat or
    rnn_textcat_multilabel component with pooling = "attention";
    store_attention need not be on in its config.
    """
    if text is not None and file is not None:
        fail(f"Give the text once: as TEXT ({_preview(text)}) or with --file ({file}), not both.")
    if text is None and file is None:
        fail("Give the text to explain: as TEXT, - to read it from stdin, or --file PATH.")
    guard_output(html_path, [model if Path(model).exists() else None, file], "--html")
    source = "TEXT"
    if file is not None:
        source = str(file)
        text = _read_text(file.read_bytes(), source)
    elif text == "-":
        source = "stdin"
        stdin = getattr(sys.stdin, "buffer", None)
        text = _read_text(stdin.read(), source) if stdin is not None else _strip_final_break(sys.stdin.read())
    else:  # bytes of the command line that are not UTF-8 arrive as lone surrogates
        try:
            text = os.fsencode(text).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            fail("TEXT is not valid UTF-8 (check the terminal's encoding); or save the text as UTF-8 and "
                 "pass it with --file PATH.")
    assert text is not None
    try:
        nlp = load_pipeline(model)
    except ScoreError as e:
        fail(str(e))
    limit = scoring_max_length(nlp)
    if len(text) > limit:
        fail(f"The text ({source}) is {len(text):,} characters "
             f"long, more than the pipeline's limit of {limit:,} (nlp.max_length, kept because it has a parser "
             "or NER, whose memory grows with the text). Explain a shorter part of it.")
    try:
        with max_length_for(nlp, limit):
            explanation = explain(nlp, text, component, model=model)
    except (ExplainError, ConfigValueError) as e:
        fail(str(e))
    print(format_explanation(explanation, n_top))
    if html_path is not None:
        write_bytes_atomically(html_path, explanation_html(explanation, n_top).encode("utf8"))
        good(f"Wrote {html_path}")


def _read_text(data: bytes, name: str) -> str:
    """The text of a file or stdin: UTF-8 (a byte-order mark allowed), without its final line break."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bad = data[e.start:e.end].hex(" ")
        fail(f"{name}: not valid UTF-8: cannot decode byte(s) 0x{bad} at byte offset {e.start}: {e.reason}. "
             "Save the text as UTF-8 (e.g. `iconv -f latin1 -t utf-8 IN > OUT` for a Latin-1 file).")
    return _strip_final_break(text)


def _strip_final_break(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _preview(text: str, limit: int = 30) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


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
    marked = f"; * = the {len(top)} highest" if top else ""
    lines.append(f"Attention weights (sum {sum(explanation.weights):.3f}{marked}):")
    lines.append(table(rows, header=("#", "token", "weight", "", "top"), aligns=("r", "l", "r", "l", "l")))
    return "\n".join(lines)
