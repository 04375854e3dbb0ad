"""Slack delivery against a real local HTTP server standing in for the webhook.

The stand-in answers 200, 429 (Retry-After in seconds and as an HTTP date), 500,
502, 503, 404 and slowly. Waits go through a fake clock: the tests check which
waits were asked for, never how long anything took.
"""

from __future__ import annotations

import logging
import socket
import time
from email.utils import formatdate

import pytest
from werkzeug import Response

from deniedwatch import secrets
from deniedwatch.alerts.channels.base import Context, DeliveryFailed
from deniedwatch.alerts.channels.slack import SlackChannel
from deniedwatch.alerts.retry import MAX_RETRIES, RESERVE
from live_support import FakeTime, SlackStandIn, alert_of, ok, status


def channel(url: str, fake: FakeTime, on_rejected=lambda: None) -> SlackChannel:
    secrets.remember(url)
    ctx = Context(
        secret=lambda: url,
        forget_secret=on_rejected,
        sleep=fake.sleep,
        clock=fake.monotonic,
        now=fake.time,
        timeout=1,
    )
    return SlackChannel("slack", ctx)


def alert(user: str = "mallory"):
    return alert_of(user=user)


def test_200_posts_once(httpserver, fake):
    slack = SlackStandIn(httpserver)
    channel(slack.url, fake).send(alert())
    assert len(slack.bodies) == 1 and fake.sleeps == []
    assert slack.bodies[0]["blocks"][0]["type"] == "header"


def test_429_waits_retry_after_seconds_then_posts(httpserver, fake):
    slack = SlackStandIn(httpserver, [status(429, "rate_limited", {"Retry-After": "7"})])
    channel(slack.url, fake).send(alert())
    assert len(slack.bodies) == 2 and fake.sleeps == [7.0]


def test_429_with_an_http_date_is_honoured_and_a_longer_wait_fails_for_later(httpserver, fake):
    soon = formatdate(fake.time() + 12, usegmt=True)
    late = formatdate(fake.time() + 3600, usegmt=True)
    slack = SlackStandIn(
        httpserver,
        [
            status(429, "rate_limited", {"Retry-After": soon}),
            status(429, "rate_limited", {"Retry-After": late}),
        ],
    )
    with pytest.raises(DeliveryFailed, match="HTTP 429"):
        channel(slack.url, fake).send(alert())
    # an hour is never cut to a shorter wait (Slack would answer 429 again): the post
    # fails and is retried later
    assert len(slack.bodies) == 2
    assert len(fake.sleeps) == 1 and fake.sleeps[0] == pytest.approx(12, abs=1)


@pytest.mark.parametrize(("left", "retried"), [(100.0, True), (45.0 + RESERVE - 1, False)])
def test_retry_after_above_30_s_is_honoured_within_the_time_left(httpserver, fake, left, retried):
    slack = SlackStandIn(httpserver, [status(429, "rate_limited", {"Retry-After": "45"})])
    ch = channel(slack.url, fake)
    ch.ctx.time_left = lambda: left
    if retried:
        ch.send(alert())
        assert fake.sleeps == [45.0] and len(slack.bodies) == 2
    else:
        with pytest.raises(DeliveryFailed, match="HTTP 429"):
            ch.send(alert())
        assert fake.sleeps == [] and len(slack.bodies) == 1


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_every_5xx_is_retried(httpserver, fake, code):
    slack = SlackStandIn(httpserver, [status(code), status(code)])
    channel(slack.url, fake).send(alert())
    assert len(slack.bodies) == 3 and len(fake.sleeps) == 2


def test_persistent_500_fails_after_the_retries_without_leaking_the_url(httpserver, fake):
    slack = SlackStandIn(httpserver, [status(500, f"boom {httpserver.url_for('/services/x')}")] * 9)
    with pytest.raises(DeliveryFailed) as failure:
        channel(slack.url, fake).send(alert())
    assert len(slack.bodies) == 1 + MAX_RETRIES
    assert "HTTP 500" in str(failure.value)
    assert "/services/" not in str(failure.value) and slack.url not in str(failure.value)


def test_404_is_not_retried_and_forgets_the_cached_url(httpserver, fake):
    slack = SlackStandIn(httpserver, [status(404, "no_service")])
    rejected = []
    with pytest.raises(DeliveryFailed, match="HTTP 404: no_service"):
        channel(slack.url, fake, on_rejected=lambda: rejected.append(1)).send(alert())
    assert len(slack.bodies) == 1 and rejected == [1]


def test_slow_answer_times_out_and_is_retried(httpserver, fake):
    """At-least-once: the slow first request did reach the stand-in, so it got two posts."""

    def slow(_request):
        time.sleep(1.5)  # the stand-in is slow; the client's timeout is 1 s
        return Response("ok")

    slack = SlackStandIn(httpserver, [slow])
    channel(slack.url, fake).send(alert())
    assert len(slack.bodies) == 2 and len(fake.sleeps) == 1


def test_connection_refused_is_retried_then_fails_without_the_url(fake, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/services/T1/B1/secret-token-value"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DeliveryFailed, match="Slack unreachable") as failure:
        channel(url, fake).send(alert())
    assert len(fake.sleeps) == MAX_RETRIES
    assert "secret-token-value" not in str(failure.value)
    assert "secret-token-value" not in caplog.text


def test_posts_are_paced_to_one_a_second(httpserver, fake):
    slack = SlackStandIn(httpserver, [ok, ok, ok])
    ch = channel(slack.url, fake)
    for user in ("a", "b", "c"):
        ch.send(alert(user))
    assert len(slack.bodies) == 3 and fake.sleeps == [1.0, 1.0]


def test_unreadable_secret_is_a_delivery_failure(fake):
    def broken() -> str:
        raise secrets.SecretError("cannot read the Slack webhook secret arn:x: AccessDenied")

    ch = SlackChannel("slack", Context(secret=broken, sleep=fake.sleep, clock=fake.monotonic))
    with pytest.raises(DeliveryFailed, match="AccessDenied"):
        ch.send(alert())


def test_redact_scrubs_known_urls_and_webhook_shapes():
    secrets.remember("https://example.invalid/services/TA/BB/tok")
    text = "x https://example.invalid/services/TA/BB/tok y /services/TA/BB/tok z"
    assert "tok" not in secrets.redact(text)
    assert "tok" not in secrets.redact("POST https://other.invalid/services/T9/B9/zzz")
