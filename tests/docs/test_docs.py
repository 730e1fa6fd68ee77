"""The documentation keeps its promises: a short README, links that land, commands and settings that exist.

Reads README.md, CHANGELOG.md and docs/*.md as text; imports nothing from the project (module names are
checked with ``importlib.util.find_spec``, which imports at most the parent packages).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200
# Where a setting the docs name must appear, so the docs cannot describe a setting the code does not read.
CODE_PLACES = [ROOT / "plugins", ROOT / "include", ROOT / "dags", ROOT / "docker-compose.yaml"]
# A table is a settings table when the first cell of its header names one of these.
SETTINGS_HEADERS = ("setting", "extra", "variable", "env", "connection")

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")
MAKE_TARGET = re.compile(r"\bmake ([a-z][a-z0-9-]*)")
PYTHON_MODULE = re.compile(r"\bpython3? -m ([A-Za-z_][\w.]*)")
CODE_SPAN = re.compile(r"`([^`]+)`")
PLACEHOLDER = re.compile(r"<[^>]*>")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _doc_ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (links and tables there are examples, not documentation)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def code_text(path: Path) -> list[str]:
    """The code a Markdown file shows: fenced blocks line by line, and every inline code span."""
    snippets, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif fenced:
            snippets.append(line)
        else:
            snippets.extend(CODE_SPAN.findall(line))
    return snippets


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, markup and punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (a repeated heading gets ``-1``, ``-2``, ... as on GitHub)."""
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        anchor = github_anchor(match.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def relative_links(path: Path) -> list[str]:
    links = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        links.extend(target for target in LINK.findall(line) if not re.match(r"^[a-z][a-z0-9+.-]*:", target))
    return links


def settings_tables(path: Path) -> list[list[str]]:
    """The first cells of the rows of every settings table in ``path``."""
    tables: list[list[str]] = []
    lines = _prose_lines(path.read_text(encoding="utf-8"))
    for i, line in enumerate(lines[:-1]):
        is_header = line.startswith("|") and re.match(r"^\|[\s:|-]+\|$", lines[i + 1].strip())
        if not is_header or (i > 0 and lines[i - 1].startswith("|")):
            continue
        first = line.strip("|").split("|")[0].strip().lower()
        if not any(word in first for word in SETTINGS_HEADERS):
            continue
        cells = []
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells.append(re.split(r"(?<!\\)\|", row.strip().strip("|"))[0])
        tables.append(cells)
    return tables


def setting_names(cell: str) -> list[str]:
    """The names a settings table's first cell presents: each code span, placeholders (``<id>``) cut."""
    names = []
    for span in CODE_SPAN.findall(cell):
        for part in re.split(r"[\s,/=]+", PLACEHOLDER.sub("", span)):
            if IDENTIFIER.fullmatch(part) and len(part) > 2:
                names.append(part)
    return names


def _code_text() -> str:
    texts = []
    for place in CODE_PLACES:
        files = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            try:
                texts.append(file.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue
    return "\n".join(texts)


def test_the_readme_has_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_the_docs_folder_and_changelog_exist() -> None:
    assert (ROOT / "CHANGELOG.md").is_file()
    assert len(DOCS) > 2, "docs/*.md is empty"


@pytest.mark.parametrize("doc", DOCS, ids=_doc_ids(DOCS))
def test_every_relative_link_points_to_an_existing_file_and_anchor(doc: Path) -> None:
    broken = []
    for target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(
                f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}"
            )
        elif anchor and dest.suffix == ".md" and anchor not in anchors_of(dest):
            broken.append(f"{target}: no heading with anchor #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_make_targets_named_in_the_docs_exist_in_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))
    missing = {
        f"{doc.relative_to(ROOT)}: make {name}"
        for doc in DOCS
        for snippet in code_text(doc)
        for name in MAKE_TARGET.findall(snippet)
        if name not in targets
    }
    assert any("make demo" in snippet for snippet in code_text(README)), "the pattern is broken"
    assert not missing, "make targets the Makefile does not have:\n" + "\n".join(sorted(missing))


def test_python_modules_named_in_the_docs_can_be_run() -> None:
    named = {
        (str(doc.relative_to(ROOT)), module)
        for doc in DOCS
        for snippet in code_text(doc)
        for module in PYTHON_MODULE.findall(snippet)
    }
    assert named, "the docs name no `python -m` module: the pattern is broken"
    saved = list(sys.path)
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    try:
        missing = sorted(f"{doc}: python -m {module}" for doc, module in named if not _module_exists(module))
    finally:
        sys.path[:] = saved
    assert not missing, "modules that do not exist:\n" + "\n".join(missing)


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_every_setting_in_a_settings_table_is_read_by_the_code() -> None:
    code = _code_text()
    presented = {
        (str(doc.relative_to(ROOT)), name)
        for doc in DOCS
        for table in settings_tables(doc)
        for cell in table
        for name in setting_names(cell)
    }
    assert len(presented) > 40, f"only {len(presented)} settings found in tables: the table parser is broken"
    missing = sorted(f"{doc}: {name}" for doc, name in presented if name not in code)
    assert not missing, "settings the docs present but no code reads:\n" + "\n".join(missing)


def test_the_checks_catch_a_broken_link_a_missing_anchor_and_an_unknown_setting(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n## The `meta_graph` connection\n\n[ok](#the-meta_graph-connection) [bad](#nowhere)"
        " [gone](missing.md) [web](https://example.com)\n\n"
        "| setting | meaning |\n|---|---|\n| `no_such_setting_anywhere` / env `NOR_THIS` | x |\n",
        encoding="utf-8",
    )
    assert anchors_of(page) == {"title", "the-meta_graph-connection"}
    assert relative_links(page) == ["#the-meta_graph-connection", "#nowhere", "missing.md"]
    [table] = settings_tables(page)
    assert [name for cell in table for name in setting_names(cell)] == [
        "no_such_setting_anywhere",
        "NOR_THIS",
    ]
    assert setting_names("`meta_graph_creator_<ig_user_id>`") == ["meta_graph_creator_"]
    page.write_text("Run `make demo` or\n```bash\npython -m include.demo  # x\n```\nto make it work.\n")
    snippets = code_text(page)
    assert [MAKE_TARGET.findall(s) for s in snippets] == [["demo"], []]
    assert [PYTHON_MODULE.findall(s) for s in snippets] == [[], ["include.demo"]]
