"""spacy_rnn.trim_memory.v1: a before_update callback that returns freed heap pages."""
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


def test_also_trims_before_the_updates_that_evaluations_follow(monkeypatch):
    steps = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: steps.append(step))
    callback = memory.create_trim_memory(every=10, eval_frequency=15)
    for step in range(31):
        callback(spacy.blank("en"), {"step": step, "epoch": 0})
    assert steps == [0, 10, 15, 20, 30]


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
