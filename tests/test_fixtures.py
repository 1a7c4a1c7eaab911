"""The fixture corpora in tests/fixtures/data/ are what tests/fixtures/make_data.py
writes, and have the shape the tests rely on."""
import sys
from collections import Counter

from conftest import FIXTURE_DATA, REPO_ROOT, read_jsonl

sys.path.insert(0, str(REPO_ROOT / "tests" / "fixtures"))
import make_data  # noqa: E402


def test_files_are_what_the_script_writes():
    assert make_data.main(("--check",)) == 0, "run python tests/fixtures/make_data.py and commit the files"


def test_shape():
    for corpus, splits in make_data.SIZES.items():
        texts = set()
        for split, n in splits.items():
            records = read_jsonl(FIXTURE_DATA / corpus / f"{split}.jsonl")
            assert len(records) == n
            assert Counter(r["label"] for r in records) == {"negative": n // 2, "positive": n // 2}
            assert all(r["text"] == r["text"].lower().strip() for r in records)
            texts.update(r["text"] for r in records)
        assert len(texts) == sum(splits.values())  # no text twice, in a split or across splits
    # test_pretrain's language model predicts 300 words: the first 300 sentences hold more
    words = {w for r in read_jsonl(FIXTURE_DATA / "sentences" / "train.jsonl", limit=300) for w in r["text"].split()}
    assert len(words) > 300
    lengths = [len(r["text"].split()) for r in read_jsonl(FIXTURE_DATA / "reviews" / "train.jsonl")]
    assert min(lengths) > 60 and sum(lengths) / len(lengths) > 100
