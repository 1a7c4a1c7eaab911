"""Training schedules that scale with the corpus (spacy_rnn.schedule): the
updates of a number of passes, evaluations near the end at any size, a
warm-up that is a fraction of the schedule, and E036 for a schedule whose
only evaluation follows the first update."""
import random

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.loop import create_train_batches
from spacy.util import registry
from thinc.api import Config

from spacy_rnn.errors import ConfigValueError
from spacy_rnn.schedule import count_updates, document_lengths, eval_frequency, steps_for_passes, warmup_linear

from conftest import REPO_ROOT


def write_corpus(path, n, seed=0):
    """``n`` docs of 1 to 40 tokens, labelled neg/pos."""
    rng = random.Random(seed)
    nlp = spacy.blank("en")
    db = DocBin()
    for i in range(n):
        doc = nlp.make_doc(" ".join(rng.choice(["good", "bad", "film", "plot"]) for _ in range(rng.randint(1, 40))))
        doc.cats = {"neg": float(i % 2), "pos": float(1 - i % 2)}
        db.add(doc)
    db.to_disk(path)
    return path


def words_batcher():
    return registry.resolve({"b": {
        "@batchers": "spacy.batch_by_words.v1", "discard_oversize": False, "tolerance": 0.2, "get_length": None,
        "size": {"@schedules": "compounding.v1", "start": 20, "stop": 200, "compound": 1.01},
    }})["b"]


@pytest.mark.parametrize("max_steps", [1, 2, 7, 49, 299, 703, 1999, 10_000, 224_999])
@pytest.mark.parametrize("evaluations", [1, 5, 10])
def test_eval_frequency_evaluates_enough_and_near_the_end(max_steps, evaluations):
    frequency = eval_frequency(max_steps, evaluations)
    last = max_steps - max_steps % frequency  # spaCy evaluates after updates 0, f, 2f, ...
    assert frequency >= 1
    assert max_steps // frequency >= min(evaluations, max_steps)
    assert max_steps - last < max(2 * evaluations, 1)


@pytest.mark.parametrize("args", [(0, 10), (100, 0), (True, 10), (100, 1.5)])
def test_eval_frequency_checks_its_arguments(args):
    with pytest.raises(ConfigValueError, match="spacy_rnn.eval_frequency.v1"):
        eval_frequency(*args)


def test_count_updates_is_what_spacys_training_loop_does(tmp_path):
    """Word batches with a compounding size, over several passes: the count is
    the batches spaCy's create_train_batches yields. The order of the docs
    within a pass (spaCy shuffles with Python's random) moves a word batcher's
    count: over 40 seeds of this corpus, from 7% fewer batches to 2% more,
    3% fewer on average. Seeded, so the test does not depend on the tests before it."""
    path = write_corpus(tmp_path / "train.spacy", 300)
    nlp = spacy.blank("en")
    from spacy.training import Corpus

    counted = count_updates(words_batcher(), document_lengths(path), 3)
    ratios = []
    for seed in range(8):
        random.seed(seed)
        batches = sum(1 for _ in create_train_batches(nlp, Corpus(path), words_batcher(), 3))
        ratios.append(counted / batches)
    assert all(0.95 <= ratio <= 1.09 for ratio in ratios), ratios
    assert 0.98 <= sum(ratios) / len(ratios) <= 1.06, ratios
    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    assert document_lengths(path) == [len(doc) for doc in docs]


def test_steps_for_passes_has_a_floor_for_small_corpora(tmp_path):
    path = write_corpus(tmp_path / "train.spacy", 100)
    batcher = registry.batchers.get("spacy.batch_by_sequence.v1")(size=64, get_length=None)
    assert steps_for_passes(path, passes=2, batcher=batcher) == 3  # 2 x 2 updates
    assert steps_for_passes(path, passes=2, batcher=batcher, min_steps=300) == 299
    with pytest.raises(ConfigValueError, match="min_steps"):
        steps_for_passes(path, passes=2, batcher=batcher, min_steps=-1)


def test_lengths_of_jsonl_records_are_counted_too(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a good film", "label": "pos"}\n{"text": "bad", "label": "neg"}\n')
    assert document_lengths(path) == [3, 1]


def test_warmup_is_a_fraction_of_the_schedule():
    rates = list(zip(range(1000), warmup_linear(0.01, total_steps=1000, warmup_fraction=0.1)))
    peak = max(range(1000), key=lambda i: rates[i][1])
    assert 95 <= peak <= 105
    assert rates[0][1] < 0.001 and rates[-1][1] < 0.0001
    with pytest.raises(ConfigValueError, match="warmup_fraction"):
        warmup_linear(0.01, total_steps=1000, warmup_fraction=1.0)


def schedule_of(config_name: str, train, **overrides):
    """The resolved max_steps, eval_frequency and learning rates of a recipe for this corpus."""
    config = Config().from_disk(REPO_ROOT / "configs" / f"{config_name}.cfg",
                                overrides={"paths.train": str(train), "paths.dev": str(train), **overrides})
    training = registry.resolve({"t": {k: config["training"][k] for k in ("max_steps", "eval_frequency")}})["t"]
    return training["max_steps"], training["eval_frequency"]


@pytest.mark.parametrize("n_docs", [20, 500, 3000])
@pytest.mark.parametrize("config_name", ["sentiment_bilstm_long_vectors", "sentiment_bilstm_vectors"])
def test_recipes_train_and_evaluate_at_any_corpus_size(tmp_path, n_docs, config_name):
    max_steps, frequency = schedule_of(config_name, write_corpus(tmp_path / "train.spacy", n_docs))
    assert max_steps >= 299  # the floor: a small corpus gets more passes
    assert max_steps // frequency >= 5  # several evaluations of a trained model
    assert max_steps % frequency < 20  # the last near the end


def tiny_training_config(tmp_path, **training) -> Config:
    path = write_corpus(tmp_path / "train.spacy", 10)
    config = Config().from_disk(REPO_ROOT / "configs" / "sentiment_bilstm.cfg",
                                overrides={"paths.train": str(path), "paths.dev": str(path)})
    config["training"].update(training)
    return config


def test_e036_a_schedule_that_evaluates_only_after_the_first_update(tmp_path):
    from spacy.training.initialize import init_nlp

    config = tiny_training_config(tmp_path, max_steps=5, eval_frequency=10)
    with pytest.raises(ConfigValueError, match=r"E036.*6 update\(s\) and evaluate every 10"):
        init_nlp(config)
    init_nlp(tiny_training_config(tmp_path, max_steps=5, eval_frequency=5))


def test_e036_counts_the_updates_of_max_epochs(tmp_path):
    from spacy.training.initialize import init_nlp

    by_sequence = {"@batchers": "spacy.batch_by_sequence.v1", "size": 64, "get_length": None}
    config = tiny_training_config(tmp_path, max_steps=0, max_epochs=2, eval_frequency=200, batcher=by_sequence)
    with pytest.raises(ConfigValueError, match=r"E036.*2 update\(s\)"):
        init_nlp(config)


def test_nlp_initialize_in_python_is_not_refused():
    """Outside spacy train, nlp.config holds spaCy's default training block."""
    nlp = spacy.blank("en")
    nlp.add_pipe("rnn_textcat")
    examples = [Example.from_dict(nlp.make_doc("good"), {"cats": {"pos": 1.0, "neg": 0.0}}),
                Example.from_dict(nlp.make_doc("bad"), {"cats": {"pos": 0.0, "neg": 1.0}})]
    nlp.initialize(lambda: examples)


@pytest.mark.parametrize("dropout", [1.5, 1.0, -0.1])
def test_issue34_a_dropout_that_is_not_a_rate_stops_at_initialize(tmp_path, dropout):
    """Case 10: spacy train --training.dropout 1.5 (or -0.1) trained with a frozen loss, silently."""
    from spacy.training.initialize import init_nlp

    with pytest.raises(ConfigValueError, match=r"E037\] \[training\] dropout = "):
        init_nlp(tiny_training_config(tmp_path, dropout=dropout))
    init_nlp(tiny_training_config(tmp_path, dropout=0.0))
