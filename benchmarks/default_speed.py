"""Words per second of what ``nlp.add_pipe("rnn_textcat")`` builds against
the model of ``configs/sentiment_bilstm_vectors.cfg``, in one process, on the
same texts and the same vectors table: the factory default must be the
recipe's model at the recipe's speed.

Both pipelines are initialized on the same labelled sample and timed with
``nlp.pipe`` (batch size 1000) in alternation, five passes each after a
warm-up, at one and at two torch threads; the JSON keeps every pass and the
medians. Initialized rather than trained weights: the computation per word
is the same.

    python benchmarks/default_speed.py --vectors assets/vectors_en_md --output benchmarks/default_speed.json
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]


def build(model: Optional[Dict[str, Any]], vectors: str, texts: List[str]):
    import spacy
    from spacy.training import Example
    from thinc.api import fix_random_seed

    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.vocab.vectors = spacy.load(vectors).vocab.vectors
    nlp.add_pipe("rnn_textcat", config={"model": model} if model else {})
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": {"neg": float(i % 2), "pos": float(1 - i % 2)}})
                for i, t in enumerate(texts[:64])]
    nlp.initialize(lambda: examples)
    return nlp


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2" / "dev.jsonl")
    parser.add_argument("--vectors", default=str(ROOT / "assets" / "vectors_en_md"))
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "default_speed.json")
    args = parser.parse_args(argv)

    import torch
    from thinc.api import Config

    texts = [json.loads(line)["text"] for line in args.data.read_text(encoding="utf8").splitlines() if line.strip()]
    recipe = Config().from_disk(ROOT / "configs" / "sentiment_bilstm_vectors.cfg", interpolate=False)
    pipelines = {
        "factory_default": build(None, args.vectors, texts),
        "vectors_recipe": build(recipe["components"]["rnn_textcat"]["model"], args.vectors, texts),
    }
    n_words = sum(len(doc) for doc in pipelines["factory_default"].tokenizer.pipe(texts))
    result: Dict[str, Any] = {"texts": len(texts), "words": n_words, "batch_size": 1000, "threads": {}}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        times: Dict[str, List[float]] = {name: [] for name in pipelines}
        for name, nlp in pipelines.items():  # warm-up
            list(nlp.pipe(texts, batch_size=1000))
        for _ in range(args.passes):
            for name, nlp in pipelines.items():
                start = time.perf_counter()
                list(nlp.pipe(texts, batch_size=1000))
                times[name].append(time.perf_counter() - start)
        words_per_s = {name: n_words / statistics.median(t) for name, t in times.items()}
        result["threads"][str(threads)] = {
            "seconds": times, "words_per_s": words_per_s,
            "default_over_recipe": words_per_s["factory_default"] / words_per_s["vectors_recipe"],
        }
        print(threads, json.dumps(words_per_s), flush=True)
    result["command"] = "python benchmarks/default_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
