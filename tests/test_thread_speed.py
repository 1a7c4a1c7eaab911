"""benchmarks/thread_speed.py: the summary, the targets and the table, on
made-up timings (the sweep itself runs real models: --quick is its smoke run)."""
import sys

import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
speed = pytest.importorskip("thread_speed")
OURS, BASE = speed.OURS, speed.BASE

# seconds per pass: ours takes `ours`, the baseline 3x as long
CASES = {
    "infer sst2 batch 1": (1000, 500),
    "infer sst2 batch 64": (1000, None),
    "infer sst2 batch 1000": (1000, None),
    "train sst2 config batches": (1000, None),
    "train reviews2k config batches": (1000, None),
}


def timings(ours_2_threads=0.8):
    seconds = {}
    for name in CASES:
        seconds[name] = {}
        for threads, ours in ((1, 1.0), (2, ours_2_threads)):
            seconds[name][threads] = {OURS: [ours, ours * 1.1, ours * 0.9], BASE: [3 * ours] * 3}
    return seconds


def test_summary_medians_and_ratios():
    results = speed.summarize(timings(), CASES, [1, 2])
    row = results["infer sst2 batch 1"]["threads"][2]
    assert row[f"{OURS}_words_per_s"] == 1250
    assert row[f"{OURS}_ms_per_doc"] == 1.6
    assert row["ours_x_baseline"] == 3.0
    assert row["ours_x_one_thread"] == 1.25
    assert f"{OURS}_ms_per_doc" not in results["infer sst2 batch 64"]["threads"][2]


def test_targets_met_and_missed():
    met = speed.targets(speed.summarize(timings(0.8), CASES, [1, 2]), default_threads=2)
    assert [check["met"] for check in met.values()] == [True, False, True, True, True]  # 1.6 ms > 1.5
    missed = speed.targets(speed.summarize(timings(1.2), CASES, [1, 2]), default_threads=2)
    assert not missed["inference at default threads >= 0.95 x one thread, every SST-2 batch size"]["met"]
    assert not missed["train sst2 config batches: 2 threads >= 1 thread"]["met"]
    report = {"results": speed.summarize(timings(), CASES, [1, 2]), "targets": met,
              "load_average_before": [0.1, 0.1, 0.1], "load_average_after": [0.2, 0.2, 0.2], "wall_s": 1,
              "thread_count_restored_after_every_call": True}
    table = speed.markdown(report)
    assert "| infer sst2 batch 1 | 2 | 1,250 (1.60 ms/doc) |" in table
    assert "- MISSED: one SST-2 sentence at default threads <= 1.5 ms (ms 1.6)" in table
