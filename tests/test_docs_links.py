"""Every docs/*.md file the README and the docs point to exists (a user follows them in order)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_referenced_docs_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    named = set(re.findall(r"\bdocs/[\w.-]+\.md\b", text))
    named |= {
        f"docs/{m}" for m in re.findall(r"\]\(([\w.-]+\.md)\)", text) if page.parent.name == "docs"
    }
    missing = sorted(n for n in named if not (REPO / n).is_file())
    assert not missing, f"{page.name} points to missing pages: {missing}"


def test_the_deployment_docs_are_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("operations", "xero-app", "autotask-user", "troubleshooting", "configuration"):
        assert f"docs/{name}.md" in readme, name
