"""Inference speed of rnn_textcat against spaCy's TorchBiLSTMEncoder textcat,
plus packed-vs-padded timings of the bidirectional LSTM itself, in one process.

    python benchmarks/core_speed.py [--data ../shared/data/sst2/dev.jsonl]

Both pipelines are initialized on the same labelled sentences and timed with
``nlp.pipe`` (batch size 1000, spaCy's default) over the same texts: median of
5 runs after one warm-up. Speed does not depend on trained weights, so neither
model is trained here. The baseline is what a spaCy user gets from the docs:
``spacy.Tok2Vec.v2`` with ``spacy.MultiHashEmbed.v2`` (NORM, PREFIX, SUFFIX,
SHAPE) and ``spacy.TorchBiLSTMEncoder.v1``, pooled by ``spacy.TextCatReduce.v1``
(mean), at the same encoder width and depth as ours.
"""
import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy
import spacy
import thinc
import torch
from spacy.training import Example
from spacy.training.initialize import load_vectors_into_model
from thinc.api import Config
from torch.nn.utils.rnn import PackedSequence

from spacy_rnn.torch import RecurrentEncoder

BASELINE = """
[model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = false
use_reduce_mean = true

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.TorchBiLSTMEncoder.v1"
width = {width}
depth = {depth}
dropout = 0.0
"""


def read_jsonl(path):
    with open(path, encoding="utf8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build(factory, config, records, vectors=None):
    """A blank English pipeline with ``factory``, initialized on the first 200
    ``records``; ``vectors`` (a path or package) is loaded into its vocab first."""
    nlp = spacy.blank("en")
    if vectors is not None:
        load_vectors_into_model(nlp, vectors)
    nlp.add_pipe(factory, config=config)
    labels = sorted({r["label"] for r in records})
    examples = [
        Example.from_dict(nlp.make_doc(r["text"]), {"cats": {l: float(l == r["label"]) for l in labels}})
        for r in records[:200]
    ]
    nlp.initialize(lambda: examples)
    return nlp


def words_per_second(nlp, texts, n_words, runs=5, batch_size=1000):
    list(nlp.pipe(texts, batch_size=batch_size))  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=batch_size):
            pass
        times.append(time.perf_counter() - start)
    return n_words / statistics.median(times)


def packed_vs_padded(lengths, n_in, width, runs=5):
    """Tokens/s of one bidirectional LSTM layer on the same flat batch."""
    torch.manual_seed(0)
    lengths = numpy.asarray(lengths)
    N = int(lengths.sum())
    X = torch.randn(N, n_in)
    ours = RecurrentEncoder("lstm", n_in, width, bidirectional=True)
    packed_lstm = torch.nn.LSTM(n_in, width // 2, bidirectional=True)
    starts = numpy.concatenate([[0], numpy.cumsum(lengths)[:-1]])

    def packed(x):
        order = numpy.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
        t = numpy.arange(sorted_lengths[0])[:, None]
        mask = sorted_lengths[None, :] > t
        index = torch.from_numpy((starts[order][None, :] + t)[mask])
        batch_sizes = torch.from_numpy(mask.sum(1))
        out, _ = packed_lstm(PackedSequence(x[index], batch_sizes))
        result = torch.empty(N, width)
        result[index] = out.data
        return result

    def padded(x):
        return ours(x, lengths)

    results = {}
    for name, fn in [("packed", packed), ("padded_buckets", padded)]:
        for mode in ("inference", "training"):
            times = []
            for _ in range(runs + 1):
                x = X.clone().requires_grad_(mode == "training")
                start = time.perf_counter()
                if mode == "training":
                    fn(x).sum().backward()
                else:
                    with torch.no_grad():
                        fn(x)
                times.append(time.perf_counter() - start)
            results[f"{name}_{mode}_tokens_per_s"] = round(N / statistics.median(times[1:]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/sst2/dev.jsonl")
    parser.add_argument("--long-data", default="../shared/data/reviews2k/dev.jsonl")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    records = read_jsonl(args.data)
    texts = [r["text"] for r in records]
    ours = build("rnn_textcat", {}, records)
    encode = ours.get_pipe("rnn_textcat").model.get_ref("tok2vec").get_ref("encode")
    width, depth = encode.get_dim("nO"), encode.attrs["depth"]
    baseline_cfg = Config().from_str(BASELINE.format(width=width, depth=depth))
    baseline = build("textcat", {"model": baseline_cfg["model"]}, records)
    # Same baseline encoder fed by our embedding: separates the two sources of speed-up.
    mixed_cfg = Config().from_str(BASELINE.format(width=width, depth=depth))
    mixed_cfg["model"]["tok2vec"]["embed"] = {
        "@architectures": "spacy_rnn.SumHashEmbed.v1",
        "width": width,
        "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
        "rows": [5000, 1000, 2500, 2500],
    }
    mixed = build("textcat", {"model": mixed_cfg["model"]}, records)
    n_words = sum(len(doc) for doc in ours.tokenizer.pipe(texts))
    tokenizer_wps = words_per_second(spacy.blank("en"), texts, n_words)
    ours_wps = words_per_second(ours, texts, n_words)
    base_wps = words_per_second(baseline, texts, n_words)
    result = {
        "data": args.data,
        "n_texts": len(texts),
        "n_words": n_words,
        "width": width,
        "depth": depth,
        "tokenizer_words_per_s": round(tokenizer_wps),
        "rnn_textcat_words_per_s": round(ours_wps),
        "torch_bilstm_textcat_words_per_s": round(base_wps),
        "torch_bilstm_with_sum_hash_embed_words_per_s": round(words_per_second(mixed, texts, n_words)),
        "speedup": round(ours_wps / base_wps, 2),
        "machine": f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}",
        "versions": {"spacy": spacy.__version__, "thinc": thinc.__version__, "torch": torch.__version__},
    }
    lengths = [len(doc) for doc in ours.tokenizer.pipe(texts)]
    result["sentences_bilstm"] = packed_vs_padded(lengths, 64, width)
    result["sentences_bilstm"]["n_tokens"] = sum(lengths)
    if args.long_data and Path(args.long_data).exists():
        long_texts = [r["text"] for r in read_jsonl(args.long_data)][:16]
        long_lengths = [len(doc) for doc in ours.tokenizer.pipe(long_texts)]
        result["long_reviews_bilstm"] = packed_vs_padded(long_lengths, 64, width, runs=2)
        result["long_reviews_bilstm"]["n_docs"] = len(long_lengths)
        result["long_reviews_bilstm"]["n_tokens"] = sum(long_lengths)
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
