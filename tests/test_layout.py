"""The package's layout, as docs/design/layout.md draws it: four paths (data,
training, inference, pretraining) over the layers and plain-PyTorch modules,
no import circle, no import running back up a layer, every exception class
in errors.py, and no module over 400 lines. Read from the source with ast,
so nothing is imported."""
import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "spacy_rnn"
MAX_LINES = 400

# Each module group's layer: a module may import from its own layer and lower ones only.
LAYERS = {
    "errors": 0, "_lazy": 0, "_spacy_cli": 0, "output_file": 0,
    "torch": 1, "data": 1, "memory": 1,
    "layers": 2, "schedule": 2,
    "architectures": 3, "pipeline": 3, "temperature": 3, "thresholds": 3, "losses": 3, "attention": 3, "quantization": 3,
    "pretraining": 3, "gradient_flow": 3,
    "inference": 4, "__init__": 4,
    "scaling": 5,
    "cli": 6, "__main__": 7,
}


def modules() -> Dict[str, Path]:
    return {
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts): path
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(module: str, path: Path) -> Set[str]:
    """The spacy_rnn modules ``module`` imports (at any depth of the file)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            if target.startswith("spacy_rnn"):
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("spacy_rnn"))
    return found


def graph() -> Dict[str, Set[str]]:
    mods = modules()
    edges: Dict[str, Set[str]] = {}
    for name, path in mods.items():
        targets = set()
        for target in imports_of(name, path):
            # a package import means its __init__
            targets.add(target if target in mods else f"{target}.__init__" if f"{target}.__init__" in mods else target)
        edges[name] = {t for t in targets if t in mods and t != name}
    return edges


def test_no_module_over_400_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf8").splitlines())) > MAX_LINES}
    assert not long, f"split these modules: {long}"


def test_every_exception_class_lives_in_errors_py():
    bases = {"Exception", "ValueError", "RuntimeError", "TypeError", "UserWarning", "Warning", "OSError"}
    elsewhere = []
    for name, path in modules().items():
        if name == "spacy_rnn.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if isinstance(node, ast.ClassDef):
                names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if names & bases or any(n.endswith(("Error", "Warning")) for n in names):
                    elsewhere.append(f"{name}.{node.name}")
    assert not elsewhere


def test_the_import_graph_has_no_circle():
    edges = graph()
    # package __init__ files that re-export their own submodules are not circles of the code
    for name in edges:
        if name.endswith(".__init__"):
            prefix = name[: -len("__init__")]
            edges[name] = {t for t in edges[name] if not t.startswith(prefix)}
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in edges[node]:
            if state.get(target) == 1:
                pytest.fail("import circle: " + " -> ".join(stack[stack.index(target):] + [target]))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node)


def test_no_import_runs_back_up_a_layer():
    upward = [
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if LAYERS[group(target)] > LAYERS[group(name)]
    ]
    assert not upward


def test_the_torch_modules_import_no_spacy_or_thinc():
    for name, path in modules().items():
        if group(name) != "torch":
            continue
        tree = ast.parse(path.read_text(encoding="utf8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ("spacy", "thinc") for n in names), name


def test_cli_modules_are_thin():
    """Commands parse options, call the library and print: no module of cli/
    defines a function that no command calls, beyond a few helpers."""
    for name, path in modules().items():
        if group(name) != "cli" or name.endswith(("_util", "__init__")):
            continue
        tree = ast.parse(path.read_text(encoding="utf8"))
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        commands = [f for f in functions if any("command" in ast.unparse(d) for d in f.decorator_list)]
        assert commands, f"{name} registers no command"
        assert len(path.read_text(encoding="utf8").splitlines()) <= 200, f"{name}: move the library code out"
