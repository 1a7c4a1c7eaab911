"""How small an expected calibration error a dev split can show at all.

ECE is measured on a finite sample, so even a perfectly calibrated model
scores above zero: with few documents in a bin, the share it gets right
differs from its mean probability by chance. This script scores a dev split
with a trained pipeline, then draws each document's label from the model's
own probabilities (what a perfectly calibrated model's labels would be) and
computes ECE (15 bins, top label, as ``evaluate`` does) on the draws, many
times: the distribution of ECE that calibration cannot get below on a split
of that size with those confidences. Beside it, the ECE of the real labels.

    python benchmarks/ece_floor.py \
        --model sst2=training/bench_defaults/sst2/rnn_default_vectors/model-best:../shared/data/sst2/dev.jsonl \
        --model imdb=training/imdb/sentiment_bilstm_long_vectors/model-best:../shared/data/imdb/dev.jsonl
"""
import argparse
import json
import random
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=PIPELINE:DEV_JSONL (repeatable)")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "ece_floor.json")
    args = parser.parse_args(argv)

    import spacy

    from heldout import read_jsonl  # benchmarks/ is on sys.path when run as a script
    from spacy_rnn.inference.calibration import calibration_scores

    report: Dict[str, Any] = {"draws": args.draws, "seed": args.seed, "bins": 15, "corpora": {}}
    for item in args.model:
        name, rest = item.split("=", 1)
        pipeline, dev = rest.rsplit(":", 1)
        nlp = spacy.load(pipeline)
        pipe = next(p for _, p in nlp.pipeline if hasattr(p, "labels"))
        labels = list(pipe.labels)
        rows = read_jsonl(Path(dev))
        predicted = [dict(doc.cats) for doc in nlp.pipe((r["text"] for r in rows), batch_size=256)]
        gold = [{label: float(label == r["label"]) for label in labels} for r in rows]
        observed = calibration_scores(zip(predicted, gold), labels, exclusive=True)["cats_ece"]
        rng = random.Random(args.seed)
        floor = []
        for _ in range(args.draws):
            drawn = []
            for cats in predicted:
                label = rng.choices(labels, weights=[cats[label] for label in labels])[0]
                drawn.append({l: float(l == label) for l in labels})
            floor.append(calibration_scores(zip(predicted, drawn), labels, exclusive=True)["cats_ece"])
        floor.sort()
        top = [max(cats.values()) for cats in predicted]
        report["corpora"][name] = {
            "pipeline": pipeline,
            "dev": dev,
            "docs": len(rows),
            "accuracy": round(sum(max(labels, key=p.__getitem__) == r["label"] for p, r in zip(predicted, rows)) / len(rows), 4),
            "mean_top_probability": round(statistics.mean(top), 4),
            "ece_observed": round(observed, 4),
            "ece_if_perfectly_calibrated": {
                "mean": round(statistics.mean(floor), 4),
                "p05": round(floor[int(0.05 * len(floor))], 4),
                "p95": round(floor[int(0.95 * len(floor)) - 1], 4),
            },
        }
        print(name, report["corpora"][name], flush=True)
    report["command"] = "python benchmarks/ece_floor.py " + " ".join(f"--model {m}" for m in args.model)
    args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
