"""The project's documents stay true to the code: the README's Finding table lists exactly
the JSON-lines fields, every link between the documents resolves, and nothing cites a
document outside the repository (docs/architecture.md is the project's own account)."""

from __future__ import annotations

import re

from deniedwatch.finding import SCHEMA_FIELDS
from dwtest import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))


def _finding_table(text: str) -> list[str]:
    """Field names in the first column of the README's "The Finding" table, in order."""
    section = text.split("### The Finding", 1)[1]
    names: list[str] = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if not line.startswith("| ") or line.startswith(("| field", "|---")):
            continue
        names += [n.strip().strip("`") for n in line.split("|")[1].split(",")]
    return names


def test_the_readme_lists_every_finding_field_once() -> None:
    listed = _finding_table(README.read_text(encoding="utf-8"))
    assert sorted(listed) == sorted(SCHEMA_FIELDS)


def test_links_between_the_documents_resolve() -> None:
    broken = []
    for doc in [README, *DOCS]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []


def test_nothing_cites_a_document_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|\.\./shared/")
    places = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("src", "tests", "bench", "examples", "docs")
        for path in (REPO / folder).rglob("*")
        if path.suffix in {".py", ".md", ".toml", ".yaml"} and path.name != "test_docs.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    places += [
        f"README.md:{n}"
        for n, line in enumerate(README.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert places == []


def test_the_readme_settings_table_names_every_key() -> None:
    from dataclasses import fields

    from deniedwatch.config import AlertSettings, DeploySettings, ExplainSettings
    from deniedwatch.rules import Suppression

    text = README.read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| `")
    }
    sections = {
        "`[alerts]`": AlertSettings,
        "`[deploy]`": DeploySettings,
        "`[explain]`": ExplainSettings,
        "`[suppress]`": Suppression,
    }
    missing = [
        f"{section} {f.name}"
        for section, cls in sections.items()
        for f in fields(cls)
        if f.name != "name" and f"`{f.name}`" not in rows[section]
    ]
    assert missing == []


# A pattern fragment a document quotes: an EventBridge operator on one value, or a
# CloudWatch Logs comparison on $.errorCode.
_OPERATORS = "wildcard|prefix|suffix|anything-but|equals-ignore-case"
_EVENT_OPERATOR = re.compile(r'\{"(?:' + _OPERATORS + r')"\s*:\s*"[^"]*"\}')
_LOGS_TERM = re.compile(r'\$\.errorCode\s*!?=\s*(?:"[^"]*"|%[^%]*%)')


def _rendered_patterns() -> tuple[set[str], set[str]]:
    """What rules.py renders: EventBridge operators (as compact JSON) and $.errorCode terms."""
    import json

    from deniedwatch.rules import CIS_METRIC_FILTER_PATTERN, DenialRule

    rule = DenialRule()
    pattern = rule.event_pattern()
    values = [*pattern["source"], *pattern["detail"]["errorCode"]]  # type: ignore[index]
    operators = {json.dumps(v, separators=(",", ":")) for v in values if isinstance(v, dict)}
    terms = {
        re.sub(r"\s+", "", t)
        for text in (rule.filter_pattern(), rule.filter_pattern_regex(), CIS_METRIC_FILTER_PATTERN)
        for t in _LOGS_TERM.findall(text)
    }
    return operators, terms


def test_every_pattern_the_documents_quote_is_one_rules_py_renders() -> None:
    operators, terms = _rendered_patterns()
    wrong = []
    for doc in [README, *DOCS]:
        text = doc.read_text(encoding="utf-8")
        for quoted in _EVENT_OPERATOR.findall(text):
            if re.sub(r"\s+", "", quoted) not in operators:
                wrong.append(f"{doc.relative_to(REPO)}: {quoted}")
        for quoted in _LOGS_TERM.findall(text):
            if re.sub(r"\s+", "", quoted) not in terms:
                wrong.append(f"{doc.relative_to(REPO)}: {quoted}")
    assert wrong == [], "documents quote patterns rules.py does not render"


def test_the_documents_quote_patterns_at_all() -> None:
    """The check above has something to check: the pages that describe the patterns."""
    live = (REPO / "docs" / "live-sources.md").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    assert _EVENT_OPERATOR.search(live) and _LOGS_TERM.search(readme)
