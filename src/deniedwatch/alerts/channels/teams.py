"""Destination type ``teams``: a Microsoft Teams Workflows webhook and an Adaptive Card.

Office 365 connectors are retired; a Teams Workflows "post to a channel when a
webhook request is received" flow takes ``{"type": "message", "attachments":
[{"contentType": "application/vnd.microsoft.card.adaptive", "content": CARD}]}``
and answers 202 (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format).

Escaping: TextBlock and FactSet text is Markdown in Teams (bold, italic, lists,
``[links](url)``), so record text never goes there. It goes into the
``TextRun``s of a ``RichTextBlock``, which Adaptive Cards never parse as
Markdown (https://learn.microsoft.com/adaptive-cards/create/textfeatures), and
no ``msteams.entities`` are sent, so ``<at>…</at>`` cannot mention anyone. Text
is cleaned of control and invisible characters and cut to a size; links are
``Action.OpenUrl`` buttons with URLs we built.
"""

from __future__ import annotations

import json
from typing import Any

from deniedwatch.alerts import wording
from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.channels.base import (
    ChannelType,
    Context,
    DeliveryFailed,
    Destination,
    ThreadRef,
)
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.retry import Unreachable, post_json
from deniedwatch.alerts.text import answer_excerpt, clean, cut_value
from deniedwatch.secrets import SecretError, check_url, redact, url_problem

CARD_VERSION = "1.4"
TITLE_MAX = 200
VALUE_MAX = 500
MESSAGE_MAX = 1500
ACTIONS_MAX = 6  # Teams shows about six buttons in a row
# "The message size limit is 28 KB. When the size exceeds 28 KB, you receive an error"
# (https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook);
# the Workflows connector says the same ("Request Entity too large"). ``fitted`` keeps under it.
PAYLOAD_MAX = 28 * 1024


def _run(text: str, limit: int, **style: Any) -> dict[str, Any]:
    """Record text as a TextRun: never parsed as Markdown; cleaned and cut (an
    identifier such as an ARN in the middle, so the object's name stays)."""
    return {"type": "TextRun", "text": cut_value(clean(text), limit), **style}


def _ours(text: str, **style: Any) -> dict[str, Any]:
    """Our own words (no record text) as a Markdown TextBlock."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _row(row: wording.Row) -> dict[str, Any]:
    value: list[dict[str, Any]]
    if row.value is None or row.value == "":
        value = [{"type": "TextRun", "text": "unknown", "italic": True}]
    else:
        limit = MESSAGE_MAX if row.label == "Error message" else VALUE_MAX
        value = [_run(row.value, limit, fontType="Monospace")]
    if row.extra:
        value.append({"type": "TextRun", "text": f" ({row.extra})", "italic": True})
    return {
        "type": "ColumnSet",
        "columns": [
            {"type": "Column", "width": 2, "items": [_ours(row.label, weight="Bolder")]},
            {"type": "Column", "width": 5, "items": [{"type": "RichTextBlock", "inlines": value}]},
        ],
    }


def render(
    alert: Alert, *, window_minutes: int | None = None, slack_channel: str | None = None
) -> dict[str, Any]:
    """The webhook body for one alert: an Adaptive Card with who/what/why/where/when."""
    summary = [
        {"type": "TextRun", "text": wording.denied_calls(alert.count), "weight": "Bolder"},
        {"type": "TextRun", "text": " in this batch, "},
        _run(wording.when(alert), 100),
        {"type": "TextRun", "text": " (UTC)"},
    ]
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [
                {
                    "type": "TextRun",
                    "text": "🚫 "
                    + wording.headline(alert, TITLE_MAX - 3, wording.count_tail(alert.count)),
                    "size": "Large",
                    "weight": "Bolder",
                }
            ],
        },
        {"type": "RichTextBlock", "inlines": summary},
    ]
    if held := wording.held_back(alert, window_minutes):
        body.append(_ours(held, isSubtle=True))
    section = None
    for row in wording.rows(alert):
        if row.label == "When":
            continue
        if row.section != section:
            section = row.section
            body.append(_ours(section, weight="Bolder", color="Accent", spacing="Medium"))
        body.append(_row(row))
    for x in wording.links(alert):
        if x.note:  # ours (why the console page may not show it), as plain text
            note = {"type": "TextRun", "text": f"{x.label}: {x.note}", "isSubtle": True}
            body.append({"type": "RichTextBlock", "inlines": [note]})
    context = "deniedwatch"
    if window_minutes:
        context += f" · repeats of this alert are held back for {window_minutes} min"
    body.append(_ours(context, isSubtle=True, size="Small"))
    actions = [
        {"type": "Action.OpenUrl", "title": x.label, "url": x.url}
        for x in wording.links(alert)
        if x.url.startswith("https://")
    ][:ACTIONS_MAX]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return _message(card)


def render_digest(digest: Digest) -> dict[str, Any]:
    """A digest card: who, how many, the top actions (record text in TextRuns only)."""
    icon = "🧾 " if digest.kind == "budget" else "⏳ "
    title = icon + wording.digest_headline(digest, TITLE_MAX - len(icon))
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": title, "size": "Large", "weight": "Bolder"}],
        },
        {
            "type": "RichTextBlock",
            "inlines": [
                {
                    "type": "TextRun",
                    "text": wording.denied_calls(digest.count),
                    "weight": "Bolder",
                },
                {"type": "TextRun", "text": " by "},
                _run(digest.who, 400, fontType="Monospace"),
                {"type": "TextRun", "text": " in "},
                _run(digest.account, 200),
                {"type": "TextRun", "text": f" ({digest.listed()})"},
            ],
        },
    ]
    for action, count in digest.top():
        body.append(
            {
                "type": "RichTextBlock",
                "inlines": [
                    _run(action, 200, fontType="Monospace"),
                    {"type": "TextRun", "text": f" × {count}"},
                ],
            }
        )
    body.append(_ours(f"deniedwatch · {wording.digest_why(digest.kind).lower()}", isSubtle=True))
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    actions = [
        {"type": "Action.OpenUrl", "title": x.label, "url": x.url}
        for x in wording.digest_links(digest)
        if x.url.startswith("https://")
    ][:ACTIONS_MAX]
    if actions:
        card["actions"] = actions
    return _message(card)


def payload_size(payload: dict[str, Any]) -> int:
    """The body's size as ``post_json`` sends it (UTF-8 JSON)."""
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace"))


def fitted(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload within Teams' size limit: the card's body rows are dropped from the
    end (the title, the summary and the first facts stay) until it fits."""
    card = payload["attachments"][0]["content"]
    body = card["body"]
    while payload_size(payload) > PAYLOAD_MAX and len(body) > 3:
        body.pop(-2 if len(body) > 4 else -1)  # keep the closing context line while we can
    return payload


def _message(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


class TeamsChannel:
    def __init__(self, name: str, ctx: Context) -> None:
        self.name = name
        self.ctx = ctx

    def send(self, alert: Alert) -> ThreadRef | None:
        self._post(fitted(render(alert, window_minutes=self.ctx.window_minutes)))
        return None

    def send_digest(self, digest: Digest) -> None:
        self._post(fitted(render_digest(digest)))

    def _post(self, payload: dict[str, Any]) -> None:
        try:
            url = check_url(self.ctx.secret())
        except SecretError as exc:
            raise DeliveryFailed(redact(f"no Teams webhook URL: {exc}")) from None
        try:
            answer = post_json(
                url,
                payload,
                timeout=self.ctx.timeout,
                sleep=self.ctx.sleep,
                now=self.ctx.now,
                time_left=self.ctx.time_left,
            )
        except Unreachable as exc:
            raise DeliveryFailed(f"Teams unreachable: {exc}") from None
        if 200 <= answer.status < 300:
            return
        if answer.status in (401, 403, 404, 410):
            self.ctx.forget_secret()
        body = redact(answer_excerpt(answer.body))
        raise DeliveryFailed(f"Teams answered HTTP {answer.status}: {body}")


def _build(dest: Destination, ctx: Context) -> TeamsChannel:
    return TeamsChannel(dest.name, ctx)


TYPE = ChannelType(
    name="teams", build=_build, secret="Teams Workflows webhook URL", check_secret=url_problem
)
