"""Scoring in worker processes (spacy_rnn.inference.workers): the cats come
back, not the documents; in order, with the results of one process; workers
start once a run; at most 2 * n_process batches out at a time; a worker that
dies is a ScoreError, not a hang or a traceback."""
import itertools
import os

import pytest
import spacy
from spacy.language import Language

from spacy_rnn.errors import ScoreError
from spacy_rnn.inference import score as score_module
from spacy_rnn.inference import workers
from spacy_rnn.inference.reading import ScoreItem
from spacy_rnn.inference.score import score_items, score_texts

pytestmark = pytest.mark.skipif(not workers.can_fork(), reason="workers are forked (Linux)")

TEXTS = ["a fine film", "dull and long", "", "loved every minute", "zzzqx unheard-of wordz"] * 9


@pytest.fixture(scope="module")
def nlp(tiny_textcat_dir):
    return spacy.load(tiny_textcat_dir)


def test_two_workers_score_as_one_process_in_order_across_chunks(nlp, monkeypatch):
    one = [row["cats"] for row in score_texts(nlp, TEXTS, batch_size=4)]
    started = []
    real = workers.CatsWorkers

    class Counting(real):
        def __init__(self, *args, **kwargs):
            started.append(args[1:])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(score_module, "CatsWorkers", Counting)
    two = list(score_texts(nlp, TEXTS, batch_size=4, n_process=2, chunk_size=10))
    assert [row["text"] for row in two] == TEXTS
    for row, cats in zip(two, one):
        assert row["cats"] == pytest.approx(cats, abs=1e-6)
    assert started == [(2, 4)]  # five chunks, one start


def test_invalid_records_keep_their_places_with_workers(nlp):
    items = [ScoreItem(i + 1, text, {"text": text}) for i, text in enumerate(TEXTS)]
    items[3] = ScoreItem(4, "x", {"text": "x", "cats": 1})  # has the output field: invalid
    rows = list(score_items(nlp, items, n_process=2, batch_size=3, chunk_size=7, skip_invalid=True))
    assert len(rows) == len(TEXTS) and "error" in rows[3] and rows[3]["error"]["field"] == "cats"
    assert [row.get("text") for i, row in enumerate(rows) if i != 3] == [t for i, t in enumerate(TEXTS) if i != 3]


def test_at_most_two_batches_a_worker_are_out(nlp):
    read = []

    def texts():
        for i in itertools.count():
            read.append(i)
            yield f"review number {i}"

    stream = score_texts(nlp, texts(), batch_size=5, n_process=2)
    next(stream)
    # 2 workers x 2 batches x 5 texts out, the next batch filling, and the one being read
    assert len(read) <= 2 * 2 * 5 + 5 + 1
    stream.close()


def test_a_worker_batch_frees_its_strings(nlp, monkeypatch):
    monkeypatch.setattr(workers, "_worker_nlp", nlp)
    before = len(nlp.vocab.strings)
    cats = workers._score_batch(["qqqzx wwwvy never-seen-before"], 8)
    assert len(cats) == 1 and set(cats[0]) == {"negative", "positive"}
    assert len(nlp.vocab.strings) == before


@Language.component("die_on_poison")
def die_on_poison(doc):
    if doc.text == "poison" and os.getpid() != PARENT:
        os._exit(3)
    return doc


PARENT = os.getpid()


def test_a_dead_worker_is_a_score_error(tiny_textcat_dir):
    nlp = spacy.load(tiny_textcat_dir)
    nlp.add_pipe("die_on_poison", first=True)
    with pytest.raises(ScoreError, match="worker process of --n-process ended"):
        list(score_texts(nlp, ["fine"] * 10 + ["poison"] + ["fine"] * 10, batch_size=2, n_process=2))


def test_ctrl_c_stops_the_workers_and_keeps_the_lines(tmp_path, tiny_textcat_dir):
    """Ctrl-C in a terminal sends SIGINT to the whole foreground process
    group, the workers included: the run ends with the usual one-line
    message and exit code 130, the lines written so far under .partial, the
    output path untouched, no temporary file and no process left behind."""
    import signal
    import subprocess
    import sys
    import time

    source = tmp_path / "in.txt"
    source.write_text("a fine film and a dull one\n" * 400_000, encoding="utf8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacy_rnn", "score", str(tiny_textcat_dir), str(source), "--output", str(out),
         "--n-process", "2", "--batch-size", "64"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # as a terminal's shell starts it (a background shell ignores SIGINT)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".tmp") and p.stat().st_size for p in tmp_path.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert "Interrupted. Wrote " in stderr and f"{out} was left as it was" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.jsonl.partial"]
    with pytest.raises(ProcessLookupError):  # no worker outlived the run
        for _ in range(50):
            os.killpg(proc.pid, 0)
            time.sleep(0.1)
