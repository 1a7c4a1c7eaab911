"""How far each cell gets on the adding problem as the update budget doubles
(issue 36: "a step budget large enough that a further doubling changes no
conclusion").

    python benchmarks/adding_budget.py

Reads every ``benchmarks/adding_problem*.json`` (the grid at 3,000 updates,
the doubled grid at 6,000, and the runs at 12,000 and 24,000 named in
``benchmarks/README.md``). A run is deterministic given its cell, length,
seed and learning rate (the same seed reaches the target at the same update
whatever the budget), so a seed's run at the largest budget answers for
every smaller one: it is solved within ``B`` updates if it reached the
target at an update ``<= B``, unsolved if its run went ``B`` updates without
reaching it, and unknown beyond its own budget. Runs with another learning
rate than the cell's chosen one are left out.

Writes ``benchmarks/adding_budget.json`` (seeds solved per cell, length and
budget, and the updates each seed needed) and ``adding_budget.png`` (one
panel per length: seeds solved against the budget).
"""
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = (3000, 6000, 12000, 24000)


def best_runs(paths: List[Path]) -> Tuple[Dict[Tuple[str, int, int], Dict[str, Any]], Dict[str, float]]:
    """Per (cell, length, seed), the run with the largest budget; and the
    learning rate each cell was chosen with (the first grid's)."""
    runs: Dict[Tuple[str, int, int], Dict[str, Any]] = {}
    chosen: Dict[str, float] = {}
    for path in paths:
        results = json.loads(path.read_text(encoding="utf8"))
        for variant, lr in results["settings"]["lrs_chosen"].items():
            chosen.setdefault(variant, lr)
        for run in results["runs"]:
            if run["lr"] != chosen[run["variant"]]:
                continue
            key = (run["variant"], run["length"], run["seed"])
            budget = run["budget"]
            if key not in runs or budget > runs[key]["budget"]:
                runs[key] = {"budget": budget, "updates_to_target": run["updates_to_target"], "source": path.name}
    return runs, chosen


def solved_within(run: Dict[str, Any], budget: int) -> Optional[bool]:
    """Whether the seed reached the target within ``budget`` updates; None if
    its longest run was shorter than ``budget`` and did not reach it."""
    if run["updates_to_target"] is not None and run["updates_to_target"] <= budget:
        return True
    return False if run["budget"] >= budget else None


def summarize(runs: Dict[Tuple[str, int, int], Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    table: Dict[str, Dict[str, Any]] = {}
    for variant, length in sorted({(v, n) for v, n, _ in runs}):
        seeds = sorted(s for v, n, s in runs if (v, n) == (variant, length))
        cell: Dict[str, Any] = {"seeds": len(seeds), "updates_to_target": {}, "solved": {}}
        for seed in seeds:
            run = runs[(variant, length, seed)]
            cell["updates_to_target"][str(seed)] = run["updates_to_target"]
        for budget in BUDGETS:
            answers = [solved_within(runs[(variant, length, s)], budget) for s in seeds]
            cell["solved"][str(budget)] = None if None in answers else sum(answers)
        table.setdefault(variant, {})[str(length)] = cell
    return table


def plot(table: Dict[str, Dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted({int(n) for cells in table.values() for n in cells})
    variants = list(table)
    colors = {v: plt.get_cmap("tab10")(i) for i, v in enumerate(variants)}
    fig, axes = plt.subplots(1, len(lengths), figsize=(3.2 * len(lengths), 3.8), sharey=True)
    for ax, length in zip(axes, lengths):
        for i, variant in enumerate(variants):
            cell = table[variant].get(str(length))
            if cell is None:
                continue
            # a small offset a cell, so that cells with the same counts stay visible
            shift = (i - len(variants) / 2) * 0.012
            points = [(b, cell["solved"][str(b)] / cell["seeds"] + shift)
                      for b in BUDGETS if cell["solved"][str(b)] is not None]
            if points:
                ax.plot(*zip(*points), marker="o", color=colors[variant], label=variant)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(BUDGETS))
        ax.set_xticklabels([f"{b // 1000}k" for b in BUDGETS])
        ax.set_title(f"length {length:,}")
        ax.set_xlabel("updates (budget)")
        ax.set_ylim(-0.08, 1.08)
    axes[0].set_ylabel("share of seeds solved (MSE <= 0.01)")
    handles = [plt.Line2D([], [], color=colors[v], marker="o", label=v) for v in variants]
    fig.legend(handles=handles, loc="lower center", ncol=len(variants), fontsize=8)
    fig.suptitle("Adding problem: seeds solved as the budget doubles (a seed's longest run answers for smaller budgets)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)


def main() -> None:
    paths = sorted((ROOT / "benchmarks").glob("adding_problem*.json"))
    runs, chosen = best_runs(paths)
    table = summarize(runs)
    out = ROOT / "benchmarks" / "adding_budget.json"
    out.write_text(json.dumps({"sources": [p.name for p in paths], "budgets": list(BUDGETS),
                               "lrs_chosen": chosen, "cells": table}, indent=1) + "\n", encoding="utf8")
    plot(table, out.with_suffix(".png"))
    for variant, cells in table.items():
        print(variant, {n: c["solved"] for n, c in cells.items()})


if __name__ == "__main__":
    main()
