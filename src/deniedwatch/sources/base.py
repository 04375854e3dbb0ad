"""What every scan source shares: the filters, one unit's result, the summary, the
protocol, and ``scan_records`` (records -> findings through the rules and filters).

Below the sources (files, Athena) so each can build its results without importing the
runner in ``scan.py``, which sits above them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from deniedwatch.finding import Finding
from deniedwatch.rules import Ruleset, Verdict
from deniedwatch.sources import trailfiles
from deniedwatch.sources.recover import BadItem
from deniedwatch.sources.trailfiles import PathFilter


@dataclass(frozen=True)
class FindingFilter:
    """Exact filters on findings, applied after the path-level pruning."""

    since: datetime | None = None
    until: datetime | None = None
    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def wants(self, f: Finding) -> bool:
        return self.left_out_by(f) is None

    def left_out_by(self, f: Finding) -> str | None:
        """The filter that leaves ``f`` out ('--account', '--region', '--since/--until'),
        or None: the summary names the filter, so an empty result says why."""
        if self.accounts and f.account_id not in self.accounts:
            return "--account"
        if self.regions and f.region not in self.regions:
            return "--region"
        if self.since or self.until:
            when = _parse_time(f.event_time)
            if when is None:
                return None  # never hide a denial because its time is unreadable
            if (self.since and when < self.since) or (self.until and when > self.until):
                return "--since/--until"
        return None

    def outside(self, times: list[str]) -> int:
        """How many of these eventTimes fall outside since/until (ISO text compared as
        text: CloudTrail writes every eventTime as YYYY-MM-DDTHH:MM:SSZ)."""
        low = _iso(self.since)
        high = _iso(self.until)
        if low is None and high is None:
            return 0
        return sum(1 for t in times if (low and t < low) or (high and t > high))

    def path_filter(self) -> PathFilter:
        return PathFilter(
            since=self.since.date() if self.since else None,
            until=self.until.date() if self.until else None,
            accounts=self.accounts,
            regions=self.regions,
        )


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # CloudTrail times are UTC; one without an offset must still compare with --since
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class FileResult:
    """What one unit of a source gave: a log file, or a page of query results."""

    location: str
    events: int = 0
    findings: list[Finding] = field(default_factory=list)
    suppressed: Counter[str] = field(default_factory=Counter)
    suppressed_findings: list[Finding] = field(default_factory=list)
    bad_records: list[BadItem] = field(default_factory=list)  # by index in the file
    error: str | None = None
    format: str = trailfiles.CLOUDTRAIL
    first_time: str | None = None  # the range of eventTime over all the file's records
    last_time: str | None = None
    outside_window: int = 0  # records outside --since/--until
    filtered_out: int = 0  # denials the filters (time, account, region) left out
    filtered_by: Counter[str] = field(default_factory=Counter)  # ... per filter


def scan_records(
    records: Iterable[Any],
    result: FileResult,
    ruleset: Ruleset,
    wanted: FindingFilter,
    include_suppressed: bool = False,
) -> FileResult:
    """Records -> findings into ``result``: the rules and filters every source shares."""
    evaluate = ruleset.evaluate
    for record in records:
        detection = evaluate(record)
        if detection.verdict is Verdict.NOT_DENIED:
            continue
        finding = detection.finding
        assert finding is not None
        if (why := wanted.left_out_by(finding)) is not None:
            result.filtered_out += 1
            result.filtered_by[why] += 1
            continue
        if detection.verdict is Verdict.SUPPRESSED:
            result.suppressed[detection.suppressed_by or "?"] += 1
            if include_suppressed:
                result.suppressed_findings.append(finding)
        else:
            result.findings.append(finding)
    return result


@dataclass
class ScanSummary:
    files: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    events: int = 0
    findings: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    bad_records: int = 0
    files_with_bad_records: list[str] = field(default_factory=list)
    formats: Counter[str] = field(default_factory=Counter)  # files read in each shape
    first_time: str | None = None
    last_time: str | None = None
    outside_window: int = 0
    filtered_out: int = 0
    filtered_by: Counter[str] = field(default_factory=Counter)  # denials left out per filter
    pruned_days: tuple[date, date] | None = None  # the path dates of files not read
    pruned_by: Counter[str] = field(default_factory=Counter)  # files not read, per filter
    duplicates: int = 0  # findings dropped: the same eventID, account and region again

    def note_pruned(self, location: str, why: str = "--since/--until") -> None:
        """A file left unread for the date, account or region in its path."""
        self.pruned_by[why] += 1
        day = trailfiles.path_info(location).day
        if day and why == "--since/--until":
            low, high = self.pruned_days or (day, day)
            self.pruned_days = (min(low, day), max(high, day))

    def add(self, result: FileResult) -> None:
        self.files += 1
        if not result.error:
            self.formats[result.format] += 1
        if result.first_time and (not self.first_time or result.first_time < self.first_time):
            self.first_time = result.first_time
        if result.last_time and (not self.last_time or result.last_time > self.last_time):
            self.last_time = result.last_time
        self.outside_window += result.outside_window
        self.filtered_out += result.filtered_out
        self.filtered_by.update(result.filtered_by)
        if result.error:
            self.bad_files.append((result.location, result.error))
        self.events += result.events
        self.findings += len(result.findings)
        self.suppressed.update(result.suppressed)
        if result.bad_records:
            self.bad_records += len(result.bad_records)
            self.files_with_bad_records.append(result.location)

    @property
    def bad_input(self) -> bool:
        return bool(self.bad_files or self.bad_records)


class Source(Protocol):
    """Where a scan's records come from. Each source yields FileResults built by
    scan_records, so every source shares the rules, the filters and the Finding; a new
    source (CloudTrail Lake, a data lake) is one module with these two methods."""

    def prepare(self, summary: ScanSummary) -> int | None:
        """Find the work (list files, run a query); how many results follow, if known."""
        ...

    def results(self) -> Iterator[FileResult]:
        """The outcome, unit by unit (a file, a page of rows)."""
        ...
