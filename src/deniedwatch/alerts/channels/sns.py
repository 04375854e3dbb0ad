"""Destination type ``sns``: today's email, published to an SNS topic (``alerts/email.py``).

``topic_arn`` in the settings, else env ``DENIEDWATCH_SNS_TOPIC_ARN`` (the
topic the stack creates). No secret: the function's role may publish to it.
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
    arn_check,
)
from deniedwatch.alerts.email import body, digest_body, digest_subject, subject
from deniedwatch.alerts.group import Alert

ENV_TOPIC_ARN = "DENIEDWATCH_SNS_TOPIC_ARN"


class SnsChannel:
    """Publishes each alert to the SNS topic (email subscribers)."""

    def __init__(self, name: str, topic_arn: str, ctx: Context, client: Any = None) -> None:
        self.name = name
        self.topic_arn = topic_arn
        self.ctx = ctx
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            if self.ctx.client is not None:
                self._client = self.ctx.client("sns")
            else:
                import boto3  # lazily: only when a topic is configured

                self._client = boto3.client("sns")
        return self._client

    def send(self, alert: Alert) -> ThreadRef | None:
        self._publish(subject(alert), body(alert, window_minutes=self.ctx.window_minutes))
        return None

    def send_digest(self, digest: Digest) -> None:
        self._publish(digest_subject(digest), digest_body(digest))

    def _publish(self, subject: str, message: str) -> None:
        from botocore.exceptions import ClientError  # lazily, with the client

        try:
            self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
        except ClientError as exc:  # SNS answered: name its error code and the topic
            reason = exc.response.get("Error", {}).get("Code") or "ClientError"
            raise DeliveryFailed(f"SNS publish to {self.topic_arn} failed: {reason}") from None


def topic_arn(dest: Destination) -> str | None:
    return dest.option("topic_arn") or os.environ.get(ENV_TOPIC_ARN)


def _build(dest: Destination, ctx: Context) -> SnsChannel:
    arn = topic_arn(dest)
    if not arn:
        raise ValueError(f"destination {dest.name!r}: no topic_arn and no {ENV_TOPIC_ARN}")
    return SnsChannel(dest.name, arn, ctx)


TYPE = ChannelType(
    name="sns",
    build=_build,
    options=(
        Option(
            "topic_arn",
            f"the SNS topic to publish to (default: env {ENV_TOPIC_ARN}, the stack's topic)",
            arn_check("sns", "an SNS topic ARN"),
        ),
    ),
    secret=None,
)
