"""The columns that the Ray reader and the scorer agree on.

A module of its own so that the reader (:mod:`.datasource`, which runs in Ray's
read tasks) does not import the scorer, and with it spaCy and torch.
"""
from typing import Iterable, List

# The column that carries a read error (a line that is not JSON, a malformed
# CSV row) from the reader (.datasource) to the scorer, which moves it to the
# error field and drops this column.
READ_ERROR = "__spacy_rnn_read_error"


def label_columns(labels: Iterable[str], cats_field: str = "cats") -> List[str]:
    """The output column of each label: ``{cats_field}.{label}``."""
    return [f"{cats_field}.{label}" for label in labels]
