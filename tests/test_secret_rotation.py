"""A changed webhook reaches the function: the secret cache expires (secrets.CACHE_SECONDS),
`deniedwatch set-secret DEST` (and today's `set-webhook`) rotates one destination's secret
in the stack's secret, and nothing creates it but the stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from deniedwatch import secrets
from deniedwatch.deploy import aws, names

OLD = "https://hooks.slack.com/services/T0/B0/old"
NEW = "https://hooks.slack.com/services/T0/B0/new"


class FakeSecrets:
    """A Secrets Manager client that counts reads (the cache is what is under test)."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.reads += 1
        return {"SecretString": self.value}


@dataclass
class Clocked:
    """A secret cache on a clock the test moves (the cache takes its clock, as slack_sdk's
    SignatureVerifier does; nothing global is patched)."""

    now: float = 1000.0

    def __post_init__(self) -> None:
        self.cache = secrets.SecretCache(clock=lambda: self.now)

    def webhook_url(self, client: Any) -> str | None:
        return secrets.webhook_url(client, cache=self.cache)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clocked:
    monkeypatch.setenv(secrets.ENV_SECRET_ARN, "dw/slack-webhook-url")
    return Clocked()


def test_within_the_cache_life_the_secret_is_read_once(clock: Clocked) -> None:
    client = FakeSecrets(OLD)
    assert clock.webhook_url(client) == OLD
    client.value = NEW
    clock.now += secrets.CACHE_SECONDS - 1
    assert clock.webhook_url(client) == OLD
    assert client.reads == 1


def test_after_the_cache_life_a_rotated_webhook_is_used(clock: Clocked) -> None:
    client = FakeSecrets(OLD)
    assert clock.webhook_url(client) == OLD
    client.value = NEW
    clock.now += secrets.CACHE_SECONDS
    assert clock.webhook_url(client) == NEW
    assert client.reads == 2


def test_rotate_keeps_the_previous_version_and_never_creates(aws_env, unique_name) -> None:
    stack = unique_name("dwrot")
    name = names.secret_name(stack)
    sm = boto3.client("secretsmanager")
    with pytest.raises(aws.SecretMissing, match=f"deniedwatch destroy --stack-name {stack}"):
        aws.rotate_secret(sm, name, NEW, stack)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=name)  # not created behind the stack's back
    sm.create_secret(Name=name)  # what the stack does: created empty
    first = aws.rotate_secret(sm, name, OLD, stack)
    assert aws.rotate_secret(sm, name, OLD, stack) == "unchanged"
    second = aws.rotate_secret(sm, name, NEW, stack)
    assert first != second
    assert sm.get_secret_value(SecretId=name)["SecretString"] == NEW
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == OLD


def test_set_webhook_command(aws_env, cli, unique_name) -> None:
    stack = unique_name("dwset")
    name = names.secret_name(stack)
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name=name, SecretString=OLD)
    args = ("set-webhook", "--stack-name", stack, "--region", "us-east-1")
    done = cli(*args, "--slack-webhook-url", NEW)
    assert done.exit_code == 0, done.stderr
    said = " ".join(done.stderr.split())  # rich wraps long lines
    assert "within 5 minutes" in said and NEW not in done.stdout + done.stderr
    assert json.loads(sm.get_secret_value(SecretId=name)["SecretString"]) == {"slack": NEW}
    bad = cli(*args, "--slack-webhook-url", "http://example.com/x")
    assert bad.exit_code == 2 and "must be an https URL" in bad.stderr
    nowhere = unique_name("dwnone")
    gone = cli(
        "set-webhook", "--stack-name", nowhere, "--region", "us-east-1", "--slack-webhook-url", NEW
    )
    # a mistyped stack name is named as such, not as a secret deleted by hand
    assert gone.exit_code == 2
    assert (
        gone.stderr.strip()
        == f"error: no stack {nowhere} in us-east-1: check --stack-name and --region"
    )


def test_set_secret_replaces_one_destination_and_keeps_the_others(
    aws_env, cli, unique_name, tmp_path, monkeypatch
) -> None:
    stack = unique_name("dwdest")
    name = names.secret_name(stack)
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name=name, SecretString=OLD)  # a stack from before destinations
    config = tmp_path / "deniedwatch.toml"
    config.write_text(
        '[deploy]\nstack_name = "' + stack + '"\nregion = "us-east-1"\n\n'
        '[[destinations]]\nname = "slack"\ntype = "slack"\n\n'
        '[[destinations]]\nname = "oncall"\ntype = "pagerduty"\nurl_env = "ONCALL_KEY"\n'
    )
    monkeypatch.setenv("ONCALL_KEY", "K" * 32)
    done = cli("set-secret", "oncall", "--from-env", "--config", config)
    assert done.exit_code == 0, done.stderr
    assert "K" * 32 not in done.stdout + done.stderr
    stored = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert stored == {"slack": OLD, "oncall": "K" * 32}
    again = cli("set-secret", "oncall", "--from-env", "--config", config)
    assert again.exit_code == 0 and "nothing to do" in again.stderr

    monkeypatch.setenv("ONCALL_KEY", "not-a-routing-key")
    bad = cli("set-secret", "oncall", "--from-env", "--config", config)
    assert bad.exit_code == 2 and "32 letters and digits" in bad.stderr
    unknown = cli("set-secret", "teams", "--config", config)
    assert unknown.exit_code == 2
    assert "no destination 'teams' with a secret (destinations with one: slack, oncall)" in (
        " ".join(unknown.stderr.split())
    )
