"""The email: a plain-text summary, published to an SNS topic by ``channels/sns.py``.

Pure. SNS Subject rules: "UTF-8 text with no line breaks or control characters, and
less than 100 characters long" (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html),
so the subject is the shared first line (``wording.headline``: account, person, action
first) cut to 99 characters. The body says who, what, why, where and when
(``alerts/wording.py``'s rows) with the links, each record value on its own line and
cleaned of control characters so no value can forge a line. ARNs and addresses are
shown exactly (evidence); URLs and host names from record text are defanged.
"""

from __future__ import annotations

from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut_value, defang, defang_urls

SUBJECT_MAX = 99
VALUE_MAX = 2000
PREFIX = "[deniedwatch] "


def _subject(text: str) -> str:
    """One line (no control characters; the ellipsis is UTF-8, which SNS accepts), with
    nothing a mail client would make a link of (a scheme, ``www.``)."""
    return " ".join(defang_urls(clean(text)).split())


def subject(alert: Alert) -> str:
    tail = f"x{alert.total}" if alert.total > 1 else None
    return wording.within(
        lambda n: _subject(PREFIX + wording.headline(alert, n - len(PREFIX), tail)), SUBJECT_MAX
    )


def _line(label: str, value: object, *, ours: bool = False) -> str:
    """One labelled value. Record text is defanged (mail clients turn URLs and host
    names into links); ``ours`` is for the links this tool builds."""
    if value is None or value == "":
        shown = "unknown"
    else:
        shown = clean(value) if ours else defang(clean(value))
        shown = cut_value(shown, VALUE_MAX)
    return f"  {label + ':':<17} {shown}"


def body(alert: Alert, *, window_minutes: int | None = None) -> str:
    count = wording.denied_calls(alert.count).replace("call", "AWS API call")
    lines = [f"deniedwatch: {count}.", ""]
    if news := alert.news_text():
        lines += [f"{news[0].upper()}{news[1:]}."]
        for label, values, more in alert.new_values():
            shown = ", ".join(cut_value(defang(clean(v)), VALUE_MAX) for v in values)
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
    return wording.within(
        lambda n: _subject(PREFIX + wording.digest_headline(digest, n - len(PREFIX))), SUBJECT_MAX
    )


def digest_body(digest: Digest) -> str:
    lines = [
        f"deniedwatch: {defang(wording.digest_headline(digest))} ({digest.listed()}).",
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
        f"  {count:>8}  {cut_value(defang(clean(action)), VALUE_MAX)}"
        for action, count in digest.top()
    ]
    found = wording.digest_links(digest)
    if found:
        lines += ["", "LINKS", *(_line(x.label, x.url, ours=True) for x in found)]
    return "\n".join(lines) + "\n"
