"""Inference speed with static vectors: the vectors recipe against spaCy's
TorchBiLSTMEncoder textcat with the same vectors, in one process (issue 10).

    OMP_NUM_THREADS=1 python benchmarks/vectors_speed.py assets/vectors_en_md \
        [--data ../shared/data/sst2/dev.jsonl] [--output benchmarks/vectors_speed.json]

Every pipeline is initialized on the same labelled sentences with the same
vectors table loaded into its vocab and timed with ``nlp.pipe`` (batch size
1000) over the same texts: median of 5 runs after a warm-up. Speed does not
depend on trained weights, so nothing is trained. The variants separate the
costs: our default without vectors, with vectors only, with the bag-of-bigrams
branch only, the recipe (both, their probabilities averaged) and the recipe
with the branches' scores summed instead; spaCy's TorchBiLSTMEncoder textcat with
and without the vectors. A cProfile of the recipe's ``nlp.pipe`` says where its
time goes, by function (``--profile-top``).
"""
import argparse
import cProfile
import io
import json
import platform
import pstats
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import spacy
import torch
from thinc.api import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_speed import build, read_jsonl, words_per_second  # noqa: E402
from textcat_benchmark import CONFIG_DIR, component_block  # noqa: E402


def ours(vectors: bool, bigrams: bool, combine: Optional[str] = None) -> Dict[str, Any]:
    """Our recipe's model block with vectors and the bag-of-bigrams branch on
    or off, and the branches combined as the recipe does or as ``combine`` says."""
    model = Config().from_disk(CONFIG_DIR / "sentiment_bilstm_vectors.cfg", interpolate=False)
    model = model["components"]["rnn_textcat"]["model"]
    model["tok2vec"]["embed"]["include_static_vectors"] = vectors
    model["bow_ngram_size"] = 2 if bigrams else 0
    if combine is not None:
        model["bow_combine"] = combine
    return {"model": model}


VARIANTS = {
    "ours_no_vectors": ("rnn_textcat", lambda: ours(False, False), False),
    "ours_vectors_only": ("rnn_textcat", lambda: ours(True, False), True),
    "ours_bigrams_only": ("rnn_textcat", lambda: ours(False, True), False),
    "ours_vectors_recipe": ("rnn_textcat", lambda: ours(True, True), True),
    # the recipe with its branches' scores summed (bow_combine = "sum") instead of averaged
    "ours_vectors_recipe_summed": ("rnn_textcat", lambda: ours(True, True, combine="sum"), True),
    "torch_bilstm": ("textcat", lambda: {"model": component_block("spacy_torch_bilstm")["model"]}, False),
    "torch_bilstm_vectors": ("textcat", lambda: {"model": component_block("spacy_torch_bilstm_vectors")["model"]}, True),
}


def profile(nlp, texts, top: int) -> str:
    list(nlp.pipe(texts, batch_size=1000))
    profiler = cProfile.Profile()
    profiler.enable()
    list(nlp.pipe(texts, batch_size=1000))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vectors", help="a vectors directory (spacy project run vectors) or a pipeline package")
    parser.add_argument("--data", default="../shared/data/sst2/dev.jsonl")
    parser.add_argument("--repeat", type=int, default=4, help="time the texts repeated this many times")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args()
    records = read_jsonl(args.data)
    texts = [r["text"] for r in records] * args.repeat
    n_words = sum(len(doc) for doc in spacy.blank("en").tokenizer.pipe(texts))
    pipelines = {name: build(factory, config(), records, args.vectors if load else None)
                 for name, (factory, config, load) in VARIANTS.items()}
    result: Dict[str, Any] = {
        "data": args.data, "repeat": args.repeat, "n_words": n_words, "vectors": args.vectors,
        "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "words_per_s": {},
    }
    for name, nlp in pipelines.items():
        result["words_per_s"][name] = round(words_per_second(nlp, texts, n_words))
        print(f"{name:24s} {result['words_per_s'][name]:>10,} words/s", flush=True)
    wps = result["words_per_s"]
    result["recipe_x_torch_bilstm_vectors"] = round(wps["ours_vectors_recipe"] / wps["torch_bilstm_vectors"], 2)
    result["recipe_x_ours_no_vectors"] = round(wps["ours_vectors_recipe"] / wps["ours_no_vectors"], 2)
    print(f"recipe / TorchBiLSTM with vectors: {result['recipe_x_torch_bilstm_vectors']:.2f}x; "
          f"recipe / ours without vectors: {result['recipe_x_ours_no_vectors']:.2f}x")
    report = profile(pipelines["ours_vectors_recipe"], texts, args.profile_top)
    print(report)
    result["profile_top"] = [line for line in report.splitlines() if line.strip()][: args.profile_top + 8]
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
