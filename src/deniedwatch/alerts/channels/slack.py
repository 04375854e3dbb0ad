"""Destination type ``slack``: a Slack incoming webhook, today's Block Kit message.

slack_sdk's WebhookClient with our retry handlers (``_slack_sdk.py``); posts are
paced to one a second (Slack's rate for a webhook). ``send_dict`` never raises
on an HTTP error, so the status is checked here; a revoked webhook (403/404/410)
makes the secret be read again next time (it may have been rotated).
"""

from __future__ import annotations

from typing import Any

from deniedwatch.alerts.budget import Digest
from deniedwatch.alerts.channels.base import (
    ChannelType,
    Context,
    DeliveryFailed,
    ThreadRef,
)
from deniedwatch.alerts.group import Alert
from deniedwatch.alerts.retry import Pacer
from deniedwatch.alerts.slack import render, render_digest
from deniedwatch.alerts.text import answer_excerpt
from deniedwatch.secrets import SecretError, check_url, redact, url_problem


class SlackChannel:
    """Posts alerts to one incoming webhook; raises DeliveryFailed, never leaks the URL."""

    def __init__(self, name: str, ctx: Context) -> None:
        self.name = name
        self.ctx = ctx
        self.pacer = Pacer(clock=ctx.clock, sleep=ctx.sleep)
        self._client: Any = None

    def _webhook(self) -> Any:
        if self._client is None:
            from slack_sdk.webhook import WebhookClient

            from deniedwatch.alerts.channels._slack_sdk import retry_handlers, sdk_logger

            try:
                url = check_url(self.ctx.secret())
            except SecretError as exc:
                raise DeliveryFailed(redact(f"no Slack webhook URL: {exc}")) from None
            self._client = WebhookClient(
                url,
                timeout=self.ctx.timeout,
                logger=sdk_logger,
                retry_handlers=retry_handlers(self.ctx.sleep, self.ctx.now, self.ctx.seconds_left),
            )
        return self._client

    def send(self, alert: Alert) -> ThreadRef | None:
        self.post(
            render(
                alert,
                slack_channel=self.ctx.slack_channel,
                window_minutes=self.ctx.window_minutes,
            )
        )
        return None

    def send_digest(self, digest: Digest) -> None:
        self.post(render_digest(digest, slack_channel=self.ctx.slack_channel))

    def post(self, payload: dict[str, Any]) -> None:
        from deniedwatch.alerts.channels._slack_sdk import UNREACHABLE

        client = self._webhook()
        self.pacer.wait()
        try:
            response = client.send_dict(payload)
        except UNREACHABLE as exc:
            raise DeliveryFailed(
                redact(f"Slack unreachable ({type(exc).__name__}: {exc})")
                + ": check the webhook URL's host and this machine's network or proxy"
            ) from None
        if response.status_code == 200:
            return
        if response.status_code in (403, 404, 410):
            self.ctx.forget_secret()  # revoked: read the secret again next time
            self._client = None
        body = redact(answer_excerpt(response.body))
        raise DeliveryFailed(f"Slack answered HTTP {response.status_code}: {body}")


TYPE = ChannelType(
    name="slack",
    build=lambda dest, ctx: SlackChannel(dest.name, ctx),
    secret="Slack incoming webhook URL",
    check_secret=url_problem,
)
