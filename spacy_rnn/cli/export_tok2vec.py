"""``python -m spacy_rnn export-tok2vec``: a trained component's tok2vec as
an ``init_tok2vec`` file.

``spacy pretrain`` writes the tok2vec's Thinc bytes (``model{N}.bin``), and
``[initialize] init_tok2vec`` (``--paths.init_tok2vec``) loads such a file
into the layer that ``[pretraining] component`` and ``layer`` name. This
command writes the same bytes from a trained pipeline instead, so a tok2vec
trained with labels (e.g. on IMDB's reviews) can start a model for a corpus
with other labels (e.g. SST-5). For the same labels, sourcing the whole
component (``configs/sentiment_bilstm_vectors_finetune.cfg``) keeps the
output layers too. The training config must describe the same tok2vec.
"""
from pathlib import Path

from ..errors import ScoreError
from ..inference.classifiers import load_pipeline
from ..output_file import write_bytes_atomically
from ._util import Arg, Opt, app, fail, good, guard_output


def export_tok2vec(pipeline: Path, output: Path, component: str = "rnn_textcat") -> int:
    """Write the Thinc bytes of ``component``'s "tok2vec" layer in the
    pipeline at ``pipeline`` to ``output``; return their size. Raises
    ValueError naming what is missing (a ScoreError for a pipeline that
    cannot be loaded)."""
    nlp = load_pipeline(pipeline)
    if component not in nlp.pipe_names:
        raise ValueError(f"{pipeline} has no component {component!r} (it has {', '.join(nlp.pipe_names) or 'none'}); "
                         "pass --component")
    model = nlp.get_pipe(component).model
    if not model.has_ref("tok2vec"):
        raise ValueError(f"{component!r} in {pipeline} has no \"tok2vec\" layer to export")
    data = model.get_ref("tok2vec").to_bytes()
    write_bytes_atomically(output, data)
    return len(data)


@app.command("export-tok2vec")
def export_tok2vec_cli(
    # fmt: off
    pipeline: Path = Arg(..., help="A trained pipeline folder (e.g. model-best)", exists=True, file_okay=False),
    output: Path = Arg(..., help="The file to write (use it as --paths.init_tok2vec)", dir_okay=False),
    component: str = Opt("rnn_textcat", "--component", "-c", help="The component whose tok2vec to export"),
    # fmt: on
) -> None:
    """Write a trained component's tok2vec weights in spacy pretrain's format,
    for [initialize] init_tok2vec in a config with the same tok2vec."""
    guard_output(output, [pipeline], "OUTPUT")
    try:
        size = export_tok2vec(pipeline, output, component)
    except (ScoreError, ValueError) as e:
        fail(str(e))
    good(f"{component} tok2vec of {pipeline} ({size:,} bytes) -> {output} (train with --paths.init_tok2vec {output})")
