"""Scoring on a local Ray cluster (spacy_rnn.scaling, `score --engine ray`): every row once, the local engine's scores.

One Ray cluster for the module (``ray.init(num_cpus=2)``, no network), shut
down at the end; a few jobs of a few rows each, so that CI stays short.
"""
import json
import os
import sys
from pathlib import Path

import pytest
import spacy

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from spacy_rnn.cli import app  # noqa: E402
from spacy_rnn.scaling import PipelineScorer, score_with_ray  # noqa: E402
from spacy_rnn.scaling.job import build_dataset, init_args  # noqa: E402
from spacy_rnn.scaling.sinks import write_dataset  # noqa: E402
from spacy_rnn.errors import ScoreError  # noqa: E402
from spacy_rnn.inference.options import ScoreOptions  # noqa: E402
from spacy_rnn.inference.files import score_file  # noqa: E402

LABELS = ["negative", "positive"]
TEXTS = ["a wonderful , moving film", "dull , slow and far too long", "", "the worst film <br /> of the year",
         "great acting and a sharp script", "i smiled all the way through", "two hours i will never get back"]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def read_rows(directory: Path):
    """The rows of a Ray output directory (JSONL or Parquet files)."""
    rows = []
    for path in sorted(directory.iterdir()):
        if path.suffix == ".jsonl":
            rows.extend(json.loads(line) for line in path.open(encoding="utf8"))
        elif path.suffix == ".parquet":
            rows.extend(pq.read_table(path).to_pylist())
    return rows


def local_results(model, records, tmp_path):
    """What `score --engine local --skip-invalid` writes for the same records, in order."""
    path = tmp_path / "local-in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    score_file(spacy.load(model), path, tmp_path / "local-out.jsonl", skip_invalid=True)
    return [json.loads(line) for line in (tmp_path / "local-out.jsonl").open(encoding="utf8")]


def assert_same_scores(ray_row, local_row):
    assert {label: ray_row[f"cats.{label}"] for label in LABELS} == local_row["cats"]
    assert ray_row["label"] == local_row["label"]
    assert ray_row["error"] is None


def test_jsonl_scored_as_the_local_engine_every_row_once_bad_rows_kept(cluster, tiny_textcat_dir, tmp_path):
    lines = [json.dumps({"text": t, "n": i}) for i, t in enumerate(TEXTS)]
    bad = ['{"text": 5, "n": 100}', "not json", '{"n": 102}', '{"text": "lone \\ud800 half", "n": 103}', ""]
    lines = lines[:3] + bad + lines[3:]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    job = score_with_ray(tiny_textcat_dir, str(path), tmp_path / "out", actors=2, batch_size=2)
    assert job.output_format == "jsonl" and job.labels == LABELS
    rows = sorted(read_rows(tmp_path / "out"), key=lambda row: row["id"])
    assert [row["id"] for row in rows] == list(range(len(lines)))  # every row once, ids = line order
    by_n = {row["n"]: row for row in rows if row.get("n") is not None}
    local = local_results(tiny_textcat_dir, [{"text": t, "n": i} for i, t in enumerate(TEXTS)], tmp_path)
    for i, local_row in enumerate(local):
        assert_same_scores(by_n[i], local_row)
        assert by_n[i]["text"] == TEXTS[i]  # kept as it was (scored without the <br />)
    assert by_n[100]["text"] == 5 and by_n[100]["error"] == "the text field 'text' is a number, not a string"
    assert rows[4]["error"].endswith("line 5: invalid JSON: Expecting value at column 1")
    assert by_n[102]["error"].startswith("no text field 'text'")
    assert "lone surrogate" in by_n[103]["error"]
    assert rows[7]["text"] == "" and rows[7]["error"] is None  # a blank line: an empty text, as locally
    for row in rows:
        assert (row["error"] is None) == (row["label"] is not None)


def test_parquet_keeps_its_ids_and_columns(cluster, tiny_textcat_dir, tmp_path):
    (tmp_path / "in").mkdir()
    ids = [f"review-{i}" for i in range(len(TEXTS))]
    # two files: Ray lists the directory, one read per file
    pq.write_table(pa.table({"id": ids[:4], "text": TEXTS[:4], "stars": [5, 1, None, 1]}), tmp_path / "in" / "a.parquet")
    pq.write_table(pa.table({"id": ids[4:], "text": TEXTS[4:], "stars": [4, 5, 1]}), tmp_path / "in" / "b.parquet")
    score_with_ray(tiny_textcat_dir, str(tmp_path / "in" / "*.parquet"), tmp_path / "out.parquet", actors=2, batch_size=3)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.field("stars").type == pa.int64() and table.schema.field("cats.positive").type == pa.float64()
    rows = {row["id"]: row for row in table.to_pylist()}
    assert sorted(rows) == sorted(ids) and table.num_rows == len(ids)
    local = local_results(tiny_textcat_dir, [{"text": t} for t in TEXTS], tmp_path)
    for i, local_row in enumerate(local):
        assert_same_scores(rows[ids[i]], local_row)


def test_cli_csv_input_to_jsonl(cluster, tiny_textcat_dir, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("title,review\n" + "".join(f'"t{i}","{t}"\n' for i, t in enumerate(TEXTS)), encoding="utf8")
    result = CliRunner().invoke(app, ["score", str(tiny_textcat_dir), str(path), str(tmp_path / "scored.jsonl"),
                                      "--engine", "ray", "--text-column", "review", "--actors", "1"])
    assert result.exit_code == 0, result.output
    rows = sorted(read_rows(tmp_path / "scored.jsonl"), key=lambda row: row["id"])
    assert [row["title"] for row in rows] == [f"t{i}" for i in range(len(TEXTS))]
    local = local_results(tiny_textcat_dir, [{"text": t} for t in TEXTS], tmp_path)
    for row, local_row in zip(rows, local):
        assert_same_scores(row, local_row)


class DiesOnce(PipelineScorer):
    """Its first actor exits on its second batch; the restarted actor scores on."""

    def __init__(self, model, marker, **kwargs):
        super().__init__(model, **kwargs)
        self.marker = Path(marker)
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        if self.calls == 2 and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)  # the actor's process dies mid-job, as on a lost node
        return super().__call__(batch)


def test_an_actor_killed_mid_job_is_restarted_and_every_row_comes_out_once(cluster, tiny_textcat_dir, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test module is not on the workers' path
    path = tmp_path / "in.jsonl"
    n = 24
    path.write_text("".join(json.dumps({"text": TEXTS[i % len(TEXTS)]}) + "\n" for i in range(n)), encoding="utf8")
    marker = tmp_path / "died"
    dataset = build_dataset([str(path)], str(tiny_textcat_dir), ScoreOptions(batch_size=4), format="jsonl", actors=1,
                            max_retries=2, scorer=DiesOnce, marker=str(marker))
    write_dataset(dataset, str(tmp_path / "out"), "jsonl")
    assert marker.exists()  # it did die
    ids = sorted(row["id"] for row in read_rows(tmp_path / "out"))
    assert ids == list(range(n))


def test_without_ray_the_error_says_how_to_install_it(monkeypatch, tiny_textcat_dir, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ScoreError, match=r"pip install 'spacy-rnn\[ray\]'"):
        score_with_ray(tiny_textcat_dir, str(tmp_path), tmp_path / "out")


def test_clear_errors_before_the_cluster_starts(tiny_textcat_dir, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a text\n", encoding="utf8")
    with pytest.raises(ScoreError, match="Cannot tell the input format"):
        score_with_ray(tiny_textcat_dir, str(path), tmp_path / "out")
    with pytest.raises(ScoreError, match="No file matches"):
        score_with_ray(tiny_textcat_dir, str(tmp_path / "*.parquet"), tmp_path / "out")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.jsonl").write_text("{}\n")
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n', encoding="utf8")
    with pytest.raises(ScoreError, match="already exists"):
        score_with_ray(tiny_textcat_dir, str(path), tmp_path / "out")


def test_init_args_local_cluster_keeps_a_worker_for_reads_and_writes(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    args = init_args(None, actors=2, cpus_per_actor=1, ray_init_args={"num_cpus": 2})
    # 2 actors + a read and a write worker: Ray's default (the CPUs) would kill the I/O worker
    assert args == {"address": "local", "include_dashboard": False, "num_cpus": 2,
                    "_system_config": {"num_workers_soft_limit": 4}}
    # 8 actors from 4 CPUs at 0.5 each, as score_with_ray picks them, and 2 read + 2 write workers
    assert init_args(None, None, 0.5, {"num_cpus": 4})["_system_config"] == {"num_workers_soft_limit": 8 + 2 * 2}
    # the caller's settings win, and merge with ours
    args = init_args(None, 1, 1, {"num_cpus": 1, "_system_config": {"num_workers_soft_limit": 9, "x": 1}})
    assert args["_system_config"] == {"num_workers_soft_limit": 9, "x": 1}


def test_init_args_existing_cluster_gets_no_system_config(monkeypatch):
    """Ray refuses _system_config when connecting: a running cluster keeps its own settings."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert init_args("ray://head:10001", 8, 1, None) == {"address": "ray://head:10001", "include_dashboard": False}
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert init_args(None, None, 1, None) == {"address": "head:6379", "include_dashboard": False}
