"""Write output files so that a failed run never destroys what was there.

An output is written to a temporary file next to it and moved into place
(``os.replace``, atomic on one file system) only when the run succeeds. When
it fails after writing something, what was written is kept under the output's
name plus ``.partial``; the output itself is left as it was.

:func:`json_line` encodes one JSON Lines record, as every writer of scores
(local engine and Ray) writes it.
"""
import json
import os
import stat
import uuid
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Optional, Union

from .errors import OutputError

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Union[str, Path]) -> Path:
    """Where the lines of a failed run that writes ``path`` are kept: ``path`` + ".partial"."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


def same_file(a: Union[str, Path], b: Union[str, Path]) -> bool:
    """Whether two paths name one file (the same path, or links to one file)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (resolved paths)."""
    return path == folder or folder in path.parents


def check_output(
    output: Union[str, Path],
    inputs: Iterable[Union[str, Path]],
    *,
    option: str = "the output",
    folder: bool = False,
) -> None:
    """Refuse an output that would overwrite or delete what a command reads or
    does not own: one of its input files (the same path or a link to it), a
    folder that holds an input, a path inside an input folder (a pipeline, a
    shard folder), or anything that is not a regular file (or, with
    ``folder``, a folder): a device, a FIFO, a socket. A file beside an input
    is fine.

    output (Union[str, Path]): The path the command will write.
    inputs (Iterable[Union[str, Path]]): What the command reads (files or folders).
    option (str): How the user gave the output, for the message, e.g. "--output".
    folder (bool): Whether the output is a folder the command writes.
    RAISES (OutputError): The message names the output, the input and what to do.
    """
    out = Path(output)
    resolved = Path(os.path.realpath(out))
    if resolved.exists():
        mode = resolved.stat().st_mode
        if not (stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode)):
            if stat.S_ISDIR(mode):
                what = "a folder"
            elif stat.S_ISREG(mode):
                what = "a file"
            else:
                what = "not a regular file (a device, FIFO or socket)"
            raise OutputError(
                f"{option} {out} is {what}: the command would replace it. "
                f"Choose a new {'folder' if folder else 'file'} path."
            )
    folder_of = resolved if folder else resolved.parent
    while not folder_of.exists() and folder_of != folder_of.parent:
        folder_of = folder_of.parent
    if not folder_of.is_dir():
        raise OutputError(f"{option} {out}: {folder_of} is a file, not a folder. Choose another path.")
    if not os.access(folder_of, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {out}: the folder {folder_of} cannot be written (permission denied). "
                          "Choose a folder you can write to.")
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = Path(os.path.realpath(given))
        if same_file(resolved, source):
            raise OutputError(f"{option} {out} is the input {given}: writing it would destroy the input. "
                              "Choose another output path.")
        if source.is_dir() and _inside(resolved, source):
            raise OutputError(f"{option} {out} is inside the input folder {given}: writing it would change "
                              "the input. Choose a path outside it.")
        if _inside(source, resolved):
            raise OutputError(f"{option} {out} holds the input {given}: writing it would replace the input. "
                              "Choose another output path.")


class AtomicOutput:
    """A file written under a temporary name and moved into place at the end.

    output = AtomicOutput(path)
    stream = output.open()
    ... write to stream ...
    output.commit()          # on success: path now holds what was written
    output.abandon(keep)     # on failure: keep=True moves it to path.partial

    Missing parent directories are created. The file gets the permissions any
    new file gets (the umask). An output path that is a symbolic link is
    written through: its target is replaced, and the link stays. Whatever
    happens, no temporary file is left behind: a failure to write (disk full,
    a file size limit, a folder that cannot be written) raises
    :class:`OutputError`, after moving the whole lines written so far to
    ``path.partial`` if ``commit`` was the one to fail.
    """

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self.stream: Optional[IO[bytes]] = None
        self._target = self.path
        self._tmp: Optional[Path] = None
        self.kept_lines = 0

    def open(self) -> IO[bytes]:
        self._target = Path(os.path.realpath(self.path))
        # A new name in the target's directory (os.replace cannot cross file
        # systems), opened with "x": never an existing file.
        name = f".{self._target.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
        self._tmp = self._target.with_name(name)
        try:
            self._target.parent.mkdir(parents=True, exist_ok=True)
            self.stream = self._tmp.open("xb")
        except OSError as e:
            raise OutputError(
                f"Cannot write {self.path}: {e.strerror or e} ({self._target.parent}). "
                "Choose a folder you can write to."
            ) from None
        return self.stream

    def _close(self) -> Path:
        assert self._tmp is not None, "open() first"
        if self.stream is not None and not self.stream.closed:
            self.stream.close()  # closes the file even when the flush fails
        return self._tmp

    def commit(self, keep: bool = True) -> Path:
        """Move the written file into place. RETURNS (Path): The output path.
        RAISES (OutputError): The last write failed; with ``keep``, the whole
        lines are kept in ``path.partial``."""
        try:
            os.replace(self._close(), self._target)
        except OSError as e:
            partial = self.abandon(keep=keep)
            raise OutputError(self.failure(e, partial)) from None
        return self.path

    def abandon(self, keep: bool) -> Optional[Path]:
        """Leave the output as it was; with ``keep``, move the whole lines
        written so far to ``path.partial`` (next to the link's target for a
        link), count them in ``kept_lines`` and return that path; else (or
        when there is no whole line) delete the temporary file and return None."""
        try:
            tmp = self._close()
        except OSError:
            tmp = self._tmp
        assert tmp is not None
        if keep and _cut_to_whole_lines(tmp) > 0:
            partial = partial_path(self._target)
            os.replace(tmp, partial)
            self.kept_lines = _count_lines(partial)
            return partial
        self.kept_lines = 0
        tmp.unlink(missing_ok=True)
        return None

    def failure(self, error: OSError, partial: Optional[Path]) -> str:
        """The message for a write that failed with ``error``."""
        kept = (f"The {self.kept_lines} whole line(s) written before it are in {partial}" if partial
                else "Nothing was kept")
        return (f"Cannot write {self.path}: {error.strerror or error}. {kept}; {self.path} was left as it was. "
                "Free some space (or raise the file size limit) and run the command again.")


def _cut_to_whole_lines(path: Path) -> int:
    """Truncate ``path`` after its last newline; RETURNS (int): bytes kept."""
    with path.open("r+b") as f:
        end = f.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            step = min(1 << 16, position)
            f.seek(position - step)
            block = f.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = position - step + newline + 1
                if keep != end:
                    f.truncate(keep)
                return keep
            position -= step
        f.truncate(0)
        return 0


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def write_bytes_atomically(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file: all of it, or nothing."""
    output = AtomicOutput(path)
    stream = output.open()
    try:
        stream.write(data)
    except OSError as e:
        output.abandon(keep=False)
        raise OutputError(output.failure(e, None)) from None
    except BaseException:
        output.abandon(keep=False)
        raise
    output.commit(keep=False)  # not lines: a cut file is not worth keeping


def json_line(obj: Dict[str, Any]) -> bytes:
    """One line of JSON Lines, UTF-8 encoded. Python's json, not srsly
    (ujson): a record is written back whole, and ujson cannot write a lone
    surrogate (a ``\\ud800`` escape in a field other than the text, e.g. an
    id) or an integer beyond 64 bits, and rounds the probabilities to 9
    decimals (1e-12 becomes 0)."""
    try:
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: written back as \ud800 escapes
        return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")
