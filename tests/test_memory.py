"""spacy_rnn.trim_memory.v1/v2: a before_update callback that returns freed heap pages."""
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


@pytest.mark.parametrize("version,expected", [
    ("spacy_rnn.trim_memory.v1", [0, 10, 15, 20, 30]),
    # v2 also trims before the update after each evaluation (spaCy evaluates after updates 0, 15, 30)
    ("spacy_rnn.trim_memory.v2", [0, 1, 10, 15, 16, 20, 30, 31]),
])
def test_also_trims_around_the_updates_that_evaluations_follow(monkeypatch, version, expected):
    steps = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: steps.append(step))
    callback = registry.callbacks.get(version)(every=10, eval_frequency=15)
    for step in range(32):
        callback(spacy.blank("en"), {"step": step, "epoch": 0})
    assert steps == expected


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


def test_v2_fixes_the_mmap_threshold_when_created(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_mallopt", lambda: lambda param, value: calls.append((param, value)) or 1)
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: calls.append("trim"))
    callback = registry.callbacks.get("spacy_rnn.trim_memory.v2")(every=2, mmap_threshold=4 * 2**20)
    assert calls == [(memory.M_MMAP_THRESHOLD, 4 * 2**20)]
    for step in range(3):
        callback(spacy.blank("en"), {"step": step, "epoch": 0})
    assert calls[1:] == ["trim", "trim"]  # v1's trims, before updates 0 and 2


def test_v2_without_a_threshold_leaves_glibc_alone(monkeypatch):
    monkeypatch.setattr(memory, "_mallopt", lambda: pytest.fail("mallopt called"))
    memory.create_trim_memory_v2(every=10, mmap_threshold=0)


@pytest.mark.parametrize("threshold", [-1, 1.5, True, 64 * 2**20])
def test_v2_mmap_threshold_range(threshold):
    with pytest.raises(ConfigValueError, match="trim_memory.v2: mmap_threshold must be an integer from 0"):
        memory.create_trim_memory_v2(mmap_threshold=threshold)


def test_v2_refused_threshold_is_an_error(monkeypatch):
    monkeypatch.setattr(memory, "_mallopt", lambda: lambda param, value: 0)
    with pytest.raises(ConfigValueError, match="refused mmap_threshold"):
        memory.create_trim_memory_v2(mmap_threshold=4096)


RELEASE_CHECK = """
import numpy, sys
from pathlib import Path
from spacy_rnn import memory

def rss_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024

if sys.argv[1] == "v2":
    memory.create_trim_memory_v2(every=10, mmap_threshold=4 * 2**20)
# freeing a mapped 24 MB block raises glibc's dynamic threshold above 8 MB
block = numpy.ones(6 * 2**20, dtype="f"); del block
before = rss_mb()
blocks = [numpy.ones(2 * 2**20 + i, dtype="f") for i in range(8)]  # 8 x 8 MB, touched
del blocks
print(rss_mb() - before)
"""


@pytest.mark.skipif(memory._mallopt() is None, reason="needs glibc's mallopt")
def test_v2_threshold_returns_large_blocks_at_once():
    # in a fresh process: mallopt changes the allocator for the rest of a process's life
    import subprocess
    import sys

    def kept_mb(version):
        out = subprocess.run([sys.executable, "-c", RELEASE_CHECK, version], capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    given_back = kept_mb("v2")
    assert given_back < 2  # all 64 MB unmapped when freed
    assert kept_mb("dynamic") > given_back + 8  # glibc's default keeps some in its heap (16 MB here)
