"""Findings as terminal text that fits any width and never cuts an identifier.

Three layouts, all plain text (pure functions: findings and a width in, lines out):

- **table**: one row per finding, from ``WIDE_MIN`` columns (when the identifiers leave
  the Why column ``WHY_MIN``: about 160 with the bundled examples); identifiers (time,
  account, region, who, action, error code, event id) keep their whole width and are
  never broken; only the prose of Why wraps, at spaces. The resource and the other
  identifiers of a finding (policy ARN, VPC endpoint) go on a line of their own under
  the row, whole, so they can be copied; the next-step hint is written once per
  distinct reason in a legend under the table (``[1] …``), not on every row;
- **stacked**: one ``label  value`` block per finding below that, values wrapping
  under themselves;
- **grouped**: one row (or block) per (account, principal, action, error code), with
  counts and first/last seen; the default above ``GROUP_ABOVE`` findings.

Nothing is ever truncated: what does not fit wraps. Record text is attacker-written, so
every value goes through :func:`deniedwatch.alerts.text.clean` (no escape sequences reach
the terminal). Why not rich's Table: 7,110 findings took 6.4 s to render with it, ten
times the scan; this renders 10,000 in well under a second (tests/test_termview.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len

from deniedwatch.alerts import wording
from deniedwatch.alerts.group import Alert, group_findings
from deniedwatch.alerts.text import clean
from deniedwatch.finding import Finding
from deniedwatch.report import GROUP_ABOVE

WIDE_MIN = 140  # columns from which one finding is one table row
FLEX_MIN = 14  # a table whose free-text columns would be narrower than this is stacked
WHY_MIN = 24  # the findings table's Why column (prose) at least this wide, else stacked
DETAIL_SEP = "  ·  "
PIPE_WIDTH = 160  # width when stdout is not a terminal and COLUMNS is not set
GAP = "  "

CONSOLE_HINT = (
    "Event ids link to the CloudTrail console: "
    "https://<region>.console.aws.amazon.com/cloudtrailv2/home?region=<region>#/events/<event id>"
)


def terminal_width(is_tty: bool, tty_columns: Callable[[], int]) -> int:
    """$COLUMNS when set (also for a pipe or a file), else the terminal's, else PIPE_WIDTH."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return tty_columns() if is_tty else PIPE_WIDTH


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def fold(text: str, width: int, breaks: str = " /:,-") -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken after one of ``breaks`` (a
    space, '/', ':', ',' or '-') in the second half of a line when there is one, else
    anywhere. Never cut. Prose passes ``breaks=" "``: words stay whole."""
    width = max(1, width)
    if _cells(text) <= width:
        return [text]
    lines: list[str] = []
    rest = text
    while _cells(rest) > width:
        if rest.isascii():
            take = width
        else:
            take, used = 0, 0
            for ch in rest:
                w = cell_len(ch)
                if used + w > width:
                    break
                used += w
                take += 1
            take = max(take, 1)
        head = rest[:take]
        brk = max(head.rfind(c) for c in breaks)
        if brk >= (take // 2 if breaks != " " else 1):
            take = brk + 1
        lines.append(rest[:take].rstrip(" "))
        rest = rest[take:].lstrip(" ")
    if rest:
        lines.append(rest)
    return lines


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _cells(text))


# ---- what a finding shows -------------------------------------------------------------


def _v(value: object) -> str:
    return "" if value is None else clean(value)


def when(f: Finding) -> str:
    return (f.event_time or "?").replace("T", " ").removesuffix("Z")


def account(f: Finding, labels: dict[str, str]) -> str:
    return _v(wording.account(f.account_id, labels.get(f.account_id or ""))) or "?"


def account_lines(f: Finding, labels: dict[str, str]) -> list[str]:
    """Account id, its label (if any) and region, one a line: a narrow table column."""
    lines = [_v(f.account_id) or "?"]
    if f.account_id in labels:
        lines.append(f"({_v(labels[f.account_id])})")
    return [*lines, _v(f.region) or "?"]


def who(f: Finding) -> str:
    return _v(wording.who_short(f))


def why(f: Finding) -> str:
    """The shared wording's reason ('explicit deny in service control policy (SCP)')."""
    return _v(wording.why_short(f))


# Finding fields other work adds (the denial's policy ARN, the VPC endpoint, a hint):
# shown when a Finding has them, so the layouts need no change when they arrive.
OPTIONAL_FIELDS: tuple[tuple[str, str], ...] = (
    ("policy", "denial_policy_arn"),
    ("endpoint", "vpc_endpoint_id"),
    ("hint", "hint"),
    ("console", "console_note"),
)


def _optional(f: Finding) -> list[tuple[str, str]]:
    out = []
    for label, name in OPTIONAL_FIELDS:
        value = getattr(f, name, None)
        if value:
            out.append((label, _v(value)))
    return out


# ---- the layouts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    fixed: bool  # identifiers: always their whole width


def table(
    header: Sequence[Column],
    rows: Iterable[Sequence[str]],
    width: int,
    *,
    flex_min: int = FLEX_MIN,
    details: Sequence[Sequence[str]] | None = None,
    breaks: str = " /:,-",
) -> list[str] | None:
    """Rows as a text table within ``width``; None when the fixed columns leave too
    little room for the others (the caller then stacks). ``details``: per row, whole
    identifiers shown on lines of their own under it (indented to the second column).
    Headers and cells are padded to the same widths: a header is always above its data."""
    rows = list(rows)
    natural = [
        max([_cells(c.title)] + [_cells(line) for r in rows for line in r[i].split("\n")])
        for i, c in enumerate(header)
    ]
    fixed = sum(n for n, c in zip(natural, header, strict=True) if c.fixed)
    flex = [i for i, c in enumerate(header) if not c.fixed]
    room = width - fixed - len(GAP) * (len(header) - 1)
    if room < (flex_min * len(flex) if flex else 0):
        return None
    widths = list(natural)
    want = sum(natural[i] for i in flex)
    if want > room:  # share the room in proportion to what each column would like
        for i in flex:
            widths[i] = max(flex_min, room * natural[i] // want)
        while sum(widths[i] for i in flex) > room:
            widest = max(flex, key=lambda i: widths[i])
            widths[widest] -= 1
    lines = [GAP.join(_pad(c.title, w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append(GAP.join("-" * w for w in widths))
    indent = widths[0] + len(GAP)
    for n, row in enumerate(rows):
        cells = [
            [
                part
                for line in text.split("\n")
                for part in (fold(line, w, breaks) if not c.fixed else [line])
            ]
            for text, w, c in zip(row, widths, header, strict=True)
        ]
        for k in range(max(len(c) for c in cells)):
            parts = [
                _pad(c[k] if k < len(c) else "", w) for c, w in zip(cells, widths, strict=True)
            ]
            lines.append(GAP.join(parts).rstrip())
        if details and details[n]:
            lines.extend(detail_lines(details[n], width, indent))
    return lines


def detail_lines(items: Sequence[str], width: int, indent: int) -> list[str]:
    """Whole identifiers (``resource: arn:…``) packed on lines from ``indent``: an item
    goes to the next line rather than break; one wider than the room starts further left;
    only one wider than the whole terminal is folded."""
    lines: list[str] = []
    current = ""
    room = width - indent
    for item in items:
        joined = f"{current}{DETAIL_SEP}{item}" if current else item
        if _cells(joined) <= room:
            current = joined
            continue
        if current:
            lines.append(" " * indent + current)
            current = ""
        if _cells(item) <= room:
            current = item
        elif _cells(item) <= width - 2:
            lines.append("  " + item)
        else:
            lines.extend("  " + part for part in fold(item, width - 2))
    if current:
        lines.append(" " * indent + current)
    return lines


def stacked(blocks: Iterable[tuple[str, list[tuple[str, str]]]], width: int) -> list[str]:
    """Blocks of a title line and ``label  value`` lines; values wrap under themselves."""
    lines: list[str] = []
    for title, fields in blocks:
        if lines:
            lines.append("")
        lines.extend(fold(title, width))
        label_width = max((len(label) for label, _ in fields), default=0)
        indent = 2 + label_width + 2
        if width - indent < 20:  # too narrow to keep values beside labels
            for label, value in fields:
                lines.append(f"  {label}:")
                lines.extend("    " + part for part in fold(value, width - 4))
            continue
        for label, value in fields:
            if " " not in value and width - indent < _cells(value) <= width - 4:
                lines.append(f"  {label}:")  # an identifier: whole on its own line
                lines.append(f"    {value}")
                continue
            parts = fold(value, width - indent) or [""]
            lines.append(f"  {label:<{label_width}}  {parts[0]}".rstrip())
            lines.extend(" " * indent + part for part in parts[1:])
    return lines


FINDING_COLUMNS = (
    Column("When (UTC)", True),
    Column("Account", True),
    Column("Who / from", True),
    Column("Action / error", True),
    Column("Why", False),
    Column("Event id", True),
)
LEGEND_TITLE = "Next steps:"


def legend_hint(f: Finding) -> str | None:
    """The finding's hint with its own action and resource said generally, so one
    legend line serves every finding of the same reason."""
    if not f.hint:
        return None
    text = f.hint
    if f.action:
        text = text.replace(f.action, "the action")
    if f.resource:
        text = text.replace(f.resource, "the resource")
    return _v(text)


def _details(f: Finding) -> list[str]:
    """The identifiers shown whole under a table row (and the console note)."""
    out = [f"resource: {_v(f.resource)}"] if f.resource else []
    out += [f"{label}: {value}" for label, value in _optional(f) if label != "hint"]
    return out


class Legend:
    """Next-step hints numbered once per distinct text (``[1] Open the …``)."""

    def __init__(self) -> None:
        self.hints: dict[str, int] = {}

    def mark(self, f: Finding) -> str:
        """' [n]' for the finding's hint ('' without one)."""
        hint = legend_hint(f)
        if hint is None:
            return ""
        return f" [{self.hints.setdefault(hint, len(self.hints) + 1)}]"

    def lines(self, width: int) -> list[str]:
        if not self.hints:
            return []
        out = ["", LEGEND_TITLE]
        for hint, n in self.hints.items():
            head = f"  [{n}] "
            parts = fold(hint, width - len(head), " ")
            out.append(head + parts[0])
            out.extend(" " * len(head) + part for part in parts[1:])
        return out


def findings_table(
    findings: Sequence[Finding], labels: dict[str, str], width: int
) -> list[str] | None:
    """One row per finding, identifiers whole, the hints in a legend; None if it cannot
    fit ``width`` without breaking an identifier (the caller stacks)."""
    legend = Legend()

    def row(f: Finding) -> list[str]:
        who_lines = [_v(f.principal_name) or "?", f"({_v(f.principal_type) or '?'})"]
        return [
            when(f),
            "\n".join(account_lines(f, labels)),
            "\n".join([*who_lines, _v(f.source_ip) or "?"]),
            f"{_v(f.action) or '?'}\n{_v(f.error_code) or '?'}",
            why(f) + legend.mark(f),
            _v(f.event_id) or "-",
        ]

    rows = [row(f) for f in findings]
    lines = table(
        FINDING_COLUMNS,
        rows,
        width,
        flex_min=WHY_MIN,
        details=[_details(f) for f in findings],
        breaks=" ",
    )
    return None if lines is None else [*lines, *legend.lines(width)]


def findings_lines(findings: Sequence[Finding], labels: dict[str, str], width: int) -> list[str]:
    """One row per finding where it fits, else one block per finding."""
    if width >= WIDE_MIN:
        lines = findings_table(findings, labels, width)
        if lines is not None:
            return [*lines, "", *fold(CONSOLE_HINT, width)]
    legend = Legend()

    def block(f: Finding) -> tuple[str, list[tuple[str, str]]]:
        title = f"{when(f)}  {_v(f.error_code) or '?'}  {_v(f.action) or '?'}"
        place = f"{account(f, labels)}  {_v(f.region) or '?'}"
        fields = [("who", who(f)), ("from", _v(f.source_ip) or "?"), ("account", place)]
        if f.resource:
            fields.append(("resource", _v(f.resource)))
        fields.append(("why", why(f) + legend.mark(f)))
        fields.extend((label, value) for label, value in _optional(f) if label != "hint")
        fields.append(("event id", _v(f.event_id) or "-"))
        return title, fields

    blocks = stacked([block(f) for f in findings], width)
    return [*blocks, *legend.lines(width), "", *fold(CONSOLE_HINT, width)]


GROUP_COLUMNS = (
    Column("Count", True),
    Column("Account", True),
    Column("Who", True),
    Column("Action", True),
    Column("Error", True),
    Column("Resources", True),
    Column("IPs", True),
    Column("First seen (UTC)", True),
    Column("Last seen (UTC)", True),
)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def groups(findings: Iterable[Finding]) -> list[Alert]:
    """Findings grouped as alerts group them, the most frequent first."""
    alerts = group_findings(findings, max_examples=0)
    alerts.sort(key=lambda a: -a.count)  # stable: equal counts stay earliest first
    return alerts


def grouped_lines(findings: Sequence[Finding], labels: dict[str, str], width: int) -> list[str]:
    """One row (or block) per (account, principal, action, error code)."""
    alerts = groups(findings)

    def t(value: str | None) -> str:
        return (value or "?").replace("T", " ").removesuffix("Z")

    head = f"{len(findings)} findings in {len(alerts)} groups (--no-group: one row per event)"
    if width >= WIDE_MIN:
        rows = [
            [
                str(a.count),
                account(a.sample, labels),
                who(a.sample),
                _v(a.sample.action) or "?",
                _v(a.sample.error_code) or "?",
                str(a.variety.get("resource", 0)),
                str(a.variety.get("source_ip", 0)),
                t(a.first_time),
                t(a.last_time),
            ]
            for a in alerts
        ]
        lines = table(GROUP_COLUMNS, rows, width)
        if lines is not None:
            return [*fold(head, width), "", *lines]

    def block(a: Alert) -> tuple[str, list[tuple[str, str]]]:
        s = a.sample
        title = f"{a.count} x  {_v(s.error_code) or '?'}  {_v(s.action) or '?'}"
        resources, ips = a.variety.get("resource", 0), a.variety.get("source_ip", 0)
        first, last = t(a.first_time), t(a.last_time)
        return title, [
            ("who", who(s)),
            ("account", account(s, labels)),
            ("spread", f"{_n(resources, 'resource')}, {_n(ips, 'IP')}"),
            ("seen", first if first == last else f"{first} to {last}"),
        ]

    return [*fold(head, width), "", *stacked((block(a) for a in alerts), width)]


def render(
    findings: Sequence[Finding],
    labels: dict[str, str],
    width: int,
    group: bool | None = None,
) -> str:
    """The whole terminal text. ``group`` None: grouped above GROUP_ABOVE findings."""
    if not findings:
        return "No denied API calls found.\n"
    if group is None:
        group = len(findings) > GROUP_ABOVE
    lines = (grouped_lines if group else findings_lines)(findings, labels, width)
    return "\n".join(lines) + "\n"
