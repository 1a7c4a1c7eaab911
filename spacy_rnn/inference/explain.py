"""Explain a prediction: which tokens the attention pooling weighted most.

:func:`explain` runs one text through a pipeline with attention weights
switched on for its ``rnn_textcat`` component (for that call only; the
component's setting is restored afterwards) and returns an
:class:`Explanation`: the tokens, their weights and the predicted ``doc.cats``.
:func:`explanation_html` renders it as a self-contained HTML page.

Attention weights say where the pooling looked, not why: a high weight marks a
token whose (contextual) vector dominates the document vector. They are a view
of the model, not a faithful attribution of its decision.
"""
import html
from dataclasses import dataclass
from typing import Dict, List, Optional

from spacy.language import Language

from ..errors import Errors, ExplainError
from ..attention import ATTENTION_EXTENSION, pooling_name
from ..pipeline import RNNMultiLabelTextCategorizer, RNNTextCategorizer

EXPLAINABLE = (RNNTextCategorizer, RNNMultiLabelTextCategorizer)


@dataclass
class Explanation:
    """One text's prediction and the attention weight of each of its tokens."""

    component: str
    tokens: List[str]
    whitespace: List[str]
    weights: List[float]
    cats: Dict[str, float]

    def top(self, k: int = 3) -> List[int]:
        """The indices of the ``k`` tokens with the highest weights, highest first.

        RAISES (ExplainError): ``k`` is negative.
        """
        if k < 0:
            raise ExplainError(f"The number of tokens to mark (n_top, --top) must be 0 or more, not {k}.")
        order = sorted(range(len(self.weights)), key=lambda i: -self.weights[i])
        return order[:k]


def explainable_component(nlp: Language, name: Optional[str] = None, model: str = "the pipeline"):
    """The ``rnn_textcat``/``rnn_textcat_multilabel`` component to explain.

    name (Optional[str]): The component's name; by default the last such component.
    model (str): How to call the pipeline in messages (e.g. its path).
    RAISES (ExplainError): There is no such component.
    """
    names = [n for n, pipe in nlp.pipeline if isinstance(pipe, EXPLAINABLE)]
    if name is None:
        if not names:
            components = ", ".join(nlp.pipe_names) or "none"
            raise ExplainError(Errors.E009.format(model=model, components=components))
        name = names[-1]
    if name not in names:
        raise ExplainError(Errors.E010.format(name=name, components=", ".join(names) or "none"))
    return nlp.get_pipe(name)


def explain(nlp: Language, text: str, component: Optional[str] = None, model: str = "the pipeline") -> Explanation:
    """Predict ``text`` and return its tokens' attention weights and its cats.

    nlp (Language): A pipeline with an ``rnn_textcat`` or
        ``rnn_textcat_multilabel`` component that uses attention pooling. Its
        ``store_attention`` setting need not be on.
    text (str): The text to explain.
    component (Optional[str]): The component's name; by default the last one.
    model (str): How to call the pipeline in error messages.
    RETURNS (Explanation): Tokens, weights (summing to 1; none for a text
        without tokens) and ``doc.cats``.
    RAISES (ExplainError): No such component, or it does not pool with
        attention (alone: "attention+max" has no per-token weights either).
    """
    pipe = explainable_component(nlp, component, model)
    pooling = pooling_name(pipe.model)
    if pooling != "attention":
        described = repr(pooling) if pipe.model.has_ref("pooling") else pooling
        where = model if model == "the pipeline" else f"the pipeline {model!r}"
        raise ExplainError(Errors.E017.format(name=pipe.name, model=where, pooling=described))
    was_on = pipe.store_attention
    pipe.store_attention = True
    try:
        doc = nlp(text)
    finally:
        pipe.store_attention = was_on
    return Explanation(
        component=pipe.name,
        tokens=[token.text for token in doc],
        whitespace=[token.whitespace_ for token in doc],
        weights=list(doc._.get(ATTENTION_EXTENSION) or []),
        cats={label: float(score) for label, score in doc.cats.items()},
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>spacy-rnn: why {title}?</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-size: 1.3em; }}
table.cats {{ border-collapse: collapse; margin-bottom: 1.5em; }}
table.cats td {{ padding: 0.2em 0.6em; }}
table.cats td.p {{ text-align: right; font-variant-numeric: tabular-nums; }}
.bar {{ display: inline-block; height: 0.8em; background: #4c78a8; }}
tr.predicted td {{ font-weight: bold; }}
p.text {{ font-size: 1.4em; line-height: 2.1; white-space: pre-wrap; }}
span.tok {{ border-radius: 0.2em; padding: 0.05em 0.1em; }}
span.top {{ outline: 2px solid #c45500; }}
p.legend {{ color: #666; font-size: 0.9em; }}
</style>
</head>
<body>
<h1>Predicted: {title}</h1>
<table class="cats">
{cats}
</table>
<p class="text">{tokens}</p>
<p class="legend">Each token is shaded by its attention weight in component
<code>{component}</code> (darkest = highest, {max_weight}){outlined}.
Hover a token for its weight. Attention shows where the pooling looked,
not a full account of why.</p>
</body>
</html>
"""


def explanation_html(explanation: Explanation, n_top: int = 3) -> str:
    """A self-contained HTML page (inline CSS, no scripts) for an explanation.

    The predicted cats come first, as a table with bars, the most probable
    label in bold; then the text, every token's background shaded by its
    weight relative to the highest weight, the ``n_top`` highest outlined.
    All text is HTML-escaped.

    RAISES (ExplainError): ``n_top`` is negative.
    """
    cats = sorted(explanation.cats.items(), key=lambda item: -item[1])
    best = cats[0][0] if cats else None
    rows = []
    for label, score in cats:
        cls = ' class="predicted"' if label == best else ""
        rows.append(
            f'<tr{cls}><td>{html.escape(label)}</td><td class="p">{score:.3f}</td>'
            f'<td><span class="bar" style="width: {10 * score:.2f}em"></span></td></tr>'
        )
    weights = explanation.weights
    max_weight = max(weights) if weights else 0.0
    top = set(explanation.top(n_top))
    n_marked = len(top)
    spans = []
    for i, (token, space) in enumerate(zip(explanation.tokens, explanation.whitespace)):
        weight = weights[i] if i < len(weights) else 0.0
        alpha = weight / max_weight if max_weight > 0 else 0.0
        cls = "tok top" if i in top else "tok"
        spans.append(
            f'<span class="{cls}" style="background-color: rgba(255, 140, 0, {alpha:.3f})" '
            f'title="weight {weight:.4f}">{html.escape(token)}</span>{html.escape(space)}'
        )
    return _PAGE.format(
        title=html.escape(best) if best is not None else "(no labels)",
        cats="\n".join(rows),
        tokens="".join(spans),
        component=html.escape(explanation.component),
        max_weight=f"{max_weight:.3f}",
        outlined=f"; the {n_marked} highest are outlined" if n_marked else "",
    )
