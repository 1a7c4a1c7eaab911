"""Does training memory grow with the corpus? The same number of updates on
IMDB train and on a corpus ``--factor`` times larger (IMDB train repeated),
both as .spacy shards streamed by ``spacy_rnn.StreamingCorpus.v1``, with the
peak RSS and the RSS over time of each ``spacy train`` process.

    python benchmarks/memory_scaling.py --output benchmarks/memory_scaling.json --plot benchmarks/memory_scaling.png
    python benchmarks/memory_scaling.py --quick       # small slices: a smoke run

The corpora are written with ``write_shards`` (streaming: converting the
large corpus does not hold it either) under ``--work-dir``. Each run is
``python -m spacy train configs/sentiment_bilstm_long.cfg`` with
``--training.max_steps`` fixed, so both runs do the same work whatever the
corpus size; RSS is sampled from /proc every 0.2 s (the process and its
children). The JSON holds every sample, the peaks and their ratio.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

import spacy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spacy_rnn.data import Record, read_records, write_shards  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "imdb"


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in KiB."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def repeated(path: Path, factor: int, limit: int) -> Iterator[Record]:
    for _ in range(factor):
        for i, record in enumerate(read_records(path)):
            if limit and i >= limit:
                break
            yield record


def run_training(train: Path, dev: Path, out: Path, steps: int, extra: List[str]) -> dict:
    cmd = [sys.executable, "-m", "spacy", "train", str(ROOT / "configs" / "sentiment_bilstm_long.cfg"),
           "--output", str(out), "--paths.train", str(train), "--paths.dev", str(dev),
           "--training.max_steps", str(steps), "--training.eval_frequency", str(steps), *extra]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    start = time.perf_counter()
    samples = []
    with open(out.with_suffix(".log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        while proc.poll() is None:
            samples.append((round(time.perf_counter() - start, 2), rss_kib(proc.pid)))
            time.sleep(0.2)
    if proc.returncode != 0:
        raise SystemExit(f"spacy train failed ({proc.returncode}); see {out.with_suffix('.log')}")
    return {"seconds": round(time.perf_counter() - start, 1), "peak_rss_mb": round(max(s for _, s in samples) / 1024, 1),
            "samples": samples, "command": " ".join(cmd)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with train.jsonl and dev.jsonl")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "training" / "memory_scaling")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--steps", type=int, default=150, help="updates per run (batches of 64 reviews)")
    parser.add_argument("--shard-size", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=0, help="use the first N training reviews (0: all)")
    parser.add_argument("--quick", action="store_true", help="200 reviews, factor 3, 4 steps")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.limit, args.factor, args.steps, args.shard_size = 200, 3, 4, 100
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("en")
    dev = work / "dev"
    dev_limit = 200 if args.quick else 500
    write_shards(nlp, lambda: repeated(args.data / "dev.jsonl", 1, dev_limit), dev, shard_size=10**9)
    results = {}
    for name, factor in (("1x", 1), (f"{args.factor}x", args.factor)):
        shards = work / f"train_{name}"
        start = time.perf_counter()
        counts, n_shards = write_shards(nlp, lambda: repeated(args.data / "train.jsonl", factor, args.limit),
                                        shards, shard_size=args.shard_size)
        convert_s = time.perf_counter() - start
        print(f"{name}: {sum(counts.values()):,} reviews in {n_shards} shards ({convert_s:.0f} s)", flush=True)
        run = run_training(shards, dev, work / f"model_{name}", args.steps, [])
        run.update(reviews=sum(counts.values()), shards=n_shards, convert_seconds=round(convert_s, 1))
        results[name] = run
        print(f"{name}: peak RSS {run['peak_rss_mb']:,.0f} MB, {run['seconds']:.0f} s", flush=True)
    big = results[f"{args.factor}x"]
    growth = big["peak_rss_mb"] / results["1x"]["peak_rss_mb"] - 1
    report = {
        "steps": args.steps, "factor": args.factor, "runs": results, "peak_growth": round(growth, 4),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
    }
    print(f"peak RSS {results['1x']['peak_rss_mb']:,.0f} MB (1x) -> {big['peak_rss_mb']:,.0f} MB "
          f"({args.factor}x): {growth:+.1%}")
    if args.output:
        args.output.write_text(json.dumps(report, indent=1) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, run in results.items():
            t, kib = zip(*run["samples"])
            ax.plot(t, [k / 1024 for k in kib], label=f"{name}: {run['reviews']:,} reviews, peak {run['peak_rss_mb']:,.0f} MB")
        ax.set_xlabel("seconds")
        ax.set_ylabel("RSS (MB)")
        ax.set_title(f"spacy train, {args.steps} updates, streamed shards")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
