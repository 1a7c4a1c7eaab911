"""Speed of the clockwork and depth-gated LSTM cells against the LSTM, in one process.

    python benchmarks/cell_speed.py [--docs 800] [--runs 5] [--threads 1] [--output cell_speed.json]

One bidirectional encoder layer (64 inputs, 128 outputs, i.e. 64 units a
direction; the depth-gated LSTM needs two layers, so it is timed at depth 2 and
compared with a 2-layer LSTM) on random-length documents of 5-40 tokens, as
``RecurrentEncoder`` sees them: tokens/s for inference (``no_grad``) and for
training (forward + backward), median of ``--runs`` runs after two warm-ups,
the variants alternating so that load from other processes hits all alike.
(The TorchScript on/off comparison that removed TorchScript from the clockwork
loop is in ``cell_speed_torchscript.json``, made by this script's first
version.)
"""
import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Dict

import numpy
import torch

from spacy_rnn.torch import RecurrentEncoder

N_IN = 64
WIDTH = 128


def time_encoder(enc: RecurrentEncoder, X: torch.Tensor, lengths, training: bool) -> float:
    """Seconds for one inference or one forward + backward pass."""
    x = X.clone().requires_grad_(training)
    start = time.perf_counter()
    if training:
        enc(x, lengths).sum().backward()
    else:
        with torch.no_grad():
            enc(x, lengths)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=800)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = numpy.random.default_rng(0)
    lengths = rng.integers(5, 41, size=args.docs)
    n_tokens = int(lengths.sum())
    torch.manual_seed(0)
    X = torch.randn(n_tokens, N_IN)
    variants = {
        "lstm": RecurrentEncoder("lstm", N_IN, WIDTH),
        "clockwork": RecurrentEncoder("clockwork", N_IN, WIDTH),
        "lstm_depth2": RecurrentEncoder("lstm", N_IN, WIDTH, depth=2),
        "dglstm_depth2": RecurrentEncoder("dglstm", N_IN, WIDTH, depth=2),
    }
    times: Dict[str, list] = {f"{name}_{mode}": [] for name in variants for mode in ("inference", "training")}
    for run in range(args.runs + 2):  # the first two runs warm up
        for name, enc in variants.items():
            for mode in ("inference", "training"):
                seconds = time_encoder(enc, X, lengths, mode == "training")
                if run >= 2:
                    times[f"{name}_{mode}"].append(seconds)
                    print(f"run {run - 1}: {name}_{mode} {n_tokens / seconds:.0f} tokens/s", flush=True)
    result = {
        "n_docs": args.docs,
        "n_tokens": n_tokens,
        "n_in": N_IN,
        "width": WIDTH,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "tokens_per_s": {key: round(n_tokens / statistics.median(t)) for key, t in times.items()},
    }
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
