"""Calibration of the shipped recipes before and after temperature scaling
(issue 37's targets: the ECE after scaling at most half of the value before,
and at most 0.03, on IMDB and SST-2 dev; accuracy unchanged).

    python benchmarks/calibration.py [--corpora sst2 sst5 trec imdb] [--seeds 0 1 2] [--imdb-seeds 0]

For each corpus and seed, the recipe a user trains (``configs/sentiment_bilstm.cfg``
for sentences, the default model; ``configs/sentiment_bilstm_long.cfg`` for
IMDB's whole reviews) is trained with ``spacy train`` on 90% of the train
split, ``model-best`` chosen on the other 10% (the validation split). The
temperature is fitted on the validation split, as ``python -m spacy_rnn
calibrate MODEL VAL OUTPUT`` fits it, and the dev split is scored once at
temperature 1 and once at the fitted temperature. ECE: 15 bins, the top
label (:mod:`spacy_rnn.inference.calibration`). Accuracy cannot change:
scaling keeps the most probable label (checked). Writes
``benchmarks/calibration.json`` (the corpora and seeds run are replaced, the
others kept; ``commands`` lists the runs that made it).
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from heldout import DATA, ROOT, accuracy, predictions, read_jsonl, spacy_train, write_splits

CONFIG = {"sst2": "sentiment_bilstm", "sst5": "sentiment_bilstm", "trec": "sentiment_bilstm",
          "imdb": "sentiment_bilstm_long"}


def scaled(pairs, labels, temperature):
    import numpy

    from spacy_rnn.temperature import scale

    scores = scale(numpy.asarray([[p[label] for label in labels] for p, _ in pairs]), temperature, True)
    return [(dict(zip(labels, row.tolist())), y) for row, (_, y) in zip(scores, pairs)]


def evaluate_model(model: Path, val: Path, dev: Path) -> Dict[str, Any]:
    from spacy_rnn.inference.calibration import calibration_scores
    from spacy_rnn.temperature import fit_temperature

    _, pipe, val_pairs = predictions(model, val, "rnn_textcat")
    labels = list(pipe.labels)
    temperature = fit_temperature(val_pairs, labels, exclusive=True)
    _, _, dev_pairs = predictions(model, dev, "rnn_textcat")
    after_pairs = scaled(dev_pairs, labels, temperature)
    before, after = calibration_scores(dev_pairs, labels, True), calibration_scores(after_pairs, labels, True)
    assert accuracy(after_pairs, labels) == accuracy(dev_pairs, labels)
    return {"dev_docs": len(dev_pairs), "accuracy": accuracy(dev_pairs, labels), "temperature": temperature,
            "ece_before": before["cats_ece"], "ece_after": after["cats_ece"],
            "brier_before": before["cats_brier"], "brier_after": after["cats_brier"]}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(CONFIG), choices=list(CONFIG))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--imdb-seeds", nargs="+", type=int, default=[0],
                        help="IMDB trains for several minutes a seed")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "calibration.json")
    args = parser.parse_args(argv)
    result: Dict[str, Any] = json.loads(args.output.read_text()) if args.output.exists() else {}
    result["protocol"] = "train on 90% of train, model-best and temperature on the other 10%, scores on dev"
    result.setdefault("corpora", {})
    commands = result.setdefault("commands", [])
    commands.append("python benchmarks/calibration.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for corpus in args.corpora:
            train = read_jsonl(DATA / corpus / "train.jsonl")
            labels = sorted({row["label"] for row in train})
            split = write_splits(corpus, train, read_jsonl(DATA / corpus / "dev.jsonl"), labels, work)
            runs = [run for run in result["corpora"].get(corpus, {}).get("runs", [])
                    if run["seed"] not in (args.imdb_seeds if corpus == "imdb" else args.seeds)]
            for seed in (args.imdb_seeds if corpus == "imdb" else args.seeds):
                out = work / f"{corpus}-{seed}"
                train_s = spacy_train(ROOT / "configs" / f"{CONFIG[corpus]}.cfg", split["paths"]["train"],
                                      split["paths"]["val"], out, seed)
                run = {"seed": seed, "train_s": train_s,
                       **evaluate_model(out / "model-best", split["paths"]["val"], split["paths"]["dev"])}
                runs.append(run)
                print(corpus, json.dumps(run), flush=True)
            runs.sort(key=lambda run: run["seed"])
            before, after = [r["ece_before"] for r in runs], [r["ece_after"] for r in runs]
            result["corpora"][corpus] = {
                "config": f"configs/{CONFIG[corpus]}.cfg", "sizes": split["sizes"], "runs": runs,
                "median_ece_before": statistics.median(before), "median_ece_after": statistics.median(after),
                "after_over_before": [a / b for a, b in zip(after, before)],
                "half_or_less": sum(a <= b / 2 for a, b in zip(after, before)),
                "at_most_0.03": sum(a <= 0.03 for a in after), "runs_total": len(runs),
            }
            args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
