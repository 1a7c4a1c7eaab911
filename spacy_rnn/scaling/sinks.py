"""Write scored rows with Ray Data's writers: a directory of files, one per block.

Parquet and CSV/TSV use Ray's own writers. JSONL uses :class:`JsonlSink`,
which writes each row as the local engine writes its lines (Python's json, not
pandas': an integer field with nulls elsewhere stays an integer, a null score
is ``null``), in files named ``*.jsonl`` that the engine reads back.
"""
from typing import Any, Dict, Optional

from ray.data.datasource.file_datasink import BlockBasedFileDatasink

from ..output_file import json_line


class JsonlSink(BlockBasedFileDatasink):
    """A Ray datasink that writes a block as JSON Lines, a row a line."""

    def __init__(self, path: str, **file_datasink_kwargs: Any) -> None:
        super().__init__(path, file_format="jsonl", **file_datasink_kwargs)

    def write_block_to_file(self, block: Any, file: Any) -> None:
        for row in block.to_arrow().to_pylist():
            file.write(json_line(row))


# Writing is light next to scoring: write tasks reserve no CPU, so that they
# run (and the output streams to disk) while the actors hold every CPU.
WRITE_ARGS = {"num_cpus": 0}


def write_dataset(dataset: Any, output_path: str, format: str, concurrency: Optional[int] = None) -> None:
    """Write with Ray Data's writer for ``format`` (jsonl, csv, tsv or parquet),
    at most ``concurrency`` write tasks at once (None: Ray's choice)."""
    if format == "parquet":
        dataset.write_parquet(output_path, ray_remote_args=WRITE_ARGS, concurrency=concurrency)
    elif format == "jsonl":
        dataset.write_datasink(JsonlSink(output_path), ray_remote_args=WRITE_ARGS, concurrency=concurrency)
    else:
        delimiter = "\t" if format == "tsv" else ","

        def csv_args() -> Dict[str, Any]:
            import pyarrow.csv as pacsv

            return {"write_options": pacsv.WriteOptions(delimiter=delimiter)}

        dataset.write_csv(output_path, arrow_csv_args_fn=csv_args, ray_remote_args=WRITE_ARGS,
                          concurrency=concurrency)
