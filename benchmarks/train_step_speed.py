"""Training speed on sentences: where an epoch's time goes, ours against spaCy's
TorchBiLSTMEncoder textcat, with 1 and 2 torch threads, in one process.

    python benchmarks/train_step_speed.py [--train training/benchmark/sst2/corpus/train.spacy]

Both pipelines are built exactly as ``textcat_benchmark.py`` builds them (same
training block: batch_by_words compounding from 100 to 1000 words, Adam,
dropout 0.2) and trained on the same examples in the same order. For each
thread count (after one untimed warm-up pass of each), the two models
alternate, ``--repeats`` times, each timing one pass of ``nlp.update`` over
``--limit`` examples; the median is reported as training words/s and as the
ratio of our seconds per epoch to the baseline's. Then one pass of ours is
profiled with cProfile (``--threads-profile``) and the functions with the
most total time are listed, so the split between the recurrent layer, the
embedding, attention pooling and spaCy's own update machinery is visible.
"""
import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import torch
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.util import registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
import textcat_benchmark as bench  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]


def build(model: str, train: Path):
    config = bench.build_config(model, bench.DATASETS["sst2"], train, train)
    nlp = init_nlp(config)
    batcher = registry.resolve({"b": config["training"]["batcher"]})["b"]
    return nlp, batcher


def one_pass(nlp, batcher, docs, profiler: Optional[cProfile.Profile] = None) -> float:
    """Seconds of one ``nlp.update`` pass over ``docs`` (fresh Examples and
    optimizer, built before the clock and the optional profiler start)."""
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.create_optimizer()
    if profiler:
        profiler.enable()
    start = time.perf_counter()
    for batch in batcher(examples):
        nlp.update(batch, sgd=optimizer, drop=0.2)
    seconds = time.perf_counter() - start
    if profiler:
        profiler.disable()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=ROOT / "training" / "benchmark" / "sst2" / "corpus" / "train.spacy")
    parser.add_argument("--limit", type=int, default=3000, help="examples per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads-profile", type=int, default=2)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if not args.train.exists():
        raise SystemExit(f"{args.train} not found: run `python benchmarks/textcat_benchmark.py --datasets sst2` "
                         "once (it converts SST-2), or pass --train.")

    models = {name: build(name, args.train) for name in (bench.DEFAULT_MODEL, bench.BILSTM_BASELINE)}
    docs = list(DocBin().from_disk(args.train).get_docs(models[bench.DEFAULT_MODEL][0].vocab))[: args.limit]
    random.Random(0).shuffle(docs)
    n_words = sum(len(doc) for doc in docs)
    report = {"examples": len(docs), "words": n_words, "torch": torch.__version__, "threads": {}}
    for name, (nlp, batcher) in models.items():  # warm-up: first-call costs out of the timings
        one_pass(nlp, batcher, docs[:200])
    for threads in args.threads:
        torch.set_num_threads(threads)
        times = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, (nlp, batcher) in models.items():
                times[name].append(one_pass(nlp, batcher, docs))
        medians = {name: statistics.median(t) for name, t in times.items()}
        report["threads"][threads] = {
            "words_per_s": {name: n_words / s for name, s in medians.items()},
            "s_per_epoch_x_baseline": medians[bench.DEFAULT_MODEL] / medians[bench.BILSTM_BASELINE],
        }
        print(f"threads {threads}: " + ", ".join(f"{name} {n_words / s:,.0f} words/s" for name, s in medians.items())
              + f"; ours / baseline seconds per epoch: {report['threads'][threads]['s_per_epoch_x_baseline']:.2f}",
              flush=True)

    torch.set_num_threads(args.threads_profile)
    nlp, batcher = models[bench.DEFAULT_MODEL]
    profiler = cProfile.Profile()
    one_pass(nlp, batcher, docs, profiler)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(f"cProfile of one pass of {bench.DEFAULT_MODEL}, {args.threads_profile} threads, by total time:")
    print(out.getvalue())
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
