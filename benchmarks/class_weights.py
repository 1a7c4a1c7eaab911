"""Class weights on imbalanced corpora: the default model with and without
``class_weights = "balanced"`` (issue 37).

    python benchmarks/class_weights.py [--corpora sst2_pos10 trec_rare sst2] [--seeds 0 1 2]

Corpora, each made from a train split with a seeded subsample (seed 0):

- ``sst2_pos10``: SST-2 train with its positive sentences subsampled to 10%
  (about 90/10 negative/positive); scored on SST-2's balanced dev split.
- ``trec_rare``: TREC train with LOC and NUM subsampled to 10%, beside ABBR,
  which is rare already: three rare classes out of six; scored on TREC's dev
  split as it is.
- ``sst2``: SST-2 train as it is, to show what the weights cost where the
  classes are balanced.

The model is the shipped sentence recipe (``configs/sentiment_bilstm.cfg``,
trained with ``spacy train`` as a user runs it); ``model-best`` is chosen on
a validation split carved from the (subsampled) train split, and dev is
scored once per run. Writes ``benchmarks/class_weights.json``.
"""
import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from heldout import DATA, ROOT, label_counts, exclusive_scores, read_jsonl, spacy_train, summary, write_splits

SUBSAMPLE = {"sst2_pos10": ("sst2", {"positive": 0.1}), "trec_rare": ("trec", {"LOC": 0.1, "NUM": 0.1}),
             "sst2": ("sst2", {})}
VARIANTS = {"unweighted": "null", "balanced": '"balanced"'}


def subsample(rows: List[Dict[str, Any]], keep: Dict[str, float], seed: int = 0) -> List[Dict[str, Any]]:
    rng = random.Random(seed)
    return [row for row in rows if rng.random() < keep.get(row["label"], 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(SUBSAMPLE), choices=list(SUBSAMPLE))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "class_weights.json"))
    args = parser.parse_args()
    results: Dict[str, Any] = {"config": "configs/sentiment_bilstm.cfg", "seeds": args.seeds, "corpora": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.corpora:
            source, keep = SUBSAMPLE[name]
            full = read_jsonl(DATA / source / "train.jsonl")
            train = subsample(full, keep)
            dev = read_jsonl(DATA / source / "dev.jsonl")
            labels = sorted({row["label"] for row in full})
            corpus = write_splits(name, train, dev, labels, work)
            entry: Dict[str, Any] = {"source": source, "subsample": keep, "train_labels": label_counts(train),
                                     "dev_labels": label_counts(dev), "sizes": corpus["sizes"], "variants": {}}
            for variant, value in VARIANTS.items():
                runs = []
                for seed in args.seeds:
                    out = work / f"{name}-{variant}-{seed}"
                    train_s = spacy_train(ROOT / "configs" / "sentiment_bilstm.cfg", corpus["paths"]["train"],
                                          corpus["paths"]["val"], out, seed,
                                          {"components.rnn_textcat.class_weights": value})
                    runs.append({"seed": seed, "train_s": train_s,
                                 "dev": exclusive_scores(out / "model-best", corpus["paths"]["dev"])})
                entry["variants"][variant] = {"runs": runs, "dev": summary(runs, lambda run: run["dev"])}
                print(name, variant, json.dumps(entry["variants"][variant]["dev"]["macro_f"]), flush=True)
            results["corpora"][name] = entry
            Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")


if __name__ == "__main__":
    main()
