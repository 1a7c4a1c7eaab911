"""``python -m spacy_rnn convert``: a labelled JSONL/CSV/TSV file to a ``.spacy`` DocBin."""
from pathlib import Path
from typing import List, Optional

import spacy
from wasabi import table

from ..data import CorpusError
from ..errors import OutputError
from ..data.checks import max_length_setting
from ..data.convert import MAX_LABELS, convert_corpus
from ._util import Arg, Opt, allow_large_csv_fields, app, fail, good, warn

INPUT_HELP = (
    "Labelled corpus: .jsonl (one object a line, with a text and a 'label' string or a "
    "'labels' list), .csv or .tsv (a header row, a text column and a label column)"
)


def parse_label_list(value: Optional[str]) -> Optional[List[str]]:
    """Split "a,b,c" into ["a", "b", "c"]; None stays None."""
    if value is None:
        return None
    return [label.strip() for label in value.split(",")]


@app.command("convert", no_args_is_help=True)
def convert_cli(
    # fmt: off
    input_path: Path = Arg(..., help=INPUT_HELP, metavar="INPUT"),
    output_path: Path = Arg(..., help="The .spacy file to write (with --shard-size: a folder of .spacy shards)", metavar="OUTPUT"),
    text_key: str = Opt("text", "--text-key", "--text-column", "-t", help="JSONL field or CSV/TSV column holding the text"),
    label_key: str = Opt("label", "--label-key", "--label-column", "-l", help="JSONL field or CSV/TSV column holding one label"),
    labels_key: str = Opt("labels", "--labels-key", help="JSONL field holding a list of labels (multi-label)"),
    labels: Optional[str] = Opt(None, "--labels", help="Comma-separated full label set, e.g. negative,positive; any other label is an error. Default: the labels found, sorted"),
    label_separator: Optional[str] = Opt(None, "--label-separator", help="CSV/TSV: split the label column on this string (multi-label), e.g. '|'"),
    input_format: Optional[str] = Opt(None, "--format", "-f", help="jsonl, csv, tsv (fields never quoted) or tsv-quoted (fields quoted as in CSV). Default: from the suffix"),
    skip_invalid: bool = Opt(False, "--skip-invalid", help="Skip invalid records and list them, instead of stopping at the first"),
    allow_empty_labels: bool = Opt(False, "--allow-empty-labels", help="Accept empty label lists (multi-label records with no label)"),
    lang: str = Opt("en", "--lang", help="Language whose tokenizer splits the texts (spacy.blank)"),
    clean_html: bool = Opt(True, "--clean-html/--no-clean-html", help="Replace HTML line breaks (<br />) by spaces"),
    max_length: Optional[int] = Opt(None, "--max-length", min=0, help="Refuse texts longer than this many characters (with --skip-invalid: skip them); 0: no limit. Default: the --lang pipeline's nlp.max_length, beyond which spacy train and evaluate refuse a text"),
    max_labels: int = Opt(MAX_LABELS, "--max-labels", min=0, help="Refuse a corpus with more distinct labels, most likely the wrong --label-key (every doc stores a score per label); 0: no limit"),
    shard_size: int = Opt(0, "--shard-size", min=0, help="Write OUTPUT as a folder of .spacy shards of at most this many docs, in bounded memory (for spacy_rnn.StreamingCorpus.v1); 0: one .spacy file"),
    # fmt: on
) -> None:
    """Convert a labelled JSONL, CSV or TSV file to a .spacy file.

    The .spacy file (a DocBin) is for `spacy train`. Each doc gets doc.cats
    over the full label set: 1.0 for its labels, 0.0 for the others. Prints
    the label counts, and the invalid records skipped with --skip-invalid.
    A text longer than spaCy's nlp.max_length is refused (or skipped), as
    spacy train and evaluate would refuse it; --max-length 0 takes any length,
    for a pipeline whose nlp.max_length is raised. With --shard-size N the
    corpus is streamed (read twice when --labels is not given) and written
    as shards of at most N docs into the folder OUTPUT, which replaces an
    earlier one only when every shard is written.
    """
    allow_large_csv_fields()
    if shard_size == 0 and output_path.suffix != ".spacy":
        fail(f"The output file {output_path} must end in .spacy: spacy train reads .spacy files.")
    try:
        nlp = spacy.blank(lang)
    except ImportError as e:
        fail(f"Unknown language {lang!r} (--lang): {e}")
    if max_length is not None:
        nlp.max_length = max_length_setting(max_length)
    try:
        counts, report = convert_corpus(
            input_path, output_path, nlp, text_key=text_key, label_key=label_key, labels_key=labels_key,
            labels=parse_label_list(labels), label_separator=label_separator, format=input_format,
            skip_invalid=skip_invalid, allow_empty_labels=allow_empty_labels, clean_html=clean_html,
            shard_size=shard_size, max_labels=max_labels,
        )
    except (CorpusError, OutputError) as e:
        fail(str(e))
    if report.skipped:
        warn(report.summary(max_listed=100))
    if report.multi_label:
        kind = "multi-label (use rnn_textcat_multilabel)"
    else:
        kind = "single-label (use rnn_textcat)"
    where = f"{len(list(output_path.glob('*.spacy')))} shard(s) in {output_path}" if shard_size else str(output_path)
    good(f"Wrote {report.n_records} docs to {where}: {kind}")
    print(table(counts, header=("label", "records"), aligns=("l", "r")))
