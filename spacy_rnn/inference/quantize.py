"""Write a copy of a trained pipeline whose classifiers are saved with int8
weights (:mod:`spacy_rnn.quantization`): ``python -m spacy_rnn quantize``."""
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from .calibration import check_new_folder, choose_component, write_with_settings


@dataclass
class Quantization:
    """What :func:`quantize` wrote: the components set to int8, and the bytes
    on disk of the pipeline before and after, all files and without the
    vectors table (``vocab/vectors`` and ``vocab/key2row``), which stays as it was."""

    components: List[str]
    output_path: Path
    bytes_before: Optional[int]
    bytes_after: int
    bytes_before_without_vectors: Optional[int]
    bytes_after_without_vectors: int


VECTOR_FILES = ("vectors", "key2row")


def pipeline_bytes(path: Path, *, vectors: bool = True) -> int:
    """The bytes of the files under a saved pipeline ``path``; with
    ``vectors=False``, without ``vocab/vectors`` and ``vocab/key2row``."""
    return sum(
        f.stat().st_size for f in Path(path).rglob("*")
        if f.is_file() and (vectors or not (f.parent.name == "vocab" and f.name in VECTOR_FILES))
    )


def quantize(
    model: Union[str, Path],
    output_path: Union[str, Path],
    *,
    component: Optional[str] = None,
) -> Quantization:
    """Write a copy of a trained pipeline with ``weights_dtype = "int8"`` in
    its classifiers' configs, so their weights are saved as int8 blocks
    (about a quarter of the size) and load with ``spacy.load`` as float32.

    model (Union[str, Path]): The pipeline: a path or a package name.
    output_path (Union[str, Path]): The folder to write the copy to; it must
        not exist yet, or be empty.
    component (Optional[str]): Only this component; default every
        ``rnn_textcat`` and ``rnn_textcat_multilabel``.
    RETURNS (Quantization): The components and the sizes before and after.
    RAISES (EvaluationError): No such component.
    RAISES (OutputError): ``output_path`` is the input, inside it, or a folder
        that is not empty.
    RAISES (ScoreError): The pipeline cannot be loaded.
    """
    from .classifiers import load_pipeline

    output_path = Path(output_path)
    check_new_folder(output_path, [model])
    nlp = load_pipeline(model)
    names = [] if component is not None else [name for name in nlp.pipe_names if hasattr(nlp.get_pipe(name), "weights_dtype")]
    if not names:  # the one asked for, checked; or none there: the error names the components there are
        names = [choose_component(nlp, component, model, "weights_dtype")]
    for name in names:
        nlp.get_pipe(name).weights_dtype = "int8"
    write_with_settings(nlp, {name: {"weights_dtype": "int8"} for name in names}, output_path)
    source = nlp.path  # the folder it was loaded from, also for a package name
    return Quantization(
        components=names, output_path=output_path,
        bytes_before=pipeline_bytes(source) if source else None,
        bytes_after=pipeline_bytes(output_path),
        bytes_before_without_vectors=pipeline_bytes(source, vectors=False) if source else None,
        bytes_after_without_vectors=pipeline_bytes(output_path, vectors=False),
    )


__all__ = ["Quantization", "quantize", "pipeline_bytes"]
