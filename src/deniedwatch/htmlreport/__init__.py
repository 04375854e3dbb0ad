"""`scan --format html`: one self-contained page to look at findings.

Charts are Vega-Lite specs drawn by Vega (vendor/, its minified builds inlined, see
vendor/README.md); the findings table is a few lines of our own JS (report.js). The page
loads nothing: a Content-Security-Policy of ``default-src 'none'`` forbids any fetch, and
Vega runs in its interpreter mode (``ast: true``) so no ``eval`` is needed either. Scripts
run only by their SHA-256 (``script-src 'sha256-…'``, CSP Level 2 hash sources): the two
script elements the page is built with run, and any other inline script (markup that
slipped into the page some day) does not, which ``'unsafe-inline'`` would allow.

Record text is attacker-written: it travels as JSON inside a ``<script
type="application/json">`` with ``<``, ``>`` and ``&`` escaped, and report.js puts it
into the page with ``textContent`` only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from deniedwatch.finding import CONSOLE_PATH, Finding
from deniedwatch.partition import console_base
from deniedwatch.termview import OPTIONAL_FIELDS, account, who, why

VENDOR_JS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
TOP = 10  # bars in each "top" chart
HOURLY_UP_TO_DAYS = 3  # the timeline counts per hour up to this span, per day above it

COLUMNS = (
    "time",
    "account",
    "region",
    "who",
    "from",
    "action",
    "resource",
    "error",
    "why",
    "event_id",
    "link",
)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


def _vendor_js() -> str:
    """The chart library, minus source-map comments (a devtools fetch at view time)."""
    return "\n".join(_SOURCE_MAP.sub("", _asset(f"vendor/{name}")) for name in VENDOR_JS)


def script_json(value: Any) -> str:
    """JSON that cannot end the <script> element it sits in, whatever the strings hold."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# ---- the data behind the page (pure) ---------------------------------------------------


def _bucket(findings: Sequence[Finding]) -> tuple[str, int]:
    """('hour' or 'day', characters of an ISO time that make that bucket)."""
    times = sorted(f.event_time for f in findings if f.event_time)
    if not times:
        return "hour", 13
    try:
        first = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
        last = datetime.fromisoformat(times[-1].replace("Z", "+00:00"))
        hourly = (last - first).days < HOURLY_UP_TO_DAYS
    except ValueError:
        hourly = False
    return ("hour", 13) if hourly else ("day", 10)


def timeline(findings: Sequence[Finding]) -> dict[str, Any]:
    """Denials per hour (or day), stacked by error code."""
    unit, width = _bucket(findings)
    counts: Counter[tuple[str, str]] = Counter()
    for f in findings:
        if f.event_time and len(f.event_time) >= width:
            stamp = f.event_time[:width] + (":00:00Z" if unit == "hour" else "T00:00:00Z")
            counts[(stamp, f.error_code or "?")] += 1
    values = [{"t": t, "code": c, "n": n} for (t, c), n in sorted(counts.items())]
    time_unit = "utcyearmonthdatehours" if unit == "hour" else "utcyearmonthdate"
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": f"Denials per {unit} (UTC), by error code",
        "width": "container",
        "height": 220,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": "t", "type": "temporal", "timeUnit": time_unit, "title": None},
            "y": {"aggregate": "sum", "field": "n", "type": "quantitative", "title": "denials"},
            "color": {"field": "code", "type": "nominal", "title": "error code"},
        },
    }


def top_chart(title: str, counts: Counter[str]) -> dict[str, Any]:
    values = [{"k": k, "n": n} for k, n in counts.most_common(TOP)]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": title,
        "width": "container",
        # a number, not a step per bar: vega-lite warns about "fit" with a discrete height
        "height": 22 * max(3, len(values)),
        "autosize": {"type": "fit-x", "contains": "padding"},
        "data": {"values": values},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {
                "field": "k",
                "type": "nominal",
                "sort": "-x",
                "title": None,
                "axis": {"labelLimit": 260},
            },
            "x": {"field": "n", "type": "quantitative", "title": "denials"},
        },
    }


def charts(findings: Sequence[Finding]) -> dict[str, dict[str, Any]]:
    return {
        "timeline": timeline(findings),
        "principals": top_chart(f"Top {TOP} principals", Counter(who(f) for f in findings)),
        "actions": top_chart(f"Top {TOP} actions", Counter(f.action or "?" for f in findings)),
        "ips": top_chart(f"Top {TOP} source IPs", Counter(f.source_ip or "?" for f in findings)),
    }


def table_data(findings: Sequence[Finding], labels: dict[str, str]) -> dict[str, Any]:
    """The findings column by column, each cell an index into one list of distinct
    strings: ids and times are unique, but principals, actions and codes repeat, and
    this keeps 10,000 findings to about a third of their JSON size."""
    strings: list[str] = []
    index: dict[str, int] = {}

    def ref(value: str) -> int:
        i = index.get(value)
        if i is None:
            i = index[value] = len(strings)
            strings.append(value)
        return i

    rows = []
    for f in findings:
        extra = "".join(
            f"; {label}: {getattr(f, name)}"
            for label, name in OPTIONAL_FIELDS
            if getattr(f, name, None)
        )
        cells = (
            (f.event_time or "").replace("T", " ").removesuffix("Z"),
            account(f, labels),
            f.region or "",
            who(f),
            f.source_ip or "",
            f.action or "",
            f.resource or "",
            f.error_code or "",
            why(f) + extra,
            f.event_id or "",
        )
        # the link column: 0 for none, else 1 + the index of the partition's console host
        host = ref(console_base(f.region)) + 1 if f.console_url and f.region else 0
        rows.append([*map(ref, cells), host])
    return {"columns": COLUMNS, "strings": strings, "rows": rows, "console_path": CONSOLE_PATH}


def page_data(
    findings: Sequence[Finding], labels: dict[str, str], summary: Sequence[str], now: datetime
) -> dict[str, Any]:
    return {
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "summary": list(summary),
        "charts": charts(findings),
        "table": table_data(findings, labels),
    }


def render(
    findings: Sequence[Finding],
    labels: dict[str, str],
    summary: Sequence[str] = (),
    now: datetime | None = None,
) -> str:
    """The whole page. ``summary``: plain-text lines about the scan, shown at the top."""
    data = page_data(findings, labels, summary, now or datetime.now(UTC))
    page = _asset("page.html")
    # the HTML parser turns CR LF and CR into LF before the browser hashes a script
    vendor, app = (_lf(_vendor_js()), _lf(_asset("report.js")))
    parts = {
        "/*SCRIPT_HASHES*/": script_hashes(vendor, app),
        "/*STYLE*/": _asset("report.css"),
        "/*VENDOR*/": vendor,
        "/*APP*/": app,
        "/*DATA*/": script_json(data),
    }
    # one pass: text put in (record strings included) is never searched for markers again
    return _MARKER.sub(lambda m: parts[m.group()], page)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def script_hashes(*scripts: str) -> str:
    """CSP hash sources of the page's scripts: the browser hashes an inline script's text
    exactly as it stands between the tags (UTF-8), so these are of the text put there."""
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'"
        for s in scripts
    )


_MARKER = re.compile(r"/\*(?:SCRIPT_HASHES|STYLE|VENDOR|APP|DATA)\*/")
