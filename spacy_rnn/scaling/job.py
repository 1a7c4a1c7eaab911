"""One Ray scoring job: connect to a cluster (or start one), read, score with a pool of actors, write.

``python -m spacy_rnn score MODEL INPUT OUTPUT --engine ray`` is a thin
command over :func:`score_with_ray`.
"""
import fnmatch
import glob
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from ..data.formats import RAY_FORMATS, describe_suffixes, suffix_format
from ..errors import ScoreError
from ..output_file import check_output
from ..inference.classifiers import classifier_labels, load_classifier
from ..inference.options import ScoreOptions
from .scorer import PipelineScorer

RAY_EXTRA = "pip install 'spacy-rnn[ray]'"
# Restarts of a dead actor (and retries of the batch it was scoring) before
# the job fails: enough for a lost node or an OOM-killed process, not an
# endless loop on a batch that kills every actor that scores it.
MAX_RETRIES = 3
_GLOB_CHARS = "*?["


def import_ray() -> Any:
    """``import ray`` and Ray Data, or a :class:`ScoreError` that says how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise ScoreError(f"The Ray engine needs Ray Data, which is not installed ({e}). Install it with: {RAY_EXTRA}")
    return ray


@dataclass
class RayJob:
    """What a Ray scoring job did.

    input_paths (List[str]): The input files, after expanding globs.
    input_format (str): Their format.
    output_path (str): The output directory (one file per block).
    output_format (str): Its format.
    actors (int): Scoring actors.
    labels (List[str]): The pipeline's labels; the output has a column
        ``{cats_field}.{label}`` for each.
    """

    input_paths: List[str]
    input_format: str
    output_path: str
    output_format: str
    actors: int
    labels: List[str]


def _is_uri(path: str) -> bool:
    return "://" in path


def expand_paths(patterns: Union[str, Sequence[str]]) -> List[str]:
    """Files and directories for paths or globs (local, or URIs that pyarrow opens: ``s3://...``).

    A glob must match something, and so must a plain local path; directories
    are listed by Ray. RAISES (ScoreError): A path or glob matches nothing.
    """
    found: List[str] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        pattern = str(pattern)
        if not any(c in pattern for c in _GLOB_CHARS):
            if not _is_uri(pattern) and not os.path.exists(pattern):
                raise ScoreError(f"The input {pattern} does not exist.")
            found.append(pattern)
            continue
        matches = _glob_uri(pattern) if _is_uri(pattern) else sorted(glob.glob(pattern, recursive=True))
        matches = [m for m in matches if not posixpath.basename(m).startswith((".", "_"))]
        if not matches:
            raise ScoreError(f"No file matches the input {pattern}.")
        found.extend(matches)
    return found


def _glob_uri(pattern: str) -> List[str]:
    """The files under a URI that match its glob (listed recursively below the glob's fixed prefix)."""
    import pyarrow.fs as pafs

    scheme, rest = pattern.split("://", 1)
    fixed = rest[: min(rest.index(c) for c in _GLOB_CHARS if c in rest)]
    base = fixed.rsplit("/", 1)[0] if "/" in fixed else fixed
    filesystem, base_path = pafs.FileSystem.from_uri(f"{scheme}://{base}")
    infos = filesystem.get_file_info(pafs.FileSelector(base_path, recursive=True))
    prefix = f"{scheme}://{base}"
    matches = []
    for info in infos:
        if info.type == pafs.FileType.File:
            uri = prefix + info.path[len(base_path):]
            if fnmatch.fnmatchcase(uri, pattern):
                matches.append(uri)
    return sorted(matches)


def ray_format(paths: Sequence[str], given: Optional[str], what: str, option: str) -> str:
    """The format of ``paths``: ``given``, else the one their suffixes name (a directory: its files')."""
    if given is not None:
        if given not in RAY_FORMATS:
            raise ScoreError(f"Unknown {what} format {given!r} ({option}): choose one of {', '.join(RAY_FORMATS)}.")
        return given
    formats = set()
    for path in paths:
        fmt = suffix_format(path)
        if fmt is None and not _is_uri(path) and os.path.isdir(path):
            fmt = _directory_format(path)
        if fmt not in RAY_FORMATS:
            raise ScoreError(
                f"Cannot tell the {what} format of {path}: the Ray engine reads and writes "
                f"{describe_suffixes(RAY_FORMATS)} files. Give it with {option} {'|'.join(RAY_FORMATS)}."
            )
        formats.add(fmt)
    if len(formats) > 1:
        raise ScoreError(f"The {what} mixes formats ({', '.join(sorted(formats))}): score one format at a time.")
    return formats.pop()


def _directory_format(path: str) -> Optional[str]:
    formats = {suffix_format(name) for name in os.listdir(path) if not name.startswith((".", "_"))}
    formats.discard(None)
    return formats.pop() if len(formats) == 1 else None


def _check_output(output_path: str, inputs: Sequence[str]) -> None:
    """The one output guard of every command (:func:`spacy_rnn.output_file.check_output`),
    and a directory that does not exist yet or is empty."""
    if _is_uri(output_path):
        return
    check_output(output_path, [p for p in inputs if not _is_uri(p) and Path(p).exists()], option="OUTPUT",
                 folder=True)
    path = Path(output_path)
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        raise ScoreError(
            f"The output {output_path} already exists. The Ray engine writes a directory of files "
            "(one per block): choose a new OUTPUT, or remove the old one."
        )


def _cluster_cpus(ray: Any) -> float:
    return float(ray.cluster_resources().get("CPU", 1))


def score_with_ray(
    model: Union[str, Path],
    input_path: Union[str, Sequence[str]],
    output_path: Union[str, Path],
    options: Optional[ScoreOptions] = None,
    *,
    input_format: Optional[str] = None,
    output_format: Optional[str] = None,
    address: Optional[str] = None,
    actors: Optional[int] = None,
    cpus_per_actor: float = 1,
    id_field: str = "id",
    max_retries: int = MAX_RETRIES,
    ray_init_args: Optional[Dict[str, Any]] = None,
    **settings: Any,
) -> RayJob:
    """Score files with a saved pipeline on a Ray cluster; write the rows with their scores.

    model (Union[str, Path]): A pipeline's path or package name, which every
        node of the cluster can load (a shared path, or an installed package).
    input_path (Union[str, Sequence[str]]): Files, directories or globs (local,
        or URIs such as ``s3://bucket/reviews/*.parquet``).
    output_path (Union[str, Path]): A directory, one file per block
        (:func:`~.sinks.write_dataset`); it must not exist yet.
    input_format, output_format (Optional[str]): jsonl, csv, tsv or parquet;
        by default from the suffixes (the output's: of the directory's name,
        e.g. ``scored.parquet``; else the input's format).
    address (Optional[str]): The cluster to connect to (``ray://host:10001``,
        ``auto``, ``host:6379``); None: the one this process is already
        connected to, else ``$RAY_ADDRESS``, else a new local cluster, stopped
        at the end (see :func:`init_args`).
    actors (Optional[int]): Scoring actors (each loads the pipeline once);
        default: the cluster's CPUs / ``cpus_per_actor``.
    cpus_per_actor (float): CPUs Ray reserves for each actor; its torch threads.
    options (Optional[ScoreOptions]): The settings the local engine takes
        too (:func:`spacy_rnn.inference.files.score_file`): the text's
        field, the label columns' prefix (``cats.positive``), the top label's
        and the error's fields, ``batch_size`` (rows per batch an actor
        scores, and texts per ``nlp.pipe`` batch), ``clean_html`` and
        ``max_length``; ``settings`` replace single ones. Invalid rows never
        stop the job: each gets its error in the error field.
    id_field (str): The row id's field, kept if the input has it, else added.
    max_retries (int): Restarts of a dead actor, and retries of its batch, before the job fails.
    ray_init_args (Optional[Dict[str, Any]]): More arguments for ``ray.init``.
    RETURNS (RayJob): What was read and written.
    RAISES (ScoreError): Ray is missing, bad options, unreadable pipeline,
        missing input, existing output.
    """
    ray = import_ray()
    options = ScoreOptions.of(options, **settings)
    options.check(("id_field", id_field), ("text_key", options.text_key), always_errors=True)
    if actors is not None and actors < 1:
        raise ScoreError(f"actors (--actors) must be 1 or more, not {actors}.")
    if cpus_per_actor <= 0:
        raise ScoreError(f"cpus_per_actor (--cpus-per-actor) must be more than 0, not {cpus_per_actor}.")
    paths = expand_paths(input_path)
    in_format = ray_format(paths, input_format, "input", "--format")
    output_path = str(output_path)
    out_format = ray_format([output_path], output_format, "output", "--output-format") if (
        output_format is not None or suffix_format(output_path) is not None) else in_format
    _check_output(output_path, [*paths, str(model)])
    # Load it here once: a wrong path fails now, with our message, not in every actor.
    labels = classifier_labels(load_classifier(str(model)))
    started = False
    if not ray.is_initialized():
        ray.init(**init_args(address, actors, cpus_per_actor, ray_init_args))
        started = True
    try:
        n_actors = actors or max(1, int(_cluster_cpus(ray) // cpus_per_actor))
        job = RayJob(paths, in_format, output_path, out_format, n_actors, labels)
        dataset = build_dataset(
            paths, str(model), options, format=in_format, actors=n_actors, cpus_per_actor=cpus_per_actor,
            id_field=id_field, max_retries=max_retries,
        )
        from .sinks import write_dataset

        write_dataset(dataset, output_path, out_format, concurrency=io_tasks(n_actors))
    finally:
        if started:
            ray.shutdown()
    return job


def io_tasks(actors: int) -> int:
    """Read (and write) tasks at once: one per 4 actors. A read of a batch
    takes milliseconds where scoring it takes seconds, and a task that runs
    beside others needs a worker process of its own, which is costly to
    start (docs/design/ray-scaling.md)."""
    return max(1, actors // 4)


def init_args(
    address: Optional[str], actors: Optional[int], cpus_per_actor: float, ray_init_args: Optional[Dict[str, Any]]
) -> Dict[str, Any]:
    """The arguments of ``ray.init``: the cluster at ``address``, else the one
    in ``$RAY_ADDRESS``, else a new local cluster (``address="local"``, never
    one that ``ray start`` left running: the job stops what it starts).

    A local cluster keeps an idle worker process for every actor plus the
    read and write tasks (Ray's ``num_workers_soft_limit``, by default the
    CPUs): with its default, the actors fill the limit, so Ray kills the read
    and write tasks' worker after a second idle and starts a new one for the
    next block, each time taking CPU from the actors
    (docs/design/ray-scaling.md). A cluster
    that someone else runs has its own setting (``RAY_num_workers_soft_limit``
    where it starts). ``ray_init_args`` are added last, so they win.
    """
    args: Dict[str, Any] = {"include_dashboard": False}
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    args["address"] = address
    if address == "local":
        cpus = (ray_init_args or {}).get("num_cpus") or os.cpu_count() or 1
        n_actors = actors or max(1, int(cpus // cpus_per_actor))
        args["_system_config"] = {"num_workers_soft_limit": max(int(cpus), n_actors) + 2 * io_tasks(n_actors)}
    user = dict(ray_init_args or {})
    if "_system_config" in args and "_system_config" in user:
        user["_system_config"] = {**args["_system_config"], **user["_system_config"]}
    return {**args, **user}


def build_dataset(
    paths: Sequence[str],
    model: str,
    options: Optional[ScoreOptions] = None,
    *,
    format: str,
    actors: int,
    cpus_per_actor: float = 1,
    id_field: str = "id",
    max_retries: int = MAX_RETRIES,
    scorer: type = PipelineScorer,
    **scorer_args: Any,
) -> Any:
    """The lazy Ray Dataset of scored rows: :class:`~.datasource.ScoringInput`, then
    ``map_batches`` with ``scorer`` on ``actors`` actors. ``scorer_args`` go to its
    constructor, after the model, the options and the threads."""
    import ray.data

    from .datasource import ScoringInput

    options = options or ScoreOptions()
    batch_size = options.batch_size
    source = ScoringInput(list(paths), format=format, text_field=options.text_key, id_field=id_field,
                          rows_per_block=batch_size)
    # Reading is light next to scoring: read tasks reserve no CPU, so that
    # they run beside actors that hold every CPU of a node, and few run at
    # once, since each new worker process pays for importing spaCy and torch.
    dataset = ray.data.read_datasource(source, num_cpus=0, concurrency=io_tasks(actors))
    return dataset.map_batches(
        scorer,
        fn_constructor_kwargs={
            "model": model, "options": options, "num_threads": max(1, round(cpus_per_actor)), **scorer_args,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus_per_actor,
        max_restarts=max_retries,
        max_task_retries=max_retries,
    )
