"""``python -m spacy_rnn lm-eval`` and ``next-words``: use a pretrained language model.

Both read what ``spacy pretrain`` wrote with ``[pretraining.objective]
lm_dir`` set (see :mod:`spacy_rnn.pretraining.saved_lm`).
"""
from itertools import islice
from pathlib import Path
from typing import Optional

import srsly

from ..data import CorpusError, iter_raw_texts
from ..errors import ConfigValueError
from ..pretraining.saved_lm import PretrainedLM, load_pretrained_lm
from ..output_file import write_bytes_atomically
from ._util import Arg, Opt, app, fail, good, guard_output

MODEL_HELP = (
    "spacy pretrain's output directory (model-last.bin, else the newest model{N}.bin), or one of its "
    "model*.bin files; pretrained with [pretraining.objective] lm_dir set to that directory"
)


def _load(model: Path) -> PretrainedLM:
    try:
        return load_pretrained_lm(model)
    except ConfigValueError as e:
        fail(str(e))


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}"


@app.command("lm-eval", no_args_is_help=True)
def lm_eval_cli(
    # fmt: off
    model: Path = Arg(..., help=MODEL_HELP, metavar="MODEL"),
    text_path: Path = Arg(..., help="Held-out raw text: .jsonl (the text under --text-key), .txt (one text a line) or a directory of them", metavar="TEXT_FILE"),
    text_key: str = Opt("text", "--text-key", help="JSONL field holding the text"),
    clean_html: bool = Opt(True, "--clean-html/--no-clean-html", help="Replace HTML line breaks (<br />) by spaces, as the pretraining reader does"),
    limit: int = Opt(0, "--limit", min=0, help="Score only the first N texts (0: all)"),
    output: Optional[Path] = Opt(None, "--output", "-o", help="Also write the numbers to this JSON file", dir_okay=False),
    # fmt: on
) -> None:
    """Print the held-out perplexity of a pretrained language model, per direction.

    The perplexity is exp(mean negative log-likelihood) of each token's NORM
    (words outside the model's vocabulary count as one "unknown" word; doc
    boundaries are predicted when the model was trained to), dropout off, as
    the pretraining objective computes it. The training perplexity recorded
    at the model's last save is printed beside it; it was computed with
    dropout on, on the batches as they were trained.
    """
    guard_output(output, [model, text_path], "--output")
    lm = _load(model)
    texts = iter_raw_texts(text_path, text_key, clean_html)
    if limit:
        texts = islice(texts, limit)
    try:
        result = lm.evaluate(lm.nlp.tokenizer.pipe(texts, batch_size=256))
    except CorpusError as e:
        fail(str(e))
    if not result["tokens"]:
        fail(f"{text_path} has no tokens: nothing to score. Check the path and --text-key.")
    train = lm.train_perplexity
    report = {"model": str(model), "text": str(text_path), "held_out": result, "train": train}
    rows = [("held-out", result)]
    if train is not None:
        rows.append(("training (last save, dropout on)", train))
    lines = [f"{'':34} {'both':>8} {'forward':>8} {'backward':>8} {'tokens':>10}"]
    for name, r in rows:
        lines.append(
            f"{name:34} {_fmt(r['perplexity']):>8} {_fmt(r['forward']):>8} {_fmt(r['backward']):>8} {r['tokens']:>10}"
        )
    print("\n".join(lines))
    unknown = result["unknown_share"]
    print(
        f"{result['docs']} texts; {100 * unknown:.1f}% of the targets are the unknown id "
        f"({lm.vocab.n_classes} classes)" if unknown is not None else f"{result['docs']} texts"
    )
    if output is not None:
        write_bytes_atomically(output, srsly.json_dumps(report, indent=2).encode("utf8") + b"\n")
        good(f"Wrote {output}", err=True)


@app.command("next-words", no_args_is_help=True)
def next_words_cli(
    # fmt: off
    model: Path = Arg(..., help=MODEL_HELP, metavar="MODEL"),
    text: str = Arg(..., help="The text to continue"),
    top: int = Opt(5, "--top", "-n", min=1, help="How many words to list"),
    # fmt: on
) -> None:
    """Print the forward language model's most likely next words after TEXT.

    One line a word: its probability and the word (a NORM, lower-cased as the
    model predicts it). "<unknown>" is every word outside the model's
    vocabulary together; "<end of text>" is the end of the document.
    """
    lm = _load(model)
    try:
        words = lm.next_words(text, top=top)
    except ValueError as e:
        fail(str(e))
    for word, p in words:
        print(f"{p:.3f}  {word}")
