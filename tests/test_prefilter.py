"""The byte test that lets the scan skip a file's parse is exactly as strict as the parse.

The property: for every file, however it is written, the scan gives the same findings
(and the same suppressed ones) with the skip as with ``--parse-all``; and a file the
byte test calls clean holds no denial when parsed. Checked over 10,000 hostile files
(tests/hostile_json.py: escaped keys and values, whitespace, planted and nested
errorCodes, duplicate keys, every file shape the scan reads, extra and ignored codes).
"""

from __future__ import annotations

import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deniedwatch.prefilter import byte_test, finder
from deniedwatch.rules import DenialRule, build_ruleset
from deniedwatch.scan import FileResult, FindingFilter, scan_bytes
from deniedwatch.sources import trailfiles
from deniedwatch.sources.trailfiles import BadFile
from hostile_json import hostile_file

FILES = 10_000


def _outcome(result: FileResult) -> tuple[object, ...]:
    return (
        [f.to_dict() for f in result.findings],
        [f.to_dict() for f in result.suppressed_findings],
        dict(result.suppressed),
        result.filtered_out,
    )


def _denials_when_parsed(data: bytes, rule: DenialRule) -> int:
    try:
        records = trailfiles.decode_records(data)
    except BadFile:
        return 0
    return sum(1 for r in records if rule.is_denial(r.get("errorCode")))


def _check(seed: int) -> None:
    hostile = hostile_file(seed)
    ruleset = build_ruleset(extra_codes=hostile.extra_codes, ignored_codes=hostile.ignored_codes)
    wanted = FindingFilter()
    parsed = scan_bytes(hostile.data, "f.json", ruleset, wanted, True, parse_all=True)
    skipped = scan_bytes(hostile.data, "f.json", ruleset, wanted, True, parse_all=False)
    assert _outcome(skipped) == _outcome(parsed), f"seed {seed}"
    if skipped.estimated:  # the file was not parsed: the parse finds no denial in it
        assert _denials_when_parsed(hostile.data, ruleset.denial) == 0, f"seed {seed}"
    else:
        assert skipped.events == parsed.events and skipped.error == parsed.error


def test_the_skip_gives_the_same_findings_as_the_parse_over_10000_files() -> None:
    """The same 10,000 hostile files every run (seeds 0..9,999): a failure names its seed."""
    for seed in range(FILES):
        _check(seed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=FILES, max_value=2**32))
def test_the_skip_gives_the_same_findings_as_the_parse_on_new_seeds(seed: int) -> None:
    """And a few hundred more each run, beyond the fixed ones."""
    _check(seed)


def test_the_hostile_files_do_reach_the_skip_and_fool_a_naive_search() -> None:
    """The generator is hostile enough to catch a byte test that only looked for the
    literal text: among its files some are skipped, and some hold a denial that only an
    escape-aware test finds (a literal search would have skipped them)."""
    skipped = fooled = 0
    rule_of = {}
    for seed in range(2000):
        hostile = hostile_file(seed)
        rule = rule_of.setdefault(
            (hostile.extra_codes, hostile.ignored_codes),
            DenialRule(hostile.extra_codes, hostile.ignored_codes),
        )
        try:
            text = trailfiles.inflate(hostile.data)
        except BadFile:
            continue
        if not byte_test(rule).may_hold_denial(text):
            skipped += 1
        elif b"errorCode" not in text and _denials_when_parsed(hostile.data, rule):
            fooled += 1
    assert skipped > 200
    assert fooled > 5


def _file(*records: str) -> bytes:
    return ('{"Records":[' + ",".join(records) + "]}").encode()


REC = '{"eventVersion":"1.10","eventTime":"2026-10-01T00:00:00Z","eventID":"e1",%s}'


@pytest.mark.parametrize(
    ("body", "maybe"),
    [
        (REC % '"errorCode":"NoSuchKey"', False),
        (REC % '"errorCode":"AccessDenied"', True),
        (REC % '"errorCode" :\n\t"Client.UnauthorizedOperation"', True),
        (REC % '"\\u0065rrorCode":"NoSuchKey"', True),  # an escaped key: doubt
        (REC % '"errorCode":"Access\\u0044enied"', True),  # an escaped value: doubt
        (REC % '"errorCode":"Throttling\\u00e9"', True),
        (REC % '"errorCode":null', False),
        (REC % '"errorCode":{"x":"AccessDenied"}', False),  # not a string: never a denial
        (REC % '"userAgent":"errorCodes are fun"', False),
        (REC % '"note":"\\"errorCode\\":\\"AccessDenied\\""', True),  # planted: parsed
        (REC % '"note":"x \\u003d y"', False),  # an escape no key or code can use
        (REC % '"errorCode":"AccessDenied', True),  # the text ends inside the value
    ],
)
def test_byte_test_cases(body: str, maybe: bool) -> None:
    assert byte_test(DenialRule()).may_hold_denial(_file(body)) is maybe


def test_settings_codes_move_the_line() -> None:
    text = _file(REC % '"errorCode":"InvalidClientTokenId"')
    assert not byte_test(DenialRule()).may_hold_denial(text)
    assert byte_test(DenialRule(frozenset({"InvalidClientTokenId"}))).may_hold_denial(text)


def test_a_utf16_file_is_always_parsed() -> None:
    text = _file(REC % '"errorCode":"AccessDenied"').decode().encode("utf-16")
    assert byte_test(DenialRule()).may_hold_denial(text)


def test_finder_is_bytes_find() -> None:
    text = b"abc errorCode x errorCode"
    find = finder(text)
    for start in (0, 1, 4, 5, 16, 17, len(text), len(text) + 3):
        assert find(b"errorCode", start) == text.find(b"errorCode", start)


def test_a_scan_says_which_figures_are_estimated(tmp_path) -> None:
    """Files with no denial code are counted as unparsed, and the summary says so."""
    from deniedwatch.scan import ScanRequest, ScanSummary, discover, run
    from deniedwatch.summary_text import summary_lines

    clean = _file(REC % '"errorCode":"NoSuchKey"')
    denied = _file(REC % '"errorCode":"AccessDenied"')
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(clean))
    (tmp_path / "b.json").write_bytes(denied)
    for parse_all, parsed_events in ((False, 1), (True, 2)):
        request = ScanRequest((str(tmp_path),), jobs=1, parse_all=parse_all)
        summary = ScanSummary()
        ruleset = build_ruleset(default_suppressions=False)
        for result in run(request, ruleset, discover(request, lambda: None, summary), None):
            summary.add(result)
        assert summary.events == parsed_events
        assert summary.findings == 1
        assert summary.first_time == "2026-10-01T00:00:00Z"
        text = "\n".join(summary_lines(summary))
        assert ("not parsed" in text) is not parse_all
