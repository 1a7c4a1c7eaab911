"""What backpropagation through time costs here: one update against document length (issue 36).

    python benchmarks/bptt_cost.py [--lengths 100,250,500,1000,2500,5000] [--docs 8]

Our classifiers backpropagate through every token of a document: the
encoder keeps each step's activations for the backward pass, and the
backward pass walks the steps in reverse, one after another. The language
model of ``spacy pretrain`` instead reads its text in windows (truncated
BPTT), so its cost per window does not grow with the text.

For each cell, the default encoder's shape (``spacy_rnn.torch.RecurrentEncoder``:
width 128, bidirectional, one layer; two layers for the depth-gated LSTM,
which needs them) reads ``--docs`` documents of each length (64-wide input,
the default embedding width) and one update is timed: forward, a loss on the
mean-pooled states, backward. Reported per length: seconds per update
(median of ``--repeats`` after a warm-up), seconds per 1,000 tokens, and the
bytes of the tensors autograd saves for the backward pass (counted with
``torch.autograd.graph.saved_tensors_hooks``, exact and independent of the
allocator), the memory that grows with the document. One torch thread.
Writes ``benchmarks/bptt_cost.json`` and ``.png``.
"""
import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import torch

from spacy_rnn.torch import RecurrentEncoder

CELLS = ["rnn", "lstm", "gru", "clockwork", "dglstm"]
N_IN = 64
WIDTH = 128


def saved_bytes(function) -> int:
    """Bytes of the tensors autograd saves while ``function`` runs (each storage once)."""
    seen: Dict[Any, int] = {}

    def pack(tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function()
    return sum(seen.values())


def measure(cell: str, length: int, docs: int, repeats: int) -> Dict[str, Any]:
    torch.manual_seed(0)
    encoder = RecurrentEncoder(cell, N_IN, WIDTH, depth=2 if cell == "dglstm" else 1, bidirectional=True)
    X = torch.randn(docs * length, N_IN, requires_grad=True)
    lengths = [length] * docs

    def forward():
        return encoder(X, lengths).reshape(docs, length, -1).mean(dim=1).pow(2).sum()

    def update():
        encoder.zero_grad()
        forward().backward()

    memory = saved_bytes(forward)
    update()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        update()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"cell": cell, "length": length, "docs": docs, "tokens": docs * length, "update_s": round(seconds, 4),
            "s_per_1000_tokens": round(1000 * seconds / (docs * length), 5),
            "saved_for_backward_mb": round(memory / 2**20, 2),
            "saved_bytes_per_token": round(memory / (docs * length), 1)}


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for cell in results["settings"]["cells"]:
        rows = [r for r in results["rows"] if r["cell"] == cell]
        lengths = [r["length"] for r in rows]
        axes[0].plot(lengths, [r["update_s"] for r in rows], marker="o", label=cell)
        axes[1].plot(lengths, [r["saved_for_backward_mb"] for r in rows], marker="o", label=cell)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tokens per document")
        ax.grid(alpha=0.3, which="both")
    s = results["settings"]
    axes[0].set_ylabel(f"seconds per update ({s['docs']} documents)")
    axes[1].set_ylabel("activations saved for the backward pass (MB)")
    axes[0].legend()
    fig.suptitle(f"Backpropagation through time: one update of a bidirectional encoder, width {s['width']}, "
                 f"{s['threads']} thread")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--lengths", default="100,250,500,1000,2500,5000")
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".json")))
    parser.add_argument("--plot", default=str(Path(__file__).with_suffix(".png")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows: List[Dict[str, Any]] = []
    start = time.time()
    for cell in args.cells.split(","):
        for length in (int(x) for x in args.lengths.split(",")):
            row = measure(cell, length, args.docs, args.repeats)
            rows.append(row)
            print(json.dumps(row), flush=True)
    results = {"settings": {"cells": args.cells.split(","), "docs": args.docs, "repeats": args.repeats,
                            "width": WIDTH, "n_in": N_IN, "threads": args.threads},
               "machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "processor": platform.processor()},
               "wall_s": round(time.time() - start, 1), "rows": rows}
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
    plot(results, Path(args.plot))
    print(f"wrote {args.output} and {args.plot}")


if __name__ == "__main__":
    main()
