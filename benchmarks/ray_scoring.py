"""Words/s of `python -m spacy_rnn score` with the local engine and with Ray (issue 13).

Every configuration runs the real command line as a subprocess on the same
input, end to end (start-up, model load, reading, scoring, writing), one after
the other in one run of this script, so that the ratios between them share
the machine's state:

- local:           ``--engine local`` (one process; torch's default threads)
- local-1thread:   the same with OMP_NUM_THREADS=1 (one core: the per-core baseline)
- local-nproc2:    ``--engine local --n-process 2``
- ray-1:           ``--engine ray --actors 1`` (1 CPU, 1 torch thread per actor)
- ray-2:           ``--engine ray --actors 2``

The machine is shared, so besides wall time the script samples the CPU
seconds of each command's whole process tree (/proc, every 0.5 s: Ray's GCS,
raylet and workers, nlp.pipe's processes) and reports words per CPU second
and the CPUs the tree got on average: under contention those say what the
engine costs, where wall-clock ratios say mostly how the scheduler shared the
cores.

Each configuration also runs on a tiny input (``--fixed-rows`` rows) to
measure its fixed cost (start-up, model load, Ray's cluster and actors); the
JSON reports the end-to-end words/s and the rate after the fixed cost,
``words / (wall - fixed)``.

The input is IMDB reviews (train + dev of ../shared/data/imdb, text only)
repeated to ``--rows`` rows, written under ``--work-dir`` (not the repo);
``--measure-rows`` scores its first N rows (the whole file by default).
Words are whitespace-separated tokens (the corpus is pre-tokenized).

    python benchmarks/ray_scoring.py --measure-rows 4000
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[1]
# the main job's model (spacy project run all, the vectors recipe)
MODEL = REPO / "training" / "imdb" / "sentiment_bilstm_long_vectors" / "model-best"
IMDB = REPO.parent / "shared" / "data" / "imdb"

CONFIGS = {
    "local": (["--engine", "local"], {}),
    "local-1thread": (["--engine", "local"], {"OMP_NUM_THREADS": "1"}),
    "local-nproc2": (["--engine", "local", "--n-process", "2"], {}),
    "ray-1": (["--engine", "ray", "--actors", "1"], {}),
    "ray-2": (["--engine", "ray", "--actors", "2"], {}),
}


def write_input(path: Path, rows: int) -> None:
    texts: List[str] = []
    for split in ("train", "dev"):
        with (IMDB / f"{split}.jsonl").open(encoding="utf8") as f:
            texts.extend(json.loads(line)["text"] for line in f if line.strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf8") as f:
        for i in range(rows):
            f.write(json.dumps({"text": texts[i % len(texts)]}) + "\n")
    tmp.replace(path)


def head(source: Path, path: Path, rows: int) -> None:
    if path.exists():
        return
    with source.open(encoding="utf8") as f, path.open("w", encoding="utf8") as out:
        for _, line in zip(range(rows), f):
            out.write(line)


def count_words(path: Path) -> int:
    with path.open(encoding="utf8") as f:
        return sum(len(json.loads(line)["text"].split()) for line in f)


def count_output_rows(path: Path) -> int:
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.suffix == ".jsonl")
    return sum(sum(1 for _ in p.open(encoding="utf8")) for p in files)


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str):
    """(ppid, CPU seconds so far) of a process, from /proc/PID/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _kind(pid: str) -> str:
    """What a process is, for the CPU breakdown: Ray's process title, or the program."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "?"
    first = argv[0].decode(errors="replace")
    if first.startswith("ray::"):
        return first.split("(")[0].split()[0]  # ray::MapWorker, ray::IDLE, ray::ReadScoringInput...
    words = [a.decode(errors="replace") for a in argv if a]
    if any("spacy_rnn" in w for w in words):
        return "driver (python -m spacy_rnn score)"
    for word in words:
        name = os.path.basename(word)
        if name in ("gcs_server", "raylet") or name.endswith((".py",)) and "ray" in word:
            return name
    return os.path.basename(first) or "?"


class TreeCPU:
    """CPU seconds of a process and all its descendants (Ray's GCS, raylet and
    workers, nlp.pipe's worker processes), sampled from /proc: each process's
    last reading counts, so a process seen once is counted after it exits,
    up to its last sample's interval."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: Dict[str, float] = {}
        self.kinds: Dict[str, str] = {}

    def sample(self) -> None:
        stats = {pid: _stat(pid) for pid in os.listdir("/proc") if pid.isdigit()}
        children = {}
        for pid, stat in stats.items():
            if stat is not None:
                children.setdefault(stat[0], []).append(int(pid))
        todo = [self.root] + [int(p) for p in self.seen]
        tree = set()
        while todo:
            pid = todo.pop()
            if pid not in tree:
                tree.add(pid)
                todo.extend(children.get(pid, []))
        for pid in tree:
            stat = stats.get(str(pid))
            if stat is not None:
                self.seen[str(pid)] = stat[1]
                kind = _kind(str(pid))
                if kind.startswith("driver") and pid != self.root:
                    kind = "--n-process worker (forked from the driver)"
                if kind != "?" or str(pid) not in self.kinds:  # an exited process has no cmdline
                    self.kinds[str(pid)] = kind

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def by_kind(self) -> Dict[str, float]:
        kinds: Dict[str, float] = {}
        for pid, seconds in self.seen.items():
            kind = self.kinds.get(pid, "?")
            kinds[kind] = round(kinds.get(kind, 0.0) + seconds, 2)
        return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def run(name: str, model: Path, input_path: Path, output: Path, batch_size: int) -> Dict[str, Any]:
    """Run one configuration: its wall time and the CPU time of its process tree."""
    args, env_extra = CONFIGS[name]
    if output.exists():
        shutil.rmtree(output) if output.is_dir() else output.unlink()
    out_args = [str(output)] if "ray" in args else ["--output", str(output)]
    command = [sys.executable, "-m", "spacy_rnn", "score", str(model), str(input_path), *out_args,
               *args, "--batch-size", str(batch_size)]
    load_before = os.getloadavg()
    env = {**os.environ, **env_extra}
    start = time.perf_counter()
    log = output.with_name(output.name + ".log")
    with log.open("w") as log_file:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
        cpu = TreeCPU(proc.pid)
        while proc.poll() is None:
            cpu.sample()
            time.sleep(0.5)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed ({proc.returncode}); see {log}")
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu.seconds, 2), "cpu_s_by_process": cpu.by_kind(),
            "load_before": load_before,
            "load_after": os.getloadavg(), "rows_out": count_output_rows(output), "command": " ".join(command)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the input file")
    parser.add_argument("--measure-rows", type=int, default=0, help="score the first N rows (0: all)")
    parser.add_argument("--fixed-rows", type=int, default=50, help="rows of the fixed-cost run")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--work-dir", type=Path, default=REPO / "training" / "ray_scoring")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "ray_scoring.json")
    opts = parser.parse_args()

    full = opts.work_dir / f"imdb_{opts.rows}.jsonl"
    if not full.exists():
        write_input(full, opts.rows)
    rows = opts.measure_rows or opts.rows
    measured = full if rows == opts.rows else opts.work_dir / f"imdb_{rows}.jsonl"
    head(full, measured, rows)
    fixed = opts.work_dir / f"imdb_{opts.fixed_rows}.jsonl"
    head(full, fixed, opts.fixed_rows)
    words = count_words(measured)
    fixed_words = count_words(fixed)

    results: Dict[str, Any] = {}
    for name in opts.configs.split(","):
        small = run(name, opts.model, fixed, opts.work_dir / f"out-{name}-fixed", opts.batch_size)
        big = run(name, opts.model, measured, opts.work_dir / f"out-{name}", opts.batch_size)
        assert big["rows_out"] == rows, (name, big["rows_out"], rows)
        after_fixed = max(big["wall_s"] - small["wall_s"], 1e-9)
        results[name] = {
            "words_per_s": round(words / big["wall_s"]),
            "words_per_s_after_fixed_cost": round((words - fixed_words) / after_fixed),
            "fixed_cost_s": small["wall_s"],
            # contention-proof: words per CPU second of the whole process tree,
            # and the CPUs the tree got on average (2 at most on this machine)
            "words_per_cpu_s": round(words / big["cpu_s"]),
            "words_per_cpu_s_after_fixed_cost": round((words - fixed_words) / max(big["cpu_s"] - small["cpu_s"], 1e-9)),
            "fixed_cost_cpu_s": small["cpu_s"],
            "cpus_used": round(big["cpu_s"] / big["wall_s"], 2),
            "run": big,
            "fixed_run": small,
        }
        print(name, json.dumps(results[name]), flush=True)

    def ratio(a: str, b: str, key: str = "words_per_s") -> Any:
        if a in results and b in results:
            return round(results[a][key] / results[b][key], 3)
        return None

    report = {
        "what": "python -m spacy_rnn score, end to end, words/s (whitespace tokens)",
        "model": str(opts.model),
        "input": str(measured),
        "rows": rows,
        "words": words,
        "fixed_cost_input_rows": opts.fixed_rows,
        "batch_size": opts.batch_size,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "results": results,
        "ratios": {
            "ray2_over_ray1": ratio("ray-2", "ray-1"),
            "ray2_over_nproc2": ratio("ray-2", "local-nproc2"),
            "ray1_over_local_1thread": ratio("ray-1", "local-1thread"),
            "ray2_over_ray1_after_fixed_cost": ratio("ray-2", "ray-1", "words_per_s_after_fixed_cost"),
            "ray2_over_nproc2_after_fixed_cost": ratio("ray-2", "local-nproc2", "words_per_s_after_fixed_cost"),
            "per_cpu_s_ray2_over_ray1": ratio("ray-2", "ray-1", "words_per_cpu_s"),
            "per_cpu_s_ray2_over_nproc2": ratio("ray-2", "local-nproc2", "words_per_cpu_s"),
            "per_cpu_s_ray1_over_local_1thread": ratio("ray-1", "local-1thread", "words_per_cpu_s"),
            "per_cpu_s_after_fixed_ray2_over_nproc2": ratio("ray-2", "local-nproc2", "words_per_cpu_s_after_fixed_cost"),
        },
        "targets": {"ray2_over_ray1_at_least": 1.6, "ray_overhead_vs_nproc2_at_most": 0.25},
    }
    opts.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")
    print(json.dumps(report["ratios"], indent=2))


if __name__ == "__main__":
    main()
