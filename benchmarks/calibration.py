"""Calibration of the factory default before and after temperature scaling
(issue 37's target: the ECE after scaling at most half of the value before).

    python benchmarks/calibration.py --output benchmarks/calibration.json

For each trained model of ``benchmarks/defaults`` (the factory default with
vectors, ``training/bench_defaults/CORPUS/rnn_default_vectors*``: SST-2,
SST-5 and TREC, seeds 0-2), the dev split is scored once at temperature 1.
The temperature is then fitted on one half of dev and measured on the other,
and the other way round (two-fold cross-fitting over a seeded shuffle), so
no document is scored with a temperature fitted on it; the held-out halves
together give the "after" scores. ECE: 15 bins, the top label
(:mod:`spacy_rnn.inference.calibration`). Accuracy cannot change: scaling
keeps the most probable label (checked).
"""
import argparse
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("sst2", "sst5", "trec")
RUNS = ("rnn_default_vectors", "rnn_default_vectors-seed1", "rnn_default_vectors-seed2")


def predict(model: Path, dev: Path) -> Tuple[List[Tuple[Dict[str, float], Dict[str, float]]], List[str]]:
    """(predicted cats, gold cats) of every dev document at temperature 1, and the labels."""
    import spacy

    nlp = spacy.load(model)
    name = [n for n in nlp.pipe_names if hasattr(nlp.get_pipe(n), "temperature")][-1]
    pipe = nlp.get_pipe(name)
    pipe.temperature = 1.0
    labels = list(pipe.labels)
    records = [json.loads(line) for line in dev.read_text(encoding="utf8").splitlines() if line.strip()]
    docs = nlp.pipe((r["text"] for r in records), batch_size=256)
    return [(dict(doc.cats), {label: float(label == r["label"]) for label in labels})
            for doc, r in zip(docs, records)], labels


def scaled_pairs(pairs, labels, temperature):
    import numpy

    from spacy_rnn.temperature import scale

    scores = scale(numpy.asarray([[p[label] for label in labels] for p, _ in pairs]), temperature, True)
    return [(dict(zip(labels, row.tolist())), y) for row, (_, y) in zip(scores, pairs)]


def accuracy(pairs, labels) -> float:
    return sum(max(labels, key=p.__getitem__) == max(labels, key=y.__getitem__) for p, y in pairs) / len(pairs)


def evaluate_model(model: Path, dev: Path, seed: int = 0) -> Dict[str, Any]:
    from spacy_rnn.inference.calibration import calibration_scores
    from spacy_rnn.temperature import fit_temperature

    pairs, labels = predict(model, dev)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    halves = [order[: len(order) // 2], order[len(order) // 2:]]
    after: List[Tuple[Dict[str, float], Dict[str, float]]] = []
    temperatures = []
    for fit_on, measure_on in (halves, halves[::-1]):
        t = fit_temperature([pairs[i] for i in fit_on], labels, exclusive=True)
        temperatures.append(t)
        after.extend(scaled_pairs([pairs[i] for i in measure_on], labels, t))
    before_scores = calibration_scores(pairs, labels, exclusive=True)
    after_scores = calibration_scores(after, labels, exclusive=True)
    held_out_order = halves[1] + halves[0]
    assert accuracy(after, labels) == accuracy([pairs[i] for i in held_out_order], labels)
    return {
        "docs": len(pairs), "accuracy": accuracy(pairs, labels), "temperatures": temperatures,
        "temperature_all_dev": fit_temperature(pairs, labels, exclusive=True),
        "ece_before": before_scores["cats_ece"], "ece_after": after_scores["cats_ece"],
        "brier_before": before_scores["cats_brier"], "brier_after": after_scores["cats_brier"],
    }


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models", type=Path, default=ROOT / "training" / "bench_defaults")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "calibration.json")
    args = parser.parse_args(argv)
    result: Dict[str, Any] = {"corpora": {}}
    for corpus in CORPORA:
        runs = {}
        for run in RUNS:
            model = args.models / corpus / run / "model-best"
            if model.exists():
                runs[run] = evaluate_model(model, args.data / corpus / "dev.jsonl")
                print(corpus, run, json.dumps({k: v for k, v in runs[run].items() if k != "temperatures"}), flush=True)
        if runs:
            before = [r["ece_before"] for r in runs.values()]
            after = [r["ece_after"] for r in runs.values()]
            result["corpora"][corpus] = {
                "runs": runs, "median_ece_before": statistics.median(before),
                "median_ece_after": statistics.median(after),
                "after_over_before": [a / b for a, b in zip(after, before)],
                "target_met": all(a <= b / 2 for a, b in zip(after, before)),
            }
    result["command"] = "python benchmarks/calibration.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
