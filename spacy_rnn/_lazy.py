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
from typing import Any, Callable, Dict, List, Tuple


def lazy_module(
    module_globals: Dict[str, Any], attributes: Dict[str, str]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """``__getattr__`` and ``__dir__`` for the package whose ``globals()`` are
    ``module_globals``. ``__getattr__`` imports ``attributes[name]`` (a
    submodule relative to the package, e.g. ``".pipeline"``) when ``name`` is
    first looked up and returns the submodule's attribute ``name`` or, where
    ``name`` is the submodule itself, the submodule; ``__dir__`` lists the
    lazy names too."""
    package = module_globals["__name__"]

    def __getattr__(name: str) -> Any:
        module_name = attributes.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name, package)
        value = module if module_name.lstrip(".") == name else getattr(module, name)
        module_globals[name] = value  # looked up once
        return value

    def __dir__() -> List[str]:
        return sorted(set(module_globals) | set(attributes))

    return __getattr__, __dir__
