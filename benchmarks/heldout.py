"""Shared by the benchmarks that choose a setting on held-out train data.

A validation split is carved from a corpus's train split (the same documents
for every variant and seed); models train with ``spacy train`` on the rest,
``model-best`` is picked on the validation split, and the dev split is scored
once per run, never used to choose.
"""
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    with path.open(encoding="utf8") as f:
        return [json.loads(line) for line in f if line.strip()]


def gold_labels(row: Dict[str, Any]) -> List[str]:
    """A row's labels: its "labels" (a list: multi-label) or its one "label"."""
    return list(row["labels"]) if "labels" in row else [row["label"]]


def label_counts(rows: Iterable[Dict[str, Any]]) -> Dict[str, int]:
    """Documents per label, in label order."""
    counts: Dict[str, int] = {}
    for row in rows:
        for label in gold_labels(row):
            counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def accuracy(pairs: Sequence[tuple], labels: Sequence[str]) -> float:
    """The share of (predicted cats, gold cats) pairs whose most probable label is the gold one."""
    return sum(max(labels, key=p.__getitem__) == max(labels, key=g.__getitem__) for p, g in pairs) / len(pairs)


def write_docbin(rows: Iterable[Dict[str, Any]], labels: Sequence[str], path: Path) -> None:
    """Rows with a "label" (one label) or "labels" (a list: multi-label) as a .spacy file."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    db = DocBin(store_user_data=False)
    for row in rows:
        gold = set(gold_labels(row))
        doc = nlp.make_doc(row["text"])
        doc.cats = {label: float(label in gold) for label in labels}
        db.add(doc)
    db.to_disk(path)


def carve(rows: List[Dict[str, Any]], fraction: float = 0.1, seed: int = 0):
    """(fit, validation): ``fraction`` of ``rows`` held out, in a seeded random order."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = int(len(rows) * fraction)
    return [rows[i] for i in order[n_val:]], [rows[i] for i in order[:n_val]]


def write_splits(name: str, train: List[Dict[str, Any]], dev: List[Dict[str, Any]], labels: Sequence[str],
                 work: Path) -> Dict[str, Any]:
    """The fit, validation and dev .spacy files of one corpus."""
    fit_rows, val_rows = carve(train)
    paths = {split: work / f"{name}-{split}.spacy" for split in ("train", "val", "dev")}
    for split, rows in (("train", fit_rows), ("val", val_rows), ("dev", dev)):
        write_docbin(rows, labels, paths[split])
    return {"paths": paths, "labels": list(labels),
            "sizes": {"train": len(fit_rows), "val": len(val_rows), "dev": len(dev)}}


def spacy_train(config: Path, train: Path, val: Path, out: Path, seed: int,
                overrides: Optional[Dict[str, str]] = None, code: Optional[Path] = None) -> float:
    """``python -m spacy train`` as a user runs it; returns the wall time in seconds."""
    command = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
               "--paths.train", str(train), "--paths.dev", str(val), "--system.seed", str(seed)]
    for key, value in (overrides or {}).items():
        command += [f"--{key}", value]
    if code is not None:
        command += ["--code", str(code)]
    start = time.time()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"spacy train failed ({' '.join(command)}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return round(time.time() - start, 1)


def predictions(model: Path, corpus: Path, component: str):
    """(nlp, pipe, [(predicted cats, gold cats)]) of ``model`` on a .spacy file."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.load(model)
    gold = list(DocBin().from_disk(corpus).get_docs(nlp.vocab))
    predicted = nlp.pipe((doc.text for doc in gold), batch_size=1000)
    return nlp, nlp.get_pipe(component), [(dict(p.cats), dict(g.cats)) for p, g in zip(predicted, gold)]


def exclusive_scores(model: Path, corpus: Path, component: str = "rnn_textcat") -> Dict[str, float]:
    """Accuracy, spaCy's macro-F, ECE and Brier score of an exclusive classifier."""
    _, pipe, pairs = predictions(model, corpus, component)
    return pair_scores(pipe, pairs)


def pair_scores(pipe, pairs: Sequence[tuple]) -> Dict[str, float]:
    """Accuracy, spaCy's macro-F, ECE and Brier score of an exclusive
    classifier ``pipe``'s (predicted cats, gold cats) pairs."""
    from spacy_rnn.inference.calibration import calibration_scores
    from spacy_rnn.inference.evaluate import _Cats, _ScoredExample

    scores = pipe.score([_ScoredExample(_Cats(p), _Cats(g)) for p, g in pairs])
    calibration = calibration_scores(pairs, list(pipe.labels), exclusive=True)
    return {"accuracy": accuracy(pairs, list(pipe.labels)), "macro_f": scores["cats_macro_f"],
            "ece": calibration["cats_ece"], "brier": calibration["cats_brier"]}


def summary(runs: List[Dict[str, Any]], get: Callable[[Dict[str, Any]], Dict[str, float]]) -> Dict[str, Any]:
    """Median, range and mean over seeds of every score ``get`` picks from a run."""
    out = {}
    for key in get(runs[0]):
        values = [get(run)[key] for run in runs]
        out[key] = {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
                    "max": round(max(values), 4), "mean": round(statistics.mean(values), 4)}
    return out
