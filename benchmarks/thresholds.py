"""Per-label thresholds for ``rnn_textcat_multilabel``: macro-F at spaCy's one
threshold (0.5) against thresholds tuned on held-out train data (issue 37).

    python benchmarks/thresholds.py [--sentiment sst2|sst5] [--seeds 0 1 2]

The multi-label corpus is made from two of ``../shared/data``'s corpora: every
TREC question keeps its question type (six labels, ABBR rare), and half of
them, drawn with a seeded generator, are followed by a sentence of the
sentiment corpus and carry that sentence's label too: eight labels with
SST-2 (``thresholds.json``), eleven with SST-5 (``thresholds_sst5.json``),
one or two a document. Train documents come from the train splits only, dev
documents from the dev splits only.

The model is the shipped multi-label recipe (``configs/multilabel_bilstm.cfg``,
``spacy train`` as a user runs it), ``model-best`` chosen on a validation
split carved from train. The thresholds are fitted on that validation split
(``fit_thresholds``, each label's best F1) twice: for every label
(``tuned_all``), and as ``python -m spacy_rnn tune-thresholds`` does, where a
label keeps 0.5 unless its fitted threshold beats it on bootstrap
resamples' left-out documents (``tuned``). Dev is scored once with 0.5 and
with each.
"""
import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from heldout import DATA, ROOT, label_counts, predictions, read_jsonl, spacy_train, summary, write_splits

COMPONENT = "rnn_textcat_multilabel"


def combine(questions: List[Dict[str, Any]], sentences: List[Dict[str, Any]], seed: int) -> List[Dict[str, Any]]:
    """Each question, half of them followed by a sentence (each sentence used once at most)."""
    rng = random.Random(seed)
    pool = list(sentences)
    rng.shuffle(pool)
    rows = []
    for question in questions:
        if pool and rng.random() < 0.5:
            sentence = pool.pop()
            rows.append({"text": f"{question['text']} {sentence['text']}",
                         "labels": [question["label"], sentence["label"]]})
        else:
            rows.append({"text": question["text"], "labels": [question["label"]]})
    return rows


def dev_scores(model: Path, val: Path, dev: Path) -> Dict[str, Any]:
    from spacy_rnn.inference.evaluate import _Cats, _ScoredExample
    from spacy_rnn.thresholds import fit_thresholds

    _, pipe, val_pairs = predictions(model, val, COMPONENT)
    labels = list(pipe.labels)
    fitted = {"tuned_all": fit_thresholds(val_pairs, labels),
              "tuned": fit_thresholds(val_pairs, labels, default=pipe.cfg["threshold"])}
    _, pipe, dev_pairs = predictions(model, dev, COMPONENT)
    examples = [_ScoredExample(_Cats(p), _Cats(g)) for p, g in dev_pairs]
    pipe.thresholds = {}
    scored = {"0.5": pipe.score(examples)}
    for name, thresholds in fitted.items():
        pipe.thresholds = thresholds
        scored[name] = pipe.score(examples)
    per_label = {label: {f"f_{name}": round(s["cats_f_per_type"][label]["f"], 4) for name, s in scored.items()}
                 for label in labels}
    scores = {f"{kind}_f_{name}": s[f"cats_{kind}_f"] for kind in ("macro", "micro") for name, s in scored.items()}
    return {"scores": {**scores, "macro_auc": scored["0.5"]["cats_macro_auc"]},
            "thresholds": fitted, "kept_0.5": [label for label in fitted["tuned_all"] if label not in fitted["tuned"]],
            "per_label": per_label}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentiment", choices=["sst2", "sst5"], default="sst2")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", default=None, help="default: benchmarks/thresholds.json "
                        "(thresholds_sst5.json with --sentiment sst5)")
    args = parser.parse_args()
    name = "thresholds" if args.sentiment == "sst2" else f"thresholds_{args.sentiment}"
    output = Path(args.output or ROOT / "benchmarks" / f"{name}.json")
    train = combine(read_jsonl(DATA / "trec" / "train.jsonl"), read_jsonl(DATA / args.sentiment / "train.jsonl"), seed=0)
    dev = combine(read_jsonl(DATA / "trec" / "dev.jsonl"), read_jsonl(DATA / args.sentiment / "dev.jsonl"), seed=1)
    labels = sorted(label_counts(train))
    results: Dict[str, Any] = {"config": "configs/multilabel_bilstm.cfg", "sentiment": args.sentiment,
                               "command": f"python benchmarks/thresholds.py --sentiment {args.sentiment}",
                               "seeds": args.seeds,
                               "train_labels": label_counts(train), "dev_labels": label_counts(dev), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = write_splits(f"trec_{args.sentiment}", train, dev, labels, work)
        results["sizes"] = corpus["sizes"]
        for seed in args.seeds:
            out = work / f"model-{seed}"
            train_s = spacy_train(ROOT / "configs" / "multilabel_bilstm.cfg", corpus["paths"]["train"],
                                  corpus["paths"]["val"], out, seed)
            run = {"seed": seed, "train_s": train_s,
                   **dev_scores(out / "model-best", corpus["paths"]["val"], corpus["paths"]["dev"])}
            results["runs"].append(run)
            print(seed, json.dumps(run["scores"]), flush=True)
        results["dev"] = summary(results["runs"], lambda run: run["scores"])
        output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    print(json.dumps(results["dev"], indent=2))


if __name__ == "__main__":
    main()
