"""The page of ``evaluate --plots`` in a real browser: trained, evaluated,
rendered by headless Chromium, and checked not blank.

    python benchmarks/evaluation_page.py

1. Trains the factory default ``rnn_textcat`` (``nlp.add_pipe("rnn_textcat")``,
   no vectors) on TREC train for ``--seconds`` of ``nlp.update`` (batches of
   32, dropout 0.2, shuffled each epoch, seed 0) and saves it to
   ``training/evaluation_page/model``.
2. Runs ``python -m spacy_rnn evaluate MODEL TREC-DEV --plots DIR -o
   metrics.json``, as a user would, into ``training/evaluation_page/``.
3. Opens ``DIR/evaluation.html`` in headless Chromium (``--screenshot``,
   network features off) and writes the screenshot to
   ``benchmarks/evaluation_page.png``.
4. Checks the screenshot: a PNG of the window's size, not blank (the
   standard deviation of its pixels), with the two images rendered (rows of
   the page that hold the blues of the confusion matrix and the bars); and the
   page: self-contained (no ``http``, no script), the two data URIs, every
   label in the table. What was checked goes to ``benchmarks/evaluation_page.json``.

Chromium: ``apt-get install -y chromium`` (``--chromium`` for another path).
It runs with a fresh profile in a temporary folder and is given the page as
a ``file://`` URL; the page's Content-Security-Policy forbids any fetch.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trec"
WORK = ROOT / "training" / "evaluation_page"
WINDOW = (1200, 1600)


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


def train(train_path: Path, model: Path, seconds: float, seed: int = 0) -> Dict[str, Any]:
    """The factory default, trained for ``seconds`` of updates; saved to ``model``."""
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    records = read_jsonl(train_path)
    labels = sorted({r["label"] for r in records})
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    examples = [Example.from_dict(nlp.make_doc(r["text"]), {"cats": {lab: float(lab == r["label"]) for lab in labels}})
                for r in records]
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(seed)
    start, updates, epochs = time.perf_counter(), 0, 0
    while time.perf_counter() - start < seconds:
        rng.shuffle(examples)
        for batch in minibatch(examples, size=32):
            nlp.update(batch, sgd=optimizer, drop=0.2)
            updates += 1
            if time.perf_counter() - start >= seconds:
                break
        epochs += 1
    nlp.to_disk(model)
    return {"train_docs": len(records), "labels": labels, "updates": updates, "epochs_started": epochs,
            "train_seconds": round(time.perf_counter() - start, 1)}


def screenshot(chromium: str, page: Path, out: Path) -> float:
    """Render ``page`` in headless Chromium into ``out``; RETURNS the seconds it took."""
    with tempfile.TemporaryDirectory() as profile:
        start = time.perf_counter()
        subprocess.run([
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", page.resolve().as_uri(),
        ], check=True, capture_output=True, timeout=120)
        return time.perf_counter() - start


def check_screenshot(path: Path) -> Dict[str, Any]:
    """What the screenshot shows: its size, its spread of pixel values, and
    the share of its rows with blue pixels (the confusion matrix's cells, the bars)."""
    import numpy
    from matplotlib import image

    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    pixels = image.imread(path)[:, :, :3]
    red, green, blue = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
    bluish = (blue > red + 0.15) & (blue > green + 0.05)
    blue_rows = bluish.any(axis=1)
    return {
        "width": int(pixels.shape[1]), "height": int(pixels.shape[0]),
        "pixel_std": round(float(pixels.std()), 4),
        "non_white_share": round(float((pixels.min(axis=2) < 0.95).mean()), 4),
        "blue_pixel_share": round(float(bluish.mean()), 4),
        "rows_with_blue_share": round(float(blue_rows.mean()), 4),
        "first_blue_row": int(numpy.argmax(blue_rows)) if blue_rows.any() else None,
    }


def check_page(page: Path, labels: List[str]) -> Dict[str, Any]:
    import html

    text = page.read_text(encoding="utf8")
    table = text.split('<table class="labels">', 1)[-1]
    return {
        "bytes": len(text.encode("utf8")),
        "data_uri_images": text.count('src="data:image/png;base64,'),
        "self_contained": not any(s in text for s in ("http://", "https://", "<script", "url(")),
        "labels_in_table": sum(f"<td>{html.escape(label)}</td>" in table for label in labels),
    }


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=DATA / "train.jsonl")
    parser.add_argument("--dev", type=Path, default=DATA / "dev.jsonl")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of training updates")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "benchmarks" / "evaluation_page.png")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "evaluation_page.json")
    parser.add_argument("--reuse-model", action="store_true", help="evaluate the model an earlier run saved")
    args = parser.parse_args(argv)

    model, plots, metrics = WORK / "model", WORK / "plots", WORK / "metrics.json"
    WORK.mkdir(parents=True, exist_ok=True)
    training = {"reused": os.path.relpath(model, ROOT)} if args.reuse_model and model.exists() else \
        train(args.train, model, args.seconds)
    start = time.perf_counter()
    evaluated = subprocess.run([sys.executable, "-m", "spacy_rnn", "evaluate", os.path.relpath(model, ROOT),
                                os.path.relpath(args.dev, ROOT), "--plots", str(plots), "-o", str(metrics)],
                               capture_output=True, text=True, cwd=ROOT)
    if evaluated.returncode != 0:
        sys.exit(f"evaluate failed:\n{evaluated.stdout}\n{evaluated.stderr}")
    evaluate_s = time.perf_counter() - start
    scores = json.loads(metrics.read_text())
    labels = scores["cats_confusion"]["labels"]
    page = plots / "evaluation.html"
    render_s = screenshot(args.chromium, page, args.screenshot)
    shot = check_screenshot(args.screenshot)
    page_checks = check_page(page, labels)
    checks = {
        "screenshot is the window's size": [shot["width"], shot["height"]] == list(WINDOW),
        "screenshot not blank (pixel std > 0.05)": shot["pixel_std"] > 0.05,
        "figures rendered (blue in > 20% of rows)": shot["rows_with_blue_share"] > 0.2,
        "two data: images in the page": page_checks["data_uri_images"] == 2,
        "page self-contained": page_checks["self_contained"],
        "every label in the table": page_checks["labels_in_table"] == len(labels),
    }
    result = {
        "command": " ".join(["python benchmarks/evaluation_page.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": "nlp.add_pipe('rnn_textcat'), the factory default, no vectors",
        "training": training,
        "dev": {"path": os.path.relpath(args.dev, ROOT), "docs": sum(map(sum, scores["cats_confusion"]["matrix"]))},
        "scores": {key: scores.get(key) for key in ("cats_score", "cats_macro_auc", "cats_ece", "cats_brier")},
        "evaluate_seconds": round(evaluate_s, 1), "render_seconds": round(render_s, 1),
        "chromium": subprocess.run([args.chromium, "--version"], capture_output=True, text=True).stdout.strip(),
        "screenshot": {"path": os.path.relpath(args.screenshot, ROOT), **shot},
        "page": page_checks, "checks": checks, "all_passed": all(checks.values()),
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["all_passed"]:
        sys.exit("a check failed: " + ", ".join(name for name, ok in checks.items() if not ok))


if __name__ == "__main__":
    main()
