"""Destination secrets: one Secrets Manager secret (JSON name -> secret) on a moto server,
else each destination's url_env; today's single-webhook secret keeps working."""

from __future__ import annotations

import json

import boto3
import pytest

from deniedwatch import secrets


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for name in (secrets.ENV_SECRETS_ARN, secrets.ENV_SECRET_ARN, secrets.ENV_WEBHOOK_URL):
        monkeypatch.delenv(name, raising=False)
    secrets.forget()
    yield
    secrets.forget()


def make_secret(name: str, value: str) -> str:
    return boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]


def test_one_json_secret_holds_every_destination(aws_env, unique_name, monkeypatch):
    arn = make_secret(
        unique_name("s"),
        json.dumps({"b-teams": "https://teams.invalid/x?sig=abc", "oncall": "K" * 32}),
    )
    monkeypatch.setenv(secrets.ENV_SECRETS_ARN, arn)
    monkeypatch.setenv("ONCALL_ENV", "not this one")  # the secret wins over url_env
    assert secrets.destination_secret("oncall", "ONCALL_ENV") == "K" * 32
    assert secrets.destination_secret("b-teams", None).endswith("sig=abc")
    with pytest.raises(secrets.SecretError, match="no entry for destination 'nope'") as failure:
        secrets.destination_secret("nope", None)
    assert "set-secret nope" in str(failure.value)
    assert "K" * 32 not in secrets.redact(f"oops {'K' * 32}")


def test_a_secret_from_before_destinations_is_the_slack_one(aws_env, unique_name, monkeypatch):
    arn = make_secret(unique_name("s"), "https://hooks.invalid/services/T/B/old")
    monkeypatch.setenv(secrets.ENV_SECRETS_ARN, arn)
    assert secrets.destination_secret("slack", None).endswith("/services/T/B/old")


def test_without_a_secret_each_destination_reads_its_url_env(monkeypatch):
    monkeypatch.setenv("A_URL", "https://hooks.invalid/services/T/B/a")
    assert secrets.destination_secret("a", "A_URL").endswith("/a")
    with pytest.raises(secrets.SecretError, match="set env B_URL"):
        secrets.destination_secret("b", "B_URL")
    monkeypatch.setenv(secrets.ENV_WEBHOOK_URL, "https://hooks.invalid/services/T/B/legacy")
    assert secrets.destination_secret("slack", None).endswith("/legacy")  # today's env var


def test_a_rotated_secret_is_read_again_after_the_cache_life(aws_env, unique_name, monkeypatch):
    name = unique_name("s")
    arn = make_secret(name, json.dumps({"a": "https://x.invalid/one"}))
    monkeypatch.setenv(secrets.ENV_SECRETS_ARN, arn)
    now = [0.0]
    cache = secrets.SecretCache(clock=lambda: now[0])
    assert secrets.destination_secret("a", None, cache=cache).endswith("/one")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"a": "https://x.invalid/two"})
    )
    assert secrets.destination_secret("a", None, cache=cache).endswith("/one")  # still cached
    now[0] += secrets.CACHE_SECONDS
    assert secrets.destination_secret("a", None, cache=cache).endswith("/two")


def test_merge_secrets_sets_one_and_keeps_the_others():
    merged = secrets.merge_secrets(json.dumps({"a": "1", "b": "2"}), "b", "3")
    assert json.loads(merged) == {"a": "1", "b": "3"}
    assert json.loads(secrets.merge_secrets(None, "x", "y")) == {"x": "y"}
    legacy = secrets.merge_secrets("https://hooks.invalid/services/T/B/z", "pd", "k")
    assert json.loads(legacy) == {"slack": "https://hooks.invalid/services/T/B/z", "pd": "k"}


@pytest.mark.parametrize(
    ("url", "sendable"),
    [
        ("https://hooks.slack.com/services/T0/B0/x", True),
        ("http://127.0.0.1:8080/services/T0/B0/x", True),  # a loopback stand-in
        ("http://[::1]:8080/hook", True),
        ("http://hooks.slack.com/services/T0/B0/x", False),  # plain http off this machine
        ("http://10.0.0.5/hook", False),
        ("ftp://hooks.slack.com/x", False),
        ("https://hooks.slack.com/services/T0 /B0/x", False),
    ],
)
def test_one_url_rule_for_storing_and_for_sending(url: str, sendable: bool) -> None:
    """What deploy/set-secret would refuse to store, the channels refuse to send to."""
    assert (secrets.url_problem(url) is None) is sendable
    if sendable:
        assert secrets.check_url(url) == url
    else:
        with pytest.raises(secrets.SecretError, match="https URL"):
            secrets.check_url(url)
