"""fastText supervised beside spacy-rnn: its dev accuracy with settings chosen
on held-out train data, its ``quantize``, and (``--timing``) its words/s
against ``nlp.add_pipe("rnn_textcat")`` in one process (issue 38).

    python benchmarks/fasttext_baseline.py             # accuracy, five corpora (minutes, one thread)
    python benchmarks/fasttext_baseline.py --timing    # speed only: run it alone on a quiet machine

Needs fastText (the ``benchmark`` extra: ``pip install -e .[benchmark]``,
which installs ``fasttext-numpy2-wheel``, fastText 0.9.2 prebuilt). Writes
``benchmarks/fasttext_baseline.json``; ``--timing`` adds its ``timing``
section to that file and leaves the accuracy sections as they are.

What the accuracy mode measures, per corpus of ``../shared/data`` (sst2,
sst5, trec, reviews2k, imdb):

- Preprocessing, the minimal one fastText users apply: lower-case, ``<br />``
  tags replaced by a space (IMDB's), whitespace runs collapsed to one space
  (fastText reads one document a line). Nothing else: the sentence corpora
  are already tokenized; the review corpora keep punctuation attached to
  words, since fastText splits on whitespace only. Labels become
  ``__label__<label>``.
- Selection: a validation split of 10% is carved from train
  (``heldout.carve``, ``random.Random(0)``); ``fasttext.train_supervised``
  trains on the rest for every point of a grid (wordNgrams 1, 2; epoch 5,
  10, 25; lr 0.1, 0.5, 1.0; dim 100, loss softmax, minCount 1, fastText's
  other defaults, 2,000,000 hash buckets for the bigrams) and the setting
  with the best validation accuracy is chosen (ties: validation macro-F,
  then fewer epochs, fewer n-grams, lower lr; a setting whose training
  diverges, which fastText reports as "Encountered NaN", is recorded and
  cannot be chosen). ``--reduced-grid`` corpora
  (default: imdb) drop epoch 25 to keep the run to minutes; the JSON says
  which grid each corpus had. Dev is not read until the choice is made.
- Final: the chosen setting retrained on the whole train split with seeds
  0, 1 and 2; dev scored once per seed: accuracy and macro-F (each label's
  F1 from its own counts, averaged over the labels; a label with no gold and
  no predicted dev document is left out). The headline is seed 0, the
  repeats give median and range.
- Threads: ``thread=1`` throughout. fastText trains Hogwild-style, so with
  several threads two runs differ; with one thread and a fixed seed a run is
  reproducible, which the script checks (seed 0 trained twice, with other
  trainings between: identical dev predictions and output matrix). One
  catch of fastText 0.9.2: its random initialization fills one tenth of the
  input matrix per thread (``DenseMatrix::uniform``, fastText issues #935 and
  #1061), so with one thread the rows past the first tenth (the rarer words
  and most n-gram buckets) start at zero in fresh memory, and at whatever a
  freed earlier model left there when the allocator reuses it: in one
  process, a model then depends on the models trained before it. The
  script sets glibc's mmap threshold (``mallopt``) so that every matrix gets
  fresh zeroed pages: each training is what ``fasttext supervised -thread 1``
  does in a new process. It also means the seed only moves the first tenth's
  initial values: the three seeds differ little. Training seconds are
  recorded but were measured beside other jobs: not speed numbers.
- ``quantize``: the seed-0 model quantized with ``qnorm=True``,
  ``retrain=True`` (the chosen epoch and lr) and ``cutoff`` = the number of
  distinct features seen in train (unigrams, plus bigrams with
  wordNgrams 2), at most 100,000 (fastText retrains only when the cutoff
  drops rows); dev accuracy, macro-F and the saved size (MB = 2**20 bytes,
  ``save_model``'s file) before and after.

What ``--timing`` measures (a separate run, one process; default SST-2 dev
and the first 500 IMDB dev reviews, ``--corpora`` and ``--limit`` to
change): fastText ``predict`` over the dev texts as one list (k=1), and
``spacy.blank("en")`` with ``nlp.add_pipe("rnn_textcat")`` (the factory
default, no vectors), initialized on 64 train documents (its speed does not
depend on training), over the same texts with ``nlp.pipe(texts,
batch_size=1000)``; both get the preprocessed texts. One warm-up pass each,
then 5 passes alternating; words/s from the median pass; words are the
texts' whitespace tokens for both. torch at 1 thread; fastText's predict is
single-threaded. The fastText model is the chosen setting (read from the
JSON's accuracy section; a fixed fallback, recorded, if there is none)
trained on the whole train split, seed 0, and its quantized copy (the
mmap threshold is left alone here: it would slow torch's temporaries; the
weights' values do not change fastText's speed). It records the torch
threads, CPU count, load average and versions.
"""
import argparse
import itertools
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from heldout import DATA, ROOT, carve, read_jsonl

CORPORA = ["sst2", "sst5", "trec", "reviews2k", "imdb"]
GRID = {"wordNgrams": [1, 2], "epoch": [5, 10, 25], "lr": [0.1, 0.5, 1.0]}
REDUCED_EPOCHS = [5, 10]
FIXED = {"dim": 100, "loss": "softmax", "minCount": 1, "thread": 1, "verbose": 0}
SEEDS = [0, 1, 2]
CUTOFF_MAX = 100_000
TIMING_CORPORA = ["sst2", "imdb"]
TIMING_LIMITS = {"imdb": 500}
FALLBACK_SETTING = {"wordNgrams": 2, "epoch": 5, "lr": 0.5}
PREFIX = "__label__"
BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
PACKAGE = "fasttext-numpy2-wheel"
LITERATURE = (
    "Joulin et al. 2017 (Bag of Tricks for Efficient Text Classification) report fastText on AG News, "
    "Sogou, DBpedia, Yelp, Yahoo Answers and Amazon (and YFCC100M tags), not on SST-2, SST-5, TREC, "
    "the Pang & Lee reviews or IMDB; there is no published fastText number for these corpora to compare with."
)


def fresh_matrices() -> bool:
    """glibc: allocations from 128 KiB up always mmap'ed (zeroed pages), never reused heap memory.

    Setting M_MMAP_THRESHOLD turns off glibc's dynamic threshold, which otherwise rises to the size of
    a freed matrix (up to 32 MiB) and hands the next model the previous one's memory; fastText with
    one thread leaves nine tenths of its input matrix as allocated (see the module docstring).
    """
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024) == 1  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


def preprocess(text: str) -> str:
    """Lower-cased, ``<br />`` tags replaced by a space, whitespace runs collapsed."""
    return " ".join(BR.sub(" ", text).lower().split())


def write_fasttext_file(rows: Sequence[Dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf8") as f:
        for row in rows:
            f.write(f"{PREFIX}{row['label']} {preprocess(row['text'])}\n")


def predict_labels(model, texts: List[str]) -> List[str]:
    labels, _ = model.predict(texts, k=1)
    return [found[0][len(PREFIX):] for found in labels]


def scores(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> Dict[str, Any]:
    """Accuracy and macro-F (per-label F1 averaged over the labels that occur in gold or predictions)."""
    per_label = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, predicted))
        fp = sum(g != label and p == label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        if tp + fp + fn == 0:
            continue
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per_label[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    return {"accuracy": round(accuracy, 4), "macro_f": round(statistics.mean(per_label.values()), 4),
            "f1_per_label": {label: round(f, 4) for label, f in per_label.items()}}


def train(path: Path, setting: Dict[str, Any], seed: int):
    import fasttext

    return fasttext.train_supervised(input=str(path), seed=seed, **FIXED, **setting)


def grid_for(corpus: str, reduced: Sequence[str]) -> Dict[str, List[Any]]:
    return {**GRID, "epoch": REDUCED_EPOCHS} if corpus in reduced else dict(GRID)


def settings(grid: Dict[str, List[Any]]) -> List[Dict[str, Any]]:
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def choose(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Best validation accuracy; ties: macro-F, then fewer epochs, fewer n-grams, lower lr."""
    return max(runs, key=lambda r: (r["val"]["accuracy"], r["val"]["macro_f"], -r["setting"]["epoch"],
                                    -r["setting"]["wordNgrams"], -r["setting"]["lr"]))["setting"]


def distinct_features(rows: Sequence[Dict[str, Any]], word_ngrams: int) -> int:
    """Distinct unigrams (and, for wordNgrams 2, bigrams with fastText's end-of-line token) in ``rows``."""
    features = set()
    for row in rows:
        words = preprocess(row["text"]).split()
        features.update(words)
        if word_ngrams >= 2:
            line = words + ["</s>"]
            features.update(zip(line, line[1:]))
    return len(features)


def saved_mb(model, path: Path) -> float:
    model.save_model(str(path))
    size = path.stat().st_size / 2**20
    path.unlink()
    return round(size, 2)


def model_args(model) -> Dict[str, Any]:
    args = model.f.getArgs()
    names = ["dim", "ws", "epoch", "minCount", "neg", "wordNgrams", "bucket", "minn", "maxn", "lrUpdateRate",
             "t", "lr", "thread", "seed"]
    out = {name: getattr(args, name) for name in names if hasattr(args, name)}
    out["loss"] = str(args.loss).split(".")[-1]
    return out


def versions() -> Dict[str, Any]:
    out = {"python": platform.python_version()}
    for name in (PACKAGE, "numpy", "spacy", "thinc", "torch", "spacy-rnn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def seconds(start: float) -> float:
    return round(time.perf_counter() - start, 2)


def accuracy_corpus(corpus: str, reduced: Sequence[str], work: Path) -> Dict[str, Any]:
    import numpy

    train_rows = read_jsonl(DATA / corpus / "train.jsonl")
    fit_rows, val_rows = carve(train_rows)
    labels = sorted({row["label"] for row in train_rows})
    fit_path, train_path = work / f"{corpus}-fit.txt", work / f"{corpus}-train.txt"
    write_fasttext_file(fit_rows, fit_path)
    write_fasttext_file(train_rows, train_path)
    val_texts, val_gold = [preprocess(r["text"]) for r in val_rows], [r["label"] for r in val_rows]

    grid = grid_for(corpus, reduced)
    runs = []
    for setting in settings(grid):
        start = time.perf_counter()
        try:
            model = train(fit_path, setting, seed=0)
        except RuntimeError as error:  # fastText stops with "Encountered NaN" when the rate is too high
            runs.append({"setting": setting, "val": None, "diverged": str(error), "train_s": seconds(start)})
            print(corpus, setting, "diverged:", error, flush=True)
            continue
        train_s = seconds(start)
        runs.append({"setting": setting, "val": scores(val_gold, predict_labels(model, val_texts), labels),
                     "train_s": train_s})
        del model
        print(corpus, setting, runs[-1]["val"]["accuracy"], runs[-1]["val"]["macro_f"], f"{train_s}s", flush=True)
    chosen = choose([run for run in runs if run["val"] is not None])
    for run in runs:
        if run["val"] is not None:
            del run["val"]["f1_per_label"]

    # Dev is read only now, after the choice.
    dev_rows = read_jsonl(DATA / corpus / "dev.jsonl")
    dev_texts, dev_gold = [preprocess(r["text"]) for r in dev_rows], [r["label"] for r in dev_rows]
    finals, seed0 = [], None
    for seed in SEEDS:
        start = time.perf_counter()
        try:
            model = train(train_path, chosen, seed=seed)
        except RuntimeError as error:
            finals.append({"seed": seed, "diverged": str(error), "train_s": seconds(start)})
            print(corpus, "final seed", seed, "diverged:", error, flush=True)
            if seed == 0:
                raise SystemExit(f"{corpus}: the chosen setting {chosen} diverged with seed 0")
            continue
        train_s = seconds(start)
        finals.append({"seed": seed, **scores(dev_gold, predict_labels(model, dev_texts), labels),
                       "train_s": train_s})
        print(corpus, "final seed", seed, finals[-1]["accuracy"], finals[-1]["macro_f"], flush=True)
        if seed == 0:
            seed0 = model
        else:
            del model

    # thread=1, same seed: the same model?
    again = train(train_path, chosen, seed=0)
    labels0, probs0 = seed0.predict(dev_texts, k=1)
    labels1, probs1 = again.predict(dev_texts, k=1)
    reproducible = {
        "seed0_trained_twice": True,
        "same_dev_predictions": labels0 == labels1 and all(numpy.array_equal(a, b) for a, b in zip(probs0, probs1)),
        "same_output_matrix": bool(numpy.array_equal(seed0.get_output_matrix(), again.get_output_matrix())),
    }
    del again

    cutoff = min(CUTOFF_MAX, distinct_features(train_rows, chosen["wordNgrams"]))
    size_before = saved_mb(seed0, work / f"{corpus}.bin")
    args = model_args(seed0)
    start = time.perf_counter()
    seed0.quantize(input=str(train_path), qnorm=True, retrain=True, cutoff=cutoff, thread=1)
    quantize_s = seconds(start)
    quantized = scores(dev_gold, predict_labels(seed0, dev_texts), labels)
    size_after = saved_mb(seed0, work / f"{corpus}.ftz")
    del seed0
    for path in (fit_path, train_path):
        path.unlink()

    accuracies = [f["accuracy"] for f in finals if "accuracy" in f]
    macro_fs = [f["macro_f"] for f in finals if "macro_f" in f]
    return {
        "sizes": {"fit": len(fit_rows), "val": len(val_rows), "train": len(train_rows), "dev": len(dev_rows)},
        "labels": labels,
        "grid": grid,
        "grid_reduced": corpus in reduced,
        "validation_runs": runs,
        "chosen": chosen,
        "fasttext_args": args,
        "dev": {k: finals[0][k] for k in ("accuracy", "macro_f", "f1_per_label")},
        "dev_seeds": {
            "seeds": SEEDS, "runs": finals, "diverged": [f["seed"] for f in finals if "diverged" in f],
            "accuracy": {"median": statistics.median(accuracies), "min": min(accuracies), "max": max(accuracies)},
            "macro_f": {"median": statistics.median(macro_fs), "min": min(macro_fs), "max": max(macro_fs)},
        },
        "reproducibility": reproducible,
        "quantize": {
            "settings": {"qnorm": True, "retrain": True, "cutoff": cutoff, "dsub": 2, "thread": 1,
                         "epoch": chosen["epoch"], "lr": chosen["lr"]},
            "seconds": quantize_s,
            "size_mb": {"model": size_before, "quantized": size_after},
            "dev": {"model": {k: finals[0][k] for k in ("accuracy", "macro_f")},
                    "quantized": {k: quantized[k] for k in ("accuracy", "macro_f")}},
        },
    }


def run_accuracy(args: argparse.Namespace, result: Dict[str, Any]) -> None:
    result.setdefault("corpora", {})
    result.update({
        "what": "fastText supervised: settings chosen on a validation split carved from train, dev scored once "
                "per seed of the final training; quantize of the seed-0 model",
        "preprocessing": "lower-case; <br /> tags replaced by a space; whitespace runs collapsed; labels as "
                         "__label__<label>. No other tokenization.",
        "selection": {"validation": "heldout.carve: 10% of train, random.Random(0)", "metric": "accuracy",
                      "ties": "validation macro-F, then fewer epochs, fewer wordNgrams, lower lr",
                      "grid": GRID, "reduced_grid_epochs": REDUCED_EPOCHS, "fixed": FIXED,
                      "grid_seed": 0},
        "threads": "thread=1 for training, quantize and predict: fastText's multithreaded (Hogwild) training "
                   "is not bit-reproducible; one thread with a fixed seed is (checked per corpus).",
        "initialization": "fastText 0.9.2 initializes one tenth of the input matrix per thread (issues #935, "
                          "#1061): with thread=1 the rows past the first tenth start at zero. Every matrix is "
                          "allocated on fresh zeroed pages (glibc mmap threshold fixed with mallopt), so a "
                          "model does not inherit a freed earlier model's memory; the seed moves only the first "
                          "tenth's initial values.",
        "fresh_matrices": args.fresh_matrices,
        "macro_f": "per-label F1 from the label's own counts, averaged over the labels with any gold or "
                   "predicted dev document",
        "size_mb": "save_model file size, MB = 2**20 bytes",
        "literature": LITERATURE,
        "accuracy_command": "python benchmarks/fasttext_baseline.py " + " ".join(sys.argv[1:]),
        "accuracy_versions": versions(),
        "accuracy_machine": {"cpu": cpu_model(), "cpu_count": os.cpu_count(),
                             "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                             "note": "run beside other jobs; train_s and quantize seconds are not speed numbers"},
    })
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in args.corpora:
            start = time.perf_counter()
            result["corpora"][corpus] = accuracy_corpus(corpus, args.reduced_grid, Path(tmp))
            result["corpora"][corpus]["wall_s"] = seconds(start)
            write(args.output, result)


def words_per_s(n_words: int, passes: List[float]) -> float:
    return round(n_words / statistics.median(passes), 1)


def timing_corpus(corpus: str, limit: Optional[int], passes: int, chosen: Optional[Dict[str, Any]],
                  work: Path) -> Dict[str, Any]:
    import spacy
    from spacy.training import Example
    from thinc.api import fix_random_seed

    train_rows = read_jsonl(DATA / corpus / "train.jsonl")
    dev_rows = read_jsonl(DATA / corpus / "dev.jsonl")
    limit = limit if limit is not None else TIMING_LIMITS.get(corpus)
    if limit is not None:
        dev_rows = dev_rows[:limit]
    texts = [preprocess(r["text"]) for r in dev_rows]
    n_words = sum(len(t.split()) for t in texts)

    setting = chosen or FALLBACK_SETTING
    train_path = work / f"{corpus}-train.txt"
    write_fasttext_file(train_rows, train_path)
    ft = train(train_path, setting, seed=0)
    ft_quantized = train(train_path, setting, seed=0)
    cutoff = min(CUTOFF_MAX, distinct_features(train_rows, setting["wordNgrams"]))
    ft_quantized.quantize(input=str(train_path), qnorm=True, retrain=True, cutoff=cutoff, thread=1)
    train_path.unlink()

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    labels = sorted({r["label"] for r in train_rows})
    examples = [Example.from_dict(nlp.make_doc(preprocess(r["text"])),
                                  {"cats": {label: float(label == r["label"]) for label in labels}})
                for r in train_rows[:64]]
    nlp.initialize(lambda: examples)

    systems = {
        "fasttext": lambda: ft.predict(texts, k=1),
        "fasttext_quantized": lambda: ft_quantized.predict(texts, k=1),
        "rnn_textcat": lambda: list(nlp.pipe(texts, batch_size=1000)),
    }
    for run in systems.values():  # warm-up
        run()
    times: Dict[str, List[float]] = {name: [] for name in systems}
    for _ in range(passes):
        for name, run in systems.items():
            start = time.perf_counter()
            run()
            times[name].append(round(time.perf_counter() - start, 7))
    start = time.perf_counter()
    for r in dev_rows:
        preprocess(r["text"])
    preprocess_s = time.perf_counter() - start
    speed = {name: words_per_s(n_words, t) for name, t in times.items()}
    out = {
        "texts": len(texts), "words": n_words, "limit": limit,
        "fasttext_setting": setting, "setting_source": "chosen on validation" if chosen else "fallback",
        "seconds": times, "words_per_s": speed,
        "fasttext_over_rnn_textcat": round(speed["fasttext"] / speed["rnn_textcat"], 2),
        "fasttext_quantized_over_rnn_textcat": round(speed["fasttext_quantized"] / speed["rnn_textcat"], 2),
        "preprocess_words_per_s": round(n_words / preprocess_s, 1) if preprocess_s else None,
    }
    print(corpus, json.dumps(speed), flush=True)
    return out


def run_timing(args: argparse.Namespace, result: Dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(1)
    timing: Dict[str, Any] = {
        "fresh_matrices": args.fresh_matrices,
        "command": "python benchmarks/fasttext_baseline.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "versions": versions(),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(), "fasttext_thread": 1,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "method": "one process; fastText predict(list, k=1) and nlp.pipe(batch_size=1000) of spacy.blank('en') + "
                  "add_pipe('rnn_textcat') initialized on 64 train documents, on the same preprocessed dev "
                  "texts; one warm-up pass each, then passes alternating; words/s = whitespace tokens / median "
                  "pass. preprocess_words_per_s: the preprocessing alone, not included in fastText's number.",
        "passes": args.passes,
        "corpora": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in args.corpora:
            chosen = result.get("corpora", {}).get(corpus, {}).get("chosen")
            timing["corpora"][corpus] = timing_corpus(corpus, args.limit, args.passes, chosen, Path(tmp))
    timing["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["timing"] = timing
    write(args.output, result)


def write(path: Path, result: Dict[str, Any]) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=CORPORA, default=None,
                        help=f"default: all five (accuracy), {' '.join(TIMING_CORPORA)} (--timing)")
    parser.add_argument("--timing", action="store_true", help="measure words/s only (run it on a quiet machine)")
    parser.add_argument("--limit", type=int, default=None,
                        help="--timing: dev texts per corpus (default: all; IMDB 500)")
    parser.add_argument("--passes", type=int, default=5, help="--timing: timed passes after the warm-up")
    parser.add_argument("--reduced-grid", nargs="*", default=["imdb"], choices=CORPORA,
                        help=f"corpora whose grid drops epoch 25 (epochs {REDUCED_EPOCHS})")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "fasttext_baseline.json",
                        help="the JSON to write; --timing adds its section to it, keeping the rest")
    args = parser.parse_args(argv)
    if args.corpora is None:
        args.corpora = TIMING_CORPORA if args.timing else CORPORA
    # Accuracy mode only, before fastText allocates anything; not in --timing, where an mmap for every
    # allocation from 128 KiB up would slow torch's and numpy's temporaries and tilt the comparison.
    args.fresh_matrices = False if args.timing else fresh_matrices()
    result = json.loads(args.output.read_text(encoding="utf8")) if args.output.exists() else {}
    if args.timing:
        run_timing(args, result)
    else:
        run_accuracy(args, result)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
