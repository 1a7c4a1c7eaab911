"""Inference speed of CharRNNEmbed and of attention explanations, in one process.

    python benchmarks/char_embed_speed.py [--data ../shared/data/sst2/dev.jsonl] [--runs 3]

Pipelines timed with ``nlp.pipe`` (batch size 1000) over the same texts; the
variants take turns (``--runs`` rounds after one warm-up each, the median kept),
so that load from other processes hits them alike. Weights are untrained
(speed does not depend on them). ``--threads`` sets torch's intra-op threads
(on a shared machine 1 is the steadier choice):

- ``default``: ``rnn_textcat`` with its default config (SumHashEmbed, BiLSTM 128).
- ``default+store_attention``: the same with ``store_attention = true``.
- ``char``: the embed of ``configs/sentiment_charlstm.cfg`` (char BiLSTM 64 over
  32-wide characters, concatenated with 64-wide NORM hash embeddings), same encoder.
- ``char, every token``: the same with the unique-words trick off (every token
  read by the char RNN, not every distinct string of the batch).

It also times the char RNN module alone on the batch's distinct words, as
implemented (one unpadded call per word length) against one call on a
``PackedSequence`` of all words (``char_module_words_per_second``).
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy
import spacy
import torch
from spacy.training import Example
from thinc.api import Config
from torch.nn.utils.rnn import pack_padded_sequence

from spacy_rnn.torch.chars import CharRNN, encode_words

REPO = Path(__file__).resolve().parents[1]


def char_embed_config() -> dict:
    config = Config().from_disk(REPO / "configs" / "sentiment_charlstm.cfg", interpolate=False)
    embed = dict(config["components"]["rnn_textcat"]["model"]["tok2vec"]["embed"])
    return {"model": {"tok2vec": {"embed": embed}}}


def build(texts, config: dict):
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat", config=config)
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {"negative": float(i % 2), "positive": float(1 - i % 2)}})
        for i, t in enumerate(texts[:100])
    ]
    nlp.initialize(lambda: examples)
    return nlp


def seconds(nlp, texts) -> float:
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=1000):
        pass
    return time.perf_counter() - start


def set_store_attention(nlp, value: bool) -> None:
    nlp.get_pipe("rnn_textcat").store_attention = value


def set_unique_words(nlp, value: bool) -> None:
    for node in nlp.get_pipe("rnn_textcat").model.walk():
        if node.name == "char_rnn_embed":
            node.attrs["unique_words"] = value


def packed_char_rnn(module: CharRNN, ids: numpy.ndarray, lengths: numpy.ndarray) -> torch.Tensor:
    """The alternative to length groups: every word in one PackedSequence call."""
    starts = numpy.concatenate([[0], numpy.cumsum(lengths[:-1])])
    safe = numpy.maximum(lengths, 1)
    rows = starts[:, None] + numpy.minimum(numpy.arange(safe.max())[None, :], safe[:, None] - 1)
    chars = module.embed(torch.from_numpy(ids))[torch.from_numpy(rows)]
    packed = pack_padded_sequence(chars, torch.from_numpy(safe), batch_first=True, enforce_sorted=False)
    h_n = module.rnn(packed)[1][0]
    return torch.cat([h_n[0], h_n[1]], dim=1)


def char_module_speed(texts, runs: int) -> dict:
    words = sorted({token.text for doc in spacy.blank("en").pipe(texts) for token in doc})
    ids, lengths = encode_words(words, 20, 1024)
    module = CharRNN("lstm", 1024, 32, 64).eval()
    ids_t = torch.from_numpy(ids)
    variants = {"length groups": lambda: module(ids_t, lengths), "packed": lambda: packed_char_rnn(module, ids, lengths)}
    best = {name: float("inf") for name in variants}
    with torch.no_grad():
        for _ in range(runs + 1):
            for name, run in variants.items():
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: round(len(words) / took) for name, took in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "sst2" / "dev.jsonl")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0: torch's default")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "char_embed_speed.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = [json.loads(line)["text"] for line in args.data.open(encoding="utf8") if line.strip()]
    n_words = sum(len(doc) for doc in spacy.blank("en").pipe(texts))
    default = build(texts, {})
    char = build(texts, char_embed_config())
    variants = {
        "default": (default, lambda: set_store_attention(default, False)),
        "default+store_attention": (default, lambda: set_store_attention(default, True)),
        "char": (char, lambda: set_unique_words(char, True)),
        "char, every token": (char, lambda: set_unique_words(char, False)),
    }
    times = {name: [] for name in variants}
    for round_ in range(args.runs + 1):
        for name, (nlp, configure) in variants.items():
            configure()
            took = seconds(nlp, texts)
            if round_:  # round 0 warms up
                times[name].append(took)
    results = {name: n_words / statistics.median(ts) for name, ts in times.items()}
    report = {
        "data": str(args.data), "texts": len(texts), "words": n_words, "runs": args.runs,
        "torch_threads": torch.get_num_threads(), "load_average": [round(x, 1) for x in os.getloadavg()],
        "python": platform.python_version(),
        "spacy": spacy.__version__, "torch": torch.__version__,
        "words_per_second": {name: round(wps) for name, wps in results.items()},
        "char_module_words_per_second": char_module_speed(texts, args.runs),
    }
    print(json.dumps(report, indent=2))
    args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
