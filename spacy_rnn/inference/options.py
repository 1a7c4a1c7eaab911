"""The settings of a scoring run, one object for both engines: the local
one (:func:`~spacy_rnn.inference.files.score_file`, ``score --engine
local``) and the Ray one (:func:`~spacy_rnn.scaling.job.score_with_ray`)."""
import itertools
from dataclasses import dataclass, fields, replace
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ScoreError

# each setting's command-line option, for messages
OPTION_FLAGS = {
    "text_key": "--text-key",
    "cats_field": "--cats-field",
    "label_field": "--label-field",
    "error_field": "--error-field",
    "batch_size": "--batch-size",
    "clean_html": "--clean-html",
    "skip_invalid": "--skip-invalid",
    "max_length": "--max-length",
}


def option_name(setting: str) -> str:
    """How a message names a setting: ``batch_size (--batch-size)``."""
    flag = OPTION_FLAGS.get(setting)
    return f"{setting} ({flag})" if flag else setting


@dataclass(frozen=True)
class ScoreOptions:
    """What a scoring run reads, writes and checks.

    text_key (str): The field that holds the text: a JSONL key, or a CSV, TSV
        or Parquet column.
    cats_field (str): Output field for the label probabilities (the Ray
        engine's label columns start with it: ``cats.positive``).
    label_field (str): Output field for the most probable label.
    error_field (str): Output field for an invalid record's line and problem
        (with ``skip_invalid``; the Ray engine always writes it).
    batch_size (int): Texts per ``nlp.pipe`` batch (and rows per Ray batch).
    clean_html (bool): Replace HTML line breaks by spaces in the texts
        scored; the output keeps the text as it was.
    skip_invalid (bool): Answer each invalid record with an error line and go
        on, instead of stopping at the first (the Ray engine never stops).
    max_length (Optional[int]): Texts longer than this many characters are
        invalid; 0 for no limit. By default no limit, unless the pipeline has
        a parser or NER (whose memory grows with the text): then its own
        ``nlp.max_length``.
    """

    text_key: str = "text"
    cats_field: str = "cats"
    label_field: str = "label"
    error_field: str = "error"
    batch_size: int = 256
    clean_html: bool = True
    skip_invalid: bool = False
    max_length: Optional[int] = None

    @classmethod
    def of(cls, options: Optional["ScoreOptions"] = None, **settings: Any) -> "ScoreOptions":
        """``options`` (default: the defaults) with ``settings`` replaced.

        RAISES (ScoreError): A setting that is not one of these.
        """
        unknown = set(settings) - {f.name for f in fields(cls)}
        if unknown:
            raise ScoreError(f"Unknown scoring option(s): {', '.join(sorted(unknown))}. "
                             f"Choose from: {', '.join(f.name for f in fields(cls))}.")
        return replace(options or cls(), **settings)

    def output_fields(self, always_errors: bool = False) -> List[Tuple[str, str]]:
        """The (setting, field) pairs that the output adds to each record."""
        names = ["cats_field", "label_field"]
        if self.skip_invalid or always_errors:
            names.append("error_field")
        return [(name, getattr(self, name)) for name in names]

    def check(self, *others: Tuple[str, str], always_errors: bool = False) -> None:
        """Refuse settings no run can use: a batch size under 1, a negative
        ``max_length``, two output fields (or ``others``, more (name, field)
        pairs that must differ from them) with one name.

        RAISES (ScoreError): The message names the setting and its option.
        """
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ScoreError(f"{option_name('batch_size')} must be 1 or more, not {self.batch_size!r}.")
        if self.max_length is not None and self.max_length < 0:
            raise ScoreError(f"{option_name('max_length')} must be 0 (no limit) or more, not {self.max_length}.")
        check_distinct_fields([*self.output_fields(always_errors), *others])

    def to_dict(self) -> Dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_distinct_fields(named_fields: List[Tuple[str, str]]) -> None:
    """Raise a :class:`ScoreError` if two (setting, field name) pairs name one field."""
    for (setting, name), (other, other_name) in itertools.combinations(named_fields, 2):
        if name == other_name:
            raise ScoreError(f"{option_name(setting)} and {option_name(other)} must differ, both are {name!r}.")
