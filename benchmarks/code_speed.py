"""Inference speed of two versions of the code, each on its own model, in
alternating processes: the question "is this release faster than that one?"
that ``saved_speed.py`` (one process, one version) cannot answer.

    git worktree add /tmp/spacy-rnn-v4 00e2389   # before the defaults issue
    python benchmarks/code_speed.py --old-code /tmp/spacy-rnn-v4 \\
        --old-config configs/sentiment_bilstm_vectors.cfg

Each version builds its pipeline in a process of its own (``PYTHONPATH`` puts
``--old-code`` first for the old one): the old one from ``--old-config`` (a
path inside the old tree: 00e2389's sentence vectors recipe is
``RNNTextCat.v4`` + static vectors + bigrams), the new one from
``nlp.add_pipe("rnn_textcat")``, both with the vectors of ``--vectors`` and
initialized on the first 200 records of the train split. Speed needs no
training: an initialized model does a trained one's computation per word.

Then ``--rounds`` rounds, each running one process a (version, thread count),
versions alternating; a process loads its saved pipeline, makes one warm-up
pass and ``--passes`` timed passes over the texts: ``nlp(text)`` one text at
a time, and ``nlp.pipe`` at each of ``--batch-sizes``. A cell keeps every
pass's seconds; its figure is the median over all passes of all rounds, and
``x_old`` the new version's words/s over the old one's.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2"


def build(config: str, vectors: str, train: Path, out: Path) -> None:
    """Child: save ``core_speed.build``'s pipeline of the ``rnn_textcat``
    component of ``config`` ("default": the factory default) with
    ``vectors``, initialized on the first records of ``train``."""
    from thinc.api import Config

    import spacy_rnn.architectures  # noqa: F401  (registers the version under test's names)
    from core_speed import build as build_pipeline, read_jsonl  # benchmarks/ is on sys.path as a script

    component = {}
    if config != "default":
        component = dict(Config().from_disk(config, interpolate=False)["components"]["rnn_textcat"])
        component.pop("factory")
    nlp = build_pipeline("rnn_textcat", component, read_jsonl(train), vectors=vectors)
    out.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)


def time_pipeline(path: Path, texts: Path, threads: int, batch_sizes: List[int], passes: int) -> Dict[str, Any]:
    """Child: seconds per pass for one text at a time and each batch size."""
    import spacy
    import torch

    import spacy_rnn.architectures  # noqa: F401
    from core_speed import read_jsonl
    from saved_speed import one_pass  # benchmarks/ is on sys.path when run as a script

    torch.set_num_threads(threads)
    nlp = spacy.load(path)
    strings = [r["text"] for r in read_jsonl(texts)]
    seconds: Dict[str, List[float]] = {}
    for batch_size in [None] + batch_sizes:
        key = "one text at a time" if batch_size is None else f"batch {batch_size}"
        one_pass(nlp, strings, batch_size)  # warm-up
        seconds[key] = [one_pass(nlp, strings, batch_size) for _ in range(passes)]
    return {"seconds": seconds, "words": sum(len(doc) for doc in nlp.tokenizer.pipe(strings)), "texts": len(strings)}


def child(code: Optional[Path], *args: str) -> str:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"child {args[:2]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def commit_of(tree: Path) -> str:
    done = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old-code", type=Path, help="a checkout of the older version")
    parser.add_argument("--old-config", default="configs/sentiment_bilstm_vectors.cfg", help="its recipe, inside --old-code")
    parser.add_argument("--vectors", default=str(ROOT / "assets" / "vectors_en_md"))
    parser.add_argument("--texts", type=Path, default=DATA / "dev.jsonl")
    parser.add_argument("--train", type=Path, default=DATA / "train.jsonl")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1000])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=ROOT / "training" / "code_speed")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "code_speed.json")
    parser.add_argument("--child-build", nargs=4, metavar=("CONFIG", "VECTORS", "TRAIN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-time", nargs=5, metavar=("PATH", "TEXTS", "THREADS", "BATCHES", "PASSES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        config, vectors, train, out = args.child_build
        build(config, vectors, Path(train), Path(out))
        return
    if args.child_time:
        path, texts, threads, batches, passes = args.child_time
        sizes = [int(b) for b in batches.split(",") if b]
        print(json.dumps(time_pipeline(Path(path), Path(texts), int(threads), sizes, int(passes))))
        return
    if args.old_code is None:
        parser.error("--old-code is required")

    old_code = args.old_code.resolve()
    versions = {"old": (old_code, str(old_code / args.old_config)), "new": (None, "default")}
    models = {}
    for name, (code, config) in versions.items():
        models[name] = args.workdir / name
        child(code, "--child-build", config, args.vectors, str(args.train), str(models[name]))
    batches = ",".join(map(str, args.batch_sizes))
    seconds: Dict[str, Dict[str, Dict[str, List[float]]]] = {}
    load_before = os.getloadavg()
    words = n_texts = 0
    for round_ in range(args.rounds):
        for threads in args.threads:
            # alternate which version goes first, so neither always follows the other
            for name in (["old", "new"] if round_ % 2 == 0 else ["new", "old"]):
                result = json.loads(child(versions[name][0], "--child-time", str(models[name]), str(args.texts),
                                          str(threads), batches, str(args.passes)))
                words, n_texts = result["words"], result["texts"]
                for key, runs in result["seconds"].items():
                    seconds.setdefault(key, {}).setdefault(str(threads), {}).setdefault(name, []).extend(runs)
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    results: Dict[str, Any] = {}
    for key, by_threads in seconds.items():
        for threads, by_name in by_threads.items():
            cell = results.setdefault(key, {}).setdefault(threads, {})
            for name, runs in by_name.items():
                median = statistics.median(runs)
                cell[name] = {"seconds": [round(r, 4) for r in runs], "words_per_s": round(words / median),
                              "ms_per_text": round(median / n_texts * 1000, 3),
                              "best_words_per_s": round(words / min(runs))}
            cell["x_old"] = round(cell["new"]["words_per_s"] / cell["old"]["words_per_s"], 2)
            cell["x_old_best"] = round(cell["new"]["best_words_per_s"] / cell["old"]["best_words_per_s"], 2)
            print(key, threads, {n: cell[n]["words_per_s"] for n in by_name}, "x_old", cell["x_old"], flush=True)
    report = {
        "texts": n_texts, "words": words, "corpus": str(args.texts),
        "versions": {"old": {"commit": commit_of(old_code), "config": args.old_config},
                     "new": {"commit": commit_of(ROOT), "config": 'nlp.add_pipe("rnn_textcat")'}},
        "rounds": args.rounds, "passes_per_round": args.passes,
        "cpus": os.cpu_count(), "machine": platform.machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
        "command": f"python benchmarks/code_speed.py --old-code <checkout of {commit_of(old_code)}> --old-config {args.old_config}",
    }
    args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
