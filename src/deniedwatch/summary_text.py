"""What a scan did, in plain sentences: the CLI's stderr summary and the HTML page's."""

from __future__ import annotations

from typing import Any


def summary_lines(summary: Any) -> list[str]:
    """Plain text (no markup), the most important line first.

    ``summary`` is a deniedwatch.scan.ScanSummary (Any here: this module is imported
    by renderers that must not pull in the scan machinery)."""
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(summary.skipped.items()))
    suppressed = sum(summary.suppressed.values())
    parts = [
        f"{summary.files} files read" + (f" ({skipped} skipped)" if skipped else ""),
        f"{summary.events} events",
        f"{summary.findings} findings",
        f"{suppressed} suppressed",
    ]
    if summary.bad_files:
        parts.append(f"{len(summary.bad_files)} bad files")
    if summary.bad_records:
        parts.append(f"{summary.bad_records} bad records")
    lines = [", ".join(parts)]
    if summary.files_with_bad_records:
        lines.append("bad records in: " + ", ".join(summary.files_with_bad_records))
    if suppressed:
        detail = ", ".join(f"{rule} {n}" for rule, n in summary.suppressed.most_common())
        lines.append(f"suppressed by: {detail}")
    return lines
