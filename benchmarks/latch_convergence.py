"""The latch task trained until it is learned: updates each cell needs to reach
99% held-out accuracy, against the gap (issue 36, a first step).

    python benchmarks/latch_convergence.py [--cells rnn,lstm,lstm_forget_bias_1,gru] [--gaps 20,50,100,200]
        [--seeds 0,1,2] [--budget 4000]

``long_range.py`` trains every cell for 200 Adam updates, which leaves the
gated cells at chance from a gap of 20. Here each (cell, gap, seed) trains,
with the same model, batches, learning rate and parameter budget as
``long_range.py`` (its :class:`Classifier`, ``--lr`` Adam, ``--batch`` fresh
sequences an update), until its accuracy on ``--eval`` held-out sequences,
checked every ``--check`` updates, reaches ``TARGET``, or until ``--budget``
updates. Reported: the updates to the target (null if not reached) and the
final accuracy, and for the Elman RNN its recurrent matrix's spectral radius
before and after training. A cell that reached the target in no seed at one gap is not
run at the longer gaps (listed under ``skipped``). The learning rate is the same for every cell (not tuned per
cell), and the budget is not yet doubled to show the conclusions stable:
both remain for issue 36. Writes ``benchmarks/latch_convergence.json``.
"""
import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy
import torch
from torch import nn

from long_range import Classifier, make_batch, width_for_budget

TARGET = 0.99


def accuracy(model: Classifier, tokens: numpy.ndarray, labels: numpy.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.from_numpy(tokens)).argmax(-1).numpy() == labels).mean())


def spectral_radius(model: Classifier) -> Any:
    """The Elman RNN's recurrent matrix's largest eigenvalue modulus (None for gated cells)."""
    layer = model.encoder.forward_layers[0]
    if not isinstance(layer, nn.RNN):
        return None
    with torch.no_grad():
        return round(float(torch.linalg.eigvals(layer.weight_hh_l0).abs().max()), 3)


def train(cell: str, gap: int, seed: int, args: argparse.Namespace) -> Dict[str, Any]:
    hidden = width_for_budget(cell)
    torch.manual_seed(seed)
    model = Classifier(cell, hidden)
    radius = [spectral_radius(model)]
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = numpy.random.default_rng(seed)
    held_out = make_batch(numpy.random.default_rng(10_000 + seed), args.eval, gap)
    start = time.perf_counter()
    reached, acc, curve = None, 0.5, []
    for step in range(1, args.budget + 1):
        tokens, labels = make_batch(rng, args.batch, gap)
        loss = nn.functional.cross_entropy(model(torch.from_numpy(tokens)), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.check == 0:
            acc = accuracy(model, *held_out)
            curve.append([step, round(acc, 4)])
            if acc >= TARGET:
                reached = step
                break
    radius.append(spectral_radius(model))
    return {"cell": cell, "gap": gap, "seed": seed, "hidden": hidden, "updates_to_target": reached,
            "recurrent_spectral_radius": radius if radius[0] is not None else None,
            "final_accuracy": acc, "updates_run": curve[-1][0] if curve else 0,
            "train_s": round(time.perf_counter() - start, 1), "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="rnn,lstm,lstm_forget_bias_1,gru")
    parser.add_argument("--gaps", default="20,50,100,200")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=int, default=4000)
    parser.add_argument("--check", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eval", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".json")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    runs: List[Dict[str, Any]] = []
    settings = {"cells": args.cells.split(","), "gaps": [int(g) for g in args.gaps.split(",")],
                "seeds": [int(s) for s in args.seeds.split(",")], "budget": args.budget, "check": args.check,
                "batch": args.batch, "eval": args.eval, "lr": args.lr, "optimizer": "Adam", "target": TARGET,
                "threads": args.threads}
    skipped: List[Dict[str, Any]] = []
    failed_cells = set()
    for gap in settings["gaps"]:
        for cell in settings["cells"]:
            if cell in failed_cells:
                skipped.append({"cell": cell, "gap": gap})
                continue
            for seed in settings["seeds"]:
                run = train(cell, gap, seed, args)
                runs.append(run)
                print(f"gap {gap:4d} {cell:18s} seed {seed}: updates to {TARGET:.0%} {run['updates_to_target']}, "
                      f"accuracy {run['final_accuracy']:.3f}, {run['train_s']} s", flush=True)
            if not any(r["updates_to_target"] for r in runs if r["cell"] == cell and r["gap"] == gap):
                failed_cells.add(cell)
            summary = {"runs": runs, "settings": settings, "partial": True}
            Path(args.output).write_text(json.dumps(summary) + "\n", encoding="utf8")
    table = {}
    for cell in settings["cells"]:
        for gap in settings["gaps"]:
            rows = [r for r in runs if r["cell"] == cell and r["gap"] == gap]
            if not rows:
                continue
            reached = [r["updates_to_target"] for r in rows if r["updates_to_target"] is not None]
            table[f"{cell} gap {gap}"] = {
                "reached": f"{len(reached)}/{len(rows)}",
                "median_updates": statistics.median(reached) if reached else None,
                "updates_range": [min(reached), max(reached)] if reached else None,
                "median_final_accuracy": statistics.median(r["final_accuracy"] for r in rows),
            }
    results = {"settings": settings, "summary": table, "skipped": skipped, "runs": runs, "wall_s": round(time.time() - start, 1),
               "machine": {"python": platform.python_version(), "torch": torch.__version__}}
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
