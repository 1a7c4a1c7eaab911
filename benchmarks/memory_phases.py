"""Where the main job's training memory goes, phase by phase: ``spacy train``
run in this process while a thread samples RSS every 0.1 s and notes which
of ``Language.initialize``, ``update``, ``evaluate`` and ``to_disk`` is
running ("other": spaCy's loop between them: batching, reading the shards).

    python benchmarks/memory_phases.py configs/sentiment_bilstm_long_vectors.cfg \\
        --paths.train corpus/imdb/train --paths.dev corpus/imdb/dev.spacy \\
        --paths.vectors assets/vectors_en_md --training.max_steps 130 \\
        --training.eval_frequency 60 --output memory_phases.json

Any ``spacy train`` override can follow the config. The output holds the peak
RSS of each phase and the whole series, (seconds, phase, MB).
"""
import argparse
import json
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Dict, List, Tuple

from spacy.cli._util import parse_config_overrides
from spacy.cli.train import train
from spacy.language import Language

from memory_profile import rss_mb

PHASES = ("initialize", "update", "evaluate", "to_disk")


class PhaseSampler:
    """Samples RSS on a daemon thread, tagged with the Language method running."""

    def __init__(self, interval: float = 0.1) -> None:
        self.phase = "start"
        self.series: List[Tuple[float, str, float]] = []
        self.interval = interval
        self.start = time.perf_counter()

    def run(self) -> None:
        while True:
            self.series.append((round(time.perf_counter() - self.start, 1), self.phase, round(rss_mb(), 1)))
            time.sleep(self.interval)

    def tag(self, name: str) -> None:
        method = getattr(Language, name)
        sampler = self

        def tagged(nlp: Language, *args, **kwargs):
            outer, sampler.phase = sampler.phase, name
            try:
                return method(nlp, *args, **kwargs)
            finally:
                sampler.phase = "other" if outer == "start" else outer

        setattr(Language, name, tagged)

    def peaks(self) -> Dict[str, float]:
        peaks: Dict[str, float] = {}
        for _, phase, mb in self.series:
            peaks[phase] = max(peaks.get(phase, 0), mb)
        return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between RSS samples")
    args, extra = parser.parse_known_args()
    sampler = PhaseSampler(args.interval)
    for name in PHASES:
        sampler.tag(name)
    threading.Thread(target=sampler.run, daemon=True).start()
    with TemporaryDirectory() as output_dir:
        # parse_config_overrides empties the list it reads: keep extra for the output
        train(args.config, Path(output_dir), overrides=parse_config_overrides(list(extra)))
    peaks = sampler.peaks()
    print(json.dumps({"seconds": sampler.series[-1][0], "peak_mb": peaks}))
    if args.output:
        args.output.write_text(json.dumps({"peak_mb": peaks, "series": sampler.series,
                                           "overrides": extra}, indent=1) + "\n")


if __name__ == "__main__":
    main()
