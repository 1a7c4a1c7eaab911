"""Where the time of ``nlp.pipe`` goes, stage by stage, for the factory
default ``rnn_textcat`` (issue 38's profile).

    python benchmarks/pipe_profile.py --vectors assets/vectors_en_md --output benchmarks/pipe_profile.json

The pipeline is what ``nlp.add_pipe("rnn_textcat")`` builds with a vectors
table (the sentence vectors recipe's model), initialized on a labelled
sample: the computation per word is a trained model's. Every Thinc node of
the model is wrapped with a timer that keeps its *own* time (its time minus
its children's), and the encoder's PyTorch call is timed on its own, so the
encoder's remainder is the Thinc <-> Torch hand-off (padding, packing,
conversions). The stages:

- tokenizer: ``nlp.tokenizer`` over the same texts, timed apart;
- hash embeddings: feature extraction and the four ``HashEmbed`` tables;
- static vectors: the vectors table's rows and their projection;
- encoder (torch): the recurrent module's forward; encoder (hand-off): the
  rest of the encoder node and ``ragged2list``;
- attention pooling; output layer (dropout, linear);
- bag of n-grams: hashing the n-grams and the sparse linear layer;
- combine: the mean of the two branches' probabilities;
- pipeline overhead: the rest of ``nlp.pipe`` (batching, ``predict`` and
  ``set_annotations`` outside the model, ``doc.cats``).

Each batch size (1, 64, 1000) runs ``--passes`` timed passes over SST-2 dev
after a warm-up, at one torch thread; the JSON keeps seconds per stage per
pass (summed) and milliseconds per 1000 words, and the uninstrumented time
of the same passes, so the timers' own cost shows.
"""
import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from default_speed import build  # noqa: E402

# Thinc node name -> stage. Nodes not listed (combinators: chain, concatenate,
# with_array, resizable) give their own time to the stage of their first
# listed ancestor... or, for the root's combinators, to "combine".
STAGES = {
    "extract_features": "hash embeddings", "list2ragged": "hash embeddings", "ints-getitem": "hash embeddings",
    "hashembed": "hash embeddings", "add": "hash embeddings", "with_array(add)": "hash embeddings",
    "static_vectors": "static vectors", "add_static_vectors": "static vectors",
    "rnn_encoder": "encoder (hand-off)", "ragged2list": "encoder (hand-off)",
    "pool_attention": "attention pooling",
    "dropout": "output layer", "linear": "output layer", "resizable(linear)": "output layer",
    "hashed_ngrams": "bag of n-grams", "sparse_linear": "bag of n-grams",
    "resizable(sparse_linear)": "bag of n-grams", "with_cpu(hashed_ngrams>>resizable(sparse_linear))": "bag of n-grams",
    "mean_probabilities": "combine",
}
TORCH = "encoder (torch)"


class StageTimer:
    """Own time per stage: a stack of running nodes, each charged its
    elapsed time minus its children's."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.stack: List[List[float]] = []  # [start, children's time]

    def wrap(self, stage: str, function: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.stack.append([time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                start, children = self.stack.pop()
                elapsed = time.perf_counter() - start
                self.seconds[stage] += elapsed - children
                if self.stack:
                    self.stack[-1][1] += elapsed

        return timed


def instrument(model: Any, timer: StageTimer) -> None:
    """Wrap every node's forward (and the encoder's torch call) with ``timer``."""
    def visit(node: Any, inherited: str) -> None:
        stage = STAGES.get(node.name, inherited)
        node._func = timer.wrap(stage, node._func)
        if node.name == "rnn_encoder":
            for shim in node.shims:
                shim.predict = timer.wrap(TORCH, shim.predict)
                shim.__class__ = type("TimedShim", (shim.__class__,), {
                    "__call__": timer.wrap(TORCH, shim.__class__.__call__)})
        for child in node.layers:
            visit(child, stage)

    visit(model, "combine")


def run(nlp: Any, texts: List[str], batch_size: int) -> float:
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    return time.perf_counter() - start


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sst2" / "dev.jsonl")
    parser.add_argument("--vectors", default=str(ROOT / "assets" / "vectors_en_md"))
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="only the first N texts (a smoke run)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "pipe_profile.json")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    texts = [json.loads(line)["text"] for line in args.data.read_text(encoding="utf8").splitlines() if line.strip()]
    texts = texts[: args.limit] if args.limit else texts
    plain = build(None, args.vectors, texts)
    timed = build(None, args.vectors, texts)
    timer = StageTimer()
    instrument(timed.get_pipe("rnn_textcat").model, timer)
    n_words = sum(len(doc) for doc in plain.tokenizer.pipe(texts))
    result: Dict[str, Any] = {"texts": len(texts), "words": n_words, "torch_threads": 1, "passes": args.passes,
                              "batch_sizes": {}}
    for batch_size in (1, 64, 1000):
        run(plain, texts, batch_size), run(timed, texts, batch_size)  # warm-up
        timer.seconds.clear()
        plain_s = timed_s = tokenizer_s = 0.0
        for _ in range(args.passes):  # alternate, so that drift falls on both
            plain_s += run(plain, texts, batch_size)
            timed_s += run(timed, texts, batch_size)
            start = time.perf_counter()
            for _ in timed.tokenizer.pipe(texts, batch_size=batch_size):
                pass
            tokenizer_s += time.perf_counter() - start
        stages = dict(timer.seconds)
        stages["tokenizer"] = tokenizer_s
        stages["pipeline overhead"] = timed_s - sum(timer.seconds.values()) - tokenizer_s
        per_1000 = {stage: 1000 * 1000 * s / (n_words * args.passes) for stage, s in stages.items()}
        result["batch_sizes"][str(batch_size)] = {
            "seconds": stages,
            "ms_per_1000_words": dict(sorted(per_1000.items(), key=lambda item: -item[1])),
            "share": {stage: s / timed_s for stage, s in sorted(stages.items(), key=lambda item: -item[1])},
            "instrumented_seconds": timed_s, "plain_seconds": plain_s,
            "plain_words_per_s": n_words * args.passes / plain_s,
        }
        print(batch_size, json.dumps({k: round(v, 3) for k, v in per_1000.items()}), flush=True)
    result["command"] = "python benchmarks/pipe_profile.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
