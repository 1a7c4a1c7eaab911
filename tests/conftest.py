import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def read_jsonl(path: Path, limit: int = 0):
    records = []
    with path.open(encoding="utf8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
            if limit and len(records) >= limit:
                break
    return records


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sst2_train_500(shared_data):
    """500 real SST-2 training sentences: dicts with "text" and "label"."""
    return read_jsonl(shared_data / "sst2" / "train.jsonl", limit=500)
