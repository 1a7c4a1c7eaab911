"""The documentation: its Python examples run, its links resolve, and the API
reference is current.

Every fenced ```python block of README.md and docs/**/*.md runs, each file's
blocks in order in one namespace, in a temporary working directory (with
``configs/`` linked into it). A block that must not run (it needs a trained
pipeline, a cluster or data that the tests do not have) carries the HTML
comment ``<!-- test: skip -->`` on the line before its fence. Other languages
(bash, ini, text) are never run.
"""
import importlib.util
import re
import sys
from configparser import ConfigParser
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINKED_FILES = sorted([*DOC_FILES, ROOT / "CHANGELOG.md", ROOT / "benchmarks" / "README.md"])
SKIP_MARK = "<!-- test: skip -->"
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<info>[^\n`]*)$")


def code_blocks(text: str) -> List[Tuple[int, str, str, bool]]:
    """(line number, language, code, skipped) of each fenced block."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i].strip())
        if not match:
            i += 1
            continue
        fence, info = match.group("fence"), match.group("info").strip()
        indent = len(lines[i]) - len(lines[i].lstrip())
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        skipped = start > 0 and lines[start - 1].strip() == SKIP_MARK
        language = info.split()[0].lower() if info else ""
        blocks.append((start + 1, language, "\n".join(body) + "\n", skipped))
        i += 1
    return blocks


def python_blocks(path: Path) -> List[Tuple[int, str]]:
    return [(line, code) for line, language, code, skipped in code_blocks(path.read_text(encoding="utf8"))
            if language in ("python", "py") and not skipped]


FILES_WITH_PYTHON = [path for path in DOC_FILES if python_blocks(path)]


def test_code_blocks_are_found():
    text = f"a\n{SKIP_MARK}\n```python\nx = 1\n```\n\n  ```python\n  y = 2\n  ```\n```bash\nls\n```\n"
    assert code_blocks(text) == [(3, "python", "x = 1\n", True), (7, "python", "y = 2\n", False), (10, "bash", "ls\n", False)]


def test_the_readme_has_python_examples():
    assert ROOT / "README.md" in FILES_WITH_PYTHON


@pytest.mark.parametrize("path", FILES_WITH_PYTHON, ids=lambda path: str(path.relative_to(ROOT)))
def test_python_examples_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    namespace: Dict[str, object] = {"__name__": "__docs__"}
    for line, code in python_blocks(path):
        name = f"{path.relative_to(ROOT)}:{line}"
        try:
            exec(compile(code, name, "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            raise AssertionError(f"the example at {name} failed: {error!r}") from error


# [text](target) and ![alt](target), outside code; <...> autolinks are not relative
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


def prose(text: str, inline_code: bool = False) -> str:
    """The text without fenced blocks, and without inline code unless asked."""
    kept, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            in_fence = not in_fence
            kept.append("")
            continue
        kept.append("" if in_fence else line if inline_code else re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def anchors(path: Path) -> set:
    """GitHub's anchors for the headings of a Markdown file."""
    seen: Dict[str, int] = {}
    result = set()
    for line in prose(path.read_text(encoding="utf8"), inline_code=True).splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        title = re.sub(r"[`*_]|<[^>]+>", "", match.group("title"))
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def test_anchors_follow_github():
    assert anchors_of("# Train on your own CSV/JSONL\n## `score` and Ray\n## Notes\n## Notes\n") == {
        "train-on-your-own-csvjsonl", "score-and-ray", "notes", "notes-1"}


def anchors_of(text: str) -> set:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.md"
        path.write_text(text)
        return anchors(path)


@pytest.mark.parametrize("path", [path for path in LINKED_FILES if path.exists()],
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve(path):
    broken = []
    text = prose(path.read_text(encoding="utf8"))
    # `spacy project document` writes its section for the project's root (docs/usage/project.md)
    weasel = re.search(r"<!-- WEASEL: AUTO-GENERATED DOCS START.*?<!-- WEASEL: AUTO-GENERATED DOCS END[^>]*-->", text, re.S)
    for match in LINK.finditer(text):
        target = match.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        generated = weasel is not None and weasel.start() <= match.start() < weasel.end()
        base = ROOT if generated else path.parent
        linked = (base / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.relative_to(ROOT)})")
    assert not broken, f"{path.relative_to(ROOT)}: broken links: {broken}"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_api", ROOT / "docs" / "generate_api.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_api", module)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_current():
    generated = load_generator().generate()
    committed = (ROOT / "docs" / "api.md").read_text(encoding="utf8")
    assert committed == generated, "docs/api.md is out of date: run python docs/generate_api.py"


def test_api_reference_lists_every_entry_point():
    config = ConfigParser(delimiters=("=",))
    config.optionxform = str
    config.read(ROOT / "setup.cfg")
    names = [name for group in config["options.entry_points"].values()
             for name in (line.split("=")[0].strip() for line in group.splitlines()) if name]
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf8")
    assert names and not [name for name in names if f"\n### {name}\n" not in text]


def test_api_reference_documents_every_argument():
    generator = load_generator()
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf8")
    assert generator.MISSING not in text, "an argument or option has no meaning in its docstring or help"
