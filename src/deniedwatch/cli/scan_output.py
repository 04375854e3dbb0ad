"""`deniedwatch scan`'s output side: where findings are written and how, its warnings,
progress and summary. rich is imported only when something is shown, so a quiet scan
(scripts, CI, the bench) never pays for it (docs/performance.md)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deniedwatch.alerts.text import clean
from deniedwatch.cli._app import err, fail


def escape(text: str) -> str:
    """rich's markup escape, imported only when a message is printed."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def checked_output(output: Path, force: bool, inputs: list[str]) -> Path:
    """The file --output may write (checked before any work), or a one-line error."""
    from deniedwatch.cli.outfile import OutputRefused, refuse_inputs, target
    from deniedwatch.sources.trailfiles import is_s3

    try:
        path = target(output, force=force)
        refuse_inputs(path, (i for i in inputs if not is_s3(i)))
    except OutputRefused as exc:
        fail(escape(str(exc)))
    return path


@dataclass(frozen=True)
class View:
    """How findings are written: the format and what the human formats need."""

    fmt: str
    labels: dict[str, str]
    group: bool | None
    summary: Any
    settings: Any = None  # ocsf: severity from the settings' rules
    suppressed: frozenset[str | None] = frozenset()  # event ids only --include-suppressed adds


def write(view: View, findings: list, output: Path | None) -> None:
    from deniedwatch.cli.outfile import atomic_text

    if output is None:
        try:
            _render(view, findings, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader left; not a finding, not an error
            # Python's advice: stdout to devnull, so the flush at exit cannot fail again
            # (https://docs.python.org/3/library/signal.html#note-on-sigpipe)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    try:
        with atomic_text(output) as out:
            _render(view, findings, out)
    except OSError as exc:  # no permission, no such directory, disk full
        fail(escape(f"--output {output}: {exc.strerror or exc}"))


def _render(view: View, findings: list, out: Any) -> None:
    from deniedwatch import report

    if view.fmt == "table":
        from deniedwatch import termview

        tty = out is sys.stdout and sys.stdout.isatty()
        width = termview.terminal_width(tty, lambda: shutil.get_terminal_size().columns)
        out.write(termview.render(findings, view.labels, width, view.group))
        return
    if view.fmt == "suggest":
        from deniedwatch import suggest

        out.write(suggest.to_toml(suggest.suggest(findings), len(findings)))
        return
    if view.fmt == "html":
        from deniedwatch import htmlreport
        from deniedwatch.summary_text import summary_lines

        out.write(htmlreport.render(findings, view.labels, summary_lines(view.summary)))
        return
    if view.fmt == "ocsf":
        from deniedwatch.report_ocsf import write_for_settings

        write_for_settings(findings, out, view.settings, view.suppressed, view.labels)
        return
    writer = {"jsonl": report.write_jsonl, "json": report.write_json, "csv": report.write_csv}
    writer[view.fmt](findings, out)


BAD_RECORDS_SHOWN = 5  # per file, and files named in the summary; the rest are counted


def problems(result: Any) -> list[str]:
    """A file's warning lines: why it is bad, or which of its records are (by index)."""
    if result.error:
        return [f"{result.location}: {result.error}"]
    lines = [f"{result.location}: {bad}" for bad in result.bad_records[:BAD_RECORDS_SHOWN]]
    if len(result.bad_records) > BAD_RECORDS_SHOWN:
        more = len(result.bad_records) - BAD_RECORDS_SHOWN
        lines.append(f"{result.location}: {more} more bad records")
    return lines


def progress(quiet: bool, total: int) -> Any:
    """rich's progress bar on a terminal (2 files or more), else ``Quiet``."""
    if quiet or total < 2 or not err.is_terminal:
        return Quiet()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeRemainingColumn(),
        console=err.real(),
        transient=True,
    )


def print_summary(summary: Any) -> None:
    from deniedwatch.summary_text import summary_lines

    first, *rest = summary_lines(summary)
    color = "yellow" if summary.bad_input else "default"
    err.print(f"scan: [{color}]{escape(clean(first))}[/]", highlight=False, soft_wrap=True)
    for line in rest:
        err.print(f"  {escape(clean(line))}", highlight=False, soft_wrap=True)


class Quiet:
    """Stands for rich's Status and Progress when nothing is shown."""

    console = err  # warnings still go to stderr

    def __enter__(self) -> Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: object, **kwargs: object) -> None:
        return None

    def add_task(self, *args: object, **kwargs: object) -> int:
        return 0

    def advance(self, *args: object, **kwargs: object) -> None:
        return None


def status(quiet: bool, doing: str) -> Any:
    """rich's spinner with ``doing`` on a terminal, else ``Quiet``."""
    if quiet or not err.is_terminal:
        return Quiet()
    return err.status(doing, spinner="dots")
