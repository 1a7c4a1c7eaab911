"""The whole pretrained language model (issue 15): the objective saves the
output layer and vocabulary beside the tok2vec, load_pretrained_lm reads them
back, and lm-eval / next-words use them. The model here learns a
deterministic text, "a b c a b c ...", so its next word is known."""
import json
import random

import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.schemas import ConfigSchemaPretrain
from spacy.training.pretrain import create_pretraining_model, make_update
from spacy.util import load_model_from_config, registry
from thinc.api import Config, fix_random_seed
from typer.testing import CliRunner

from spacy_rnn.cli import app
from spacy_rnn.pretraining.saved_lm import META_FILE, PretrainedLM, load_pretrained_lm
from spacy_rnn.pretraining.vocab import count_norms, write_lm_vocab

from conftest import REPO_ROOT

CONFIG = REPO_ROOT / "configs" / "pretrain_bilstm.cfg"
TINY = {
    "components.rnn_textcat.model.tok2vec.embed.width": 16,
    "components.rnn_textcat.model.tok2vec.embed.rows": [500, 100, 200, 200],
    "components.rnn_textcat.model.tok2vec.encode.width": 16,
}
CYCLE = ["a", "b", "c"]
SEED = 0


def abc_texts(n, seed):
    """``n`` lines of 4 to 12 tokens following a -> b -> c -> a, from a random start."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        start = rng.randrange(3)
        lines.append(" ".join(CYCLE[(start + i) % 3] for i in range(rng.randint(4, 12))))
    return lines


@pytest.fixture(scope="module")
def abc_lm(tmp_path_factory):
    """Pretrain exactly as spacy pretrain does (its own functions, the
    project's config at tiny widths, lm_dir set), then save the tok2vec
    inside use_params(optimizer.averages) as its _save_model does. Returns
    the output folder, the held-out file, and the in-process model's
    evaluation of it."""
    fix_random_seed(SEED)
    path = tmp_path_factory.mktemp("abc")
    texts = abc_texts(120, seed=0)
    nlp = spacy.blank("en")
    counts, n_docs, n_tokens = count_norms(texts, nlp)
    write_lm_vocab(path / "lm_vocab.json", counts, 10, lang="en", n_docs=n_docs, n_tokens=n_tokens, sources=["abc"])
    heldout = path / "heldout.txt"
    heldout.write_text("\n".join(abc_texts(20, seed=1)) + "\n", encoding="utf8")
    out = path / "pretrain"
    out.mkdir()
    overrides = {
        "paths.raw_text": str(path / "raw.txt"), "paths.lm_vocab": str(path / "lm_vocab.json"),
        "paths.lm_dir": str(out), "pretraining.optimizer.learn_rate": 0.02,
        "pretraining.objective.log_every": 0,
        **TINY,
    }
    config = Config().from_disk(CONFIG, overrides=overrides)
    config.to_disk(out / "config.cfg")  # as the spacy pretrain command does
    nlp = load_model_from_config(config)
    P = registry.resolve(nlp.config.interpolate()["pretraining"], schema=ConfigSchemaPretrain)
    model = create_pretraining_model(nlp, P)
    optimizer = P["optimizer"]
    docs = [nlp.make_doc(t) for t in texts]
    for _ in range(6):
        for i in range(0, len(docs), 8):
            make_update(model, docs[i : i + 8], optimizer, model.attrs["loss"])
    with model.use_params(optimizer.averages):
        (out / "model-last.bin").write_bytes(model.get_ref("tok2vec").to_bytes())
        meta = {"bidirectional": True, "predict_boundaries": True}
        here = PretrainedLM(nlp, model.get_ref("tok2vec"), model.get_ref("output_layer"), model.attrs["lm_vocab"], meta)
        expected = here.evaluate(nlp.tokenizer.pipe(heldout.read_text().splitlines()))
    return out, heldout, expected


def test_saves_the_whole_language_model(abc_lm):
    out, _, _ = abc_lm
    for name in ("lm-head.bin", "lm-vocab.json", META_FILE, "config.cfg", "model-last.bin"):
        assert (out / name).is_file(), name
    meta = json.loads((out / META_FILE).read_text())
    assert meta["head"]["n_classes"] == 5 and meta["bidirectional"] is True
    assert meta["train"]["tokens"] > 0 and 1.0 < meta["train"]["forward"] < 10.0
    assert meta["history"] == [meta["train"]]


def test_round_trip_scores_as_the_model_in_memory(abc_lm):
    """What load_pretrained_lm reads back scores held-out text exactly as the
    model that was saved."""
    out, heldout, expected = abc_lm
    lm = load_pretrained_lm(out / "model-last.bin")
    got = lm.evaluate(lm.nlp.tokenizer.pipe(heldout.read_text().splitlines()))
    assert got["tokens"] == expected["tokens"] and got["docs"] == 20
    for key in ("perplexity", "forward", "backward"):
        assert_allclose(got[key], expected[key], rtol=1e-5)


def test_learns_the_deterministic_next_word(abc_lm):
    out, _, _ = abc_lm
    lm = load_pretrained_lm(out)
    for prompt, nxt in (("a b c a b", "c"), ("b c a b c a", "b"), ("c a b c", "a")):
        words = lm.next_words(prompt, top=3)
        # the rest of the mass is mostly "<end of text>": lines end after any token
        assert words[0][0] == nxt and words[0][1] > 0.6, (prompt, words)
        assert len(words) == 3 and words[0][1] >= words[1][1] >= words[2][1]
    result = CliRunner().invoke(app, ["next-words", str(out), "c a b c a", "--top", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].split()[1] == "b" and float(lines[0].split()[0]) > 0.6


def test_lm_eval_cli(abc_lm, tmp_path):
    out, heldout, expected = abc_lm
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["lm-eval", str(out), str(heldout), "--output", str(report)])
    assert result.exit_code == 0, result.output
    assert "held-out" in result.output and "training" in result.output
    data = json.loads(report.read_text())
    assert_allclose(data["held_out"]["forward"], expected["forward"], rtol=1e-5)
    # a deterministic text: only where a line ends is the next token in doubt
    assert data["held_out"]["forward"] < 2.0 and data["held_out"]["backward"] < 2.0
    assert data["held_out"]["unknown_share"] == 0.0 and data["train"]["tokens"] > 0


def test_lm_eval_refuses_a_tok2vec_without_its_head(abc_lm, tmp_path):
    (tmp_path / "model-last.bin").write_bytes((abc_lm[0] / "model-last.bin").read_bytes())
    result = CliRunner().invoke(app, ["lm-eval", str(tmp_path), str(abc_lm[1])])
    assert result.exit_code == 1 and "E030" in result.output and "lm_dir" in result.output


def _resumed_model(out, **objective):
    """What ``spacy pretrain --resume-path out/model-last.bin`` builds: the
    saved run's config with ``[pretraining.objective]`` overrides, the
    pretraining model initialized, then the tok2vec weights loaded (spaCy's
    ``_resume_model``). Returns the pipeline and the model."""
    overrides = {f"pretraining.objective.{k}": v for k, v in objective.items()}
    config = Config().from_disk(out / "config.cfg", overrides={"paths.lm_dir": None, **overrides})
    nlp = load_model_from_config(config)
    P = registry.resolve(nlp.config.interpolate()["pretraining"], schema=ConfigSchemaPretrain)
    model = create_pretraining_model(nlp, P)
    model.get_ref("tok2vec").from_bytes((out / "model-last.bin").read_bytes())
    return nlp, model


def _heldout_scores(abc_lm, nlp, model):
    _, heldout, _ = abc_lm
    meta = {"bidirectional": True, "predict_boundaries": True}
    lm = PretrainedLM(nlp, model.get_ref("tok2vec"), model.get_ref("output_layer"), model.attrs["lm_vocab"], meta)
    return lm.evaluate(nlp.tokenizer.pipe(heldout.read_text().splitlines()))


def test_init_head_resumes_the_whole_language_model(abc_lm):
    """--resume-path restores the tok2vec only; with init_head the output
    layer comes back too, and the resumed model scores held-out text as the
    saved one did. Without it the output layer starts untrained."""
    out, _, expected = abc_lm
    nlp, model = _resumed_model(out, init_head=str(out))
    got = _heldout_scores(abc_lm, nlp, model)
    for key in ("perplexity", "forward", "backward"):
        assert_allclose(got[key], expected[key], rtol=1e-5)
    nlp, model = _resumed_model(out)
    fresh = _heldout_scores(abc_lm, nlp, model)
    assert fresh["perplexity"] > 2 * expected["perplexity"], (fresh, expected)


def test_init_head_refuses_another_vocabulary(abc_lm, tmp_path):
    out, _, _ = abc_lm
    saved = json.loads((out / "lm-vocab.json").read_text())
    words = saved["words"]
    saved["words"] = [words[1], words[0]] + words[2:]
    (tmp_path / "swapped.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"E032.*lm-vocab.json differs .* from word 1 on"):
        _resumed_model(out, init_head=str(out), vocab_path=str(tmp_path / "swapped.json"))


def test_init_head_refuses_another_output_layer(abc_lm):
    out, _, _ = abc_lm
    with pytest.raises(ValueError, match=r"E032.*output_layer 'adaptive', this one 'full'"):
        _resumed_model(out, init_head=str(out), output_layer="full")


def test_init_head_names_the_missing_file(abc_lm, tmp_path):
    out, _, _ = abc_lm
    with pytest.raises(ValueError, match=r"E030.*lm.json"):
        _resumed_model(out, init_head=str(tmp_path))
