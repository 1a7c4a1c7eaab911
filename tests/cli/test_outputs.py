"""A user's files are sacred: no command writes onto its inputs, into an
input folder, over a folder of other files or a device, and a refused output
stops the command before any work, with a message and no traceback
(issue 34, cases 1-5)."""
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.errors import OutputError
from spacy_rnn.output_file import check_output

runner = CliRunner()
TEXTS = ["a fine film", "dull and long", "I loved it", "the worst"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def labelled(path: Path, n: int = 12) -> Path:
    path.write_text("".join(json.dumps({"text": TEXTS[i % 4], "label": ["pos", "neg"][i % 2]}) + "\n"
                            for i in range(n)), encoding="utf8")
    return path


def digest(folder: Path) -> dict:
    """Every file below ``folder`` and its sha256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


def test_check_output_rules(tmp_path):
    corpus = labelled(tmp_path / "train.jsonl")
    folder = tmp_path / "pipeline"
    (folder / "rnn_textcat").mkdir(parents=True)
    check_output(tmp_path / "scores.jsonl", [corpus, folder])  # beside the inputs: fine
    with pytest.raises(OutputError, match="is the input"):
        check_output(corpus, [corpus])
    os.symlink(corpus, tmp_path / "link.jsonl")
    with pytest.raises(OutputError, match="is the input"):
        check_output(tmp_path / "link.jsonl", [corpus])
    with pytest.raises(OutputError, match="inside the input folder"):
        check_output(folder / "rnn_textcat" / "model", [folder])
    with pytest.raises(OutputError, match="holds the input"):
        check_output(tmp_path, [corpus], folder=True)
    with pytest.raises(OutputError, match="not a regular file"):
        check_output("/dev/null", [corpus])
    with pytest.raises(OutputError, match="is a folder"):
        check_output(folder, [corpus])
    with pytest.raises(OutputError, match="is a file"):
        check_output(corpus, [], folder=True)


def test_convert_shards_never_delete_other_files(tmp_path):
    """Case 1: shards into a folder that holds a user's dev.spacy and test.spacy."""
    corpus = labelled(tmp_path / "train.jsonl")
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "dev.spacy").write_bytes(b"mine")
    (out / "test.spacy").write_bytes(b"mine too")
    before = digest(out)
    refused(invoke("convert", corpus, out, "--shard-size", "5"), "dev.spacy", "Choose an empty or new folder")
    assert digest(out) == before


def test_convert_shards_get_a_normal_folder_mode(tmp_path):
    corpus = labelled(tmp_path / "train.jsonl")
    result = invoke("convert", corpus, tmp_path / "shards", "--shard-size", "5")
    assert result.exit_code == 0, result.output
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "shards").stat().st_mode) == 0o777 & ~umask


def test_convert_into_a_folder_that_holds_the_input(tmp_path):
    """Case 5: convert IN DIR --shard-size N where IN is inside DIR."""
    data = tmp_path / "data"
    data.mkdir()
    corpus = labelled(data / "train.jsonl")
    before = digest(data)
    refused(invoke("convert", corpus, data, "--shard-size", "5"), "holds the input")
    assert digest(data) == before


def test_evaluate_never_writes_onto_its_corpus(tmp_path, tiny_textcat_dir):
    """Case 2: evaluate MODEL CORPUS -o CORPUS; refused before the evaluation runs."""
    corpus = labelled(tmp_path / "dev.jsonl")
    before = digest(tmp_path)
    refused(invoke("evaluate", tiny_textcat_dir, corpus, "-o", corpus), "is the input")
    assert digest(tmp_path) == before
    refused(invoke("evaluate", tiny_textcat_dir, corpus, "-o", tiny_textcat_dir / "scores.json"),
            "inside the input folder")


def test_lm_vocab_never_writes_onto_its_corpus(tmp_path):
    """Case 3: lm-vocab IN IN."""
    corpus = labelled(tmp_path / "raw.jsonl")
    before = digest(tmp_path)
    refused(invoke("lm-vocab", corpus, corpus), "is the input")
    assert digest(tmp_path) == before


def test_score_never_replaces_a_device_and_takes_dash_for_stdout(tmp_path, tiny_textcat_dir):
    """Case 4: score ... -o NODE replaced a character device; -o /dev/stdout gave a traceback."""
    texts = tmp_path / "in.txt"
    texts.write_text("good\nbad\n", encoding="utf8")
    refused(invoke("score", tiny_textcat_dir, texts, "-o", "/dev/null"), "not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    result = invoke("score", tiny_textcat_dir, texts, "-o", "-")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == ["good", "bad"]


def test_export_tok2vec_never_writes_into_the_pipeline(tmp_path, tiny_textcat_dir):
    """Case 5: export-tok2vec PIPELINE PIPELINE/rnn_textcat/model."""
    before = digest(tiny_textcat_dir)
    refused(invoke("export-tok2vec", tiny_textcat_dir, tiny_textcat_dir / "rnn_textcat" / "model"),
            "inside the input folder")
    assert digest(tiny_textcat_dir) == before
    result = invoke("export-tok2vec", tiny_textcat_dir, tmp_path / "t2v.bin")
    assert result.exit_code == 0, result.output and (tmp_path / "t2v.bin").stat().st_size > 0


def test_explain_html_never_writes_into_the_pipeline(tmp_path, tiny_textcat_dir):
    before = digest(tiny_textcat_dir)
    refused(invoke("explain", tiny_textcat_dir, "a fine film", "--html", tiny_textcat_dir / "meta.json"),
            "inside the input folder")
    assert digest(tiny_textcat_dir) == before
