"""Every document the project cites is a file in the repository, and every section it names is
there: code, messages, schemas and docs point at ``docs/``, never at files a user cannot open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Where citations live: the package (messages users see), tests, the schemas written next to
# the manifests, the README, docs and the GitHub set-up.
SOURCES = [
    *sorted((ROOT / "reconciler").rglob("*.py")),
    *sorted(p for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name),
    *sorted((ROOT / "schedules").glob("*.json")),
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / ".github").rglob("*.yml")),
    *sorted((ROOT / ".github").rglob("*.js")),
    ROOT / "README.md",
    ROOT / "action.yml",
]
# A document name with no folder: what the code cited before docs/ existed.
BARE = re.compile(r"(?<![\w/.-])(?:API|DESIGN|STYLE)\.md")
DOC = re.compile(r"(?<![\w.-])docs/([\w-]+\.md)")
API_SECTION = re.compile(r"docs/api\.md,?\s+(?:sections?\s+)?(\d+(?:\.\d+)?)")
DESIGN_SECTION = re.compile(r'docs/design\.md,?\s+"([^"]+)"')


def _texts() -> list[tuple[Path, str]]:
    return [(p, p.read_text("utf-8")) for p in SOURCES if p.is_file()]


def _headings(doc: str) -> list[str]:
    return [line.lstrip("#").strip() for line in doc.splitlines() if line.startswith("#")]


def test_the_citation_sources_are_found() -> None:
    # Guards the test itself: a wrong root would find no file and pass vacuously.
    names = {p.name for p, _ in _texts()}
    assert {"README.md", "cli.py", "api.md", "design.md"} <= names
    assert sum(len(DOC.findall(text)) for _, text in _texts()) > 100


def test_no_citation_names_a_document_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
        for path, text in _texts()
        for m in BARE.finditer(text)
    ]
    assert found == [], "cite docs/api.md or docs/design.md instead:\n" + "\n".join(found)


def test_every_cited_document_exists() -> None:
    missing = sorted(
        {
            f"{path.relative_to(ROOT)}: docs/{name}"
            for path, text in _texts()
            for name in DOC.findall(text)
            if not (ROOT / "docs" / name).is_file()
        }
    )
    assert missing == []


@pytest.mark.parametrize("doc", ["api.md", "design.md"])
def test_every_cited_section_exists(doc: str) -> None:
    headings = _headings((ROOT / "docs" / doc).read_text("utf-8"))
    body = (ROOT / "docs" / doc).read_text("utf-8")
    bad: list[str] = []
    for path, text in _texts():
        flat = re.sub(r"\s+", " ", text.replace('"""', "").replace("#", ""))
        if doc == "api.md":
            for number in API_SECTION.findall(flat):
                # "2" is "## 2. ...", "2.4" is "### 2.4 ..."
                if not any(re.match(rf"{re.escape(number)}[.\s]", h) for h in headings):
                    bad.append(f"{path.relative_to(ROOT)}: docs/api.md {number}")
        else:
            for title in DESIGN_SECTION.findall(flat):
                # A section heading, or a bold term that opens a paragraph or list item.
                if title not in headings and f"**{title}" not in body:
                    bad.append(f'{path.relative_to(ROOT)}: docs/design.md "{title}"')
    assert bad == [], "\n".join(sorted(set(bad)))


def test_relative_links_in_the_docs_resolve() -> None:
    link = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s#]+)")
    bad = [
        f"{path.relative_to(ROOT)}: {target}"
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for target in link.findall(path.read_text("utf-8"))
        if not (path.parent / target).exists()
    ]
    assert bad == []
