"""The registry is complete: every name the package registers is an entry
point in setup.cfg, and every entry point resolves, in a process that has not
imported spacy_rnn (as spacy.load and spacy train run), like
spacy-curated-transformers' tests/test_registry.py."""
import json
import subprocess
import sys
import textwrap

# Registry categories that spaCy and Thinc look up through entry points, and
# the entry point group of each (catalogue's "<namespace>_<category>").
GROUPS = {
    "architectures": "spacy_architectures",
    "readers": "spacy_readers",
    "misc": "spacy_misc",
    "callbacks": "spacy_callbacks",
    "schedules": "thinc_schedules",
    "batchers": "spacy_batchers",
    "loggers": "spacy_loggers",
    "scorers": "spacy_scorers",
    "optimizers": "thinc_optimizers",
    "layers": "thinc_layers",
}


def run_fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter and return the JSON it prints last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_entry_point_resolves_without_importing_spacy_rnn():
    out = run_fresh(f"""
        import json, sys
        from importlib.metadata import distribution
        from spacy.language import Language
        from spacy.util import registry

        assert "spacy_rnn" not in sys.modules
        Language()  # as spacy.blank and spacy.load do: loads the factories' entry points
        groups = {GROUPS!r}
        by_group = {{v: k for k, v in groups.items()}}
        resolved = {{}}
        for ep in distribution("spacy-rnn").entry_points:
            if ep.group == "spacy_factories":
                assert Language.has_factory(ep.name), ep.name
                func = registry.factories.get(ep.name)
            else:
                func = getattr(registry, by_group[ep.group]).get(ep.name)
            resolved[ep.group + ":" + ep.name] = func.__module__ + ":" + func.__name__ + " = " + ep.value
        print(json.dumps(resolved))
    """)
    assert out, "no entry points: is the package installed (pip install -e .)?"
    for key, pair in out.items():
        got, declared = pair.split(" = ")
        assert got == declared, f"{key} resolves to {got}, setup.cfg declares {declared}"


def test_every_registered_name_is_an_entry_point():
    """Import every module of the package, collect what it registered, and
    compare with the entry points: a name registered in code but missing from
    setup.cfg resolves only when something happens to import its module."""
    out = run_fresh(f"""
        import importlib, json, pkgutil
        from importlib.metadata import distribution
        from spacy.language import Language
        from spacy.util import registry
        import spacy_rnn

        for info in pkgutil.walk_packages(spacy_rnn.__path__, "spacy_rnn."):
            importlib.import_module(info.name)
        groups = {GROUPS!r}
        registered = set()
        for category, group in groups.items():
            for name, func in getattr(registry, category).get_all().items():
                if getattr(func, "__module__", "").startswith("spacy_rnn"):
                    registered.add(group + ":" + name)
        for name, func in registry.factories.get_all().items():
            if getattr(func, "__module__", "").startswith("spacy_rnn"):
                registered.add("spacy_factories:" + name)
        declared = {{ep.group + ":" + ep.name for ep in distribution("spacy-rnn").entry_points}}
        print(json.dumps({{"registered": sorted(registered), "declared": sorted(declared)}}))
    """)
    registered, declared = set(out["registered"]), set(out["declared"])
    assert registered - declared == set(), "registered in code, missing from setup.cfg's entry points"
    assert declared - registered == set(), "entry points that the code does not register"
    # one version of every name before the first release
    stems = [name.rsplit(".v", 1)[0] for name in registered if ".v" in name]
    assert len(stems) == len(set(stems)), sorted(registered)
