"""int8 weights (issue 38): trained pipelines saved int8 by ``python -m
spacy_rnn quantize`` against the same pipelines in float32, and PyTorch's
dynamic int8 LSTM against the float32 one.

    python benchmarks/int8.py [--rounds 5] [--threads 1]

For every trained pipeline found (``MODELS``: the factory default with static
vectors, 3 seeds each, trained by ``textcat_benchmark.py`` on SST-2, SST-5 and
TREC, and the main job's recipe on reviews2k and IMDB trained by ``spacy
project run train-evaluate . --vars.data_dir ../shared/data --vars.corpus
NAME --vars.eval_split dev``), the script writes the int8 copy and reports:

- bytes on disk: all files, without the vectors table (which quantize
  copies as it is), and the classifier component's folder alone (the rest
  is spaCy's: the tokenizer and the string store, which grows with the
  training corpus's vocabulary);
- dev accuracy and spaCy's macro-F of both, the largest change of any
  probability and the share of documents whose top label changed;
- words/s of ``nlp.pipe`` over the dev texts at batch 1000, both pipelines
  loaded with ``spacy.load`` in this process, alternated, median of
  ``--rounds`` passes after a warm-up.

Then the compute question: ``torch.ao.quantization.quantize_dynamic`` on one
direction of the default encoder's LSTM (64 inputs, 64 units), time per call
against float32 at the batch shapes of ``nlp(text)``, a sentence batch and
a review batch, alternated in one process (median of ``--rounds`` x 20 calls).

Writes ``benchmarks/int8.json``.
"""
import argparse
import json
import platform
import shutil
import statistics
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List

import spacy
import torch
from spacy.tokens import DocBin

from heldout import ROOT, pair_scores
from spacy_rnn.inference.quantize import pipeline_bytes, quantize

BENCH = ROOT / "training" / "bench_defaults"
MODELS: Dict[str, List[Path]] = {
    **{name: [BENCH / name / f"rnn_default_vectors{tag}" / "model-best" for tag in ("", "-seed1", "-seed2")]
       for name in ("sst2", "sst5", "trec")},
    **{name: [ROOT / "training" / name / "sentiment_bilstm_long_vectors" / "model-best"]
       for name in ("reviews2k", "imdb")},
}
DEV = {name: BENCH / name / "corpus" / "dev.spacy" for name in ("sst2", "sst5", "trec")}
DEV.update({name: ROOT / "corpus" / name / "dev.spacy" for name in ("reviews2k", "imdb")})
OUT = ROOT / "training" / "int8"
# (time steps, sequences): one sentence, a batch of sentences, a batch of reviews
LSTM_SHAPES = [(20, 1), (20, 64), (20, 1000), (230, 64)]


def scores(nlp, docs) -> Dict[str, Any]:
    pipe = next(p for _, p in nlp.pipeline if hasattr(p, "weights_dtype"))
    pairs = [(dict(p.cats), dict(g.cats)) for p, g in zip(nlp.pipe((d.text for d in docs), batch_size=1000), docs)]
    return {**pair_scores(pipe, pairs), "pairs": pairs, "labels": list(pipe.labels)}


def words_per_second(nlps: Dict[str, Any], texts: List[str], n_words: int, rounds: int) -> Dict[str, float]:
    times: Dict[str, List[float]] = {name: [] for name in nlps}
    for nlp in nlps.values():  # warm-up
        list(nlp.pipe(texts[:1000], batch_size=1000))
    for _ in range(rounds):
        for name, nlp in nlps.items():
            start = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=1000):
                pass
            times[name].append(time.perf_counter() - start)
    return {name: round(n_words / statistics.median(t)) for name, t in times.items()}


def pipeline_row(corpus: str, model: Path, rounds: int) -> Dict[str, Any]:
    out = OUT / corpus / model.parent.name
    if out.exists():
        shutil.rmtree(out)
    quantize(model, out)
    nlps = {"float32": spacy.load(model), "int8": spacy.load(out)}
    component = next(name for name, pipe in nlps["int8"].pipeline if hasattr(pipe, "weights_dtype"))
    docs = list(DocBin().from_disk(DEV[corpus]).get_docs(nlps["float32"].vocab))
    texts = [d.text for d in docs]
    result = {name: scores(nlp, docs) for name, nlp in nlps.items()}
    fp, q = result["float32"], result["int8"]
    changed = [max(fp["labels"], key=a[0].get) != max(fp["labels"], key=b[0].get)
               for a, b in zip(fp["pairs"], q["pairs"])]
    speed = words_per_second(nlps, texts, sum(len(d) for d in docs), rounds)
    return {
        "corpus": corpus, "model": str(model.relative_to(ROOT)), "dev_docs": len(docs),
        "bytes": {"float32": pipeline_bytes(model), "int8": pipeline_bytes(out)},
        "bytes_without_vectors": {"float32": pipeline_bytes(model, vectors=False),
                                  "int8": pipeline_bytes(out, vectors=False)},
        "component_bytes": {"float32": pipeline_bytes(model / component), "int8": pipeline_bytes(out / component)},
        "accuracy": {"float32": round(fp["accuracy"], 4), "int8": round(q["accuracy"], 4)},
        "macro_f": {"float32": round(fp["macro_f"], 4), "int8": round(q["macro_f"], 4)},
        "max_probability_change": round(max(abs(a[0][k] - b[0][k]) for a, b in zip(fp["pairs"], q["pairs"])
                                            for k in a[0]), 5),
        "top_label_changed": round(sum(changed) / len(changed), 4),
        "words_per_s": speed, "speed_int8_over_float32": round(speed["int8"] / speed["float32"], 3),
    }


def lstm_compute(rounds: int) -> List[Dict[str, Any]]:
    from torch import nn

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        for steps, batch in LSTM_SHAPES:
            torch.manual_seed(0)
            lstm = nn.LSTM(64, 64)
            qlstm = torch.ao.quantization.quantize_dynamic(nn.Sequential(lstm), {nn.LSTM}, dtype=torch.qint8)[0]
            x = torch.randn(steps, batch, 64)
            times: Dict[str, List[float]] = {"float32": [], "int8": []}
            with torch.no_grad():
                for module in (lstm, qlstm):
                    module(x)
                for _ in range(rounds):
                    for name, module in (("float32", lstm), ("int8", qlstm)):
                        start = time.perf_counter()
                        for _ in range(20):
                            module(x)
                        times[name].append((time.perf_counter() - start) / 20)
                error = float((lstm(x)[0] - qlstm(x)[0]).abs().max())
            ms = {name: round(statistics.median(t) * 1000, 4) for name, t in times.items()}
            rows.append({"steps": steps, "sequences": batch, "ms_per_call": ms,
                         "speed_int8_over_float32": round(ms["float32"] / ms["int8"], 3),
                         "max_output_difference": round(error, 4)})
            print(f"LSTM {steps} steps x {batch}: {ms}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(Path(__file__).with_suffix(".json")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.time()
    rows, missing = [], []
    for corpus, models in MODELS.items():
        for model in models:
            if not model.exists():
                missing.append(str(model.relative_to(ROOT)))
                continue
            row = pipeline_row(corpus, model, args.rounds)
            rows.append(row)
            print(f"{corpus} {model.parent.name}: acc {row['accuracy']}, without vectors "
                  f"{row['bytes_without_vectors']}, speed x{row['speed_int8_over_float32']}", flush=True)
    summary = {}
    for corpus in MODELS:
        mine = [r for r in rows if r["corpus"] == corpus]
        if mine:
            summary[corpus] = {
                "models": len(mine),
                "accuracy_change_points_mean": round(100 * statistics.mean(
                    r["accuracy"]["int8"] - r["accuracy"]["float32"] for r in mine), 2),
                "accuracy_change_points_worst": round(100 * min(
                    r["accuracy"]["int8"] - r["accuracy"]["float32"] for r in mine), 2),
                "size_without_vectors_int8_over_float32": round(statistics.mean(
                    r["bytes_without_vectors"]["int8"] / r["bytes_without_vectors"]["float32"] for r in mine), 3),
                "component_size_int8_over_float32": round(statistics.mean(
                    r["component_bytes"]["int8"] / r["component_bytes"]["float32"] for r in mine), 3),
                "speed_int8_over_float32": round(statistics.median(r["speed_int8_over_float32"] for r in mine), 3),
            }
    results = {
        "settings": {"rounds": args.rounds, "threads": args.threads, "batch_size": 1000},
        "summary": summary, "pipelines": rows, "missing": missing,
        "lstm_dynamic_int8": lstm_compute(args.rounds),
        "wall_s": round(time.time() - start, 1),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "spacy": spacy.__version__,
                    "cpu": platform.processor() or platform.machine()},
    }
    Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf8")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
