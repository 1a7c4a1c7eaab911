"""Adaptive vs full softmax for LM pretraining: forward + backward time per batch.

    nice -n 19 env OMP_NUM_THREADS=1 python benchmarks/lm_softmax_speed.py --classes 10002 --width 64

Times :class:`spacy_rnn.pretraining.torch_lm_head.LanguageModelHead` on random states with
Zipf-distributed targets (as word frequencies are), on one thread.
"""
import argparse
import time

import numpy
import torch

from spacy_rnn.pretraining.torch_lm_head import LanguageModelHead


def time_head(head: LanguageModelHead, H: torch.Tensor, targets: torch.Tensor, repeats: int) -> float:
    head(H, targets).sum().backward()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        head.zero_grad()
        (-head(H, targets).mean()).backward()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=10002)
    parser.add_argument("--width", type=int, default=64, help="state width (one direction)")
    parser.add_argument("--rows", type=int, default=6000, help="predicted tokens per batch (3000 tokens x 2 directions)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = numpy.random.default_rng(0)
    targets = torch.from_numpy(numpy.minimum(rng.zipf(1.2, args.rows) - 1, args.classes - 1).astype("int64"))
    H = torch.randn(args.rows, args.width)
    for name in ("full", "adaptive"):
        head = LanguageModelHead(args.width, args.classes, output_layer=name, cutoffs=[2000, 10000])
        seconds = time_head(head, H, targets, args.repeats)
        clusters = head.cutoffs if head.adaptive is not None else "none"
        print(f"{name:8s} cutoffs={clusters} {seconds * 1000:8.1f} ms/batch  {args.rows / seconds:10.0f} predictions/s")


if __name__ == "__main__":
    main()
