"""The Ray engine's reader: every row an id, and no id given twice (issue 34, case 8)."""
import json

import pytest

pytest.importorskip("ray")

from spacy_rnn.scaling.columns import READ_ERROR  # noqa: E402
from spacy_rnn.scaling.datasource import ScoringInput  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def no_ray_left_running():
    """Ray's datasource starts a local Ray on first use: shut it down, so
    that the next module's ``ray.init`` starts its own cluster."""
    import ray

    yield
    if ray.is_initialized():
        ray.shutdown()


def read_rows(path, rows_per_block=4):
    source = ScoringInput([str(path)], format="jsonl", rows_per_block=rows_per_block)
    rows = []
    with open(path, "rb") as stream:
        for block in source._read_lines(stream, str(path), 0):
            rows.extend(block.to_pylist() if hasattr(block, "to_pylist") else block.to_dict("records"))
    return rows


def test_a_broken_line_in_a_file_with_its_own_ids_gets_no_real_rows_id(tmp_path):
    # The file's own ids are not line numbers: the broken line 5 (index 4)
    # would have been given id 4, which the first record already has.
    lines = ["this is not json"] + [json.dumps({"id": i, "text": f"review {i}"}) for i in (7, 4, 9)]
    lines.insert(4, "{broken")
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    rows = read_rows(path, rows_per_block=2)
    assert len(rows) == 5
    assert [row["id"] for row in rows] == [None, 7, 4, 9, None]
    assert rows[0][READ_ERROR].endswith("line 1: invalid JSON: Expecting value at column 1")
    assert "line 5" in rows[4][READ_ERROR]
    real = [row["id"] for row in rows if row["id"] is not None]
    assert len(real) == len(set(real))


def test_without_ids_every_row_gets_its_line_index(tmp_path):
    lines = ["{broken", json.dumps({"text": "a"}), "", json.dumps({"text": "b"}), "[1]"]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    rows = read_rows(path)
    assert [row["id"] for row in rows] == [0, 1, 2, 3, 4]
    assert [row.get("text") for row in rows] == [None, "a", "", "b", None]
    assert rows[0][READ_ERROR] and rows[4][READ_ERROR]


def test_ray_output_goes_through_the_one_output_guard(tiny_textcat_dir, tmp_path):
    """The Ray engine refuses what every command refuses, before a cluster starts."""
    from spacy_rnn.errors import OutputError
    from spacy_rnn.scaling import score_with_ray

    texts = tmp_path / "in" / "a.jsonl"
    texts.parent.mkdir()
    texts.write_text(json.dumps({"text": "fine"}) + "\n", encoding="utf8")
    for output, words in ((tmp_path / "in" / "scored.jsonl", "inside the input folder"),
                          (tiny_textcat_dir / "scored.jsonl", "inside the input folder"),
                          (tmp_path, "holds the input")):
        with pytest.raises(OutputError, match=words):
            score_with_ray(str(tiny_textcat_dir), str(texts.parent), str(output))
