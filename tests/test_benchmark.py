"""benchmarks/textcat_benchmark.py: configs it builds, ratios, targets and the report.

The full run and ``--quick`` train real models (``make benchmark-quick``);
these tests check the pieces on their own, fast, and run ``--quick`` end to
end with two models."""
import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
bench = pytest.importorskip("textcat_benchmark")


def row(accuracy, words_per_s, s_per_epoch, rss=500.0):
    return {"accuracy": accuracy, "macro_f": accuracy, "train_s": 10.0, "epochs": 1.0,
            "stopped_by": "epochs", "s_per_epoch": s_per_epoch, "words_per_s": words_per_s,
            "peak_rss_mb": rss, "size_mb": 3.0}


def results(default_acc=0.85):
    return {
        "quick": False,
        "machine": {"date": "2026-11-23", "cpu": "test cpu", "python": "3.11", "spacy": "3.8",
                    "thinc": "8.3", "torch": "2.13"},
        "budgets": {"imdb": {"max_epochs": 1, "budget_s": 60, "eval_frequency": 10}},
        "datasets": {"imdb": {
            bench.DEFAULT_MODEL: row(default_acc, 100_000.0, 50.0, rss=5000.0),
            bench.BILSTM_BASELINE: row(0.80, 40_000.0, 100.0),
            bench.ENSEMBLE_BASELINE: row(0.82, 50_000.0, 40.0),
        }},
    }


@pytest.mark.parametrize("model", bench.all_models())
def test_every_model_builds_a_valid_training_config(model, tmp_path):
    from spacy.util import load_model_from_config

    settings = bench.DATASETS["sst2"]
    pretrained = {"tok2vec": str(tmp_path / "model-last.bin"), "lm_vocab": str(tmp_path / "lm_vocab.json")}
    config = bench.build_config(model, settings, tmp_path / "train.spacy", tmp_path / "dev.spacy",
                                pretrained=pretrained, vectors=str(tmp_path / "vectors"), seed=2)
    assert config["nlp"]["pipeline"] == ["textcat"]
    assert config["training"]["max_epochs"] == settings["max_epochs"]
    assert config["system"]["seed"] == 2
    # only the vectors track loads the table; the other track never sees it
    assert config["paths"]["vectors"] == (str(tmp_path / "vectors") if model in bench.VECTORS_MODELS else None)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["textcat"]
    text = nlp.config.to_str()
    if model in bench.VECTORS_MODELS:
        # the factory default decides at initialize ("auto"): the table is there for it
        uses = ("include_static_vectors = true", "pretrained_vectors = true", 'include_static_vectors = "auto"')
        assert any(setting in text for setting in uses)
    else:
        assert "include_static_vectors = true" not in text and "pretrained_vectors = true" not in text


def test_vectors_track_models_need_vectors(tmp_path):
    with pytest.raises(SystemExit, match="needs static vectors"):
        bench.build_config("spacy_ensemble_vectors", bench.DATASETS["sst2"], tmp_path / "t.spacy", tmp_path / "d.spacy")


def test_unknown_model_is_refused():
    with pytest.raises(SystemExit, match="Unknown model"):
        bench.component_block("no_such_model")


def test_ratios_against_the_baselines_of_the_same_run():
    r = bench.ratios(results()["datasets"]["imdb"], bench.DEFAULT_MODEL)
    assert r["speed_x_bilstm"] == pytest.approx(2.5)
    assert r["speed_x_ensemble"] == pytest.approx(2.0)
    assert r["acc_minus_bilstm"] == pytest.approx(5.0)
    assert r["epoch_time_x_bilstm"] == pytest.approx(0.5)


def test_comparisons_compare_and_do_not_grade():
    lines = "\n".join(bench.comparisons(results()))
    assert ("imdb, no vectors track: rnn_bilstm_attention 85.0%; best built-in of either track "
            "spacy_ensemble 82.0% (+3.0 points)") in lines
    assert "words/s: 2.50x spacy_torch_bilstm, 2.00x spacy_ensemble" in lines
    assert "seconds per epoch: 0.50x spacy_torch_bilstm's" in lines
    assert "peak RSS: 5,000 MB" in lines
    lines = "\n".join(bench.comparisons(results(default_acc=0.81)))
    assert "rnn_bilstm_attention 81.0%; best built-in of either track spacy_ensemble 82.0% (-1.0 points)" in lines
    assert "met" not in lines and "target" not in lines


def with_vectors_track(res):
    rows = res["datasets"]["imdb"]
    rows["rnn_bilstm_vectors"] = row(0.90, 60_000.0, 60.0)
    rows["spacy_torch_bilstm_vectors"] = row(0.86, 20_000.0, 200.0)
    rows["spacy_ensemble_vectors"] = row(0.87, 30_000.0, 80.0)
    return res


def test_each_track_has_its_own_baselines():
    rows = bench.aggregate(with_vectors_track(results())["datasets"]["imdb"])
    r = bench.ratios(rows, "rnn_bilstm_vectors")
    assert r["speed_x_bilstm"] == pytest.approx(3.0)  # against the BiLSTM with vectors, not without
    assert r["speed_x_ensemble"] == pytest.approx(2.0)
    assert r["acc_minus_bilstm"] == pytest.approx(4.0)
    assert bench.ratios(rows, bench.DEFAULT_MODEL)["speed_x_bilstm"] == pytest.approx(2.5)
    lines = "\n".join(bench.comparisons(with_vectors_track(results())))
    # accuracy is compared with the best built-in of either track
    assert "imdb, vectors track: rnn_bilstm_vectors 90.0%; best built-in of either track spacy_ensemble_vectors 87.0% (+3.0 points)" in lines
    assert "imdb, no vectors track: rnn_bilstm_attention 85.0%; best built-in of either track spacy_ensemble_vectors 87.0% (-2.0 points)" in lines


def test_seeds_give_the_mean_and_range_of_accuracy(tmp_path):
    res = results()
    rows = res["datasets"]["imdb"]
    rows[f"{bench.DEFAULT_MODEL}@1"] = dict(row(0.82, 1.0, 1.0), macro_f=0.80)
    rows[f"{bench.DEFAULT_MODEL}@2"] = dict(row(0.86, 1.0, 1.0), macro_f=0.84)
    agg = bench.aggregate(rows)
    assert set(agg) == {bench.DEFAULT_MODEL, bench.BILSTM_BASELINE, bench.ENSEMBLE_BASELINE}
    ours = agg[bench.DEFAULT_MODEL]
    assert ours["seeds"] == [0, 1, 2] and ours["accuracies"] == [0.85, 0.82, 0.86]
    assert ours["accuracy"] == pytest.approx(0.8433333) and ours["macro_f"] == pytest.approx(0.83)
    assert ours["words_per_s"] == 100_000.0  # time and speed: the seed-0 run's
    bench.write_report(res, tmp_path)
    assert "| spacy-rnn default: nlp.add_pipe(\"rnn_textcat\") | 84.3% (82.0–86.0, 3 seeds) | 0.830 |" in (
        tmp_path / "RESULTS.md").read_text()


def test_report_and_plot(tmp_path):
    bench.write_report(results(), tmp_path)
    bench.plot(results(), tmp_path / "accuracy_vs_speed.png")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "## imdb" in text and "| spacy-rnn default: nlp.add_pipe(\"rnn_textcat\") | 85.0% |" in text
    assert "### Without pretrained vectors" in text and "### With static vectors" not in text
    bench.write_report(with_vectors_track(results()), tmp_path)
    bench.plot(with_vectors_track(results()), tmp_path / "accuracy_vs_speed.png")
    text = (tmp_path / "RESULTS.md").read_text()
    with_vectors = text.split("### With static vectors (en_core_web_md)")[1]
    assert "| spacy-rnn vectors recipe: BiLSTM 128 + attention + static vectors + bigrams | 90.0% |" in with_vectors
    assert "TorchBiLSTMEncoder 128 + static vectors | 86.0% | 0.860 | 10 | 1.00 | 200 | 20,000 | 1.00 |" in with_vectors
    assert "spacy-rnn default: BiLSTM" not in with_vectors
    assert "Budget per model: 1 epoch(s), at most 60 s" in text
    assert (tmp_path / "accuracy_vs_speed.png").read_bytes()[:4] == b"\x89PNG"


def test_report_compares_with_and_without_pretraining(tmp_path):
    res = results()
    res["datasets"]["sst2"] = {**res["datasets"].pop("imdb"), bench.PRETRAINED_MODEL: row(0.90, 100_000.0, 50.0)}
    res["datasets"]["sst2"][bench.DEFAULT_MODEL] = row(0.85, 100_000.0, 50.0)
    res["budgets"]["sst2"] = res["budgets"].pop("imdb")
    bench.write_report(res, tmp_path)
    report = (tmp_path / "RESULTS.md").read_text()
    assert "| sst2 | 85.0% | 90.0% | +5.0 |" in report
    # best built-in: the ensemble at 82%, so +8 points
    assert "pretrained default 90.0%, best built-in spacy_ensemble 82.0% (+8.0 points)" in report


def test_quick_falls_back_to_the_fixture_corpora(monkeypatch, tmp_path, capsys):
    """A clone without ../shared: --quick reads tests/fixtures/data and says so."""
    monkeypatch.setattr(bench, "DATA_DIR", tmp_path / "no_shared")
    table, data_dir = bench.choose_data(True, None)
    assert (table, data_dir) == (bench.QUICK_FIXTURE, bench.FIXTURE_DATA_DIR)
    assert "--quick runs on the fixture corpora" in capsys.readouterr().out
    for name, settings in table.items():
        assert (data_dir / name / "train.jsonl").exists() and (data_dir / name / "dev.jsonl").exists()
        assert settings["limit_train"] <= sum(1 for _ in (data_dir / name / "train.jsonl").open())
    assert bench.choose_data(True, bench.FIXTURE_DATA_DIR) == (bench.QUICK_FIXTURE, bench.FIXTURE_DATA_DIR)
    # the full run measures real text only (main() then says that ../shared/data is missing)
    assert bench.choose_data(False, None) == (bench.DATASETS, tmp_path / "no_shared")
    with pytest.raises(SystemExit, match="for --quick only"):
        bench.choose_data(False, bench.FIXTURE_DATA_DIR)
    # the real corpora whenever they are there
    (tmp_path / "no_shared").mkdir()
    assert bench.choose_data(True, None) == (bench.QUICK, tmp_path / "no_shared")
    assert bench.choose_data(False, None) == (bench.DATASETS, tmp_path / "no_shared")
    assert bench.choose_data(True, tmp_path) == (bench.QUICK, tmp_path)


def test_quick_runs_every_model_on_sentences_and_ours_on_reviews():
    models = bench.all_models()
    assert bench.models_for(bench.QUICK["sst2"], models, None) == models
    reviews = bench.models_for(bench.QUICK["reviews2k"], models, None)
    assert reviews == [m for m in models if m in bench.OURS]
    assert bench.DEFAULT_MODEL in reviews and "rnn_bilstm_vectors" in reviews
    assert bench.QUICK_FIXTURE["reviews"]["models"] == "ours"
    # --models is obeyed on every corpus, and the full run runs every model everywhere
    assert bench.models_for(bench.QUICK["reviews2k"], ["spacy_bow_bigram"], ["spacy_bow_bigram"]) == ["spacy_bow_bigram"]
    for settings in bench.DATASETS.values():
        assert bench.models_for(settings, models, None) == models


def test_report_says_when_it_ran_on_the_fixture_corpora(tmp_path):
    bench.write_report(dict(results(), fixture_data=True), tmp_path)
    assert "Corpora: the made-up reviews of `tests/fixtures/data`" in (tmp_path / "RESULTS.md").read_text()
    bench.write_report(results(), tmp_path)
    assert "made-up" not in (tmp_path / "RESULTS.md").read_text()


def test_merge_adds_rows_of_runs_made_side_by_side(tmp_path):
    import json

    a, b = results(), with_vectors_track(results(default_acc=0.70))
    b["datasets"]["imdb"] = {k: v for k, v in b["datasets"]["imdb"].items() if k.endswith("_vectors")}
    b["datasets"]["sst2"] = {f"{bench.DEFAULT_MODEL}@1": row(0.8, 1.0, 1.0)}
    b["budgets"]["sst2"] = {"max_epochs": 4, "budget_s": 240, "eval_frequency": 200}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    merged = bench.merge_results([tmp_path / "a.json", tmp_path / "b.json", tmp_path / "missing.json"])
    assert set(merged["datasets"]["imdb"]) == set(with_vectors_track(results())["datasets"]["imdb"])
    assert merged["datasets"]["imdb"][bench.DEFAULT_MODEL]["accuracy"] == 0.85  # a's row, b had none
    assert list(merged["datasets"]["sst2"]) == [f"{bench.DEFAULT_MODEL}@1"]
    assert set(merged["budgets"]) == {"imdb", "sst2"}
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(a))
    bench.main(["--output-dir", str(out), "--merge", str(tmp_path / "b.json")])
    assert "### With static vectors" in (out / "RESULTS.md").read_text()
    assert "sst2" in json.loads((out / "results.json").read_text())["datasets"]


def _fake_child(monkeypatch, script):
    """Make run_children start ``python -c script job_json`` instead of a real pair."""
    monkeypatch.setattr(bench, "child_command", lambda job: [sys.executable, "-c", script, json.dumps(job)])


def test_jobs_run_side_by_side_and_report_in_order(monkeypatch, tmp_path):
    # each child records when it ran; "slow" sleeps long enough that "fast" must
    # start and finish while it still runs when two run at once
    _fake_child(monkeypatch, (
        "import json, sys, time\n"
        "job = json.loads(sys.argv[1]); start = time.time(); time.sleep(job['sleep'])\n"
        "open(job['result'], 'w').write(json.dumps({'start': start, 'end': time.time()}))\n"
    ))
    jobs = [(name, {"sleep": sleep, "result": str(tmp_path / f"{name}.json")})
            for name, sleep in (("slow", 3.0), ("fast", 0.0))]
    got = list(bench.run_children(jobs, n_parallel=2, quiet=True))
    assert [key for key, _ in got] == ["slow", "fast"]
    slow, fast = (row for _, row in got)
    assert fast["end"] < slow["end"]
    got = list(bench.run_children(jobs, n_parallel=1, quiet=True))
    slow, fast = (row for _, row in got)
    assert fast["start"] >= slow["end"]


def test_a_failing_child_stops_the_run(monkeypatch, tmp_path):
    _fake_child(monkeypatch, "import sys; sys.exit(3)")
    jobs = [("broken", {"result": str(tmp_path / "broken.json")})]
    with pytest.raises(subprocess.CalledProcessError) as err:
        list(bench.run_children(jobs, n_parallel=2, quiet=True))
    assert err.value.returncode == 3
    with pytest.raises(SystemExit, match="--jobs must be at least 1"):
        list(bench.run_children(jobs, n_parallel=0))


@pytest.mark.slow
def test_quick_mode_trains_scores_and_reports_end_to_end(tmp_path):
    """--quick on the fixture corpora with one model of ours and one of
    spaCy's (the whole --quick, every model, is `make benchmark-quick`):
    children train real models with `spacy train`, and the report has both."""
    models = [bench.DEFAULT_MODEL, bench.ENSEMBLE_BASELINE]
    subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "textcat_benchmark.py"), "--quick",
                    "--data-dir", str(bench.FIXTURE_DATA_DIR), "--models", *models, "--jobs", "2",
                    "--output-dir", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")],
                   check=True, capture_output=True, cwd=REPO_ROOT)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["quick"] and results["fixture_data"]
    assert set(results["datasets"]["sentences"]) == set(models)
    for row in results["datasets"]["sentences"].values():
        assert 0.0 <= row["accuracy"] <= 1.0 and row["words_per_s"] > 0
    report = (tmp_path / "out" / "RESULTS.md").read_text()
    assert bench.OURS[bench.DEFAULT_MODEL][1] in report and bench.SPACY[bench.ENSEMBLE_BASELINE] in report
