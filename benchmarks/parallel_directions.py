"""Both directions at once or one after the other: ``rnn_textcat`` on two
torch threads with the directions side by side (the default above
``MIN_TOKENS_FOR_PARALLEL_DIRECTIONS`` tokens) and one after the other
(the threshold raised out of reach), against one thread, in one process.

    python benchmarks/parallel_directions.py --output parallel_directions.json
    chrt -f 10 python benchmarks/parallel_directions.py   # on a shared machine (root): no other process takes a core

First, one LSTM layer pair (64 inputs, 64 units a direction, random
inputs, no graph) over buckets of several shapes: both directions on a
worker thread and the caller at once, against one after the other, all on
one intra-op thread (``--skip-layers`` to leave it out). Then whole pipelines.
Inference: SST-2 dev sentences (one at a time, and ``nlp.pipe`` batches of
64, 256, 1000) and reviews2k dev reviews (one at a time, batches of 64).
Training: one pass of ``nlp.update`` (fresh Adam, dropout 0.2) over 3,000
SST-2 training sentences in batches of 64 and 256 and 640 reviews2k reviews
in batches of 64. Untrained pipelines built as in ``core_speed.py``. Each
case runs the three modes in turn, ``--repeats`` times; the table shows
median words/s and the ratios to one thread.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from spacy.training import Example

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_speed import build, read_jsonl  # noqa: E402

from spacy_rnn.torch import threads  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODES = {"one thread": (1, None), "2 threads, side by side": (2, None), "2 threads, one after the other": (2, 10**9)}


def examples(nlp, records):
    labels = sorted({r["label"] for r in records})
    return [Example.from_dict(nlp.make_doc(r["text"]), {"cats": {l: float(l == r["label"]) for l in labels}})
            for r in records]


def infer(nlp, texts, batch_size):
    start = time.perf_counter()
    if batch_size == 1:
        for text in texts:
            nlp(text)
    else:
        list(nlp.pipe(texts, batch_size=batch_size))
    return time.perf_counter() - start


def train(nlp, egs, batch_size):
    optimizer = nlp.create_optimizer()
    start = time.perf_counter()
    for i in range(0, len(egs), batch_size):
        nlp.update(egs[i:i + batch_size], sgd=optimizer, drop=0.2)
    return time.perf_counter() - start


LAYER_SHAPES = [(1, 20, 1), (4, 20, 1), (11, 20, 6), (32, 20, 8), (64, 250, 1), (8, 250, 8)]


def layer_sweep(repeats: int) -> dict:
    """(documents, steps, buckets) -> median time side by side / one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(1)
    torch.manual_seed(0)
    forward, backward = torch.nn.LSTM(64, 64), torch.nn.LSTM(64, 64)
    pool = ThreadPoolExecutor(1, initializer=lambda: torch.set_num_threads(1))

    def one_after_the_other(xs):
        [forward(x)[0] for x in xs]
        [backward(x)[0] for x in xs]

    def side_by_side(xs):
        future = pool.submit(lambda: [forward(x)[0] for x in xs])
        [backward(x)[0] for x in xs]
        future.result()

    def timed(fn, xs, n=30):
        fn(xs)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn(xs)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    out = {}
    with torch.no_grad():
        for docs, steps, buckets in LAYER_SHAPES:
            xs = [torch.randn(steps, docs, 64) for _ in range(buckets)]
            ratios = [timed(side_by_side, xs) / timed(one_after_the_other, xs) for _ in range(repeats)]
            out[f"{buckets} x ({docs} docs, {steps} steps)"] = statistics.median(ratios)
            print(f"{buckets} bucket(s) of {docs} documents x {steps} steps: side by side / one after the other "
                  f"{out[f'{buckets} x ({docs} docs, {steps} steps)']:.2f}", flush=True)
    pool.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-layers", action="store_true")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    caller = torch.get_num_threads()
    layers = {} if args.skip_layers else layer_sweep(args.repeats)
    sst_dev = read_jsonl(args.data / "sst2" / "dev.jsonl")
    rev_dev = read_jsonl(args.data / "reviews2k" / "dev.jsonl")
    sst_train = read_jsonl(args.data / "sst2" / "train.jsonl")[:3000]
    rev_train = read_jsonl(args.data / "reviews2k" / "train.jsonl")[:640]
    sst, rev = build("rnn_textcat", {}, sst_train), build("rnn_textcat", {}, rev_train)
    sst_texts = [r["text"] for r in sst_dev] * 2
    rev_texts = [r["text"] for r in rev_dev][:200]
    cases = {
        "infer sst2 one at a time": (infer, sst, sst_texts[:300], 1),
        "infer sst2 batch 64": (infer, sst, sst_texts, 64),
        "infer sst2 batch 256": (infer, sst, sst_texts, 256),
        "infer sst2 batch 1000": (infer, sst, sst_texts, 1000),
        "infer reviews2k one at a time": (infer, rev, rev_texts[:40], 1),
        "infer reviews2k batch 64": (infer, rev, rev_texts, 64),
        "train sst2 batch 64": (train, sst, examples(sst, sst_train), 64),
        "train sst2 batch 256": (train, sst, examples(sst, sst_train), 256),
        "train reviews2k batch 64": (train, rev, examples(rev, rev_train), 64),
    }
    default_min = threads.MIN_TOKENS_FOR_PARALLEL_DIRECTIONS
    results = {case: {mode: [] for mode in MODES} for case in cases}
    words = {case: sum(len(eg.predicted) if isinstance(eg, Example) else len(nlp.make_doc(eg)) for eg in items)
             for case, (_, nlp, items, _) in cases.items()}
    for _ in range(args.repeats):
        for case, (fn, nlp, items, batch_size) in cases.items():
            for mode, (n_threads, min_tokens) in MODES.items():
                torch.set_num_threads(n_threads)
                threads.MIN_TOKENS_FOR_PARALLEL_DIRECTIONS = default_min if min_tokens is None else min_tokens
                if fn is infer:
                    infer(nlp, items[:50], batch_size)  # warm-up
                results[case][mode].append(words[case] / fn(nlp, items, batch_size))
    threads.MIN_TOKENS_FOR_PARALLEL_DIRECTIONS = default_min
    torch.set_num_threads(caller)
    table = {}
    print("| case | one thread, words/s | 2 threads side by side | 2 threads one after the other |")
    print("|---|---|---|---|")
    for case, by_mode in results.items():
        med = {mode: statistics.median(v) for mode, v in by_mode.items()}
        one = med["one thread"]
        table[case] = {"median_words_per_s": med, "side_by_side_over_one_thread": med["2 threads, side by side"] / one,
                       "one_after_the_other_over_one_thread": med["2 threads, one after the other"] / one}
        print(f"| {case} | {one:,.0f} | {table[case]['side_by_side_over_one_thread']:.2f}x | "
              f"{table[case]['one_after_the_other_over_one_thread']:.2f}x |")
    if args.output:
        import os
        import platform

        args.output.write_text(json.dumps({
            "layers_side_by_side_over_one_after_the_other": layers, "cases": table, "runs": results, "repeats": args.repeats,
            "min_tokens_for_parallel_directions": default_min,
            "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
                        "torch": torch.__version__},
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
