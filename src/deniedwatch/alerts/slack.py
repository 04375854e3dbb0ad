"""Slack Block Kit rendering: the one place that writes Slack text (webhook and app).

Pure. The words come from ``alerts/wording.py``; every string that came from a
record goes through ``text.literal`` (escaped ``&``, ``<``, ``>``; inline code
so ``*`` and URLs stay plain) or into a ``plain_text`` object, and every text
object is cut to Block Kit's limits. Links are built only from URLs we made,
percent-encoded. Delivery lives in ``alerts/channels/slack.py`` (webhook) and
``alerts/channels/slack_app.py`` (Web API, threads).
"""

from __future__ import annotations

from typing import Any

from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.text import clean, cut, escape_mrkdwn, literal, plain

# Block Kit limits (Slack's reference for blocks and composition objects).
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BLOCKS_MAX = 50
FALLBACK_TEXT_MAX = 3000  # Slack allows 40,000; a notification needs far less

# Rows shown elsewhere than in the fields block: the summary says when, and the
# error message gets its own quoted section.
_NOT_FIELDS = {"Error message", "When", *wording.EXPLANATION_LABELS}
# Caps of the explanation's rows in their own section (policy ARN, endpoint, next step).
_DETAIL_MAX = {"Denying policy": 900, "VPC endpoint": 200, "Next step": 1500}


def link(url: str | None, label: str) -> str | None:
    """``<url|label>`` for a URL we built; None for anything that is not plain http(s)."""
    safe = wording.safe_url(url)
    if safe is None:
        return None
    safe_url = escape_mrkdwn(safe)
    safe_label = escape_mrkdwn(clean(label)).replace("|", "¦")
    return f"<{safe_url}|{safe_label}>"


def _field(row: wording.Row) -> dict[str, str]:
    """A section field: our bold label, then the record's value as literal text."""
    head = f"*{row.label}*\n"
    tail = f"\n_{row.extra}_" if row.extra else ""
    if row.value is None or row.value == "":
        body = "_unknown_"
    else:
        body = literal(row.value, FIELD_TEXT_MAX - len(head) - len(tail))
    return {"type": "mrkdwn", "text": head + body + tail}


def header_text(alert: Alert, count: int | None = None) -> str:
    """The header block: the shared first line (``wording.headline``) in 150 characters."""
    n = alert.count if count is None else count
    return "🚫 " + wording.headline(alert, HEADER_MAX - 3, wording.count_tail(n))


def fallback_text(alert: Alert, count: int | None = None) -> str:
    """The notification text (the push preview, shown where blocks are not): the same
    first line, plain, with no mrkdwn formatting from record text."""
    n = alert.count if count is None else count
    tail = wording.count_tail(n)
    return wording.within(
        lambda k: plain("🚫 " + wording.headline(alert, k - 3, tail)), FALLBACK_TEXT_MAX
    )


def _summary(alert: Alert, window_minutes: int | None) -> str:
    lines = [
        f"*{wording.denied_calls(alert.count)}* in this batch, "
        f"{literal(wording.when(alert), 200)} (UTC)"
    ]
    if news := alert.news_text():
        lines.append(f"*{news[0].upper()}{news[1:]}.*")
        lines += _new_values(alert)
    if held := wording.held_back(alert, window_minutes):
        lines.append(f"_{held}_")
    return cut("\n".join(lines), SECTION_TEXT_MAX)


def _new_values(alert: Alert) -> list[str]:
    """``*New resources:* `prod-payroll`, `x` and 3 more``: record text as literals."""
    return [
        f"*{label}:* "
        + ", ".join(literal(v, 300) for v in values)
        + (f" and {more} more" if more else "")
        for label, values, more in alert.new_values()
    ]


def _details(alert: Alert) -> str | None:
    """Denying policy ARN, VPC endpoint and the next step: record text, as literals."""
    rows = wording.explanation(alert.sample)
    text = "\n".join(f"*{label}* {literal(v, _DETAIL_MAX[label])}" for label, v in rows if v)
    return text or None


def _link_with_note(x: wording.Link) -> str | None:
    shown = link(x.url, x.label)
    return f"{shown} _({escape_mrkdwn(x.note)})_" if shown and x.note else shown


def _links(alert: Alert) -> str | None:
    found = wording.links(alert)
    main = [_link_with_note(x) for x in found if x.example is None]
    examples = [e for x in found if x.example is not None if (e := link(x.url, x.example))]
    text = " · ".join(p for p in main if p)
    if examples:
        text += ("\n" if text else "") + "Other examples: " + ", ".join(examples)
    # Never cut inside a link: drop whole examples until it fits.
    while len(text) > SECTION_TEXT_MAX and examples:
        examples.pop()
        text = text.rsplit("\n", 1)[0] + ("\nOther examples: " + ", ".join(examples))
    return text if text and len(text) <= SECTION_TEXT_MAX else None


def render(
    alert: Alert,
    *,
    slack_channel: str | None = None,
    window_minutes: int | None = None,
) -> dict[str, Any]:
    """The message for one alert: ``text`` fallback plus Block Kit ``blocks``."""
    f = alert.sample
    rows = wording.rows(alert)
    fields = [_field(r) for r in rows if r.label not in _NOT_FIELDS][:FIELDS_MAX]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text(alert)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _summary(alert, window_minutes)},
        },
        {"type": "section", "fields": fields},
    ]
    if f.error_message:
        quote_text = "*Error message*\n>" + literal(f.error_message, SECTION_TEXT_MAX - 20)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": quote_text}})
    if details := _details(alert):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": details}})
    if links := _links(alert):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
    context = "deniedwatch"
    if slack_channel:
        context += f" · {escape_mrkdwn(cut(clean(slack_channel), 80))}"
    if window_minutes:
        context += f" · repeats of this alert are held back for {window_minutes} min"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": fallback_text(alert), "blocks": blocks[:BLOCKS_MAX]}


def render_repeat(alert: Alert, story: wording.Story | None = None) -> dict[str, Any]:
    """A thread reply for repeats of a posted alert: one line, the group's whole story so
    far (every denial since the first alert, and since when: the parent is never edited),
    what is new (if anything), and the event links."""
    line = f"🔁 *{wording.more_calls(alert.count)}*, {literal(wording.when(alert), 200)} (UTC)"
    if story is not None and story.total > alert.count:
        since = wording.span_seconds(story.first_time, alert.last_time or story.last_time)
        line += f" · *{wording.denied_calls(story.total)}* in all" + (
            f", {literal(since, 200)}" if since else ""
        )
    if news := alert.news_text():
        line += "\n🆕 " + "\n".join([f"*{news[0].upper()}{news[1:]}.*", *_new_values(alert)])
    if held := wording.held_back(alert, None):
        line += f"\n_{held}_"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(line, SECTION_TEXT_MAX)}}
    ]
    if links := _links(alert):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
    text = f"{wording.more_calls(alert.count)}: {wording.when(alert)}"
    return {"text": plain(cut(text, FALLBACK_TEXT_MAX)), "blocks": blocks}


def render_digest(digest: Digest, *, slack_channel: str | None = None) -> dict[str, Any]:
    """The message for a digest: who, how many, when, the top actions; all counted."""
    icon = "🧾 " if digest.kind == "budget" else "⏳ "
    header = icon + wording.digest_headline(digest, HEADER_MAX - len(icon))
    intro = (
        f"*{wording.denied_calls(digest.count)}* by {literal(digest.who, 400)} in "
        f"{literal(digest.account, 200)} ({escape_mrkdwn(digest.listed())}):"
    )
    rows = [f"• {literal(action, 200)} × {count}" for action, count in digest.top()]
    listing = intro + "\n" + "\n".join(rows)
    found = [link(x.url, x.label) for x in wording.digest_links(digest)]
    links = " · ".join(x for x in found if x)
    context = f"deniedwatch · {wording.digest_why(digest.kind).lower()}"
    if slack_channel:
        context += f" · {escape_mrkdwn(cut(clean(slack_channel), 80))}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(listing, SECTION_TEXT_MAX)}},
    ]
    if links and len(links) <= SECTION_TEXT_MAX:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    text = wording.within(
        lambda k: plain(icon + wording.digest_headline(digest, k - len(icon))), FALLBACK_TEXT_MAX
    )
    return {"text": text, "blocks": blocks}
