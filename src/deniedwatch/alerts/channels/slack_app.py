"""Destination type ``slack-app``: a Slack app's bot token and the Web API, with threads.

The first alert of a group is a ``chat.postMessage`` in ``channel``; repeats of
the group within the dedup window go into that message's thread as they arrive, each
with the group's running count. A reply that carries news (a value the window had not
seen) is also sent to the channel (``reply_broadcast``: "whether reply should be made
visible to everyone in the channel", https://api.slack.com/methods/chat.postMessage#arg_reply_broadcast).
The parent is never edited: an edit would change, without a notification, what people
already read, and the parent keeps the group's first time and first event link; each
reply carries the group's story so far (``wording.Story``: every denial, since when). The parent's
``channel``/``ts`` are kept in the dedup store (the delivery loop passes them
back through ``reply``). slack_sdk's WebClient with our retry handlers: 429 waits
what Retry-After says while the invocation has the time, 5xx and connection errors
back off.
Scopes the bot needs: ``chat:write`` (and ``chat:write.public`` to post in a
public channel it was not invited to); with triage buttons (docs/triage.md),
``usergroups:read`` when ``[triage] allowed_usergroup`` is set.
"""

from __future__ import annotations

import os
from typing import Any

from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.channels.base import (
    ChannelType,
    Context,
    DeliveryFailed,
    Destination,
    Option,
    ThreadRef,
    https_url,
)
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.retry import Pacer
from deniedwatch.alerts.slack import render, render_digest, render_repeat
from deniedwatch.alerts.text import clean
from deniedwatch.alerts.wording import Story
from deniedwatch.secrets import SecretError, redact

DEFAULT_API_URL = "https://slack.com/api/"
ENV_API_URL = "DENIEDWATCH_SLACK_API_URL"  # GovSlack and tests: another Web API base
# Answers that mean the token no longer works: read the secret again next time.
_REVOKED = {"invalid_auth", "token_revoked", "token_expired", "account_inactive", "not_authed"}


class SlackAppChannel:
    def __init__(self, name: str, channel: str, api_url: str, ctx: Context) -> None:
        self.name = name
        self.channel = channel
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.ctx = ctx
        self.pacer = Pacer(clock=ctx.clock, sleep=ctx.sleep)
        self._client: Any = None
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def _web(self) -> Any:
        if self._client is None:
            from slack_sdk import WebClient

            from deniedwatch.alerts.channels._slack_sdk import retry_handlers, sdk_logger

            try:
                token = self.ctx.secret()
            except SecretError as exc:
                raise DeliveryFailed(redact(f"no Slack bot token: {exc}")) from None
            self._client = WebClient(
                token=token,
                base_url=self.api_url,
                timeout=self.ctx.timeout,
                logger=sdk_logger,
                retry_handlers=retry_handlers(self.ctx.sleep, self.ctx.now, self.ctx.seconds_left),
            )
        return self._client

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError

        from deniedwatch.alerts.channels._slack_sdk import UNREACHABLE

        client = self._web()
        self.pacer.wait()
        try:
            response = getattr(client, method)(**kwargs)
        except UNREACHABLE as exc:
            reason = f"Slack {method}: unreachable: {type(exc).__name__}: {exc}"
            raise DeliveryFailed(redact(clean(reason))[:300]) from None
        except SlackApiError as exc:  # Slack answered with an error: say which
            data = getattr(exc.response, "data", None)
            error = data.get("error") if isinstance(data, dict) else None
            if error in _REVOKED:
                self.ctx.forget_secret()
                self._client = None
            status = getattr(exc.response, "status_code", None)
            reason = error or str(exc)
            where = f"HTTP {status}: " if status else ""
            raise DeliveryFailed(redact(clean(f"Slack {method}: {where}{reason}"))[:300]) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _with_buttons(self, payload: dict[str, Any], actions: dict[str, Any] | None) -> dict:
        """The triage buttons (docs/triage.md) under the message, within Slack's 50 blocks."""
        if actions is None:
            return payload
        return {**payload, "blocks": [*payload["blocks"][:49], actions]}

    def send(self, alert: Alert) -> ThreadRef | None:
        payload = render(
            alert, slack_channel=self.ctx.slack_channel, window_minutes=self.ctx.window_minutes
        )
        if self.ctx.buttons is not None:
            payload = self._with_buttons(payload, self.ctx.buttons.for_alert(alert))
        data = self._call("chat_postMessage", channel=self.channel, **payload)
        channel, ts = data.get("channel"), data.get("ts")
        if isinstance(channel, str) and isinstance(ts, str):
            return ThreadRef(channel, ts)
        return None

    def send_digest(self, digest: Digest) -> None:
        payload = render_digest(digest, slack_channel=self.ctx.slack_channel)
        if self.ctx.buttons is not None:
            payload = self._with_buttons(payload, self.ctx.buttons.for_digest(digest))
        self._call("chat_postMessage", channel=self.channel, **payload)

    def reply(self, alert: Alert, thread: ThreadRef, story: Story) -> None:
        extra = {"reply_broadcast": True} if alert.news else {}
        self._call(
            "chat_postMessage",
            channel=thread.channel,
            thread_ts=thread.ts,
            **render_repeat(alert, story),
            **extra,
        )

    # -- triage (docs/triage.md): the bot's answers to a click ---------------------------
    def post_in_thread(self, channel: str, ts: str, text: str) -> None:
        """One audit line in an alert's thread."""
        self._call("chat_postMessage", channel=channel, thread_ts=ts, text=text)

    def usergroup_members(self, usergroup: str) -> frozenset[str]:
        """The user ids of a Slack user group (scope usergroups:read), cached for a minute.
        https://docs.slack.dev/reference/methods/usergroups.users.list"""
        now = self.ctx.clock()
        hit = self._members.get(usergroup)
        if hit is not None and now - hit[0] < 60:
            return hit[1]
        data = self._call("usergroups_users_list", usergroup=usergroup)
        users = data.get("users")
        members = (
            frozenset(u for u in users if isinstance(u, str))
            if isinstance(users, list)
            else frozenset()
        )
        self._members[usergroup] = (now, members)
        return members


def _check(value: str) -> str | None:
    if not value.startswith("xox") or any(c.isspace() for c in value):
        return "a Slack bot token starts with xoxb-"
    return None


def _build(dest: Destination, ctx: Context) -> SlackAppChannel:
    api_url = os.environ.get(ENV_API_URL) or dest.option("api_url") or DEFAULT_API_URL
    return SlackAppChannel(dest.name, dest.option("channel"), api_url, ctx)


TYPE = ChannelType(
    name="slack-app",
    build=_build,
    options=(
        Option("channel", "the Slack channel id (C0123…) or name the bot posts in", required=True),
        Option(
            "api_url",
            f"the Web API base (default {DEFAULT_API_URL}; GovSlack: https://slack-gov.com/api/)",
            https_url,
        ),
    ),
    secret="Slack bot token (xoxb-...)",
    check_secret=_check,
)
