"""The adding problem trained until it is learned: which recurrent cell adds
two numbers marked far apart in a long sequence (issue 36).

    python benchmarks/adding_problem.py [--variants rnn,lstm,...] [--lengths 50,100,200,500,1000]
        [--seeds 0,1,2] [--budget 3000] [--quick]

The task of Hochreiter & Schmidhuber (1997), in the form of Le, Jaitly &
Hinton (2015) and Arjovsky, Shah & Bengio (2016): each of ``length`` steps
carries a number drawn from U(0, 1) and a marker; exactly two steps are
marked, one in the first half and one in the second; the target is the sum
of the two marked numbers. Predicting 1 whatever the input gives a mean
squared error of 1/6 (about 0.167, the variance of the sum): that is chance.
A run counts as solved when its held-out mean squared error is at most
:data:`TARGET`.

Everything else is ``latch_convergence.py``'s (``convergence.py``): the same
variants and parameter budget (the input layer is a linear map of the two
values a step), a learning rate per variant chosen at length
``--tune-length``, training until the target or ``--budget`` updates with
the result within half of it recorded, and longer lengths skipped once a
variant solved a length in no seed. Writes ``benchmarks/adding_problem.json``
and ``.png``; ``--quick`` checks the script in seconds.
"""
from pathlib import Path
from typing import Any, Dict

import numpy
import torch

import convergence
from convergence import Task

TARGET = 0.01
CHANCE_MSE = 1 / 6


def make_batch(rng: numpy.random.Generator, n: int, length: int):
    """``n`` sequences of ``length`` steps of (number, marker), and their targets."""
    if length < 2:
        raise ValueError(f"the adding problem needs at least 2 steps, got {length}")
    values = rng.uniform(0.0, 1.0, size=(n, length))
    markers = numpy.zeros((n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    rows = numpy.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    inputs = numpy.stack([values, markers], axis=2).astype("float32")
    return inputs, targets.astype("float32")


class Adding(Task):
    name = "adding"
    n_out = 1
    n_features = 2
    higher_is_better = False
    target = TARGET

    def batch(self, rng, n, length):
        inputs, targets = make_batch(rng, n, length)
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def loss(self, outputs, targets):
        return torch.nn.functional.mse_loss(outputs[:, 0], targets)

    def measure(self, outputs, targets):
        return float(torch.nn.functional.mse_loss(outputs[:, 0], targets))


def plot(results: Dict[str, Any], path: Path) -> None:
    s = results["settings"]
    fig, axes, solved_by_variant = convergence.figure(results, 2, 12)
    for variant, (rows, color) in solved_by_variant.items():
        lengths = sorted({r["length"] for r in rows})
        finals = [numpy.median([r["final"] for r in rows if r["length"] == n and r["final"] is not None] or [numpy.nan])
                  for n in lengths]
        axes[1].plot(lengths, finals, marker="o", color=color, label=variant)
    axes[0].set_ylabel(f"share of {len(s['seeds'])} seeds at held-out MSE <= {TARGET}")
    axes[1].axhline(CHANCE_MSE, color="grey", linestyle=":", label="chance (1/6)")
    axes[1].axhline(TARGET, color="black", linestyle="--", linewidth=0.8, label=f"target {TARGET}")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("held-out MSE when the run stopped (median of seeds)")
    axes[1].set_title("Error reached")
    for ax in axes:
        convergence.log_lengths(ax, s["lengths"])
        ax.set_xlabel("sequence length")
        ax.legend(fontsize=7)
    convergence.save_figure(fig, axes, results, path, "Adding problem", "length")


def main() -> None:
    convergence.main(
        Adding(), __doc__, plot, name="adding_problem",
        extra_settings={"target_mse": TARGET, "chance_mse": CHANCE_MSE},
        defaults={"lengths": "50,100,200,500,1000", "budget": 3000, "lrs": "0.001,0.003,0.01", "tune_length": 50},
        quick={"variants": "rnn,lstm_chrono,gru", "lengths": "10,20", "seeds": "0", "budget": 200, "check": 50,
               "lrs": "0.003,0.01", "tune_length": 10, "tune_budget": 100, "tune_seeds": "0", "eval": 100},
    )


if __name__ == "__main__":
    main()
