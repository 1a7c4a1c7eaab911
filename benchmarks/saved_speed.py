"""Inference speed of saved pipelines, as a user measures it: ``spacy.load``
and ``nlp.pipe`` (or ``nlp(text)`` for one sentence), nothing else.

Every pipeline named with ``--model NAME=PATH`` and spaCy's TextCatReduce +
TorchBiLSTMEncoder textcat with the same static vectors (built once,
initialized, saved under ``--baseline-dir`` and loaded back like the others)
are timed in one process, in alternation, on the same texts: one text at a
time with ``nlp(text)``, and ``nlp.pipe`` at each ``--batch-sizes``; at each
torch thread count of ``--threads``. Each cell is the median of ``--passes``
passes after a warm-up pass (and its best pass: on a shared machine single
passes vary by a third); within a pass, thread counts and models take turns. Ratios are within one run: each model against
the baseline at the same threads and batch, and two threads against one.

    python benchmarks/saved_speed.py \
        --model default=training/bench_defaults/sst2/rnn_default_vectors/model-best \
        --vectors assets/vectors_en_md --texts ../shared/data/sst2/dev.jsonl
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
BASELINE_NAME = "torch_bilstm_vectors"


def build_baseline(path: Path, vectors: str, records: List[Dict[str, Any]]) -> None:
    """spaCy's BiLSTM textcat of ``core_speed.py`` (width 128, depth 1) with
    static vectors, initialized on the first 200 records, saved at ``path``."""
    from thinc.api import Config

    from core_speed import BASELINE, build  # benchmarks/ is on sys.path when run as a script

    config = Config().from_str(BASELINE.format(width=128, depth=1))
    config["model"]["tok2vec"]["embed"]["include_static_vectors"] = True
    nlp = build("textcat", {"model": config["model"]}, records, vectors=vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)


def one_pass(nlp, texts: List[str], batch_size: Optional[int]) -> float:
    start = time.perf_counter()
    if batch_size is None:
        for text in texts:
            nlp(text)
    else:
        for _ in nlp.pipe(texts, batch_size=batch_size):
            pass
    return time.perf_counter() - start


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=PATH of a saved pipeline (repeatable)")
    parser.add_argument("--vectors", default="assets/vectors_en_md", help="the baseline's static vectors")
    parser.add_argument("--texts", type=Path, default=ROOT.parent / "shared" / "data" / "sst2" / "dev.jsonl")
    parser.add_argument("--baseline-dir", type=Path, default=ROOT / "training" / "saved_speed" / BASELINE_NAME)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1000])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "saved_speed.json")
    args = parser.parse_args(argv)

    import spacy
    import torch

    from core_speed import read_jsonl

    records = read_jsonl(args.texts)
    texts = [r["text"] for r in records]
    if not (args.baseline_dir / "config.cfg").exists():
        train = read_jsonl(args.texts.with_name("train.jsonl")) if args.texts.with_name("train.jsonl").exists() else records
        build_baseline(args.baseline_dir, args.vectors, train)
    paths = dict(item.split("=", 1) for item in args.model)
    paths[BASELINE_NAME] = str(args.baseline_dir)
    pipelines = {name: spacy.load(path) for name, path in paths.items()}
    n_words = sum(len(doc) for doc in pipelines[BASELINE_NAME].tokenizer.pipe(texts))
    cells: List[Optional[int]] = [None] + list(args.batch_sizes)  # None: nlp(text), one at a time
    default_threads = torch.get_num_threads()
    load_before = os.getloadavg()
    results: Dict[str, Any] = {}
    for batch_size in cells:
        key = "one text at a time" if batch_size is None else f"batch {batch_size}"
        # thread counts and models alternate within each pass, so that a slow
        # spell of the machine falls on all of them
        seconds: Dict[int, Dict[str, List[float]]] = {t: {name: [] for name in pipelines} for t in args.threads}
        for threads in args.threads:
            torch.set_num_threads(threads)
            for nlp in pipelines.values():
                one_pass(nlp, texts, batch_size)  # warm-up
        for _ in range(args.passes):
            for threads in args.threads:
                torch.set_num_threads(threads)
                for name, nlp in pipelines.items():
                    seconds[threads][name].append(one_pass(nlp, texts, batch_size))
        for threads in args.threads:
            cell = results.setdefault(key, {}).setdefault(str(threads), {})
            for name, values in seconds[threads].items():
                median = statistics.median(values)
                cell[name] = {"seconds": [round(v, 4) for v in values], "words_per_s": round(n_words / median),
                              "ms_per_text": round(median / len(texts) * 1000, 3),
                              "best_words_per_s": round(n_words / min(values)),
                              "best_ms_per_text": round(min(values) / len(texts) * 1000, 3)}
            for name in paths:
                if name != BASELINE_NAME:
                    ours, base = seconds[threads][name], seconds[threads][BASELINE_NAME]
                    cell[name]["x_baseline"] = round(statistics.median(base) / statistics.median(ours), 2)
                    cell[name]["x_baseline_best"] = round(min(base) / min(ours), 2)
            print(key, threads, {name: (c["words_per_s"], c["ms_per_text"], c.get("x_baseline")) for name, c in cell.items()},
                  flush=True)
    torch.set_num_threads(default_threads)
    for key, by_threads in results.items():
        if "1" in by_threads and "2" in by_threads:
            for name in paths:
                two, one = by_threads["2"][name], by_threads["1"][name]
                two["x_one_thread"] = round(two["words_per_s"] / one["words_per_s"], 2)
                two["x_one_thread_best"] = round(two["best_words_per_s"] / one["best_words_per_s"], 2)
    report = {
        "texts": len(texts),
        "words": n_words,
        "corpus": str(args.texts),
        "pipelines": {name: path for name, path in paths.items()},
        "passes": args.passes,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "versions": {"spacy": spacy.__version__, "torch": torch.__version__},
        "results": results,
        "command": "python benchmarks/saved_speed.py " + " ".join(f"--model {m}" for m in args.model),
    }
    args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
