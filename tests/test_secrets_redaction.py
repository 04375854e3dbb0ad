"""The webhook URL in every form it can leak in: each test is named after the leak."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus

import pytest

from deniedwatch import secrets
from deniedwatch.cli._app import WEBHOOK_FLAG_WARNING

TOKEN = "Zq9XkLm2Pw7RtY4vNb8Jc3Hd"
URL = f"https://hooks.example.invalid/services/T0A1B2C3D/B4E5F6G7H/{TOKEN}"


@pytest.fixture(autouse=True)
def known() -> None:
    secrets.remember(URL)


LEAKS = {
    "token alone in an error body": f'{{"error": "invalid_token", "token": "{TOKEN}"}}',
    "percent-encoded in a proxy log": f"GET /fwd?to={quote(URL, safe='')} HTTP/1.1",
    "percent-encoded, lower-case hex": "to="
    + re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(URL, safe="")),
    "form-encoded": f"url={quote_plus(URL)}",
    "double percent-encoded": f"next={quote(quote(URL, safe=''), safe='')}",
    "JSON-escaped slashes": json.dumps({"u": URL}).replace("/", "\\/"),
    "path in a request line": f"POST /services/T0A1B2C3D/B4E5F6G7H/{TOKEN} HTTP/1.1",
    "whole URL": f"posting to {URL} failed",
}


@pytest.mark.parametrize("text", LEAKS.values(), ids=LEAKS.keys())
def test_known_webhook_token_is_redacted_in_every_form(text: str) -> None:
    shown = secrets.redact(text)
    assert TOKEN not in shown and TOKEN.lower() not in shown.lower()
    assert secrets.REDACTED in shown


@pytest.mark.parametrize(
    "text",
    [
        "https%3A%2F%2Fother.invalid%2Fservices%2FT9%2FB9%2Fsecretsecret",
        "https:\\/\\/other.invalid\\/services\\/T9\\/B9\\/secretsecret",
    ],
    ids=["percent-encoded", "JSON-escaped"],
)
def test_unknown_webhook_shape_is_redacted_encoded_too(text: str) -> None:
    assert "secretsecret" not in secrets.redact(text)


def test_a_remembered_fragment_does_not_hide_an_unknown_webhook_token() -> None:
    # One process remembers many secrets; one that happens to cover the "/services/"
    # part of another webhook's encoded text must not leave that webhook's token visible.
    secrets.remember("https://hooks.example.invalid/x/%2Fother.invalid%2Fservices%2FT9%2FB9%")
    encoded = "https%3A%2F%2Fother.invalid%2Fservices%2FT9%2FB9%2Fsecretsecret"
    assert "secretsecret" not in secrets.redact(encoded)


def test_short_path_segments_are_not_taken_for_tokens() -> None:
    secrets.remember("https://example.invalid/hook/abc")
    assert secrets.redact("abc and hook") == "abc and hook"


def test_webhook_flag_help_warns_about_proc_cmdline(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich cuts words that do not fit a narrow column
    for command in ("scan", "test-alert", "deploy"):
        result = cli(command, "--help")
        squeezed = "".join(c for c in result.stdout if not c.isspace() and c != "│")
        assert "/proc/PID/cmdline" in squeezed, command  # however rich wrapped it
    assert "prefer the environment variable" in WEBHOOK_FLAG_WARNING


@pytest.mark.parametrize("value", ["", " ", "1", "abc1234"])
def test_a_too_short_secret_does_not_scrub_the_alert(value: str) -> None:
    # An empty entry in the destinations' secret, or a one-character test value, would
    # otherwise replace every digit or insert the marker between every character.
    secrets.remember(value)
    secrets.parse_secrets(json.dumps({"email": value, "slack": URL}), "arn:test")
    text = "123456789012 denied s3:GetObject 1 time at 03:00 (abc1234)"
    assert secrets.redact(text) == text
