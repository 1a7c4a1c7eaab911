"""How long a gap each recurrent cell bridges: accuracy against the distance
between a clue and its use.

    python benchmarks/long_range.py [--gaps 5,10,20,50,100,200,500,1000] [--steps 200]
        [--cells rnn,lstm,gru,clockwork,dglstm,lstm_forget_bias_1] [--output benchmarks/long_range.json]
        [--plot benchmarks/long_range.png]

The task (:func:`make_batch`): a sequence opens with one clue token, A or B,
followed by ``gap`` distractor tokens drawn uniformly from 8 others; the label
is the clue. Nothing after the clue says anything about the label, so a model
must carry one bit over ``gap`` steps; chance is 50%. Each cell reads the
sequence forward only (``RecurrentEncoder``, unidirectional), and a linear
layer classifies its last state.

Every cell gets the same budget: about :data:`BUDGET` trainable parameters
(embedding, encoder and output; the hidden width is the one closest to the
budget, see :func:`width_for_budget`; the depth-gated LSTM needs two layers),
the same ``--steps`` Adam updates of ``--batch`` fresh sequences, the same
learning rate, and the same seeds (``--seeds``). Each (cell, gap) pair is trained twice, with
each parameter array's gradient norm clipped at ``--grad-clip`` (what Thinc's
optimizer does with ``grad_clip``) and without clipping. Accuracy is measured
on ``--eval`` fresh sequences. Once a cell has been at chance (under 60%, in
every run) at ``--stop-after`` gaps in a row, its longer gaps are not run
(they are listed under ``skipped``): the long gaps are what costs time.
"""
import argparse
import functools
import json
import platform
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy
import torch
from torch import nn

from spacy_rnn.torch import RecurrentEncoder

CLUES = 2  # token ids 0 and 1: the label
DISTRACTORS = 8  # token ids 2 .. 9
EMBED = 8
BUDGET = 3300  # about a 24-unit LSTM with its embedding and output layer
CELLS = ["rnn", "lstm", "gru", "clockwork", "dglstm", "lstm_forget_bias_1"]
# Not a cell of its own: the LSTM with its forget gates' bias started at 1
# instead of PyTorch's 0 (Gers et al. 2000; Jozefowicz et al. 2015), to show
# how much of the LSTM's result is its initialisation.
FORGET_BIAS_1 = "lstm_forget_bias_1"
GAPS = [5, 10, 20, 50, 100, 200, 500, 1000]


def make_batch(rng: numpy.random.Generator, n: int, gap: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """``n`` sequences of ``1 + gap`` token ids and their labels: the first
    token is the clue (0 or 1, which is the label), the rest distractors
    (``CLUES .. CLUES + DISTRACTORS - 1``)."""
    labels = rng.integers(0, CLUES, size=n)
    tokens = numpy.empty((n, 1 + gap), dtype="int64")
    tokens[:, 0] = labels
    tokens[:, 1:] = rng.integers(CLUES, CLUES + DISTRACTORS, size=(n, gap))
    return tokens, labels


class Classifier(nn.Module):
    def __init__(self, cell: str, hidden: int):
        super().__init__()
        depth = 2 if cell == "dglstm" else 1
        self.embed = nn.Embedding(CLUES + DISTRACTORS, EMBED)
        base = "lstm" if cell == FORGET_BIAS_1 else cell
        self.encoder = RecurrentEncoder(base, EMBED, hidden, depth=depth, bidirectional=False)
        self.output = nn.Linear(hidden, CLUES)
        if cell == FORGET_BIAS_1:
            for layer in self.encoder.forward_layers:
                with torch.no_grad():  # gate order i, f, g, o; two biases, summed
                    layer.bias_ih_l0[hidden : 2 * hidden] = 1.0
                    layer.bias_hh_l0[hidden : 2 * hidden] = 0.0

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        n, length = tokens.shape
        X = self.embed(tokens.reshape(-1))
        H = self.encoder(X, [length] * n).reshape(n, length, -1)
        return self.output(H[:, -1])


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@functools.lru_cache(maxsize=None)
def width_for_budget(cell: str, budget: int = BUDGET) -> int:
    """The hidden width whose classifier has the parameter count closest to
    ``budget`` (a multiple of 4 for the clockwork cell's 4 modules)."""
    step = 4 if cell == "clockwork" else 1  # 4 modules share the units
    best = min(range(step, 129, step), key=lambda h: abs(n_params(Classifier(cell, h)) - budget))
    return best


def clip_each(model: nn.Module, threshold: float) -> int:
    """Clip each parameter array's gradient to norm ``threshold``, as Thinc's
    optimizer does with ``grad_clip``; returns how many arrays it clipped."""
    clipped = 0
    for p in model.parameters():
        if p.grad is not None:
            norm = float(p.grad.norm())
            if norm >= threshold:
                p.grad.mul_(threshold / norm)
                clipped += 1
    return clipped


def run(cell: str, gap: int, grad_clip: Optional[float], args, seed: int = 0) -> Dict:
    hidden = width_for_budget(cell)  # builds models: before the seed, so the init is the seed's
    torch.manual_seed(seed)
    model = Classifier(cell, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = numpy.random.default_rng(seed)
    start = time.perf_counter()
    losses = []
    clipped = arrays = 0
    for _ in range(args.steps):
        tokens, labels = make_batch(rng, args.batch, gap)
        logits = model(torch.from_numpy(tokens))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        if grad_clip:
            clipped += clip_each(model, grad_clip)
            arrays += sum(1 for p in model.parameters() if p.grad is not None)
        optimizer.step()
        losses.append(float(loss.detach()))
    train_s = time.perf_counter() - start
    tokens, labels = make_batch(numpy.random.default_rng(10_000 + seed), args.eval, gap)
    with torch.no_grad():
        predicted = model(torch.from_numpy(tokens)).argmax(-1).numpy()
    tail = losses[-max(1, args.steps // 10):]
    return {
        "cell": cell, "gap": gap, "grad_clip": grad_clip, "accuracy": float((predicted == labels).mean()),
        "final_loss": float(numpy.mean(tail)) if numpy.all(numpy.isfinite(tail)) else None,
        "clip_rate": clipped / arrays if arrays else None, "train_s": train_s,
        "hidden": model.encoder.hidden, "params": n_params(model),
    }


CHANCE_BELOW = 0.6  # an accuracy under this counts as chance for --stop-after


def stopped(runs: List[Dict], cell: str, earlier_gaps: List[int], k: int) -> bool:
    """True when ``cell`` stayed under :data:`CHANCE_BELOW` in every run
    (both clip settings, every seed) at each of the ``k`` longest earlier gaps."""
    if not k or len(earlier_gaps) < k:
        return False
    for gap in earlier_gaps[-k:]:
        accs = [r["accuracy"] for r in runs if r["cell"] == cell and r["gap"] == gap]
        if not accs or max(accs) >= CHANCE_BELOW:
            return False
    return True


def plot(results: Dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
    for ax, clip in zip(axes, (None, results["settings"]["grad_clip"])):
        for cell in results["settings"]["cells"]:
            rows = [r for r in results["runs"] if r["cell"] == cell and r["grad_clip"] == clip]
            gaps = sorted({r["gap"] for r in rows})
            mean = [100 * numpy.mean([r["accuracy"] for r in rows if r["gap"] == g]) for g in gaps]
            label = f"{cell} (h={rows[0]['hidden']}, {rows[0]['params']} params)" if rows else cell
            ax.plot(gaps, mean, marker="o", label=label)
        ax.axhline(50, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(3, 1500)
        ax.set_xscale("log")
        ax.set_xlabel("distractor tokens between the clue and the end (gap)")
        ax.set_title("without grad_clip" if clip is None else f"grad_clip = {clip:g} (each weight array)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out accuracy (%); chance 50")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3)
    s = results["settings"]
    seeds = f"mean of {len(s['seeds'])} seeds" if len(s["seeds"]) > 1 else "one seed"
    title = f"Long-range memory: {s['steps']} Adam steps of {s['batch']} sequences, lr {s['lr']}, {seeds}"
    if results.get("skipped"):
        title += f"\n(a line ends where its cell was at chance at {s['stop_after']} gaps in a row: longer gaps not run)"
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--gaps", default=",".join(map(str, GAPS)))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eval", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds: each (cell, gap, clip) runs once a seed")
    parser.add_argument("--stop-after", type=int, default=2, help="skip a cell's longer gaps once it was at chance at this many gaps in a row (0: never)")
    parser.add_argument("--resume", default=None, help="a JSON file of an earlier (partial) run with the same settings: reuse its runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default="benchmarks/long_range.json")
    parser.add_argument("--plot", default="benchmarks/long_range.png")
    parser.add_argument("--replot", action="store_true", help="only redraw --plot from the --output JSON")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(Path(args.output).read_text(encoding="utf8")), Path(args.plot))
        return
    torch.set_num_threads(args.threads)
    cells = args.cells.split(",")
    gaps = [int(g) for g in args.gaps.split(",")]
    start = time.time()
    runs: List[Dict] = []
    seeds = [int(x) for x in args.seeds.split(",")]
    done = {}
    if args.resume:
        for r in json.loads(Path(args.resume).read_text(encoding="utf8"))["runs"]:
            done[(r["cell"], r["gap"], r["grad_clip"], r.get("seed", 0))] = r
    skipped: List[Dict] = []
    for gap in gaps:
        for cell in cells:
            if cell in {x["cell"] for x in skipped} or stopped(runs, cell, gaps[: gaps.index(gap)], args.stop_after):
                skipped.append({"cell": cell, "gap": gap})
                print(f"gap {gap:5d}  {cell:9s} skipped: at chance at the {args.stop_after} gaps before", flush=True)
                continue
            for clip in (None, args.grad_clip):
                for seed in seeds:
                    r = done.get((cell, gap, clip, seed))
                    if r is None:
                        r = run(cell, gap, clip, args, seed=seed)
                        r["seed"] = seed
                    runs.append(r)
                    print(
                        f"gap {gap:5d}  {cell:9s} clip {str(clip):5s} seed {seed} acc {100 * r['accuracy']:5.1f}%  "
                        f"loss {r['final_loss']}  clip rate {r['clip_rate']}  {r['train_s']:.1f}s",
                        flush=True,
                    )
        Path(args.output).write_text(json.dumps({"partial": True, "runs": runs}, indent=1) + "\n", encoding="utf8")
    results = {
        "settings": {
            "stop_after": args.stop_after, "chance_below": CHANCE_BELOW,
            "cells": cells, "gaps": gaps, "steps": args.steps, "batch": args.batch, "eval": args.eval,
            "lr": args.lr, "grad_clip": args.grad_clip, "threads": args.threads, "budget": BUDGET,
            "embed": EMBED, "clues": CLUES, "distractors": DISTRACTORS, "seeds": seeds,
        },
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor()},
        "wall_s": round(time.time() - start, 1),
        "train_s_total": round(sum(r["train_s"] for r in runs), 1),
        "runs": runs,
        "skipped": skipped,
    }
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
    plot(results, Path(args.plot))
    print(f"wrote {args.output} and {args.plot} in {results['wall_s']} s")


if __name__ == "__main__":
    main()
