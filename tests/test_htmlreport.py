"""`scan --format html`: the page's data (pure), then the page itself in Debian's headless
Chromium, driven by Playwright: no console message, no request, charts with marks, a
table that filters and sorts, attacker text shown as text. A screenshot is taken each run
(set DW_REPORT_SCREENSHOT=path to keep it, e.g. docs/report.png)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import deniedwatch
from deniedwatch import htmlreport
from deniedwatch.finding import Finding
from dwtest import EXAMPLE_CONFIG, EXAMPLES, CliResult

SAMPLE = json.loads((Path(deniedwatch.__file__).parent / "data" / "sample_record.json").read_text())
EVIL_NAME = '<img src=x onerror="alert(1)">'
EVIL_AGENT = "</script><script>alert(2)</script><!--"


def finding(i: int, **record: Any) -> Finding:
    base = {**SAMPLE, "eventID": f"ev-{i:05d}", "eventTime": f"2026-11-20T{i % 24:02d}:00:00Z"}
    return Finding.from_record({**base, **record})


def test_script_json_cannot_close_its_element_and_still_parses() -> None:
    value = {"a": EVIL_AGENT, "b": "x\u2028y & <!-- -->"}
    text = htmlreport.script_json(value)
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_the_page_is_self_contained_and_has_no_raw_attacker_text() -> None:
    evil = finding(1, userAgent=EVIL_AGENT, userIdentity={"type": "IAMUser", "userName": EVIL_NAME})
    page = htmlreport.render([evil, finding(2)], {}, ["1 files read"])
    assert "default-src 'none'" in page  # the CSP that forbids every fetch
    (csp,) = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and script_src.count("'sha256-") == 2
    assert re.findall(r"<script[^>]*>", page) == [
        '<script id="data" type="application/json">',
        "<script>",
        "<script>",
    ]
    assert not re.search(r"<(?:link|img|iframe)\b", page.split('<script id="data"')[0])
    assert EVIL_NAME not in page and "</script><script>alert" not in page
    assert "sourceMappingURL" not in page
    for name in htmlreport.VENDOR_JS:  # the chart library really is inlined
        head = (Path(htmlreport.__file__).parent / "vendor" / name).read_text()[:200]
        assert head in page


def test_table_data_round_trips_through_the_string_list() -> None:
    findings = [finding(i, sourceIPAddress=f"198.51.100.{i % 3}") for i in range(30)]
    data = htmlreport.table_data(findings, {"111122223333": "prod"})
    cols = data["columns"]
    decoded = [
        {name: data["strings"][i] for name, i in zip(cols[:-1], row[:-1], strict=True)}
        for row in data["rows"]
    ]
    assert [d["event_id"] for d in decoded] == [f.event_id for f in findings]
    assert {d["from"] for d in decoded} == {"198.51.100.0", "198.51.100.1", "198.51.100.2"}
    assert decoded[0]["account"] == "111122223333 (prod)"
    assert len(data["strings"]) < 30 * len(cols) // 2  # repeated values stored once


def test_the_timeline_counts_every_finding_by_hour_or_by_day() -> None:
    hourly = [finding(i) for i in range(24)]
    spec = htmlreport.timeline(hourly)
    assert sum(v["n"] for v in spec["data"]["values"]) == 24
    assert spec["encoding"]["x"]["timeUnit"] == "utcyearmonthdatehours"
    days = [finding(i, eventTime=f"2026-11-{1 + i % 20:02d}T10:00:00Z") for i in range(40)]
    spec = htmlreport.timeline(days)
    assert spec["encoding"]["x"]["timeUnit"] == "utcyearmonthdate"
    assert {v["t"][:10]: v["n"] for v in spec["data"]["values"]}["2026-11-01"] == 2


def test_top_charts_keep_the_ten_largest() -> None:
    counts = Counter({f"k{i}": i for i in range(1, 30)})
    values = htmlreport.top_chart("t", counts)["data"]["values"]
    assert [v["n"] for v in values] == list(range(29, 19, -1))


# ---- in a real browser ------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _hostile_tree(tmp_path: Path) -> Path:
    """The sample export plus one file of records whose text tries to become markup."""
    tree = tmp_path / "trail"
    shutil.copytree(EXAMPLES, tree)
    records = [
        {
            **SAMPLE,
            "eventID": f"evil-{i}",
            "userAgent": EVIL_AGENT,
            "userIdentity": {"type": "IAMUser", "userName": EVIL_NAME, "accountId": "1"},
            "awsRegion": "evil.example/#" if i == 0 else "eu-west-1",
        }
        for i in range(3)
    ]
    target = tree / "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20"
    target.mkdir(parents=True, exist_ok=True)
    name = "111122223333_CloudTrail_eu-west-1_20261120T1200Z_evil.json.gz"
    (target / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return tree


@pytest.fixture(scope="module")
def browser() -> Any:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root (CI) needs it
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


def test_the_report_in_headless_chromium(browser: Any, cli: Any, tmp_path: Path) -> None:
    # locators and expect() only: the page's CSP (no eval) also stops evaluate() strings
    from playwright.sync_api import expect

    tree = _hostile_tree(tmp_path)
    page_file = tmp_path / "report.html"
    result: CliResult = cli("scan", tree, "--config", EXAMPLE_CONFIG, "-f", "html", "-o", page_file)
    assert result.exit_code == 0, result.stderr
    jsonl = tmp_path / "all.jsonl"
    assert cli("scan", tree, "--config", EXAMPLE_CONFIG, "-f", "jsonl", "-o", jsonl).exit_code == 0
    expected = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert 20 < len(expected) < 500

    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    messages: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(page_file.as_uri())

    # charts: SVG with marks, as many bars as the data has
    page.wait_for_selector("#timeline svg .mark-rect path", timeout=15_000)
    assert page.locator("#timeline svg .mark-rect path").count() > 0
    principals = Counter(f"{f['principal_name']} ({f['principal_type']})" for f in expected)
    for chart, distinct in (
        ("principals", len(principals)),
        ("actions", len({f["action"] for f in expected})),
        ("ips", len({f["source_ip"] for f in expected})),
    ):
        page.wait_for_selector(f"#{chart} svg .mark-rect path")
        assert page.locator(f"#{chart} svg .mark-rect path").count() == min(10, distinct)

    # the table: every finding, then filtered, then sorted
    rows = page.locator("#table tbody tr")
    assert rows.count() == len(expected)
    assert page.inner_text("#shown") == f"{len(expected)} of {len(expected)} findings"
    page.fill("#filter", "MALLORY")  # case-insensitive
    mallory = [f for f in expected if "mallory" in (f["principal_name"] or "")]
    expect(rows).to_have_count(len(mallory))
    assert all("mallory" in t for t in rows.all_inner_texts())
    page.fill("#filter", EVIL_NAME)  # the attacker's markup is found as text, not run
    expect(rows).to_have_count(3)
    assert EVIL_NAME in rows.first.inner_text()
    assert page.locator("#table img").count() == 0
    page.fill("#filter", "")
    expect(rows).to_have_count(len(expected))
    page.click("#table th[data-col=error]")
    codes = page.locator("#table tbody tr td:nth-child(8)").all_inner_texts()
    assert codes == sorted(f["error_code"] for f in expected)
    page.click("#table th[data-col=error]")
    codes = page.locator("#table tbody tr td:nth-child(8)").all_inner_texts()
    assert codes == sorted((f["error_code"] for f in expected), reverse=True)

    # links: the console URL each finding carries; none where the region is not a region
    links = {a.inner_text(): a.get_attribute("href") for a in page.locator("#table tbody a").all()}
    for f in expected:
        assert links.get(f["event_id"]) == f["console_url"]

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 20_000
    if keep := os.environ.get("DW_REPORT_SCREENSHOT"):
        shutil.copyfile(shot, keep)
    print(f"screenshot: {shot} ({datetime.now(UTC):%H:%M:%S})")
    page.close()

    assert messages == []
    assert dialogs == []
    assert requests == [page_file.as_uri()]  # the page itself, nothing else


def test_an_inline_script_that_is_not_the_pages_own_does_not_run(
    browser: Any, tmp_path: Path
) -> None:
    """The CSP allows the page's two scripts by hash, not every inline script: markup that
    ever slips into the page (a future rendering bug) cannot run, while the charts draw."""
    page_html = htmlreport.render([finding(i) for i in range(5)], {}, ["5 findings"])
    injected = "<script>document.title = 'pwned'</script>"
    page_file = tmp_path / "report.html"
    page_file.write_text(page_html.replace("</main>", injected + "</main>"), encoding="utf-8")
    page = browser.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(page_file.as_uri())
    page.wait_for_selector("#timeline svg .mark-rect path", timeout=15_000)  # ours ran
    assert page.locator("#table tbody tr").count() == 5
    assert page.title() == "deniedwatch scan report"  # the injected one did not
    # Chromium's words vary by version ("Refused to execute inline script…", "Executing
    # inline script violates…"): the CSP's report of the blocked script, either way
    assert any("Content Security Policy" in m and "script-src" in m for m in messages), messages
    page.close()
