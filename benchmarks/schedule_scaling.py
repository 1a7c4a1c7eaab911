"""The recipes' schedules at corpus sizes from 500 to 225,000 documents, and
what the whole-review recipe reaches on the small ones.

For each size it resolves each recipe's ``[training]`` block against a real
corpus of that size (reviews2k subsampled to 500, reviews2k's 1,600 training
reviews, IMDB's 22,500, and IMDB's shards listed ten times for 225,000) and
records the updates, the evaluation frequency, how many evaluations there
are and how near the end the last one comes, and the warm-up. With
``--train SIZE:SEEDS`` it also trains ``configs/sentiment_bilstm_long_vectors.cfg``
with its defaults (``spacy train``, as a user runs it) on the 500 or 1,600
review corpus and records the reviews2k dev accuracy of ``model-best`` and
``model-last``.

    python benchmarks/schedule_scaling.py --output benchmarks/schedule_scaling.json \\
        --train 1600:0,1,2 --train 500:0 --vectors assets/vectors_en_md
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
RECIPES = ["sentiment_bilstm_long_vectors", "sentiment_bilstm_long", "sentiment_bilstm_vectors"]


def run(*args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


def corpora(data_dir: Path, work: Path) -> Dict[int, Dict[str, Path]]:
    """Training corpora of each size as .spacy shards (and the dev file they are scored on)."""
    work.mkdir(parents=True, exist_ok=True)
    reviews = [json.loads(line) for line in (data_dir / "reviews2k" / "train.jsonl").read_text().splitlines()]
    small = work / "reviews500.jsonl"
    if not small.exists():
        small.write_text("".join(json.dumps(r) + "\n" for r in random.Random(0).sample(reviews, 500)))
    sources = {500: small, 1600: data_dir / "reviews2k" / "train.jsonl", 22500: data_dir / "imdb" / "train.jsonl"}
    out: Dict[int, Dict[str, Path]] = {}
    for size, source in sources.items():
        shards = work / f"train{size}"
        if not shards.exists():
            run("-m", "spacy_rnn", "convert", str(source), str(shards), "--shard-size", "2000")
        out[size] = {"train": shards}
    # 225,000: IMDB's shards, each listed ten times under its own name (links, not copies)
    big = work / "train225000"
    if not big.exists():
        big.mkdir()
        for copy in range(10):
            for shard in sorted(out[22500]["train"].iterdir()):
                os.link(shard, big / f"c{copy}-{shard.name}")
    out[225000] = {"train": big}
    dev = work / "reviews2k-dev.spacy"
    if not dev.exists():
        run("-m", "spacy_rnn", "convert", str(data_dir / "reviews2k" / "dev.jsonl"), str(dev))
    for size in (500, 1600):
        out[size]["dev"] = dev
    return out


def schedule(recipe: str, train: Path) -> Dict[str, Any]:
    from spacy.util import registry
    from thinc.api import Config

    import spacy_rnn.schedule  # noqa: F401  (registers the functions)

    config = Config().from_disk(CONFIGS / f"{recipe}.cfg", overrides={"paths.train": str(train)})
    training = config["training"]
    resolved = registry.resolve({"t": {k: training[k] for k in ("max_steps", "eval_frequency")}})["t"]
    max_steps, frequency = resolved["max_steps"], resolved["eval_frequency"]
    lengths = spacy_rnn.schedule.document_lengths(train)
    rate = training["optimizer"]["learn_rate"]
    warmup = None
    if isinstance(rate, dict) and rate.get("@schedules") == "spacy_rnn.warmup_linear.v1":
        warmup = max(1, round(rate["warmup_fraction"] * max_steps))
    return {
        "documents": len(lengths),
        "updates": max_steps + 1,
        "eval_frequency": frequency,
        "evaluations": max_steps // frequency + 1,
        "last_evaluation": max_steps - max_steps % frequency,
        "updates_after_last_evaluation": max_steps % frequency,
        "warmup_steps": warmup,
    }


def train(size: int, corpus: Dict[str, Path], work: Path, vectors: str, seed: int) -> Dict[str, Any]:
    out = work / f"model{size}-seed{seed}"
    seconds = None
    if not (out / "model-last").exists():  # a finished run is reused
        start = time.time()
        run("-m", "spacy", "train", str(CONFIGS / "sentiment_bilstm_long_vectors.cfg"), "--output", str(out),
            "--paths.train", str(corpus["train"]), "--paths.dev", str(corpus["dev"]), "--paths.vectors", vectors,
            "--system.seed", str(seed))
        seconds = round(time.time() - start, 1)
    scores: Dict[str, Any] = {"seed": seed, "train_s": seconds}
    for name in ("model-best", "model-last"):
        metrics = out / f"{name}.json"
        run("-m", "spacy_rnn", "evaluate", str(out / name), str(corpus["dev"]), "--output", str(metrics))
        found = json.loads(metrics.read_text())
        # one gold label a review: micro-F is the accuracy
        scores[name] = {"accuracy": found["cats_micro_f"], "macro_f": found["cats_macro_f"]}
    return scores


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "training" / "schedule_scaling")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "schedule_scaling.json")
    parser.add_argument("--train", action="append", default=[], metavar="SIZE:SEEDS",
                        help="also train the whole-review recipe on the 500 or 1,600 review corpus with these "
                             "seeds, e.g. 1600:0,1,2 (repeatable)")
    parser.add_argument("--vectors", default=str(ROOT / "assets" / "vectors_en_md"))
    args = parser.parse_args(argv)
    sizes = corpora(args.data_dir, args.work_dir)
    result: Dict[str, Any] = {"schedules": {}, "trained": {}}
    for recipe in RECIPES:
        result["schedules"][recipe] = {str(size): schedule(recipe, c["train"]) for size, c in sizes.items()}
        print(recipe, json.dumps(result["schedules"][recipe]))
    for plan in args.train:
        size, seeds = plan.split(":")
        if int(size) not in (500, 1600):
            raise SystemExit(f"--train {plan}: train on 500 or 1600 reviews")
        result["trained"][size] = [train(int(size), sizes[int(size)], args.work_dir, args.vectors, int(seed))
                                   for seed in seeds.split(",")]
        print(size, json.dumps(result["trained"][size]))
    result["command"] = "python benchmarks/schedule_scaling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
