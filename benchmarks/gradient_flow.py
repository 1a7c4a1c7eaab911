"""Gradient flow through each recurrent cell on long IMDB reviews: how much of
the loss gradient reaches a token T steps before the end, and how often
grad_clip fires.

    python benchmarks/gradient_flow.py [--data ../shared/data/imdb/train.jsonl] [--tokens 500]
        [--docs 8] [--updates 30] [--output benchmarks/gradient_flow.json] [--replot]
        [--plot benchmarks/gradient_flow.png]

For each cell, an ``rnn_textcat`` pipeline with a forward-only encoder (width
64; the depth-gated LSTM at depth 2, the others at depth 1) and ``last``
pooling, so the loss reads the encoder at a review's last token only and
reaches every earlier token through backpropagation through time alone. The
reviews are the IMDB train reviews of at least ``--tokens`` tokens, cut to
their first ``--tokens`` tokens so every position is averaged over the same
documents. The pipeline trains ``--updates`` updates of ``--docs`` reviews
with Thinc's Adam (learn rate 0.001, grad_clip 1.0, spaCy's default) while
the ``spacy_rnn.gradient_flow.v1`` recorder (the one users turn on from
their config) records ``||dL/dx_t||``, the gradient norm at each token's
encoder input, and the clips on the encoder's weight arrays. The first
update is not recorded: spaCy's output layer starts at zero weights, so no
gradient reaches the encoder yet.
"""
import argparse
import json
import platform
import time
from pathlib import Path

import numpy
import spacy
import srsly
import torch
from spacy.training import Example

from spacy_rnn.gradient_flow import create_gradient_flow_callback

CELLS = ["rnn", "lstm", "gru", "clockwork", "dglstm"]
LABELS = ("negative", "positive")


def long_reviews(path: Path, n_tokens: int, n_docs: int, nlp):
    """The first ``n_docs`` reviews of ``path`` with at least ``n_tokens``
    tokens (``<br />`` removed), as Examples cut to ``n_tokens`` tokens."""
    examples = []
    for record in srsly.read_jsonl(path):
        doc = nlp.make_doc(record["text"].replace("<br />", " "))
        if len(doc) < n_tokens:
            continue
        doc = doc[:n_tokens].as_doc()
        cats = {label: float(record["label"] == label) for label in LABELS}
        examples.append(Example.from_dict(doc, {"cats": cats}))
        if len(examples) == n_docs:
            break
    return examples


def run_cell(cell: str, examples, args) -> dict:
    nlp = spacy.blank("en")
    encode = {"cell": cell, "bidirectional": False, "width": 64, "depth": 2 if cell == "dglstm" else 1}
    nlp.add_pipe("rnn_textcat", config={"model": {"pooling": "last", "tok2vec": {"encode": encode}}})
    optimizer = nlp.initialize(lambda: examples)
    callback = create_gradient_flow_callback(every=10**9)
    recorder = callback.recorder
    rng = numpy.random.default_rng(0)
    start = time.perf_counter()
    losses = []
    for step in range(args.updates + 1):
        callback(nlp, {"step": step, "epoch": 0})
        if step == 1:
            recorder.reset()  # the first update has no encoder gradient (zero output layer)
        batch = [examples[i] for i in rng.choice(len(examples), size=args.docs, replace=False)]
        loss = {}
        nlp.update(batch, sgd=optimizer, losses=loss)
        losses.append(loss["rnn_textcat"])
    seconds = time.perf_counter() - start
    norms = recorder.mean_norm(from_end=True)
    summary = recorder.summary()
    return {
        "cell": cell,
        "width": 64,
        "depth": encode["depth"],
        "mean_norm_from_end": [float(f"{x:.4g}") for x in norms],
        **zero_stats(norms),
        "first_over_last": summary["input_gradient"]["first_over_last"],
        "first_zero_docs": summary["input_gradient"]["first_zero_docs"],
        "clipping": summary["clipping"],
        "loss_first_last": [losses[1], losses[-1]],
        "seconds": round(seconds, 1),
    }


def zero_stats(norms) -> dict:
    """Where the gradient underflowed to exactly 0 (float32) in every review
    at every update: ``zero_positions`` (how many distances from the end) and
    ``vanished_at`` (the distance from which every earlier token got 0, or
    None). The clockwork cell has zeros between non-zero positions: only the
    tokens its slow modules read keep a gradient."""
    norms = numpy.asarray(norms, dtype="float64")
    nonzero = numpy.flatnonzero(norms > 0)
    last = int(nonzero.max()) if len(nonzero) else -1
    return {
        "zero_positions": int((norms == 0).sum()),
        "vanished_at": last + 1 if last + 1 < len(norms) else None,
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.3), gridspec_kw={"width_ratios": [2, 1]})
    for r in results["cells"]:
        norms = numpy.asarray(r["mean_norm_from_end"], dtype="float64")
        rel = norms / norms[0]
        label = f"{r['cell']} (depth {r['depth']})"
        if r["vanished_at"] is not None:
            label += f": exactly 0 from {r['vanished_at']} tokens back"
        elif r["zero_positions"]:
            label += f": exactly 0 at {r['zero_positions']} of {len(norms)} positions"
        kept = numpy.flatnonzero(rel > 0)  # zeros cannot be drawn on a log scale
        (line,) = ax.plot(kept, rel[kept], label=label, linewidth=1)
        if r["vanished_at"] is not None:
            ax.plot([r["vanished_at"] - 1], [rel[r["vanished_at"] - 1]], "x", color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("tokens before the review's last token")
    ax.set_ylabel("||dL/dx_t|| / ||dL/dx_last||  (log)")
    ax.set_title("How much of the loss gradient reaches each earlier token")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    cells = [r["cell"] for r in results["cells"]]
    rates = [100 * r["clipping"]["arrays_clipped"] / max(1, r["clipping"]["arrays"]) for r in results["cells"]]
    updates = [100 * r["clipping"]["updates_clipped"] / max(1, r["clipping"]["updates"]) for r in results["cells"]]
    x = numpy.arange(len(cells))
    bx.bar(x - 0.2, updates, 0.4, label="updates with any clip")
    bx.bar(x + 0.2, rates, 0.4, label="encoder weight arrays clipped")
    bx.set_xticks(x, cells)
    bx.set_ylabel("% (grad_clip 1.0)")
    bx.set_title("How often grad_clip fired")
    bx.legend(fontsize=8)
    s = results["settings"]
    fig.suptitle(
        f"Forward-only encoders, last-token pooling, IMDB reviews cut to {s['tokens']} tokens; "
        f"mean over {s['updates']} updates of {s['docs']} reviews"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/imdb/train.jsonl")
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--pool", type=int, default=64, help="long reviews to draw the batches from")
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="benchmarks/gradient_flow.json")
    parser.add_argument("--plot", default="benchmarks/gradient_flow.png")
    parser.add_argument("--replot", action="store_true", help="recompute the zero counts of --output and redraw --plot")
    args = parser.parse_args()
    if args.replot:
        results = json.loads(Path(args.output).read_text(encoding="utf8"))
        for r in results["cells"]:
            r.update(zero_stats(r["mean_norm_from_end"]))
        Path(args.output).write_text(json.dumps(results) + "\n", encoding="utf8")
        plot(results, Path(args.plot))
        return
    torch.set_num_threads(args.threads)
    start = time.time()
    examples = long_reviews(Path(args.data), args.tokens, args.pool, spacy.blank("en"))
    cells = []
    for cell in args.cells.split(","):
        r = run_cell(cell, examples, args)
        c = r["clipping"]
        ratio = "-" if r["first_over_last"] is None else f"{r['first_over_last']:.3g}"
        print(
            f"{cell:9s} first/last token gradient {ratio} (first token's exactly 0: {r['first_zero_docs']} times); "
            f"exactly 0 at {r['zero_positions']} positions, all from {r['vanished_at']} tokens back; clipped {c['updates_clipped']}/"
            f"{c['updates']} updates, {c['arrays_clipped']}/{c['arrays']} arrays; loss {r['loss_first_last']}; "
            f"{r['seconds']} s",
            flush=True,
        )
        cells.append(r)
    results = {
        "settings": {
            "data": args.data, "tokens": args.tokens, "pool": len(examples), "docs": args.docs,
            "updates": args.updates, "threads": args.threads, "grad_clip": 1.0, "learn_rate": 0.001,
            "pooling": "last", "bidirectional": False,
        },
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "spacy": spacy.__version__},
        "wall_s": round(time.time() - start, 1),
        "cells": cells,
    }
    Path(args.output).write_text(json.dumps(results) + "\n", encoding="utf8")
    plot(results, Path(args.plot))
    print(f"wrote {args.output} and {args.plot} in {results['wall_s']} s")


if __name__ == "__main__":
    main()
