"""How the default model joins its two branches, and how its recurrent
branch's output layer starts, chosen on held-out train data.

    python benchmarks/output_combination.py [--corpora sst2 sst5 trec] [--seeds 0 1 2] [--variants ...]

The default ``rnn_textcat`` model is an ensemble of a recurrent branch and a
bag-of-n-grams branch. This compares, with the shipped sentence recipe
(``configs/sentiment_bilstm.cfg``, trained with ``spacy train`` as a user runs
it) and nothing else changed:

- ``mean``: the arithmetic mean of the branches' probabilities, the recurrent
  branch's output layer from random (Glorot) weights, Thinc's default;
- ``geometric_mean``: the normalized geometric mean of the branches'
  probabilities (a softmax of their mean scores), the same initialization;
- ``mean_zero_init`` and ``geometric_mean_zero_init``: the same with that
  output layer's weights starting at zero, as spaCy's textcat output layers
  do (then the untrained model scores every text alike, which spaCy's
  test_issue9904 needs).

Settings are chosen on a validation split carved from each corpus's train
split (10%, the same documents for every variant and seed): the model trains
on the other 90% and ``model-best`` is picked on the validation split. The dev
split is scored once per run and reported beside it, never used to choose.
Updates ``benchmarks/output_combination.json`` (the variants run are
replaced, the others kept).
"""
import argparse
import json
import tempfile
from pathlib import Path
from typing import Any, Dict

from heldout import DATA, ROOT, exclusive_scores, read_jsonl, spacy_train, summary, write_splits

VARIANTS = {
    "mean": "mean",
    "geometric_mean": "geometric_mean",
    "mean_zero_init": "mean",
    "geometric_mean_zero_init": "geometric_mean",
}
# Loaded with spacy train --code: the recurrent branch's output layer
# (architectures.py's only Linear) starts from zero weights.
ZERO_INIT_PATCH = """
from functools import partial
from thinc.api import Linear, zero_init
import spacy_rnn.architectures
spacy_rnn.architectures.Linear = partial(Linear, init_W=zero_init)
"""


def split(corpus: str, work: Path) -> Dict[str, Any]:
    train = read_jsonl(DATA / corpus / "train.jsonl")
    labels = sorted({row["label"] for row in train})
    return write_splits(corpus, train, read_jsonl(DATA / corpus / "dev.jsonl"), labels, work)


def train(corpus: Dict[str, Any], variant: str, seed: int, work: Path) -> Dict[str, Any]:
    out = work / f"{variant}-{seed}"
    code = None
    if variant.endswith("_zero_init"):
        code = work / "zero_init.py"
        code.write_text(ZERO_INIT_PATCH, encoding="utf8")
    train_s = spacy_train(ROOT / "configs" / "sentiment_bilstm.cfg", corpus["paths"]["train"], corpus["paths"]["val"],
                          out, seed, {"components.rnn_textcat.model.bow_combine": VARIANTS[variant]}, code)
    best = out / "model-best"
    return {"train_s": train_s, "val": exclusive_scores(best, corpus["paths"]["val"]),
            "dev": exclusive_scores(best, corpus["paths"]["dev"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["sst2", "sst5", "trec"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "output_combination.json"))
    args = parser.parse_args()
    output = Path(args.output)
    results: Dict[str, Any] = json.loads(output.read_text(encoding="utf8")) if output.exists() else {}
    results.update({"config": "configs/sentiment_bilstm.cfg", "validation": "10% of train, random.Random(0)",
                    "seeds": args.seeds})
    results.setdefault("corpora", {})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for corpus_name in args.corpora:
            corpus = split(corpus_name, work)
            entry = results["corpora"].get(corpus_name, {"variants": {}})
            entry["sizes"] = corpus["sizes"]
            for variant in args.variants:
                runs = [train(corpus, variant, seed, work) for seed in args.seeds]
                entry["variants"][variant] = {"runs": runs, "val": summary(runs, lambda run: run["val"]),
                                              "dev": summary(runs, lambda run: run["dev"])}
                print(corpus_name, variant, json.dumps(entry["variants"][variant]["val"]["accuracy"]), flush=True)
            results["corpora"][corpus_name] = entry
            output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    print(json.dumps({c: {v: (e["variants"][v]["val"]["accuracy"]["mean"], e["variants"][v]["dev"]["accuracy"]["mean"])
                          for v in e["variants"]} for c, e in results["corpora"].items()}, indent=2))


if __name__ == "__main__":
    main()
