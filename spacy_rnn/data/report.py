"""What a reader did with one file: the records it yielded and the invalid
ones it skipped (``skip_invalid=True``), each with its line and reason."""
from dataclasses import dataclass, field
from typing import List, Optional

from ..errors import CorpusError


@dataclass
class SkippedRecord:
    """An invalid record left out because of ``skip_invalid=True``."""

    line: Optional[int]
    reason: str
    error: CorpusError


@dataclass
class CorpusReport:
    """What a reader did with one file.

    path (str): The file read.
    n_records (int): Valid records yielded.
    skipped (List[SkippedRecord]): Invalid records skipped (``skip_invalid``).
    multi_label (Optional[bool]): Whether the records carry label lists
        (``labels_key`` or ``label_separator``); None before the first record.
    """

    path: str = ""
    n_records: int = 0
    skipped: List[SkippedRecord] = field(default_factory=list)
    multi_label: Optional[bool] = None

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def summary(self, max_listed: int = 20) -> str:
        """A human-readable account of the skipped records, one per line."""
        lines = [f"{self.path}: skipped {self.n_skipped} invalid record(s), kept {self.n_records}"]
        for skipped in self.skipped[:max_listed]:
            where = "?" if skipped.line is None else skipped.line
            lines.append(f"  line {where}: {skipped.reason}")
        if self.n_skipped > max_listed:
            lines.append(f"  ... and {self.n_skipped - max_listed} more")
        return "\n".join(lines)
