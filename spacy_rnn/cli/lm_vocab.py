"""``python -m spacy_rnn lm-vocab``: the target words of language-model pretraining."""
from pathlib import Path

import spacy

from ..data import CorpusError, iter_raw_texts
from ..pretraining.vocab import count_norms, write_lm_vocab
from ._util import Arg, Opt, app, fail, good, guard_output

INPUT_HELP = (
    "Raw text: .jsonl (an object a line, the text under --text-key), .txt (one text a line), "
    "or a directory of such files; the same path as [paths] raw_text"
)


@app.command("lm-vocab", no_args_is_help=True)
def lm_vocab_cli(
    # fmt: off
    input_path: Path = Arg(..., help=INPUT_HELP, metavar="INPUT"),
    output_path: Path = Arg(..., help="The JSON file to write (vocab_path of spacy_rnn.PretrainRNNLM.v1)", metavar="OUTPUT", dir_okay=False),
    size: int = Opt(10000, "--size", "-n", min=1, help="How many of the most frequent NORMs the language model predicts; the others share one unknown id"),
    lang: str = Opt("en", "--lang", help="Language whose tokenizer splits the texts (spacy.blank); the pipeline's lang"),
    text_key: str = Opt("text", "--text-key", help="JSONL field holding the text"),
    clean_html: bool = Opt(True, "--clean-html/--no-clean-html", help="Replace HTML line breaks (<br />) by spaces, as the pretraining reader does"),
    # fmt: on
) -> None:
    """Count the NORMs of a raw-text corpus and write the most frequent ones.

    The output is the vocab_path of the spacy_rnn.PretrainRNNLM.v1
    pretraining objective: the words it predicts, sorted by falling count
    (ties by the word), so the same corpus always gives the same file. Read
    the texts as spacy pretrain will (same --text-key and --clean-html as the
    reader, same --lang as the pipeline).
    """
    guard_output(output_path, [input_path], "OUTPUT")
    try:
        nlp = spacy.blank(lang)
    except ImportError as e:
        fail(f"Unknown language {lang!r} (--lang): {e}")
    try:
        counts, n_docs, n_tokens = count_norms(iter_raw_texts(input_path, text_key, clean_html), nlp)
    except CorpusError as e:
        fail(str(e))
    if not n_tokens:
        fail(f"{input_path} has no tokens: nothing to count. Check the path and --text-key.")
    top = write_lm_vocab(
        output_path, counts, size, lang=lang, n_docs=n_docs, n_tokens=n_tokens, sources=[str(input_path)]
    )
    covered = sum(count for _, count in top)
    good(
        f"Wrote {len(top)} of {len(counts)} distinct NORMs to {output_path} ({n_docs} docs, "
        f"{n_tokens} tokens; the vocabulary covers {100 * covered / n_tokens:.1f}% of the tokens)"
    )
