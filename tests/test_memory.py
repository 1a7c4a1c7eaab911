"""spacy_rnn.trim_memory.v1: a before_update callback that returns freed heap pages, fixes glibc's mmap threshold and bounds oneDNN's cache."""
import pytest
import spacy
from spacy.util import registry

from spacy_rnn import memory
from spacy_rnn.errors import ConfigValueError


def test_trims_every_n_updates(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: calls.append)
    callback = registry.callbacks.get("spacy_rnn.trim_memory.v1")(every=3)
    nlp = spacy.blank("en")
    for step in range(7):
        callback(nlp, {"step": step, "epoch": 0})
    assert calls == [0, 0, 0]  # before updates 0, 3 and 6


def test_also_trims_around_the_updates_that_evaluations_follow(monkeypatch):
    steps = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: steps.append(step))
    callback = registry.callbacks.get("spacy_rnn.trim_memory.v1")(every=10, eval_frequency=15)
    for step in range(32):
        callback(spacy.blank("en"), {"step": step, "epoch": 0})
    # before every 10th update, and before and after each evaluation (spaCy evaluates after updates 0, 15, 30)
    assert steps == [0, 1, 10, 15, 16, 20, 30, 31]


@pytest.mark.parametrize("eval_frequency", [-1, 1.5, True])
def test_eval_frequency_must_be_a_non_negative_integer(eval_frequency):
    with pytest.raises(ConfigValueError, match="eval_frequency must be an integer of 0 or more"):
        memory.create_trim_memory(every=10, eval_frequency=eval_frequency)


def test_does_nothing_without_malloc_trim(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    callback = memory.create_trim_memory(every=1)
    callback(spacy.blank("en"), {"step": 0, "epoch": 0})


def test_the_real_malloc_trim_runs():
    trim = memory._malloc_trim()
    if trim is not None:  # glibc
        assert trim(0) in (0, 1)
    memory.create_trim_memory(every=1)(spacy.blank("en"), {"step": 0, "epoch": 0})


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_every_must_be_a_positive_integer(every):
    with pytest.raises(ConfigValueError, match="every must be an integer of 1 or more"):
        memory.create_trim_memory(every=every)


def test_fixes_the_mmap_threshold_when_created(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_mallopt", lambda: lambda param, value: calls.append((param, value)) or 1)
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: calls.append("trim"))
    callback = registry.callbacks.get("spacy_rnn.trim_memory.v1")(every=2, mmap_threshold=4 * 2**20)
    assert calls == [(memory.M_MMAP_THRESHOLD, 4 * 2**20)]
    for step in range(3):
        callback(spacy.blank("en"), {"step": step, "epoch": 0})
    assert calls[1:] == ["trim", "trim"]  # the trims, before updates 0 and 2


def test_without_a_threshold_leaves_glibc_alone(monkeypatch):
    monkeypatch.setattr(memory, "_mallopt", lambda: pytest.fail("mallopt called"))
    memory.create_trim_memory(every=10, mmap_threshold=0)


@pytest.mark.parametrize("threshold", [-1, 1.5, True, 64 * 2**20])
def test_mmap_threshold_range(threshold):
    with pytest.raises(ConfigValueError, match="trim_memory.v1: mmap_threshold must be an integer from 0"):
        memory.create_trim_memory(mmap_threshold=threshold)


def test_refused_threshold_is_an_error(monkeypatch):
    monkeypatch.setattr(memory, "_mallopt", lambda: lambda param, value: 0)
    with pytest.raises(ConfigValueError, match="refused mmap_threshold"):
        memory.create_trim_memory(mmap_threshold=4096)


RELEASE_CHECK = """
import numpy, sys
from pathlib import Path
from spacy_rnn import memory

def rss_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

if sys.argv[1] == "fixed":
    memory.create_trim_memory(every=10, mmap_threshold=4 * 2**20)
# freeing a mapped 24 MB block raises glibc's dynamic threshold above 8 MB
block = numpy.ones(6 * 2**20, dtype="f"); del block
before = rss_mb()
blocks = [numpy.ones(2 * 2**20 + i, dtype="f") for i in range(8)]  # 8 x 8 MB, touched
del blocks
print(rss_mb() - before)
"""


@pytest.mark.skipif(memory._mallopt() is None, reason="needs glibc's mallopt")
def test_threshold_returns_large_blocks_at_once():
    # in a fresh process: mallopt changes the allocator for the rest of a process's life
    import subprocess
    import sys

    def kept_mb(version):
        out = subprocess.run([sys.executable, "-c", RELEASE_CHECK, version], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    given_back = kept_mb("fixed")
    assert given_back < 2  # all 64 MB unmapped when freed
    assert kept_mb("dynamic") > given_back + 8  # glibc's default keeps some in its heap (16 MB here)


def test_sets_onednn_cache_capacity_when_created(no_onednn_capacity):
    import os

    registry.callbacks.get("spacy_rnn.trim_memory.v1")(every=10, primitive_cache=16)
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "16"


def test_default_leaves_onednn_alone(no_onednn_capacity):
    import os

    memory.create_trim_memory(every=10)
    assert not any(name in os.environ for name in memory.ONEDNN_CACHE_VARIABLES)


@pytest.mark.parametrize("name", memory.ONEDNN_CACHE_VARIABLES)
def test_a_capacity_in_the_environment_wins(no_onednn_capacity, monkeypatch, name):
    import os

    monkeypatch.setenv(name, "256")
    memory.create_trim_memory(every=10, primitive_cache=0)
    assert os.environ[name] == "256"
    assert sum(n in os.environ for n in memory.ONEDNN_CACHE_VARIABLES) == 1


@pytest.mark.parametrize("capacity", [-2, 1.5, True, "16"])
def test_primitive_cache_must_be_an_integer(no_onednn_capacity, capacity):
    with pytest.raises(ConfigValueError, match="trim_memory.v1: primitive_cache must be an integer of 0 or more"):
        memory.create_trim_memory(primitive_cache=capacity)


def test_a_refused_setting_sets_nothing(no_onednn_capacity):
    import os

    with pytest.raises(ConfigValueError, match="trim_memory.v1: mmap_threshold"):
        memory.create_trim_memory(mmap_threshold=-1, primitive_cache=16)
    with pytest.raises(ConfigValueError, match="trim_memory.v1: every"):
        memory.create_trim_memory(every=0, primitive_cache=16)
    assert "ONEDNN_PRIMITIVE_CACHE_CAPACITY" not in os.environ  # nothing set by a refused config


CACHE_CHECK = """
import sys, torch
from pathlib import Path
from spacy_rnn import memory

def rss_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

memory.create_trim_memory(every=10, primitive_cache=int(sys.argv[1]))
torch.manual_seed(0)
torch.set_num_threads(1)
lstm = torch.nn.LSTM(32, 64, bidirectional=True, batch_first=True)
lstm(torch.zeros(8, 10, 32))[0].sum().backward()
before = rss_mb()
for length in range(200, 1400, 10):  # 120 shapes that never repeat, as long documents' batches
    lstm(torch.zeros(8, length, 32))[0].sum().backward()
print(rss_mb() - before)
"""


@pytest.mark.slow
def test_primitive_cache_bounds_memory_in_a_fresh_process(no_onednn_capacity):
    # a fresh process: oneDNN reads the capacity once, at its first primitive
    import subprocess
    import sys

    def grew_mb(capacity):
        out = subprocess.run([sys.executable, "-c", CACHE_CHECK, str(capacity)], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    bounded, default = grew_mb(0), grew_mb(-1)
    assert default > bounded + 30, (default, bounded)


def test_bound_primitive_cache_leaves_a_capacity_in_the_environment(no_onednn_capacity):
    import os

    assert memory.bound_primitive_cache(-1) is False and "ONEDNN_PRIMITIVE_CACHE_CAPACITY" not in os.environ
    assert memory.bound_primitive_cache(16) is True
    assert memory.bound_primitive_cache(8) is False  # the environment wins
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "16"


@pytest.mark.slow
def test_memory_phases_benchmark_tags_each_phase(tmp_path):
    """benchmarks/memory_phases.py on a tiny corpus: a `spacy train` run whose RSS
    samples are tagged with the Language method running."""
    import json
    import subprocess
    import sys

    from spacy.tokens import DocBin

    from conftest import REPO_ROOT

    nlp = spacy.blank("en")
    db = DocBin()
    # enough docs that each phase outlasts a few samples
    for i, text in enumerate(["a great film", "awful and boring", "I loved the cast", "worst plot ever"] * 100):
        doc = nlp.make_doc(text)
        doc.cats = {"negative": float(i % 2), "positive": float(1 - i % 2)}
        db.add(doc)
    db.to_disk(tmp_path / "tiny.spacy")
    output = tmp_path / "phases.json"
    overrides = ["--paths.train", str(tmp_path / "tiny.spacy"), "--paths.dev", str(tmp_path / "tiny.spacy"),
                 "--training.max_steps", "6", "--training.eval_frequency", "3"]
    run = subprocess.run(
        [sys.executable, "benchmarks/memory_phases.py", "configs/sentiment_bilstm.cfg", "--output", str(output),
         "--interval", "0.002", *overrides],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(output.read_text())
    assert {"initialize", "update", "evaluate", "to_disk"} <= set(result["peak_mb"])
    assert all(mb > 50 for mb in result["peak_mb"].values())
    seconds = [s for s, _, _ in result["series"]]
    assert seconds == sorted(seconds) and result["overrides"] == overrides
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    assert printed["peak_mb"] == result["peak_mb"]
