"""Files for the fuzz suite (tests/test_fuzz_io.py): where a command writes,
and what it changed.

:func:`snapshot` hashes every entry under a folder (files by content and
permissions, links by target, folders by permissions), without following
links. :func:`check_changes` compares two snapshots and allows changes only at
the paths a command declares as its outputs (and ``OUTPUT.partial``, and the
new folders above them). :func:`place_output` prepares an output path of one
kind (new, beside the input, onto it, a link to it, inside the pipeline, ...)
and says whether the command must accept it or refuse it.
"""
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Dict, Iterable, NamedTuple, Optional, Sequence, Tuple

from spacy_rnn.output_file import partial_path

Snapshot = Dict[str, Tuple]
# the temporary names of spacy_rnn.output_file.AtomicOutput: .NAME.PID.RANDOM.tmp
HIDDEN_TMP = re.compile(r"\..*\.tmp")
OLD = b"an earlier output\n"


def snapshot(root: Path) -> Snapshot:
    """Every entry under ``root`` (relative path -> kind, permissions, content hash)."""
    entries: Snapshot = {}
    for folder, dirs, files in os.walk(root):  # links to folders are listed, not followed
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = ("dir", mode)
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as f:
                    entries[rel] = ("file", mode, hashlib.sha256(f.read()).hexdigest())
            else:
                entries[rel] = ("other", info.st_mode)
    return entries


def _relative(root: Path, path: Path) -> Optional[str]:
    rel = os.path.relpath(path, root)
    return None if rel == ".." or rel.startswith(".." + os.sep) else rel


def check_changes(
    root: Path, before: Snapshot, outputs: Iterable[Optional[Path]] = (), *, written: bool = True,
    folder: bool = False,
) -> Snapshot:
    """Assert that only the declared ``outputs`` changed under ``root`` since ``before``.

    Each output may change through its path and, for a link, its target; so
    may ``OUTPUT.partial`` (of both), and a folder above them that did not
    exist. With ``written`` False (a failed run), the outputs themselves must
    be as they were: only their ``.partial`` files may change. With
    ``folder``, an output is a folder and everything under it may change.
    No hidden temporary file (``.NAME....tmp``) may remain anywhere.
    RETURNS (Snapshot): The snapshot after.
    """
    after = snapshot(root)
    allowed, folders = set(), []
    for output in outputs:
        if output is None:
            continue
        for path in {Path(output), Path(os.path.realpath(output))}:
            names = [partial_path(path)] + ([path] if written else [])
            for name in names:
                rel = _relative(root, name)
                if rel is not None:
                    allowed.add(rel)
            if folder and written and _relative(root, path) is not None:
                folders.append(_relative(root, path) + os.sep)
    for rel in list(allowed) + [f.rstrip(os.sep) for f in folders]:
        for parent in Path(rel).parents:
            if str(parent) != "." and str(parent) not in before:
                allowed.add(str(parent))
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    unexpected = [p for p in changed if p not in allowed and not any(p.startswith(f) for f in folders)]
    assert not unexpected, {p: (before.get(p), after.get(p)) for p in unexpected}
    leftovers = [p for p in after if HIDDEN_TMP.fullmatch(os.path.basename(p))]
    assert not leftovers, leftovers
    return after


def check_unchanged(root: Path, before: Snapshot) -> None:
    """Assert that nothing under ``root`` changed: a refused run touches nothing."""
    after = snapshot(root)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, {p: (before.get(p), after.get(p)) for p in changed}


class Output(NamedTuple):
    """An output path and what the command must do with it: "ok" (write it),
    "refused" (exit 1 before any work: it is an input, inside one, ...),
    "usage" (Click refuses it with exit 2: a folder where the option takes a
    file), or "any" (either, as long as the properties hold)."""

    path: Optional[Path]
    expect: str
    kind: str


# Kinds of output path, for every command that writes files. The ones that
# need a pipeline ("in_model", "link_into_model") apply where the command reads one.
OUTPUT_KINDS = [
    "new", "beside", "existing", "existing_partial", "dangling_link", "on_input", "link_to_input",
    "holds_input", "in_input_folder", "under_file", "is_dir",
]
MODEL_KINDS = ["in_model", "link_into_model"]


def place_output(
    kind: str, work: Path, name: str, inputs: Sequence[Path], *, model: Optional[Path] = None,
    usage_for_dirs: bool = True, folder: bool = False,
) -> Output:
    """Prepare an output path of ``kind`` in ``work`` (see :data:`OUTPUT_KINDS`).

    inputs: What the command reads, the main input first (a file or a folder).
    model: The pipeline folder the command reads, if any.
    usage_for_dirs: Whether the output option refuses an existing folder
        itself (Typer's ``dir_okay=False``, exit 2) rather than the command.
    folder: Whether the output is a folder (convert --shard-size).
    """
    first = inputs[0]
    dir_refusal = "usage" if usage_for_dirs and not folder else "refused"
    if kind == "none":
        return Output(None, "ok", kind)
    if kind == "new":  # in folders that do not exist yet
        return Output(work / "out" / "new" / name, "ok", kind)
    if kind == "beside":
        return Output(work / name, "ok", kind)
    if kind == "existing":
        path = work / name
        if folder:  # the shards an earlier conversion wrote
            path.mkdir()
            (path / f"{name}-00000.spacy").write_bytes(OLD)
        else:
            path.write_bytes(OLD)
        return Output(path, "ok", kind)
    if kind == "existing_partial":  # the lines an earlier failed run kept
        path = work / name
        partial_path(path).write_bytes(OLD)
        return Output(path, "ok", kind)
    if kind == "dangling_link":  # written through, to the link's target
        path = work / f"link-{name}"
        path.symlink_to(work / "target" / name)
        return Output(path, "any" if folder else "ok", kind)
    if kind == "on_input":
        return Output(first, dir_refusal if first.is_dir() else "refused", kind)
    if kind == "link_to_input":
        path = work / f"link-{name}"
        path.symlink_to(first)
        return Output(path, dir_refusal if first.is_dir() else "refused", kind)
    if kind == "holds_input":  # the folder that holds the input
        return Output(first.parent, dir_refusal, kind)
    if kind == "in_input_folder" and first.is_dir():
        return Output(first / name, "refused", kind)
    if kind in ("in_input_folder", "under_file"):  # below a file: no folder to write in
        file = next((p for p in inputs if p.is_file()), None)
        if file is None:
            file = work / "notes.txt"
            file.write_bytes(b"a file that is no input\n")
        return Output(file / name, "refused", kind)
    if kind == "is_dir":
        path = work / name
        path.mkdir()
        (path / "keep.txt").write_bytes(b"not the command's\n")
        return Output(path, dir_refusal, kind)
    if kind == "in_model":
        assert model is not None
        return Output(model / name, "refused", kind)
    if kind == "link_into_model":
        assert model is not None
        path = work / f"link-{name}"
        path.symlink_to(model / "meta.json")
        return Output(path, "refused", kind)
    raise AssertionError(kind)
