"""Exploding gradients, shown, and what gradient clipping does about them (issue 36).

    python benchmarks/exploding_gradients.py [--seeds 0,1,2] [--steps 400]

The latch task of ``long_range.py`` (a clue token, ``--gap`` distractors, predict
the clue), read forward by one recurrent layer of the parameter budget used
there. Each cell is trained by plain SGD (the setting of Pascanu, Mikolov &
Bengio 2013, "On the difficulty of training recurrent neural networks"; Adam
divides each update by the gradient's running scale, which hides an explosion)
with its recurrent weight matrices scaled by ``--recurrent-scale`` at
initialization, so that the network starts where its Jacobians' norms exceed
1 and gradients grow with the distance they travel back. Each run is done
twice from the same initialization and batches: without clipping, and with
each weight array's gradient norm clipped at ``--grad-clip`` (what Thinc's
optimizer does with ``grad_clip``, the setting in our configs). Per update it
records the loss and the gradient's global norm before clipping.

The LSTM's gates bound its backward Jacobians, so it is also run over a grid
of learning rates and recurrent scales (``--sweep-lrs``, ``--sweep-scales``,
one seed, ``--sweep-steps`` updates), recording its largest gradient norm and
whether it diverged with and without clipping: where it diverges, is it an
explosion (large norms, which clipping cuts) or a step too large for the
loss surface (small norms, which clipping at 1 does not touch)?

A run diverges when its loss becomes non-finite or exceeds ``DIVERGED_LOSS``
(ten times chance's ln 2); from then on its loss is not recorded.
Writes ``benchmarks/exploding_gradients.json`` and ``.png``.
"""
import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy
import torch
from torch import nn

from long_range import Classifier, clip_each, make_batch, width_for_budget

DIVERGED_LOSS = 10 * math.log(2)


def scale_recurrent_weights(model: Classifier, factor: float) -> None:
    with torch.no_grad():
        for layer in model.encoder.forward_layers:
            for name, param in layer.named_parameters():
                if name.startswith("weight_hh"):
                    param.mul_(factor)


def train(cell: str, clip: Optional[float], seed: int, args: argparse.Namespace) -> Dict[str, Any]:
    hidden = width_for_budget(cell)
    torch.manual_seed(seed)
    model = Classifier(cell, hidden)
    scale_recurrent_weights(model, args.recurrent_scale)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    rng = numpy.random.default_rng(seed)
    losses: List[Optional[float]] = []
    norms: List[Optional[float]] = []
    diverged_at = None
    start = time.perf_counter()
    for step in range(args.steps):
        tokens, labels = make_batch(rng, args.batch, args.gap)
        if diverged_at is not None:
            losses.append(None)
            norms.append(None)
            continue
        loss = nn.functional.cross_entropy(model(torch.from_numpy(tokens)), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        norm = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in model.parameters() if p.grad is not None))
        value = float(loss.detach())
        if not math.isfinite(value) or value > DIVERGED_LOSS or not math.isfinite(norm):
            diverged_at = step
            losses.append(None)
            norms.append(None)
            continue
        losses.append(value)
        norms.append(norm)
        if clip:
            clip_each(model, clip)
        optimizer.step()
    accuracy = None
    if diverged_at is None:
        tokens, labels = make_batch(numpy.random.default_rng(10_000 + seed), args.eval, args.gap)
        with torch.no_grad():
            accuracy = float((model(torch.from_numpy(tokens)).argmax(-1).numpy() == labels).mean())
    finite = [n for n in norms if n is not None]
    return {"cell": cell, "grad_clip": clip, "seed": seed, "hidden": hidden, "diverged_at": diverged_at,
            "accuracy": accuracy, "max_grad_norm": max(finite) if finite else None,
            "median_grad_norm": float(numpy.median(finite)) if finite else None,
            "train_s": round(time.perf_counter() - start, 2), "loss": losses, "grad_norm": norms}


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = results["settings"]["cells"]
    fig, axes = plt.subplots(2, len(cells), figsize=(5.5 * len(cells), 7), sharex=True, squeeze=False)
    colors = {None: "tab:red", results["settings"]["grad_clip"]: "tab:blue"}
    for column, cell in enumerate(cells):
        for run in (r for r in results["runs"] if r["cell"] == cell):
            label = "no clipping" if run["grad_clip"] is None else f"grad_clip {run['grad_clip']:g}"
            first = run["seed"] == results["settings"]["seeds"][0]
            steps = numpy.arange(len(run["loss"]))
            loss = numpy.array([numpy.nan if v is None else v for v in run["loss"]])
            norm = numpy.array([numpy.nan if v is None else v for v in run["grad_norm"]])
            color = colors[run["grad_clip"]]
            axes[0][column].plot(steps, loss, color=color, alpha=0.7, linewidth=0.8, label=label if first else None)
            axes[1][column].plot(steps, norm, color=color, alpha=0.7, linewidth=0.8)
            if run["diverged_at"] is not None:
                axes[0][column].axvline(run["diverged_at"], color=color, linestyle=":", linewidth=1)
        axes[0][column].axhline(math.log(2), color="grey", linestyle="--", linewidth=0.8)
        hidden = next(r["hidden"] for r in results["runs"] if r["cell"] == cell)
        axes[0][column].set_title(f"{cell} ({hidden} units)")
        axes[0][column].set_ylabel("loss (chance: ln 2, dashed)")
        axes[1][column].set_ylabel("gradient norm before clipping")
        axes[1][column].set_yscale("log")
        axes[1][column].set_xlabel("update")
        axes[0][column].legend(fontsize=8)
    s = results["settings"]
    fig.suptitle(f"Latch task, gap {s['gap']}: SGD lr {s['lr']}, recurrent weights x{s['recurrent_scale']} at "
                 f"initialization, {len(s['seeds'])} seeds (dotted: a run diverged)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="rnn,lstm")
    parser.add_argument("--gap", type=int, default=50)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eval", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--recurrent-scale", type=float, default=3.0)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--sweep-cell", default="lstm")
    parser.add_argument("--sweep-lrs", default="0.5,2,5,10")
    parser.add_argument("--sweep-scales", default="1,3,6")
    parser.add_argument("--sweep-steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".json")))
    parser.add_argument("--plot", default=str(Path(__file__).with_suffix(".png")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    cells = args.cells.split(",")
    start = time.time()
    runs = []
    for cell in cells:
        for clip in (None, args.grad_clip):
            for seed in seeds:
                run = train(cell, clip, seed, args)
                runs.append(run)
                print(f"{cell:5s} clip {str(clip):5s} seed {seed}: diverged at {run['diverged_at']}, "
                      f"accuracy {run['accuracy']}, max grad norm {run['max_grad_norm']}", flush=True)
    sweep = []
    for lr in (float(x) for x in args.sweep_lrs.split(",") if x):
        for scale in (float(x) for x in args.sweep_scales.split(",") if x):
            grid = argparse.Namespace(**{**vars(args), "lr": lr, "recurrent_scale": scale, "steps": args.sweep_steps})
            for clip in (None, args.grad_clip):
                run = train(args.sweep_cell, clip, seeds[0], grid)
                sweep.append({k: run[k] for k in ("cell", "grad_clip", "seed", "diverged_at", "accuracy",
                                                   "max_grad_norm", "median_grad_norm")} | {"lr": lr, "recurrent_scale": scale})
                print(f"sweep {args.sweep_cell} lr {lr} scale {scale} clip {clip}: diverged at {run['diverged_at']}, "
                      f"max grad norm {run['max_grad_norm']}", flush=True)
    results = {
        "settings": {"cells": cells, "gap": args.gap, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                     "recurrent_scale": args.recurrent_scale, "grad_clip": args.grad_clip, "seeds": seeds,
                     "optimizer": "SGD", "clipping": "each weight array's gradient norm (Thinc's grad_clip)",
                     "diverged_loss": DIVERGED_LOSS, "threads": args.threads},
        "machine": {"python": platform.python_version(), "torch": torch.__version__},
        "wall_s": round(time.time() - start, 1),
        "runs": runs,
        "sweep": {"cell": args.sweep_cell, "steps": args.sweep_steps, "runs": sweep},
    }
    Path(args.output).write_text(json.dumps(results) + "\n", encoding="utf8")
    plot(results, Path(args.plot))
    print(f"wrote {args.output} and {args.plot}")


if __name__ == "__main__":
    main()
