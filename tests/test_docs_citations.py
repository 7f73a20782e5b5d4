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


# A section cited by its title, in any document but api.md (cited by number):
# `docs/github.md, "Threat model"`.
NAMED_SECTION = re.compile(r'docs/((?!api\.md)[\w-]+\.md),?\s+"([^"]+)"')
README_MAX_LINES = 200


def _doc_headings(text: str) -> list[str]:
    """The Markdown headings of a page, leaving out `#` lines inside fenced code."""
    headings: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            headings.append(line.lstrip("#").strip())
    return headings


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_section_cited_by_title_exists() -> None:
    """`docs/X.md "Title"` (or `docs/X.md, "Title"`) names a heading of X, or a bold term that
    opens one of its paragraphs: a message pointing at a section that was renamed or moved is
    caught here."""
    bad: list[str] = []
    for path, text in _texts():
        flat = re.sub(r"\s+", " ", text.replace('"""', "").replace("#", ""))
        for name, title in NAMED_SECTION.findall(flat):
            doc = ROOT / "docs" / name
            if not doc.is_file():
                continue  # reported by test_every_cited_document_exists
            body = doc.read_text("utf-8")
            if title not in _doc_headings(body) and f"**{title}" not in body:
                bad.append(f'{path.relative_to(ROOT)}: docs/{name} "{title}"')
    assert bad == [], "\n".join(sorted(set(bad)))


def test_anchors_of_relative_links_resolve() -> None:
    """A link to `page.md#anchor` in the README or docs lands on a heading of that page."""
    link = re.compile(r"\]\((?!https?:|mailto:)([^)\s#]*)#([^)\s]+)\)")
    bad: list[str] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text("utf-8")
        for target, anchor in link.findall(text):
            page = path if target == "" else path.parent / target
            if not page.is_file():
                continue  # reported by test_relative_links_in_the_docs_resolve
            anchors = {_anchor(h) for h in _doc_headings(page.read_text("utf-8"))}
            if anchor not in anchors:
                bad.append(f"{path.relative_to(ROOT)}: {target}#{anchor}")
    assert bad == []


def test_the_readme_is_a_first_screen_that_links_every_doc() -> None:
    """The README stays short (at most 200 lines) and its Documentation list links every page
    under docs/, so a page is never left where nobody finds it."""
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    docs = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert len(docs) > 10  # guards the test itself: a wrong root would pass vacuously
    unlinked = [name for name in docs if f"](docs/{name})" not in readme]
    assert unlinked == []


@pytest.mark.parametrize("marker", ["main-command", "test-command"])
def test_the_readme_keeps_its_command_markers(marker: str) -> None:
    """`.ci/run` reads the test command from between the README's test-command markers: each
    marked block holds exactly one fenced command line."""
    readme = (ROOT / "README.md").read_text("utf-8")
    found = re.search(rf"<!-- {marker} -->\n```\n([^\n]+)\n```\n<!-- /{marker} -->", readme)
    assert found is not None
    assert found.group(1).startswith("python3 -m venv .venv && .venv/bin/pip install -q -e ")
