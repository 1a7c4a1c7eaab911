"""Shared by the long-memory benchmarks that train until a task is learned
(``latch_convergence.py``, ``adding_problem.py``; issue 36).

A model reads a sequence forward with one of :data:`VARIANTS` (our
:class:`~spacy_rnn.torch.RecurrentEncoder`, unidirectional, as in
``long_range.py``) and predicts from its last state. Every variant gets about
the same number of trainable parameters (``long_range.BUDGET``). A run trains
with Adam on fresh batches until a held-out measure reaches the task's target
(checked every ``check`` updates) or the update budget runs out; the budget
given is the doubled one, and the result says whether the target was reached
within half of it too, so one run shows whether doubling the budget changes
a conclusion. The learning rate of each variant is chosen once, on a short
sequence length (:func:`tune_learning_rate`), and used at every length.

Variants beside the cells:

- ``lstm_forget_bias_1``: the LSTM with its forget gates' bias at 1 (Gers,
  Schmidhuber & Cummins 2000; Jozefowicz, Zaremba & Sutskever 2015).
- ``lstm_chrono``: chrono initialization (Tallec & Ollivier 2018): forget
  bias ``log(U(1, T_max - 1))`` and input bias its negative, with ``T_max =``
  :data:`CHRONO_T_MAX`, the longest length studied, for every length.
- ``lstm_torch``: ``torch.nn.LSTM`` called directly, without our encoder
  (no length buckets, no reversal, no threads): a control that our
  encoder's LSTM learns exactly as PyTorch's does.
"""
import math
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy
import torch
from torch import nn

from long_range import BUDGET, EMBED
from spacy_rnn.torch import RecurrentEncoder

VARIANTS = ["rnn", "lstm", "lstm_forget_bias_1", "lstm_chrono", "lstm_torch", "gru", "clockwork", "dglstm"]
CHRONO_T_MAX = 1000


class SequenceModel(nn.Module):
    """An input layer (an embedding of ``n_tokens`` ids, or a linear map of
    ``n_features`` values a step) to ``EMBED`` values, a recurrent layer, and
    a linear output of ``n_out`` values from the last step's state."""

    def __init__(self, variant: str, hidden: int, n_out: int, n_tokens: int = 0, n_features: int = 0):
        super().__init__()
        self.variant = variant
        self.input = nn.Embedding(n_tokens, EMBED) if n_tokens else nn.Linear(n_features, EMBED)
        if variant == "lstm_torch":
            self.rnn: nn.Module = nn.LSTM(EMBED, hidden, batch_first=True)
        else:
            cell = "lstm" if variant.startswith("lstm") else variant
            self.rnn = RecurrentEncoder(cell, EMBED, hidden, depth=2 if cell == "dglstm" else 1, bidirectional=False)
        self.output = nn.Linear(hidden, n_out)
        self.hidden = hidden
        if variant in ("lstm_forget_bias_1", "lstm_chrono"):
            layer = self.rnn.forward_layers[0]
            with torch.no_grad():  # gate order i, f, g, o; the two biases are summed
                if variant == "lstm_forget_bias_1":
                    forget = torch.ones(hidden)
                else:
                    forget = torch.log(torch.empty(hidden).uniform_(1, CHRONO_T_MAX - 1))
                    layer.bias_ih_l0[:hidden] = -forget
                    layer.bias_hh_l0[:hidden] = 0.0
                layer.bias_ih_l0[hidden : 2 * hidden] = forget
                layer.bias_hh_l0[hidden : 2 * hidden] = 0.0

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        """The recurrent layer's states, ``(n, length, hidden)``, of inputs ``X`` ``(n, length, EMBED)``."""
        n, length, _ = X.shape
        if self.variant == "lstm_torch":
            return self.rnn(X)[0]
        return self.rnn(X.reshape(n * length, -1), [length] * n).reshape(n, length, -1)

    def forward(self, inputs: torch.Tensor, keep_inputs: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
        X = self.input(inputs)
        if keep_inputs is not None:
            X.retain_grad()
            keep_inputs.append(X)
        return self.output(self.encode(X)[:, -1])


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def width_for_budget(variant: str, n_out: int, n_tokens: int = 0, n_features: int = 0, budget: int = BUDGET) -> int:
    """The hidden width whose model has the parameter count closest to
    ``budget`` (a multiple of 4 for the clockwork cell's 4 modules)."""
    step = 4 if variant == "clockwork" else 1
    return min(range(step, 129, step), key=lambda h: abs(
        n_params(SequenceModel(variant, h, n_out, n_tokens, n_features)) - budget))


class Task:
    """A task: fresh batches, a loss, a held-out measure and its target."""

    name = ""
    n_out = 1
    n_tokens = 0
    n_features = 0
    higher_is_better = True
    target = 0.0

    def batch(self, rng: numpy.random.Generator, n: int, length: int) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def measure(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        raise NotImplementedError

    def solved(self, value: float) -> bool:
        return value >= self.target if self.higher_is_better else value <= self.target

    def build(self, variant: str) -> SequenceModel:
        hidden = width_for_budget(variant, self.n_out, self.n_tokens, self.n_features)
        return SequenceModel(variant, hidden, self.n_out, self.n_tokens, self.n_features)


def gradient_by_distance(model: SequenceModel, task: Task, inputs: torch.Tensor, targets: torch.Tensor) -> List[float]:
    """``||dL/dx_t||`` (mean over the batch) for every step ``t`` of the
    input layer's output, listed by distance from the last step (0 first)."""
    kept: List[torch.Tensor] = []
    model.zero_grad()
    task.loss(model(inputs, keep_inputs=kept), targets).backward()
    norms = kept[0].grad.norm(dim=2).mean(dim=0).detach().numpy()[::-1]
    model.zero_grad()
    return [float(x) for x in norms]


def train_until(
    task: Task, variant: str, length: int, seed: int, lr: float, budget: int, check: int, n_eval: int,
    batch: int, gradients: bool = False,
) -> Dict[str, Any]:
    """Train ``variant`` on ``task`` at ``length`` until its held-out measure
    reaches the target or ``budget`` updates; with ``gradients``, also the
    gradient by distance on the held-out batch before and after training."""
    # the width search builds models: before the seed, so the init is the seed's
    hidden = width_for_budget(variant, task.n_out, task.n_tokens, task.n_features)
    torch.manual_seed(seed)
    model = SequenceModel(variant, hidden, task.n_out, task.n_tokens, task.n_features)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = numpy.random.default_rng(seed)
    held_out = task.batch(numpy.random.default_rng(10_000 + seed), n_eval, length)
    flow_before = gradient_by_distance(model, task, *held_out) if gradients else None
    start = time.perf_counter()
    reached, curve, value = None, [], None
    for step in range(1, budget + 1):
        inputs, targets = task.batch(rng, batch, length)
        loss = task.loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % check == 0 or step == budget:
            with torch.no_grad():
                value = task.measure(model(held_out[0]), held_out[1])
            curve.append([step, round(value, 5)])
            if not math.isfinite(value):
                break
            if task.solved(value):
                reached = step
                break
    result = {
        "variant": variant, "length": length, "seed": seed, "lr": lr, "hidden": hidden, "params": n_params(model),
        "budget": budget, "updates_to_target": reached,
        "reached_within_half_budget": reached is not None and reached <= budget // 2,
        "final": value, "updates_run": curve[-1][0] if curve else 0,
        "train_s": round(time.perf_counter() - start, 1), "curve": curve,
    }
    if gradients:
        result["gradient_by_distance"] = {"initialization": flow_before,
                                          "trained": gradient_by_distance(model, task, *held_out)}
    return result


def tune_learning_rate(
    task: Task, variant: str, length: int, lrs: Sequence[float], seeds: Sequence[int], budget: int, check: int,
    n_eval: int, batch: int, log: Callable[[str], None] = print,
) -> Tuple[float, List[Dict[str, Any]]]:
    """The learning rate of ``lrs`` whose runs at ``length`` reach the target
    in the fewest updates (median over ``seeds``, checked every ``check``
    updates; a run that does not reach it counts as never); between rates
    equal on that, the one whose runs ended with the better held-out
    measure (median), so that a rate is chosen on evidence also where no
    rate reaches the target within the tuning budget. Seeds here are
    :data:`TUNING_SEED_OFFSET` above the reported runs' seeds."""
    runs, keys = [], {}
    for lr in lrs:
        updates, finals = [], []
        for seed in seeds:
            run = train_until(task, variant, length, TUNING_SEED_OFFSET + seed, lr, budget, check, n_eval, batch)
            runs.append(run)
            updates.append(run["updates_to_target"] or math.inf)
            final = run["final"] if run["final"] is not None and math.isfinite(run["final"]) else None
            finals.append(math.inf if final is None else (-final if task.higher_is_better else final))
        keys[lr] = (statistics.median(updates), statistics.median(finals))
        log(f"tune {variant:18s} length {length} lr {lr:g}: median updates {keys[lr][0]}, "
            f"median final {abs(keys[lr][1]):.4g}")
    best = min(lrs, key=lambda lr: keys[lr])
    return best, runs


TUNING_SEED_OFFSET = 100


def summarize(runs: List[Dict[str, Any]], variants: Sequence[str], lengths: Sequence[int]) -> Dict[str, Any]:
    """Per (variant, length): seeds that reached the target within the budget
    and within half of it, and the median and range of the updates needed."""
    table = {}
    for variant in variants:
        for length in lengths:
            rows = [r for r in runs if r["variant"] == variant and r["length"] == length]
            if not rows:
                continue
            reached = [r["updates_to_target"] for r in rows if r["updates_to_target"] is not None]
            table[f"{variant} {length}"] = {
                "reached": f"{len(reached)}/{len(rows)}",
                "reached_within_half_budget": f"{sum(r['reached_within_half_budget'] for r in rows)}/{len(rows)}",
                "median_updates": statistics.median(reached) if reached else None,
                "updates_range": [min(reached), max(reached)] if reached else None,
                "median_final": statistics.median(r["final"] for r in rows if r["final"] is not None)
                if any(r["final"] is not None for r in rows) else None,
            }
    return table


def run_grid(
    task: Task, variants: Sequence[str], lengths: Sequence[int], seeds: Sequence[int], lrs: Dict[str, float],
    budget: int, check: int, n_eval: int, batch: int, gradients_at: Optional[int] = None,
    max_minutes: Optional[float] = None, log: Callable[[str], None] = print,
    save: Optional[Callable[[List[Dict[str, Any]], List[Dict[str, Any]]], None]] = None,
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Every (variant, length, seed), shortest lengths first; once a variant
    reached the target in no seed at a length, its longer lengths are not run
    (returned as skipped, "why": "not solved at a shorter length"), nor is any
    (variant, length) begun after ``max_minutes`` ("why": "time"). With
    ``gradients_at``, runs at that length record the gradient by distance."""
    runs: List[Dict[str, Any]] = []
    skipped: List[Dict[str, Any]] = []
    failed = set()
    start = time.perf_counter()
    for length in lengths:
        for variant in variants:
            if variant in failed:
                skipped.append({"variant": variant, "length": length, "why": "not solved at a shorter length"})
                continue
            if max_minutes is not None and time.perf_counter() - start > 60 * max_minutes:
                skipped.append({"variant": variant, "length": length, "why": "time"})
                continue
            for seed in seeds:
                run = train_until(task, variant, length, seed, lrs[variant], budget, check, n_eval, batch,
                                  gradients=gradients_at == length)
                runs.append(run)
                log(f"{task.name} length {length:4d} {variant:18s} seed {seed}: updates to target "
                    f"{run['updates_to_target']}, final {run['final']}, {run['train_s']} s")
            if not any(r["updates_to_target"] for r in runs if r["variant"] == variant and r["length"] == length):
                failed.add(variant)
            if save:
                save(runs, skipped)
    return runs, skipped


def main(task: Task, doc: str, plot: Callable[[Dict[str, Any], Any], None], defaults: Dict[str, Any],
         quick: Dict[str, Any], name: str, extra_settings: Dict[str, Any]) -> None:
    """The command line of a script of this kind: ``defaults`` and
    ``--quick``'s ``quick`` settings by option name (``lengths``, ``lrs``,
    ``tune_length``, ...), results in ``benchmarks/NAME.json`` and ``.png``
    (``training/NAME_quick.*`` with ``--quick``)."""
    import argparse
    import json
    import platform
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--lengths", default=defaults["lengths"])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=int, default=defaults["budget"], help="updates at most (the doubled budget)")
    parser.add_argument("--check", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eval", type=int, default=500)
    parser.add_argument("--lrs", default=defaults["lrs"])
    parser.add_argument("--tune-length", type=int, default=defaults["tune_length"])
    parser.add_argument("--tune-budget", type=int, default=1000)
    parser.add_argument("--tune-check", type=int, default=20, help="check the held-out measure this often while tuning")
    parser.add_argument("--tune-seeds", default="0,1")
    parser.add_argument("--flow-length", type=int, default=defaults.get("flow_length"),
                        help="runs at this length record the gradient by distance before and after training")
    parser.add_argument("--max-minutes", type=float, default=25.0,
                        help="begin no (variant, length) after this many minutes of the grid (skipped: time)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a check of the script in seconds, not a result")
    parser.add_argument("--output", default=None, help=f"default: benchmarks/{name}.json "
                        f"(training/{name}_quick.json with --quick)")
    parser.add_argument("--replot", action="store_true")
    args = parser.parse_args()
    if args.quick:
        for key, value in quick.items():
            setattr(args, key, value)
    output = Path(args.output or (root / "training" / f"{name}_quick.json" if args.quick
                                  else root / "benchmarks" / f"{name}.json"))
    if args.replot:
        plot(json.loads(output.read_text(encoding="utf8")), output.with_suffix(".png"))
        return
    torch.set_num_threads(args.threads)
    output.parent.mkdir(parents=True, exist_ok=True)
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    lengths = [int(n) for n in args.lengths.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    lrs = [float(x) for x in args.lrs.split(",")]
    start = time.time()
    settings = {"variants": variants, "lengths": lengths, "seeds": seeds, "budget": args.budget,
                "check": args.check, "batch": args.batch, "eval": args.eval, "lrs": lrs,
                "tune_length": args.tune_length, "tune_budget": args.tune_budget, "tune_check": args.tune_check,
                "tune_seeds": [int(s) for s in args.tune_seeds.split(",")], "flow_length": args.flow_length,
                "optimizer": "Adam", "threads": args.threads, "max_minutes": args.max_minutes, **extra_settings}
    chosen: Dict[str, float] = {}
    tuning: List[Dict[str, Any]] = []
    for variant in variants:
        chosen[variant], runs = tune_learning_rate(task, variant, args.tune_length, lrs, settings["tune_seeds"],
                                                   args.tune_budget, args.tune_check, args.eval, args.batch)
        tuning.extend(runs)
    settings["lrs_chosen"] = chosen

    def save(runs: List[Dict[str, Any]], skipped: List[Dict[str, Any]]) -> None:
        output.write_text(json.dumps({"partial": True, "settings": settings, "runs": runs}) + "\n", encoding="utf8")

    runs, skipped = run_grid(task, variants, lengths, seeds, chosen, args.budget, args.check, args.eval, args.batch,
                             gradients_at=args.flow_length, max_minutes=args.max_minutes, save=save)
    for run in tuning:
        run.pop("curve")
    results = {"settings": settings, "summary": summarize(runs, variants, lengths), "skipped": skipped,
               "runs": runs, "tuning": tuning, "wall_s": round(time.time() - start, 1),
               "machine": {"python": platform.python_version(), "torch": torch.__version__}}
    output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
    plot(results, output.with_suffix(".png"))
    print(json.dumps(results["summary"], indent=1))
    print(f"wrote {output} and {output.with_suffix('.png')} in {results['wall_s']} s")


def figure(results: Dict[str, Any], n_panels: int, width: float) -> Tuple[Any, Any, Dict[str, Tuple[List, Any]]]:
    """A figure of ``n_panels`` side by side whose first panel shows, for every
    variant, the seeds that reached the target (:func:`plot_solved`); returns
    the figure, its axes, and each variant's runs and line color."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n_panels, figsize=(width, 5))
    return fig, axes, {variant: plot_solved(axes[0], results, variant) for variant in results["settings"]["variants"]}


def save_figure(fig: Any, axes: Any, results: Dict[str, Any], path: Any, task: str, length_name: str) -> None:
    """Grid every panel, title the figure with the protocol, and write it to ``path``."""
    s = results["settings"]
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"{task} trained until learned: Adam, batch {s['batch']}, {len(s['seeds'])} seeds, "
                 f"learning rate per cell chosen at {length_name} {s['tune_length']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_solved(ax: Any, results: Dict[str, Any], variant: str) -> Tuple[List[Dict[str, Any]], Any]:
    """Draw on ``ax`` the share of seeds of ``variant`` that reached the
    target by length, within the budget (solid) and half of it (dotted);
    returns the variant's runs and the line's color."""
    rows = [r for r in results["runs"] if r["variant"] == variant]
    lengths = sorted({r["length"] for r in rows})
    at = [[r for r in rows if r["length"] == n] for n in lengths]
    full = [sum(r["updates_to_target"] is not None for r in runs) / len(runs) for runs in at]
    half = [sum(r["reached_within_half_budget"] for r in runs) / len(runs) for runs in at]
    lr = results["settings"]["lrs_chosen"][variant]
    line = ax.plot(lengths, full, marker="o", label=f"{variant} (lr {lr:g})")[0]
    ax.plot(lengths, half, linestyle=":", color=line.get_color())
    log_lengths(ax, results["settings"]["lengths"])
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"Solved within {results['settings']['budget']} updates (solid) and "
                 f"{results['settings']['budget'] // 2} (dotted)")
    return rows, line.get_color()


def log_lengths(ax: Any, lengths: Sequence[int]) -> None:
    """A log x axis with a tick at each length, labelled plainly."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(list(lengths))
    ax.set_xticklabels([f"{n:,}" for n in lengths])
