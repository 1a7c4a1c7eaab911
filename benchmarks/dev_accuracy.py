"""Dev-split accuracy of the default recipes on every corpus in ../shared/data.

    python benchmarks/dev_accuracy.py [--corpora sst2 sst5 trec reviews2k imdb] [--output benchmarks/dev_accuracy.json]

Runs the project's ``train-evaluate`` workflow (corpus -> train -> evaluate ->
score) for each corpus, with ``sentiment_bilstm`` for sentence corpora and
``sentiment_bilstm_long`` for whole reviews, and collects the metrics that
``python -m spacy_rnn evaluate`` wrote (spaCy's textcat scorer, the keys of
``spacy evaluate``). For exclusive classes spaCy's micro-F equals accuracy (each doc
has one gold and one predicted label), so ``accuracy`` below is ``cats_micro_f``.
"""
import argparse
import json
import time
from pathlib import Path

from weasel.cli.run import project_run

ROOT = Path(__file__).resolve().parents[1]
CONFIG_FOR = {"sst2": "sentiment_bilstm", "sst5": "sentiment_bilstm", "trec": "sentiment_bilstm",
              "reviews2k": "sentiment_bilstm_long", "imdb": "sentiment_bilstm_long"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(CONFIG_FOR))
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "dev_accuracy.json"))
    args = parser.parse_args()
    results = json.loads(Path(args.output).read_text()) if Path(args.output).exists() else {}
    for corpus in args.corpora:
        config = CONFIG_FOR.get(corpus, "sentiment_bilstm")
        start = time.time()
        project_run(ROOT, "train-evaluate", overrides={
            "vars.data_dir": args.data_dir, "vars.corpus": corpus,
            "vars.eval_split": "dev", "vars.config": config,
        })
        metrics = json.loads((ROOT / "metrics" / f"{corpus}-{config}-dev.json").read_text())
        results[corpus] = {
            "config": config,
            "accuracy": round(metrics["cats_micro_f"], 4),
            "macro_f": round(metrics["cats_macro_f"], 4),
            "wall_s": round(time.time() - start, 1),
        }
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
