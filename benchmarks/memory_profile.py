"""Where does training memory go? ``nlp.update`` on a streamed corpus, with
the process's RSS and the Python heap that tracemalloc sees, every
``--every`` updates, and the allocation sites that grew most.

    python benchmarks/memory_profile.py corpus/imdb/train --steps 150 --output memory_profile.json

The pipeline is built from ``configs/sentiment_bilstm_long.cfg`` (untrained,
labels from the corpus), the examples come from
``spacy_rnn.StreamingCorpus.v1`` in batches of 64, as in the main job. RSS
that grows while the traced heap stays flat is native memory (PyTorch's
tensors, the C allocator), which tracemalloc cannot see; growth in the traced
heap is listed by file and line.
"""
import argparse
import json
import os
import time
import tracemalloc
from itertools import islice
from pathlib import Path

import spacy
from spacy.training.initialize import init_nlp
from thinc.api import Config

from spacy_rnn.data import StreamingCorpus
from spacy_rnn.memory import create_trim_memory

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path, help="a .spacy file or a folder of shards")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "sentiment_bilstm_long.cfg")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--buffer-size", type=int, default=4096)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--no-trace", action="store_true", help="RSS only (tracemalloc slows Python down)")
    parser.add_argument("--trim-every", type=int, default=0,
                        help="spacy_rnn.trim_memory.v1 with every = N: glibc's malloc_trim(0) before every N-th update (0: never)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    config = Config().from_disk(args.config, overrides={
        "paths.train": str(args.train), "paths.dev": str(args.train),
        "corpora.train.buffer_size": args.buffer_size,
    })
    nlp = init_nlp(config)
    optimizer = nlp.create_optimizer()
    corpus = StreamingCorpus(args.train, buffer_size=args.buffer_size)
    if not args.no_trace:
        tracemalloc.start(5)
    # the recipes' own [training.before_update] callback, called as spaCy's loop calls it
    before_update = create_trim_memory(every=args.trim_every) if args.trim_every else None
    rows, first = [], None
    start = time.perf_counter()
    stream = iter(())
    for step in range(args.steps + 1):
        batch = list(islice(stream, args.batch_size))
        if len(batch) < args.batch_size:
            stream = corpus(nlp)
            batch += list(islice(stream, args.batch_size - len(batch)))
        if before_update is not None:
            before_update(nlp, {"step": step, "epoch": 0})
        nlp.update(batch, sgd=optimizer, drop=0.2)
        if step % args.every == 0:
            traced = tracemalloc.get_traced_memory()[0] / 2**20 if not args.no_trace else None
            rows.append({"step": step, "seconds": round(time.perf_counter() - start, 1), "rss_mb": round(rss_mb(), 1),
                         "traced_mb": None if traced is None else round(traced, 1),
                         "strings": len(nlp.vocab.strings), "lexemes": len(nlp.vocab)})
            print(rows[-1], flush=True)
            if not args.no_trace:
                snapshot = tracemalloc.take_snapshot()
                if first is None:
                    first = snapshot
    top = []
    if not args.no_trace:
        for stat in snapshot.compare_to(first, "lineno")[:15]:
            frame = stat.traceback[0]
            top.append({"where": f"{frame.filename}:{frame.lineno}", "grew_mb": round(stat.size_diff / 2**20, 2),
                        "count_diff": stat.count_diff})
            print(f"{stat.size_diff / 2**20:+8.2f} MB {stat.count_diff:+8d} blocks  {frame.filename}:{frame.lineno}")
    if args.output:
        args.output.write_text(json.dumps({"rows": rows, "top_growth_since_step_0": top,
                                           "args": {k: str(v) for k, v in vars(args).items()},
                                           "load_average": os.getloadavg()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
