"""The callable class that ``Dataset.map_batches`` runs: a pipeline per actor, Arrow batches in and out.

Ray Data runs a callable class as a pool of actors: ``__init__`` once per
actor (here: ``spacy.load`` and the torch threads), ``__call__`` once per
batch. Only the model's path travels to the actors, never a loaded ``nlp``.

Each batch is scored with :func:`spacy_rnn.scoring.score_items`, the local
engine's scorer, so the checks and the numbers are the local engine's. The
output is the input batch with every column kept, plus

- one float column per label, named ``{cats_field}.{label}`` (the local
  engine's ``cats`` object, flattened as ``pandas.json_normalize`` names it:
  ``cats.negative``, ``cats.positive``);
- ``label_field``: the most probable label;
- ``error_field``: why the row could not be scored, or null. A row with an
  error keeps its columns and has null scores and label; it is never dropped.

Batches are ``pyarrow.Table`` (``batch_format="pyarrow"``), so that column
types survive: an integer column with nulls stays integer, which pandas would
turn into floats. It needs pyarrow, not Ray: it can be tested and used
without a cluster.
"""
from typing import Any, Dict, List, Optional, Sequence

from ..data.records import clean_html_breaks, text_field
from ..errors import CorpusError
from ..scoring import ScoreItem, load_classifier, score_items, scoring_max_length
from .columns import READ_ERROR, label_columns

# Texts per nlp.pipe batch inside one Ray batch (the local engine's default).
PIPE_BATCH_SIZE = 256


def classifier_labels(nlp: Any) -> List[str]:
    """The labels of the components that set ``doc.cats``, in pipeline order, each once."""
    labels: Dict[str, None] = {}
    for name in nlp.pipe_names:
        if "doc.cats" in nlp.get_pipe_meta(name).assigns:
            labels.update(dict.fromkeys(getattr(nlp.get_pipe(name), "labels", ())))
    return list(labels)


class PipelineScorer:
    """Score Arrow batches with a saved pipeline; one instance per Ray actor.

    model (str): The pipeline's path or package name, loaded once per actor.
    text_field (str): The column that holds the text.
    cats_field (str): Prefix of the label columns (``cats.positive``, ...).
    label_field (str): The column for the most probable label.
    error_field (str): The column for a row's error (null if scored). A row
        that arrives with a read error (``READ_ERROR``, from :mod:`.datasource`:
        a line that is not JSON, a malformed CSV row) gets it there and is
        not scored.
    num_threads (int): torch threads of this actor: the CPUs Ray gives it
        (``num_cpus`` of ``map_batches``), so that actors on one node do not
        oversubscribe its cores.
    batch_size (int): Texts per ``nlp.pipe`` batch.
    clean_html (bool): Replace HTML line breaks by spaces in the texts scored
        (the output keeps the text as it was), as the local engine does.
    max_length (Optional[int]): As for :func:`spacy_rnn.scoring.score_file`.
    """

    def __init__(
        self,
        model: str,
        *,
        text_field: str = "text",
        cats_field: str = "cats",
        label_field: str = "label",
        error_field: str = "error",
        num_threads: int = 1,
        batch_size: int = PIPE_BATCH_SIZE,
        clean_html: bool = True,
        max_length: Optional[int] = None,
    ) -> None:
        import torch

        torch.set_num_threads(max(1, int(num_threads)))
        self.nlp = load_classifier(model)
        self.nlp.max_length = scoring_max_length(self.nlp, max_length)
        self.text_field = text_field
        self.cats_field = cats_field
        self.label_field = label_field
        self.error_field = error_field
        self.batch_size = batch_size
        self.clean_html = clean_html
        self.labels = classifier_labels(self.nlp)
        self.columns = label_columns(self.labels, cats_field)

    def __call__(self, batch: "Any") -> "Any":
        """Score a ``pyarrow.Table``; return it with the output columns added."""
        import pyarrow as pa

        n = batch.num_rows
        columns = batch.column_names
        texts = batch.column(self.text_field).to_pylist() if self.text_field in columns else None
        errors: List[Optional[str]] = (
            batch.column(READ_ERROR).to_pylist() if READ_ERROR in columns else [None] * n
        )
        # input fields that an output column would overwrite: the local engine's
        # check, which makes a row with a value there an invalid record
        clashes = {c: batch.column(c).to_pylist() for c in (self.cats_field, self.label_field, self.error_field)
                   if c in columns}
        items: List[ScoreItem] = []
        rows: List[int] = []
        for i in range(n):
            if errors[i] is not None:
                continue
            value = None if texts is None else texts[i]
            # the record as far as the check needs it: the text, else the fields the row has
            if value is None:
                fields = {c: True for c in columns
                          if c not in (READ_ERROR, self.text_field) and batch.column(c)[i].as_py() is not None}
            else:
                fields = {self.text_field: value}
            try:
                text = text_field("input", i, fields, self.text_field, "--text-key")
            except CorpusError as e:
                errors[i] = e.problem
                continue
            record = {c: True for c, values in clashes.items() if values[i] is not None}
            items.append(ScoreItem(i, clean_html_breaks(text) if self.clean_html else text, record,
                                   field=self.text_field))
            rows.append(i)
        scores: List[List[Optional[float]]] = [[None] * n for _ in self.labels]
        top: List[Optional[str]] = [None] * n
        results = score_items(
            self.nlp, items, batch_size=self.batch_size, cats_field=self.cats_field, label_field=self.label_field,
            error_field=self.error_field, skip_invalid=True,
        )
        for row, result in zip(rows, results):
            if self.error_field in result:
                errors[row] = result[self.error_field]["message"]
                continue
            cats = result[self.cats_field]
            for j, label in enumerate(self.labels):
                scores[j][row] = cats.get(label)
            top[row] = result[self.label_field]
        out = batch.drop_columns([c for c in (READ_ERROR, *self.columns, *clashes) if c in columns])
        for column, values in zip(self.columns, scores):
            out = out.append_column(column, pa.array(values, type=pa.float64()))
        for column, strings in ((self.label_field, top), (self.error_field, errors)):
            if column in clashes:  # keep the input's value where there is no output
                kept = clashes[column]
                strings = [kept[i] if strings[i] is None else strings[i] for i in range(n)]
            out = out.append_column(column, pa.array(strings, type=pa.string()))
        return out

    def output_columns(self) -> Sequence[str]:
        """The columns the output adds (or overwrites)."""
        return [*self.columns, self.label_field, self.error_field]
