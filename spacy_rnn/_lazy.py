"""Package attributes imported on first use (PEP 562), so that importing one light module stays light.

Importing ``spacy_rnn.scaling.datasource`` runs ``spacy_rnn/__init__.py`` and
``spacy_rnn/scaling/__init__.py`` first. Ray runs that import in every worker
process that reads or writes a dataset; if the packages imported spaCy and
torch eagerly, each such worker would spend seconds of CPU (and hundreds of MB)
on libraries it never calls. So the packages name their public attributes here
and import them when they are first looked up.

spaCy finds our factories, architectures, readers and callbacks through entry
points (``setup.cfg``), which import the module that registers each one, so
nothing needs ``import spacy_rnn`` to register anything.
"""
import importlib
from typing import Any, Callable, Dict, List


def lazy_attributes(package: str, attributes: Dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``attributes[name]``
    (a submodule relative to the package, e.g. ``".pipeline"``) when ``name`` is
    first looked up, and returns the submodule's attribute ``name`` or, where
    ``name`` is the submodule itself, the submodule."""

    def __getattr__(name: str) -> Any:
        module_name = attributes.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name, package)
        value = module if module_name.lstrip(".") == name else getattr(module, name)
        setattr(importlib.import_module(package), name, value)  # look it up once
        return value

    return __getattr__


def lazy_dir(module_globals: Dict[str, Any], attributes: Dict[str, str]) -> Callable[[], List[str]]:
    """A module ``__dir__`` that lists the lazy attributes too."""
    return lambda: sorted(set(module_globals) | set(attributes))
