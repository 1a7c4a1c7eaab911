"""spacy_rnn.StreamingCorpus.v1: shuffled passes in bounded memory over
shards, the sharded conversion, and steps_for_passes."""
import json
import tracemalloc
from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import registry
from thinc.api import Config

from spacy_rnn.data import CorpusError, Record
from spacy_rnn.errors import ConfigValueError
from spacy_rnn.schedule import steps_for_passes
from spacy_rnn.data.convert import write_shards
from spacy_rnn.data.streaming import StreamingCorpus, docbin_rows, shuffle_through_buffer

LABELS = ["neg", "pos"]


def records(n, start=0):
    """n distinct made-up records (text i names its own number)."""
    words = ["fine", "dull", "bright", "slow", "warm", "flat"]
    return [
        Record(f"review {i} was {words[i % len(words)]} and {words[(i // 6) % len(words)]}",
               (LABELS[i % 2],), i + 1)
        for i in range(start, start + n)
    ]


def write_jsonl(path, recs):
    path.write_text("".join(json.dumps({"text": r.text, "label": r.labels[0]}) + "\n" for r in recs),
                    encoding="utf8")
    return path


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture
def shards(tmp_path, nlp):
    """1,000 records as 10 .spacy shards of 100 docs."""
    out = tmp_path / "train"
    counts, n_shards = write_shards(nlp, lambda: iter(records(1000)), out, LABELS, shard_size=100)
    assert n_shards == 10 and counts == {"neg": 500, "pos": 500}
    return out


def texts(examples):
    return [eg.reference.text for eg in examples]


def test_every_example_once_per_pass_in_a_new_order(shards, nlp):
    corpus = StreamingCorpus(shards, seed=3, buffer_size=50)
    expected = Counter(r.text for r in records(1000))
    first, second = texts(corpus(nlp)), texts(corpus(nlp))
    assert Counter(first) == expected and Counter(second) == expected
    assert first != second
    # mixed within shards, and each pass reads the shards in its own order
    numbers = [int(t.split()[1]) for t in first[:100]]
    assert numbers != sorted(numbers)
    assert corpus.shard_order(0) != corpus.shard_order(1)
    assert sorted(corpus.shard_order(0)) == sorted(corpus.shard_order(1)) == corpus.shards


def test_same_seed_same_order_and_resume_at_a_pass(shards, nlp):
    a = StreamingCorpus(shards, seed=7, buffer_size=64)
    passes = [texts(a(nlp)) for _ in range(3)]
    b = StreamingCorpus(shards, seed=7, buffer_size=64)
    assert [texts(b(nlp)) for _ in range(3)] == passes
    resumed = StreamingCorpus(shards, seed=7, buffer_size=64, first_pass=2)
    assert texts(resumed(nlp)) == passes[2]
    other = StreamingCorpus(shards, seed=8, buffer_size=64)
    assert texts(other(nlp)) != passes[0]


def test_no_shuffle_reads_in_name_and_file_order(shards, nlp):
    corpus = StreamingCorpus(shards, shuffle=False)
    assert texts(corpus(nlp)) == [r.text for r in records(1000)]


def test_reference_docs_keep_their_cats(shards, nlp):
    for eg in StreamingCorpus(shards, buffer_size=10)(nlp):
        i = int(eg.reference.text.split()[1])
        assert eg.reference.cats == {"neg": float(i % 2 == 0), "pos": float(i % 2 == 1)}
        assert eg.predicted.text == eg.reference.text and not eg.predicted.cats


def test_docbin_rows_make_the_docs_get_docs_makes():
    """The buffer holds a shard's docs as one-doc DocBins: each makes the same
    doc as the shard would, annotations, spans, unknown spaces and user data
    included, and owns its arrays, so the shard's buffer can be freed."""
    nlp = spacy.blank("en")
    docs = []
    for i, text in enumerate(["A fine film .", "Dull , slow ; flat", "emoji 😀 here"]):
        doc = nlp.make_doc(text)
        doc.cats = {"pos": float(i % 2), "neg": float(1 - i % 2)}
        doc[0].tag_, doc[0].lemma_, doc[1].pos_ = "DT", "a", "ADJ"
        doc.ents = [doc.char_span(0, len(doc[0].text), label="THING")]
        doc.spans["sc"] = [doc[1:3]]
        doc.user_data["n"] = i
        docs.append(doc)
    docs.append(spacy.tokens.Doc(nlp.vocab, words=["no", "spaces", "known"]))
    doc_bin = DocBin(store_user_data=True, docs=docs)
    loaded = DocBin().from_bytes(doc_bin.to_bytes())
    vocab = spacy.blank("en").vocab
    rows = list(docbin_rows(loaded, vocab))
    assert all(len(row) == 1 and all(a.flags.owndata for a in (*row.tokens, *row.spaces)) for row in rows)
    expected = list(DocBin().from_bytes(doc_bin.to_bytes()).get_docs(spacy.blank("en").vocab))
    made = [next(row.get_docs(vocab)) for row in rows]
    for a, b in zip(made, expected):
        assert a.to_json() == b.to_json() and a.user_data == b.user_data
        assert [(s.start, s.end) for s in a.spans.get("sc", [])] == [(s.start, s.end) for s in b.spans.get("sc", [])]
        assert [t.whitespace_ for t in a] == [t.whitespace_ for t in b] and a.has_unknown_spaces == b.has_unknown_spaces
    assert len(made) == 4


def test_reads_jsonl_shards_and_a_single_file(tmp_path, nlp):
    folder = tmp_path / "jsonl"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", records(30))
    write_jsonl(folder / "b.JSONL", records(20, start=30))
    (folder / "README.md").write_text("not a shard")
    got = list(StreamingCorpus(folder, buffer_size=8)(nlp))
    assert Counter(texts(got)) == Counter(r.text for r in records(50))
    assert all(eg.reference.cats in ({"neg": 1.0, "pos": 0.0}, {"neg": 0.0, "pos": 1.0}) for eg in got)
    single = list(StreamingCorpus(folder / "a.jsonl", shuffle=False)(nlp))
    assert texts(single) == [r.text for r in records(30)]


def test_empty_and_corrupt_shards_are_named(tmp_path, shards, nlp):
    empty = shards / "train-empty.spacy"
    empty.write_bytes(DocBin().to_bytes())
    with pytest.raises(CorpusError, match=r"train-empty\.spacy.*holds no documents"):
        list(StreamingCorpus(shards)(nlp))
    empty.unlink()
    corrupt = shards / "train-zz.spacy"
    corrupt.write_bytes(b"\x00not a docbin" * 10)
    with pytest.raises(CorpusError, match=r"train-zz\.spacy.*not a readable \.spacy file"):
        list(StreamingCorpus(shards, shuffle=False)(nlp))
    corrupt.unlink()
    jsonl = tmp_path / "j"
    jsonl.mkdir()
    (jsonl / "empty.jsonl").write_text("")
    with pytest.raises(CorpusError, match=r"empty\.jsonl.*no valid records"):
        list(StreamingCorpus(jsonl, labels=LABELS)(nlp))


def test_bad_paths_and_settings(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        StreamingCorpus(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CorpusError, match="holds no corpus file.*--shard-size"):
        StreamingCorpus(tmp_path)
    with pytest.raises(CorpusError, match="buffer_size must be 1 or more"):
        StreamingCorpus(tmp_path / "notes.txt", buffer_size=0)


def test_shuffle_through_buffer_yields_each_item_once():
    import random

    for size in (1, 3, 10, 1000):
        out = list(shuffle_through_buffer(range(100), size, random.Random(0)))
        assert sorted(out) == list(range(100))
    assert list(shuffle_through_buffer(range(100), 1, random.Random(0))) == list(range(100))


def test_memory_stays_bounded_by_the_buffer(tmp_path, nlp):
    """A pass over 6,000 docs through a buffer of 60 holds a fraction of
    what the corpus takes as a list of Examples, and about what a pass over
    a corpus ten times smaller holds."""
    def peak_of_a_pass(corpus):
        tracemalloc.start()
        n = sum(1 for _ in corpus(nlp))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return n, peak

    small, large = tmp_path / "small", tmp_path / "large"
    write_shards(nlp, lambda: iter(records(600)), small, LABELS, shard_size=150)
    write_shards(nlp, lambda: iter(records(6000)), large, LABELS, shard_size=150)
    n_small, peak_small = peak_of_a_pass(StreamingCorpus(small, buffer_size=60))
    n_large, peak_large = peak_of_a_pass(StreamingCorpus(large, buffer_size=60))
    assert (n_small, n_large) == (600, 6000)
    assert peak_large < 1.5 * peak_small
    assert peak_large < 4 * 2**20  # 4 MiB
    print(f"peak of a pass: {peak_small / 2**20:.2f} MiB (600 docs), {peak_large / 2**20:.2f} MiB (6,000)")
    tracemalloc.start()
    held = list(StreamingCorpus(large, shuffle=False)(nlp))
    as_list = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"the 6,000 Examples as a list: {as_list / 2**20:.2f} MiB")
    assert len(held) == 6000 and as_list > 5 * peak_large


def test_write_shards_replaces_only_a_shard_folder(tmp_path, nlp):
    out = tmp_path / "out"
    write_shards(nlp, lambda: iter(records(25)), out, LABELS, shard_size=10)
    assert sorted(p.name for p in out.iterdir()) == ["out-00000.spacy", "out-00001.spacy", "out-00002.spacy"]
    assert [len(DocBin().from_disk(p)) for p in sorted(out.iterdir())] == [10, 10, 5]
    write_shards(nlp, lambda: iter(records(5)), out, LABELS, shard_size=10)  # a rerun replaces them all
    assert [p.name for p in out.iterdir()] == ["out-00000.spacy"]

    def failing():
        yield from records(15)
        raise CorpusError("in.jsonl", 16, "bad record", "Fix it.")

    with pytest.raises(CorpusError, match="bad record"):
        write_shards(nlp, failing, out, LABELS, shard_size=10)
    assert [p.name for p in out.iterdir()] == ["out-00000.spacy"]  # the earlier output is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # and no temporary folder is left
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CorpusError, match="holds other files than the shards convert writes"):
        write_shards(nlp, lambda: iter(records(5)), out, LABELS)
    with pytest.raises(CorpusError, match="is a file"):
        write_shards(nlp, lambda: iter(records(5)), out / "keep.txt", LABELS)


def test_convert_cli_writes_shards(tmp_path):
    from typer.testing import CliRunner

    from spacy_rnn.cli import app

    src = write_jsonl(tmp_path / "train.jsonl", records(23))
    result = CliRunner().invoke(app, ["convert", str(src), str(tmp_path / "shards"), "--shard-size", "10"])
    assert result.exit_code == 0, result.output
    assert "Wrote 23 docs to 3 shard(s)" in result.output
    nlp = spacy.blank("en")
    got = list(StreamingCorpus(tmp_path / "shards", shuffle=False)(nlp))
    assert texts(got) == [r.text for r in records(23)]
    assert got[0].reference.cats == {"neg": 1.0, "pos": 0.0}


def _by_sequence(size):
    return registry.batchers.get("spacy.batch_by_sequence.v1")(size=size, get_length=None)


def test_steps_for_passes(shards):
    # spaCy stops after update number max_steps, counting from 0: N updates are N - 1
    assert steps_for_passes(shards, passes=1, batcher=_by_sequence(64)) == 15  # ceil(1000 / 64) = 16 updates
    assert steps_for_passes(shards, passes=3, batcher=_by_sequence(100)) == 29
    assert steps_for_passes(shards, passes=1, batcher=_by_sequence(5000)) == 1  # never 0, which means no limit
    # a small corpus still gets min_steps updates
    assert steps_for_passes(shards, passes=1, batcher=_by_sequence(64), min_steps=300) == 299
    assert steps_for_passes(shards, passes=1, batcher=_by_sequence(64), min_steps=10) == 15
    with pytest.raises(ConfigValueError, match="passes"):
        steps_for_passes(shards, passes=0, batcher=_by_sequence(64))


TRAIN_CONFIG = """
[paths]
train = null
dev = null

[nlp]
lang = "en"
pipeline = ["rnn_textcat"]

[components]

[components.rnn_textcat]
factory = "rnn_textcat"

[components.rnn_textcat.model]
@architectures = "spacy_rnn.RNNTextCat.v1"
pooling = "mean"

[components.rnn_textcat.model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[components.rnn_textcat.model.tok2vec.embed]
@architectures = "spacy_rnn.SumHashEmbed.v1"
width = 8
attrs = ["NORM"]
rows = [200]

[components.rnn_textcat.model.tok2vec.encode]
@architectures = "spacy_rnn.RNNEncoder.v1"
width = 8

[corpora]

[corpora.train]
@readers = "spacy_rnn.StreamingCorpus.v1"
path = ${paths.train}
seed = ${training.seed}
buffer_size = 32

[corpora.dev]
@readers = "spacy_rnn.StreamingCorpus.v1"
path = ${paths.dev}
shuffle = false

[training]
seed = 0
max_epochs = -1
eval_frequency = 5

[training.max_steps]
@misc = "spacy_rnn.steps_for_passes.v1"
path = ${paths.train}
passes = 2
batcher = ${training.batcher}

[training.before_update]
@callbacks = "test_streaming.record_steps.v1"

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 16
get_length = null
"""


UPDATES = []


@registry.callbacks("test_streaming.record_steps.v1")
def record_steps():
    def before_update(nlp, info):
        UPDATES.append((info["step"], info["epoch"]))

    return before_update


def test_spacy_train_streams_for_the_passes_asked(tmp_path, nlp):
    """spacy train with max_epochs = -1 and max_steps from
    steps_for_passes: two passes over 100 docs in batches of 16 are 14
    updates, 7 a pass (spaCy counts each call of the reader as an epoch)."""
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train

    write_shards(nlp, lambda: iter(records(100)), tmp_path / "train", LABELS, shard_size=30)
    write_shards(nlp, lambda: iter(records(20, start=100)), tmp_path / "dev", LABELS, shard_size=30)
    config = spacy.blank("en").config.merge(Config().from_str(TRAIN_CONFIG, interpolate=False))
    config["paths"]["train"], config["paths"]["dev"] = str(tmp_path / "train"), str(tmp_path / "dev")
    UPDATES.clear()
    nlp_t = init_nlp(config)
    assert nlp_t.get_pipe("rnn_textcat").labels == tuple(LABELS)
    (tmp_path / "model").mkdir()
    with open(tmp_path / "log.txt", "w") as log:
        trained, _ = train(nlp_t, tmp_path / "model", stdout=log, stderr=log)
    assert [step for step, _ in UPDATES] == list(range(14))
    assert [epoch for _, epoch in UPDATES] == [0] * 7 + [1] * 7
    assert (tmp_path / "model" / "model-best" / "meta.json").exists()


def test_skipped_records_are_reported_once_a_shard(tmp_path, nlp):
    """With skip_invalid an invalid record is skipped with a warning that
    names its shard and line, once, not on every pass; without it, an error."""
    from spacy_rnn.data import CorpusWarning

    folder = tmp_path / "j"
    folder.mkdir()
    path = write_jsonl(folder / "a.jsonl", records(3))
    path.write_text(path.read_text() + '{"text": 5, "label": "pos"}\n', encoding="utf8")
    corpus = StreamingCorpus(folder, labels=LABELS, skip_invalid=True)
    with pytest.warns(CorpusWarning, match=r"(?s)a\.jsonl: skipped 1 invalid record.*line 4"):
        assert len(list(corpus(nlp))) == 3
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(corpus(nlp))) == 3
    with pytest.raises(CorpusError, match=r"a\.jsonl.*line 4"):
        list(StreamingCorpus(folder, labels=LABELS)(nlp))
