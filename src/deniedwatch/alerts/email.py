"""The email: a plain-text summary, published to an SNS topic by ``channels/sns.py``.

Pure. SNS Subject rules: ASCII, no line breaks or control characters, under
100 characters, starting with a letter, number or punctuation. The body says
who, what, why, where and when (``alerts/wording.py``'s rows) with the links,
each record value on its own line and cleaned of control characters so no value
can forge a line.
"""

from __future__ import annotations

from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut, defang

SUBJECT_MAX = 99
VALUE_MAX = 2000


def _ascii(text: str) -> str:
    return defang(clean(text)).encode("ascii", "replace").decode("ascii")


def subject(alert: Alert) -> str:
    account = wording.account(alert.sample.account_id, alert.account_label) or "unknown account"
    times = f" x{alert.total}" if alert.total > 1 else ""
    text = f"[deniedwatch] {wording.title(alert)} in {account}{times}"
    return cut(_ascii(" ".join(text.split())), SUBJECT_MAX).replace("…", "~")


def _line(label: str, value: object, *, ours: bool = False) -> str:
    """One labelled value. Record text is defanged (mail clients turn URLs and host
    names into links); ``ours`` is for the links this tool builds."""
    if value is None or value == "":
        shown = "unknown"
    else:
        shown = clean(value) if ours else defang(clean(value))
        shown = cut(shown, VALUE_MAX)
    return f"  {label + ':':<17} {shown}"


def body(alert: Alert, *, window_minutes: int | None = None) -> str:
    count = wording.denied_calls(alert.count).replace("call", "AWS API call")
    lines = [f"deniedwatch: {count}.", ""]
    if news := alert.news_text():
        lines += [f"{news[0].upper()}{news[1:]}."]
        for label, values, more in alert.new_values():
            shown = ", ".join(cut(defang(clean(v)), VALUE_MAX) for v in values)
            lines.append(f"{label}: {shown}" + (f" and {more} more" if more else ""))
        lines.append("")
    if held := wording.held_back(alert, window_minutes):
        lines += [held, ""]
    section = None
    for row in wording.rows(alert):
        if row.section != section:
            section = row.section
            lines.append(section)
        value = row.value
        if value and row.extra:
            value = f"{clean(value)} ({row.extra})"
        lines.append(_line(row.label, value))
    lines += ["", "LINKS"]
    for x in wording.links(alert):
        lines.append(_line(x.label, x.url, ours=True))
        if x.note:
            lines.append(_line("Note", x.note, ours=True))
    return "\n".join(lines) + "\n"


def digest_subject(digest: Digest) -> str:
    text = f"[deniedwatch] {digest.headline()}"
    return cut(_ascii(" ".join(text.split())), SUBJECT_MAX).replace("…", "~")


def digest_body(digest: Digest) -> str:
    lines = [
        f"deniedwatch: {defang(clean(digest.headline()))} ({digest.listed()}).",
        "",
        wording.digest_why(digest.kind) + ".",
        "",
        _line("Principal", digest.who),
        _line("Account", digest.account),
        _line("Denied calls", digest.count),
        "",
        "ACTIONS",
    ]
    lines += [
        f"  {count:>8}  {cut(defang(clean(action)), VALUE_MAX)}" for action, count in digest.top()
    ]
    return "\n".join(lines) + "\n"
