"""Read the files to score into a Ray Dataset: the local engine's readers, and an id per row.

:class:`ScoringInput` is a Ray ``FileBasedDatasource``: Ray lists the files
(local paths, directories, ``s3://``, ``gs://``, ... through pyarrow's file
systems) and runs one read task per group of files on the cluster; this class
says how to read one file. Ray's own ``read_json`` / ``read_csv`` would parse
a whole block with Arrow, where one bad line (not JSON, a text that is a
number in a column of strings) fails the block and with it the job. Here:

- JSONL and CSV/TSV go through the readers that the local engine uses
  (:func:`~spacy_rnn.data.sources.read_jsonl_objects`,
  :func:`~spacy_rnn.data.sources.read_table_rows`): a line that cannot be read
  becomes a row whose ``READ_ERROR`` column says which file, line and why; the
  scorer turns it into the row's error. A blank JSONL line is an empty text,
  as in the local engine. A CSV file without the text column fails the job,
  with a message naming the file: that is not a bad row but a wrong option.
- Parquet is read with pyarrow, a row group at a time.

Every row gets an id in ``id_field`` unless the input already has that field
(then its own value is kept): file k (in sorted path order, from 0) numbers
its rows ``k * FILE_ID_STRIDE + i``, i from 0 in file order. In a file
whose rows carry their own ids (its first readable record has one), a line
that cannot be read, or a record without an id, gets a null id: a number
made from its line could be another row's id. Its error names the file and line. The ids depend on
the input alone, not on how Ray schedules the reads, so a retried read gives
the same ids, and sorting the output by id restores the input order. With one
input file the ids are the row numbers 0, 1, 2, ...
"""
import io
from typing import Any, Dict, Iterator, List, Optional

from ray.data.datasource import FileBasedDatasource

from ..data.formats import DELIMITERS
from ..data.sources import read_jsonl_objects, read_table_rows
from ..errors import CorpusError
from .columns import READ_ERROR

# Ids of file k start at k * FILE_ID_STRIDE: up to a billion rows a file.
FILE_ID_STRIDE = 1_000_000_000


class _RawStream(io.RawIOBase):
    """A pyarrow input stream as a Python raw stream, so that it can be read line by line."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream = stream
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_error_message(error: CorpusError) -> str:
    """A read error for the output: where (file, line) and what, without the advice."""
    where = error.path if error.line is None else f"{error.path}, line {error.line}"
    return f"{where}: {error.problem}"


class ScoringInput(FileBasedDatasource):
    """A Ray datasource of records to score, from JSONL, CSV/TSV or Parquet files.

    paths (Union[str, List[str]]): Files or directories (Ray lists directories).
    format (str): jsonl, csv, tsv or parquet.
    text_field (str): The field or column that holds the text.
    id_field (str): The field that gets each row's id, unless it is there.
    rows_per_block (int): Rows per block that a read yields. Ray balances
        the work across actors by blocks, so a block is a batch or so, not
        Ray's default of up to 128 MiB (a whole file of reviews, which one
        actor would then score alone).
    **kwargs: For ``FileBasedDatasource`` (``filesystem``, ...).
    """

    def __init__(
        self,
        paths: Any,
        *,
        format: str,
        text_field: str = "text",
        id_field: str = "id",
        rows_per_block: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(paths, **kwargs)
        self._format = format
        self._text_field = text_field
        self._id_field = id_field
        self._rows_per_block = max(1, rows_per_block)
        self._ranks: Optional[Dict[str, int]] = None

    def _open_input_source(self, filesystem: Any, path: str, **open_args: Any) -> Any:
        if self._format == "parquet":  # needs random access to its footer
            return filesystem.open_input_file(path)
        return super()._open_input_source(filesystem, path, **open_args)

    def _first_id(self, path: str) -> int:
        if self._ranks is None:
            self._ranks = {p: rank for rank, p in enumerate(sorted(self._paths()))}
        return self._ranks[path] * FILE_ID_STRIDE

    def _read_stream(self, f: Any, path: str) -> Iterator[Any]:
        first_id = self._first_id(path)
        if self._format == "parquet":
            yield from self._read_parquet(f, first_id)
        else:
            yield from self._read_lines(io.BufferedReader(_RawStream(f, path)), path, first_id)

    def _read_parquet(self, f: Any, first_id: int) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        next_id = first_id
        for batch in pq.ParquetFile(f).iter_batches(batch_size=self._rows_per_block):
            table = pa.Table.from_batches([batch])
            if self._id_field not in table.column_names:
                ids = pa.array(range(next_id, next_id + table.num_rows), type=pa.int64())
                table = table.add_column(0, self._id_field, ids)
            next_id += table.num_rows
            yield table

    def _read_lines(self, stream: Any, path: str, first_id: int) -> Iterator[Any]:
        if self._format == "jsonl":
            items = read_jsonl_objects(stream, keep_blank=True, keep_errors=True)
        else:
            items = read_table_rows(
                stream, DELIMITERS[self._format], required_columns={self._text_field: "--text-key"},
                keep_errors=True,
            )
        rows: List[Dict[str, Any]] = []
        own_ids: Optional[bool] = None  # does the file carry its ids? Its first readable record says.
        undecided: List[int] = []  # rows (in ``rows``) read before that record, without an id yet
        for index, (_, item) in enumerate(items):
            if isinstance(item, CorpusError):
                row: Dict[str, Any] = {READ_ERROR: read_error_message(item)}
            elif item is None:  # a blank JSONL line: an empty text, as the local engine has it
                row = {self._text_field: ""}
            else:
                row = item
                if own_ids is None:
                    own_ids = self._id_field in row
                    for position in undecided:
                        rows[position] = self._with_id(rows[position], own_ids, first_id)
                    undecided = []
            if self._id_field not in row:
                if own_ids is None:
                    row[_LINE_INDEX] = index
                    undecided.append(len(rows))
                else:
                    row = self._with_id({_LINE_INDEX: index, **row}, own_ids, first_id)
            rows.append(row)
            if len(rows) == self._rows_per_block:
                yield self._block(rows, undecided, first_id)
                rows, undecided = [], []
        if rows:
            yield self._block(rows, undecided, first_id)

    def _with_id(self, row: Dict[str, Any], own_ids: bool, first_id: int) -> Dict[str, Any]:
        """``row`` with its id in front: the line's, unless the file carries
        its own ids; then null, as the line's number could be another row's id."""
        index = row.pop(_LINE_INDEX)
        return {self._id_field: None if own_ids else first_id + index, **row}

    def _block(self, rows: List[Dict[str, Any]], undecided: List[int], first_id: int) -> Any:
        # A block of rows before the file's first readable record: line ids.
        for position in undecided:
            rows[position] = self._with_id(rows[position], False, first_id)
        return rows_to_block(rows)


# A row's line index, until the row gets its id.
_LINE_INDEX = "\0line_index"


def rows_to_block(rows: List[Dict[str, Any]]) -> Any:
    """An Arrow block of records: a column per field of any row (null where a
    row lacks it). A field whose values differ in type across rows (a text
    that is a number in one) becomes Ray's column of pickled Python objects,
    as Ray's own readers do, so that the value is kept as it was."""
    from ray.data.block import BlockAccessor

    names = dict.fromkeys(name for row in rows for name in row)
    return BlockAccessor.batch_to_block({name: [row.get(name) for row in rows] for name in names})
