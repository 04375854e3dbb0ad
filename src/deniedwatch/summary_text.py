"""What a scan did, in plain sentences: the CLI's stderr summary and the HTML page's."""

from __future__ import annotations

from typing import Any

from deniedwatch.sources.trailfiles import CLOUDTRAIL

FILES_NAMED = 5  # files with bad records named in the summary; each has its warnings


def _n(count: int, noun: str) -> str:
    """'1 file', '2 files', '0 files'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _t(value: str | None) -> str:
    return (value or "?").replace("T", " ").removesuffix("Z") + " UTC"


def summary_lines(summary: Any) -> list[str]:
    """Plain text (no markup), the most important line first.

    ``summary`` is a deniedwatch.scan.ScanSummary (Any here: this module is imported
    by renderers that must not pull in the scan machinery)."""
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items()))
    suppressed = sum(summary.suppressed.values())
    parts = [
        _n(summary.files, "file") + " read" + (f" ({skipped} skipped)" if skipped else ""),
        _n(summary.events, "event"),
        _n(summary.findings, "finding"),
        f"{suppressed} suppressed",
    ]
    if summary.bad_files:
        parts.append(_n(len(summary.bad_files), "bad file"))
    if summary.bad_records:
        parts.append(_n(summary.bad_records, "bad record"))
    lines = [", ".join(parts)]
    if summary.first_time:
        lines.append(
            f"the events read are from {_t(summary.first_time)} to {_t(summary.last_time)}"
        )
    if summary.pruned_days:
        low, high = summary.pruned_days
        span = f"{low}" if low == high else f"{low} to {high}"
        lines.append(f"files left unread by the filters are dated {span} in their paths")
    if summary.outside_window:
        lines.append(
            f"{summary.outside_window} of {summary.events} events are outside --since/--until"
        )
    for why, n in sorted(getattr(summary, "pruned_by", {}).items()):
        if why != "--since/--until":  # the dates have their own line above
            lines.append(f"{_n(n, 'file')} left unread by {why} (named in their paths)")
    by = getattr(summary, "filtered_by", None) or {"the filters": summary.filtered_out}
    for why, n in sorted(by.items()):
        if n:
            lines.append(f"{_n(n, 'denial')} left out by {why}")
    if dup := getattr(summary, "duplicates", 0):
        lines.append(f"{_n(dup, 'duplicate')} dropped (the same eventID, account and region)")
    unusual = {f: n for f, n in summary.formats.items() if f != CLOUDTRAIL}
    if unusual:
        read_as = ", ".join(
            f"{n} {'file' if n == 1 else 'files'} as {f}" for f, n in unusual.items()
        )
        lines.append(f"read {read_as}")
    if summary.files_with_bad_records:
        named = summary.files_with_bad_records
        more = f" and {len(named) - FILES_NAMED} more" if len(named) > FILES_NAMED else ""
        lines.append("bad records in: " + ", ".join(named[:FILES_NAMED]) + more)
    if suppressed:
        detail = ", ".join(f"{rule} {n}" for rule, n in summary.suppressed.most_common())
        lines.append(f"suppressed by: {detail}")
    return lines
