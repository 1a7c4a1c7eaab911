"""The callable class that ``Dataset.map_batches`` runs: a pipeline per actor, Arrow batches in and out.

Ray Data runs a callable class as a pool of actors: ``__init__`` once per
actor (here: ``spacy.load`` and the torch threads), ``__call__`` once per
batch. Only the model's path travels to the actors, never a loaded ``nlp``.

Each batch is scored with :func:`spacy_rnn.inference.score.score_items`, the local
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
from typing import Any, List, Optional, Sequence

from ..data.checks import clean_html_breaks, text_field
from ..errors import CorpusError
from ..inference.classifiers import classifier_labels, load_classifier, scoring_max_length
from ..inference.options import ScoreOptions
from ..inference.reading import ScoreItem
from ..inference.score import score_items
from .columns import READ_ERROR, label_columns

class PipelineScorer:
    """Score Arrow batches with a saved pipeline; one instance per Ray actor.

    model (str): The pipeline's path or package name, loaded once per actor.
    options (Optional[ScoreOptions]): The settings the local engine takes too:
        ``text_key`` (the column that holds the text), ``cats_field`` (the
        label columns' prefix: ``cats.positive``, ...), ``label_field``,
        ``error_field`` (a row's error, null if scored; a row that arrives
        with a read error, ``READ_ERROR`` from :mod:`.datasource`, gets it
        there and is not scored), ``batch_size`` (texts per ``nlp.pipe``
        batch), ``clean_html`` and ``max_length``. ``settings`` replace
        single ones. Invalid rows never stop the job.
    num_threads (int): torch threads of this actor: the CPUs Ray gives it
        (``num_cpus`` of ``map_batches``), so that actors on one node do not
        oversubscribe its cores.
    """

    def __init__(
        self, model: str, options: Optional[ScoreOptions] = None, *, num_threads: int = 1, **settings: Any
    ) -> None:
        import torch

        torch.set_num_threads(max(1, int(num_threads)))
        self.options = ScoreOptions.of(options, skip_invalid=True, **settings)
        self.nlp = load_classifier(model)
        self.nlp.max_length = scoring_max_length(self.nlp, self.options.max_length)
        self.text_field = self.options.text_key
        self.cats_field = self.options.cats_field
        self.label_field = self.options.label_field
        self.error_field = self.options.error_field
        self.labels = classifier_labels(self.nlp)
        self.columns = label_columns(self.labels, self.cats_field)

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
            items.append(ScoreItem(i, clean_html_breaks(text) if self.options.clean_html else text, record,
                                   field=self.text_field))
            rows.append(i)
        scores: List[List[Optional[float]]] = [[None] * n for _ in self.labels]
        top: List[Optional[str]] = [None] * n
        results = score_items(self.nlp, items, self.options)
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
