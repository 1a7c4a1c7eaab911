"""Per-label thresholds for ``rnn_textcat_multilabel``: macro-F at spaCy's one
threshold (0.5) against thresholds tuned on held-out train data (issue 37).

    python benchmarks/thresholds.py [--seeds 0 1 2]

The multi-label corpus is made from two of ``../shared/data``'s corpora: every
TREC question keeps its question type (six labels, ABBR rare), and half of
them, drawn with a seeded generator, are followed by an SST-2 sentence and
carry that sentence's label too ("negative" or "positive"): eight labels,
one or two a document. Train documents come from the train splits only, dev
documents from the dev splits only.

The model is the shipped multi-label recipe (``configs/multilabel_bilstm.cfg``,
``spacy train`` as a user runs it), ``model-best`` chosen on a validation
split carved from train. The thresholds are fitted on that validation split
(``fit_thresholds``: each label's best F1, as ``python -m spacy_rnn
tune-thresholds`` does) and dev is scored once with each. Writes
``benchmarks/thresholds.json``.
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
    thresholds = fit_thresholds(val_pairs, list(pipe.labels))
    _, pipe, dev_pairs = predictions(model, dev, COMPONENT)
    examples = [_ScoredExample(_Cats(p), _Cats(g)) for p, g in dev_pairs]
    pipe.thresholds = {}
    before = pipe.score(examples)
    pipe.thresholds = thresholds
    after = pipe.score(examples)
    per_label = {label: {"f_0.5": round(before["cats_f_per_type"][label]["f"], 4),
                         "f_tuned": round(after["cats_f_per_type"][label]["f"], 4)} for label in pipe.labels}
    return {"scores": {"macro_f_0.5": before["cats_macro_f"], "macro_f_tuned": after["cats_macro_f"],
                       "micro_f_0.5": before["cats_micro_f"], "micro_f_tuned": after["cats_micro_f"],
                       "macro_auc": after["cats_macro_auc"]},
            "thresholds": thresholds, "per_label": per_label}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "thresholds.json"))
    args = parser.parse_args()
    train = combine(read_jsonl(DATA / "trec" / "train.jsonl"), read_jsonl(DATA / "sst2" / "train.jsonl"), seed=0)
    dev = combine(read_jsonl(DATA / "trec" / "dev.jsonl"), read_jsonl(DATA / "sst2" / "dev.jsonl"), seed=1)
    labels = sorted(label_counts(train))
    results: Dict[str, Any] = {"config": "configs/multilabel_bilstm.cfg", "seeds": args.seeds,
                               "train_labels": label_counts(train), "dev_labels": label_counts(dev), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = write_splits("trec_sst2", train, dev, labels, work)
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
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    print(json.dumps(results["dev"], indent=2))


if __name__ == "__main__":
    main()
