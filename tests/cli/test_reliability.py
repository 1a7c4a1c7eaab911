"""Hostile but ordinary use, command by command (issue 34): a disk that fills
up, SIGTERM, an output folder that cannot be written, TSV texts that start
with a quote, texts over nlp.max_length, 20,000 labels, a lone surrogate for
lm-vocab, our config errors under spacy train, and the one top-level
handler that keeps tracebacks from users."""
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT
from spacy_rnn.cli import app
from spacy_rnn.cli._util import cli_spelling, describe_error
from spacy_rnn.errors import ConfigValueError, OutputError
from spacy_rnn.output_file import AtomicOutput

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "spacy_rnn", *map(str, args)], capture_output=True, text=True,
                          cwd=kwargs.pop("cwd", REPO_ROOT), **kwargs)


def refused(result, *words, code=1):
    output = result.output if hasattr(result, "output") else result.stdout + result.stderr
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code == code, output
    assert "Traceback" not in output, output
    for word in words:
        assert word in output, output
    return output


def write_jsonl(path: Path, n: int, text: str = "a fine film that I loved") -> Path:
    path.write_text("".join(json.dumps({"id": i, "text": text}) + "\n" for i in range(n)), encoding="utf8")
    return path


def hidden_temp_files(folder: Path):
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def whole_lines(path: Path):
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


# case 12: an output that is a folder
def test_score_output_folder_is_refused_before_scoring(tiny_textcat_dir, tmp_path):
    texts = write_jsonl(tmp_path / "in.jsonl", 3)
    (tmp_path / "out").mkdir()
    refused(invoke("score", tiny_textcat_dir, texts, tmp_path / "out"), "is a folder")
    assert list((tmp_path / "out").iterdir()) == [] and hidden_temp_files(tmp_path) == []


# case 13: the disk fills up (a file size limit), or stdout is /dev/full
def test_score_file_size_limit_keeps_whole_lines_in_partial(tiny_textcat_dir, tmp_path):
    texts = write_jsonl(tmp_path / "in.jsonl", 400, "a long review " * 20)
    out = tmp_path / "scored.jsonl"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = run_cli("score", tiny_textcat_dir, texts, "-o", out, preexec_fn=limit)
    message = refused(result, "Cannot write", "File too large", "whole line(s)", f"{out}.partial")
    assert not out.exists() and hidden_temp_files(tmp_path) == []
    lines = whole_lines(Path(f"{out}.partial"))
    assert 0 < len(lines) < 400 and [line["id"] for line in lines] == list(range(len(lines)))
    assert f"The {len(lines)} whole line(s)" in message


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_score_to_a_full_stdout(tiny_textcat_dir, tmp_path):
    texts = write_jsonl(tmp_path / "in.jsonl", 400, "a long review " * 20)
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "spacy_rnn", "score", str(tiny_textcat_dir), str(texts)],
                                stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Cannot write to stdout: No space left on device" in result.stderr


def test_atomic_output_commit_failure_keeps_only_whole_lines(tmp_path, monkeypatch):
    output = AtomicOutput(tmp_path / "out.jsonl")
    stream = output.open()
    stream.write(b'{"a": 1}\n{"a": 2}\n{"a": 3')  # the last line cut by a full disk
    real_replace = os.replace

    def replace(src, dst):
        if str(dst) == str(tmp_path / "out.jsonl"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="No space left on device. The 2 whole line"):
        output.commit()
    assert (tmp_path / "out.jsonl.partial").read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    assert hidden_temp_files(tmp_path) == [] and not (tmp_path / "out.jsonl").exists()


# case 14: SIGTERM while scoring to a file
def test_score_sigterm_keeps_partial_and_says_so(tiny_textcat_dir, tmp_path):
    out = tmp_path / "scored.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "spacy_rnn", "score", str(tiny_textcat_dir), "-", "-o", str(out), "-b", "8"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )
    # Enough lines to fill the output's write buffer; stdin stays open, so
    # the command waits for more input when SIGTERM comes.
    process.stdin.write("".join(f"review number {i} was a fine film " * 3 + "\n" for i in range(400)))
    process.stdin.flush()
    deadline = time.time() + 120
    while time.time() < deadline:
        temp = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        if temp and temp[0].stat().st_size > 0:
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("score wrote nothing")
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "Stopped by SIGTERM" in stderr and f"{out}.partial" in stderr
    assert not out.exists() and hidden_temp_files(tmp_path) == []
    lines = whole_lines(Path(f"{out}.partial"))
    assert lines and all(set(line) == {"text", "cats", "label"} for line in lines)


# case 15: an output folder that cannot be written
def test_unwritable_output_folder_is_refused_before_any_work(tiny_textcat_dir, tmp_path, monkeypatch):
    corpus = tmp_path / "dev.jsonl"
    corpus.write_text(json.dumps({"text": "fine", "label": "positive"}) + "\n", encoding="utf8")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != locked and real_access(path, mode))
    for args in (("score", tiny_textcat_dir, corpus, "-o", locked / "scores.jsonl"),
                 ("evaluate", tiny_textcat_dir, corpus, "-o", locked / "new" / "metrics.json"),
                 ("convert", corpus, locked / "train.spacy")):
        refused(invoke(*args), "cannot be written (permission denied)", str(locked))
    assert list(locked.iterdir()) == []


def test_an_output_under_a_file_is_a_message(tiny_textcat_dir, tmp_path):
    texts = write_jsonl(tmp_path / "in.jsonl", 2)
    (tmp_path / "file").write_text("mine\n")
    refused(invoke("score", tiny_textcat_dir, texts, "-o", tmp_path / "file" / "out.jsonl"), "is a file, not a folder")
    assert (tmp_path / "file").read_text() == "mine\n"


# case 6: TSV texts that start with a quote
def test_tsv_is_not_quoted_unless_asked(tiny_textcat_dir, tmp_path):
    tsv = tmp_path / "reviews.tsv"
    tsv.write_text('text\tstars\n"Great" film\t5\nbad one\t1\n"quoted start, no end\t2\nfine\t4\nok "so"\t3\n',
                   encoding="utf8")
    out = tmp_path / "scored.jsonl"
    assert invoke("score", tiny_textcat_dir, tsv, "-o", out).exit_code == 0
    texts = [line["text"] for line in whole_lines(out)]
    assert texts == ['"Great" film', "bad one", '"quoted start, no end', "fine", 'ok "so"']
    quoted = tmp_path / "quoted.tsv"
    quoted.write_text('text\tlabel\n"a\ttab"\tpos\n"say ""hi"""\tneg\n', encoding="utf8")
    result = invoke("convert", quoted, tmp_path / "q.spacy", "--format", "tsv-quoted")
    assert result.exit_code == 0, result.output
    from spacy.tokens import DocBin
    import spacy
    docs = list(DocBin().from_disk(tmp_path / "q.spacy").get_docs(spacy.blank("en").vocab))
    assert [doc.text for doc in docs] == ["a\ttab", 'say "hi"']


# case 11 (convert): texts over nlp.max_length
def test_convert_refuses_what_spacy_train_would(tmp_path):
    corpus = tmp_path / "long.jsonl"
    corpus.write_text(json.dumps({"text": "word " * 200_001, "label": "pos"}) + "\n"
                      + json.dumps({"text": "short", "label": "neg"}) + "\n", encoding="utf8")
    refused(invoke("convert", corpus, tmp_path / "a.spacy"), "line 1", "1,000,005 characters", "--max-length")
    assert not (tmp_path / "a.spacy").exists()
    assert invoke("convert", corpus, tmp_path / "b.spacy", "--max-length", "0").exit_code == 0


# case 22: a field with thousands of distinct values as the label
def test_convert_refuses_thousands_of_labels(tmp_path):
    corpus = tmp_path / "many.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"t {i}", "label": f"L{i}"}) + "\n" for i in range(1002)),
                      encoding="utf8")
    refused(invoke("convert", corpus, tmp_path / "a.spacy"), "more than 1000 distinct labels", "--max-labels")
    refused(invoke("convert", corpus, tmp_path / "d", "--shard-size", "100"), "more than 1000 distinct labels")
    assert not (tmp_path / "a.spacy").exists() and not (tmp_path / "d").exists()
    assert invoke("convert", corpus, tmp_path / "b.spacy", "--max-labels", "0").exit_code == 0


# case 16: lm-vocab on a lone surrogate
def test_lm_vocab_lone_surrogate_is_a_message(tmp_path):
    corpus = tmp_path / "raw.jsonl"
    corpus.write_text('{"text": "fine"}\n{"text": "bad \\ud800 escape"}\n', encoding="utf8")
    output = refused(invoke("lm-vocab", corpus, tmp_path / "vocab.json"), "line 2", "lone surrogate U+D800")
    assert "--skip-invalid" not in output  # lm-vocab has no such option
    assert not (tmp_path / "vocab.json").exists()


# case 21: messages in CLI spelling; an all-invalid run fails
def test_cli_messages_name_options_in_cli_spelling(tiny_textcat_dir, tmp_path):
    texts = tmp_path / "in.jsonl"
    texts.write_text('{"text": "abc}\n', encoding="utf8")
    output = refused(invoke("score", tiny_textcat_dir, texts), "Unterminated string starting at column 10",
                     "--skip-invalid")
    assert "at at" not in output and "skip_invalid=True" not in output
    assert cli_spelling("pass skip_invalid=True (--skip-invalid) or text_key (--text-key)") == \
        "pass --skip-invalid or --text-key"


def test_score_all_invalid_with_skip_invalid_fails(tiny_textcat_dir, tmp_path):
    texts = tmp_path / "in.jsonl"
    texts.write_text('{"text": 1}\nnot json\n', encoding="utf8")
    out = tmp_path / "scored.jsonl"
    refused(invoke("score", tiny_textcat_dir, texts, "-o", out, "--skip-invalid"), "None of the 2 record(s)")
    assert [set(line) for line in whole_lines(out)] == [{"error"}, {"error"}]


# case 20: our config errors under spacy train
def test_config_errors_are_config_validation_errors():
    from confection import ConfigValidationError

    error = ConfigValueError("[spacy_rnn E001] Unknown recurrent cell 'foo'")
    assert isinstance(error, ConfigValidationError) and isinstance(error, ValueError)
    assert str(error) == "[spacy_rnn E001] Unknown recurrent cell 'foo'"


def test_spacy_train_prints_our_config_errors_cleanly(tmp_path):
    corpus = tmp_path / "train.jsonl"
    corpus.write_text("".join(json.dumps({"text": t, "label": l}) + "\n"
                              for t, l in [("good", "pos"), ("bad", "neg")] * 3), encoding="utf8")
    assert invoke("convert", corpus, tmp_path / "train.spacy").exit_code == 0
    config = tmp_path / "config.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", "-p", "rnn_textcat", str(config)],
                   check=True, capture_output=True, cwd=tmp_path)
    for override, code in (("--components.rnn_textcat.model.tok2vec.encode.cell", "E001"),
                           ("--components.rnn_textcat.model.pooling", "E003")):
        result = subprocess.run(
            [sys.executable, "-m", "spacy", "train", str(config), "--paths.train", str(tmp_path / "train.spacy"),
             "--paths.dev", str(tmp_path / "train.spacy"), override, "foo"],
            capture_output=True, text=True, cwd=tmp_path,
        )
        assert result.returncode == 1
        output = result.stdout + result.stderr
        assert f"[spacy_rnn {code}]" in output and "Traceback" not in output, output


def test_spacy_train_prints_our_corpus_errors_cleanly(tmp_path):
    """A missing corpus, found while spaCy resolves the shipped config (our
    steps_for_passes counts it), is a ✘ message under spacy train; the
    traceback only with SPACY_RNN_VERBOSE=1."""
    config = Path(__file__).resolve().parents[2] / "configs" / "sentiment_bilstm.cfg"
    command = [sys.executable, "-m", "spacy", "train", str(config), "--paths.train", str(tmp_path / "missing"),
               "--paths.dev", str(tmp_path / "missing")]
    env = {k: v for k, v in os.environ.items() if k != "SPACY_RNN_VERBOSE"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output, output
    assert "no such file or folder" in " ".join(output.split()) and "--paths.train" in output
    verbose = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                             env={**env, "SPACY_RNN_VERBOSE": "1"})
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_other_programs_keep_their_tracebacks(tmp_path):
    from spacy_rnn._spacy_cli import running_spacy_cli

    assert running_spacy_cli("/usr/bin/spacy") and running_spacy_cli(os.path.join("x", "spacy", "__main__.py"))
    assert not running_spacy_cli("train.py")
    code = "import spacy_rnn\nfrom spacy_rnn.errors import OutputError\nraise OutputError('mine')\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr and "OutputError: mine" in result.stderr


# the top-level handler
def test_an_unexpected_error_is_a_message_and_verbose_shows_the_traceback(tmp_path, monkeypatch):
    import spacy_rnn.cli.lm_vocab as module

    def broken(*args, **kwargs):
        raise RuntimeError("something no one foresaw")

    monkeypatch.setattr(module, "count_norms", broken)
    corpus = tmp_path / "raw.txt"
    corpus.write_text("fine\n", encoding="utf8")
    refused(invoke("lm-vocab", corpus, tmp_path / "v.json"), "lm-vocab failed: RuntimeError: "
            "something no one foresaw", "--verbose")
    monkeypatch.setenv("SPACY_RNN_VERBOSE", "1")
    result = invoke("lm-vocab", corpus, tmp_path / "v.json")
    assert isinstance(result.exception, RuntimeError)


def test_verbose_anywhere_on_the_command_line(tmp_path):
    result = run_cli("lm-vocab", tmp_path / "missing.txt", tmp_path / "v.json", "--verbose")
    assert result.returncode == 1 and "No such option" not in result.stderr


def test_describe_error_for_os_errors():
    message = describe_error("score", PermissionError(13, "Permission denied", "/data/x.jsonl"))
    assert message.startswith("score: Permission denied: /data/x.jsonl.")
