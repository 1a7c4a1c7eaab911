"""The package imports lazily: light modules stay light, and every public name still resolves.

Ray imports the reader and writer modules (``spacy_rnn.scaling.datasource``,
``.sinks``) in every worker process that reads or writes a dataset; they must
not drag in spaCy and torch (issue 13: those imports cost the idle workers
seconds of CPU each). The checks run in fresh interpreters, since this test
process has long imported everything.
"""
import subprocess
import sys
import textwrap

import pytest

import spacy_rnn
import spacy_rnn.data
import spacy_rnn.scaling

HEAVY = ("spacy", "thinc", "torch")


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("module", ["spacy_rnn", "spacy_rnn.data", "spacy_rnn.scaling", "spacy_rnn.scaling.columns",
                                    "spacy_rnn.output_file"])
def test_light_modules_import_no_spacy_or_torch(module):
    loaded = run_python(f"""
        import sys
        import {module}
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert loaded == "[]"


def test_ray_reader_and_writer_import_no_spacy_or_torch():
    pytest.importorskip("ray")
    loaded = run_python(f"""
        import sys
        import spacy_rnn.scaling.datasource, spacy_rnn.scaling.sinks
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert loaded == "[]"


@pytest.mark.parametrize("package", [spacy_rnn, spacy_rnn.data, spacy_rnn.scaling], ids=lambda p: p.__name__)
def test_every_public_name_resolves(package):
    names = [n for n in package.__all__ if n != "score_with_ray"]
    assert names
    for name in names:
        value = getattr(package, name)
        assert value is not None
        assert name in dir(package)


def test_lazy_names_are_the_submodules_objects():
    from spacy_rnn.layers import RNNEncoder
    from spacy_rnn.pipeline import RNNTextCategorizer

    assert spacy_rnn.RNNEncoder is RNNEncoder
    assert spacy_rnn.RNNTextCategorizer is RNNTextCategorizer
    assert spacy_rnn.pipeline is sys.modules["spacy_rnn.pipeline"]
    assert spacy_rnn.data.StreamingCorpus is sys.modules["spacy_rnn.data.streaming"].StreamingCorpus


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="spacy_rnn.*no_such_name"):
        spacy_rnn.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        from spacy_rnn.data import no_such_name  # noqa: F401


def test_spacy_finds_everything_without_import_spacy_rnn():
    """Entry points, not `import spacy_rnn`, register the factory, architectures and readers."""
    out = run_python("""
        import spacy
        from spacy import registry
        nlp = spacy.blank("en")
        textcat = nlp.add_pipe("rnn_textcat")
        textcat.add_label("positive")
        registry.architectures.get("spacy_rnn.RNNTextCat.v1")
        registry.readers.get("spacy_rnn.StreamingCorpus.v1")
        registry.callbacks.get("spacy_rnn.trim_memory.v1")
        print(type(textcat).__module__)
    """)
    assert out == "spacy_rnn.pipeline"
