"""Answers that are not AWS's (a dead endpoint, a stand-in's HTML page, a bare 500) become
one line on every command, never a page or a traceback; against a stand-in a preflight
it cannot answer is named and skipped, against AWS it stops the deploy."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deniedwatch.alerts.text import answer_excerpt, looks_like_html
from deniedwatch.awsclient import NotAwsResponse, is_not_aws
from deniedwatch.deploy import preflight
from dwtest import CliResult

PAGE = b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"


def _server(status: int, body: bytes, ctype: str) -> tuple[http.server.HTTPServer, str]:
    class Answer(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def endpoints() -> Iterator[dict[str, str]]:
    html, html_url = _server(404, PAGE, "text/html; charset=utf-8")
    bare, bare_url = _server(500, b"Internal Server Error", "text/plain")
    dead, dead_url = _server(200, b"", "text/plain")
    dead.shutdown()
    dead.server_close()  # nothing listens there any more
    yield {"html": html_url, "500": bare_url, "dead": dead_url}
    for server in (html, bare):
        server.shutdown()
        server.server_close()


# Every command that calls AWS, with what it needs to get that far.
COMMANDS = [
    ["deploy", "--yes", "--stack-name", "dwx"],
    ["status", "--stack-name", "dwx"],
    ["destroy", "--yes", "--purge", "--stack-name", "dwx"],
    ["set-secret", "slack", "--from-env", "--yes", "--stack-name", "dwx"],
    ["scan", "s3://bucket/AWSLogs/"],
    ["athena", "create-table", "--bucket", "trail-bucket"],
    ["scan", "--engine", "athena", "--since", "1d"],
    ["test-alert", "--slack-webhook-url", "{endpoint}/hook"],
]


@pytest.mark.parametrize("kind", ["dead", "html", "500"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_says_one_line(
    kind: str,
    command: list[str],
    endpoints: dict[str, str],
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    endpoint = endpoints[kind]
    monkeypatch.chdir(tmp_path)  # no ./deniedwatch.toml
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_MAX_ATTEMPTS": "1",  # a dead endpoint: the line, not five backed-off retries
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "DENIEDWATCH_SLACK_WEBHOOK_URL": f"{endpoint}/hook",
        "SLACK_WEBHOOK_URL": f"{endpoint}/hook",
    }.items():
        monkeypatch.setenv(name, value)
    result = cli(*[a.format(endpoint=endpoint) for a in command])
    out = result.stdout + result.stderr
    assert result.exit_code == 2, out
    assert "<!doctype" not in out.lower() and "<html" not in out.lower(), out
    assert "Traceback" not in out, out
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    if kind != "dead" and command[0] != "test-alert":  # Slack's answer is Slack's
        assert "not an AWS response" in errors[0], errors[0]


@pytest.mark.parametrize(
    ("status", "ctype", "body", "expected"),
    [
        (404, "text/html", PAGE, True),
        (500, "text/plain", b"Internal Server Error", True),
        (200, "text/html", PAGE, True),  # a page where a document was due
        (404, "application/xml", b"<Error><Code>NoSuchKey</Code></Error>", False),
        (400, "application/x-amz-json-1.1", b'{"__type": "ValidationException"}', False),
        # moto server's JSON errors (Athena's InvalidRequestException) come as text/html
        (400, "text/html; charset=utf-8", b'{"__type": "InvalidRequestException"}', False),
        (404, "text/html", b"", False),  # HEAD: AWS's answer has no body
        (200, "application/xml", b"<ListBucketResult/>", False),
    ],
)
def test_what_is_not_an_aws_answer(status: int, ctype: str, body: bytes, expected: bool) -> None:
    assert is_not_aws(status, {"content-type": ctype}, body) is expected


def test_an_html_page_is_named_never_quoted() -> None:
    assert looks_like_html(b"  <!DOCTYPE html><html>") and looks_like_html("<HTML>")
    assert answer_excerpt(PAGE.decode()) == "(an HTML page, not the service's answer)"
    assert answer_excerpt('{"ok": false, "error": "invalid_token"}') == (
        '{"ok": false, "error": "invalid_token"}'
    )


def _failing(exc: ClientError) -> preflight.Check:
    def check_filter_pattern(pf: preflight.Preflight) -> Any:
        raise exc

    return check_filter_pattern


def _preflight(stand_in: str | None) -> preflight.Preflight:
    return preflight.Preflight(
        plan=object(),  # type: ignore[arg-type]
        rule=object(),  # type: ignore[arg-type]
        clients=lambda name: None,
        account="111122223333",
        stack_exists=False,
        stand_in=stand_in,
    )


UNIMPLEMENTED = [
    NotAwsResponse("logs", "TestMetricFilter", 500, "http://127.0.0.1:5055"),
    ClientError({"Error": {"Code": "NotImplemented", "Message": "x"}}, "TestMetricFilter"),
    ClientError(
        {"Error": {"Code": "501"}, "ResponseMetadata": {"HTTPStatusCode": 501}},
        "TestMetricFilter",
    ),
]


@pytest.mark.parametrize("exc", UNIMPLEMENTED, ids=["page", "NotImplemented", "501"])
def test_a_stand_in_that_lacks_a_check_gets_a_warning_and_deploy_goes_on(
    exc: ClientError,
) -> None:
    pf = _preflight("http://127.0.0.1:5055")
    preflight.run_checks(pf, [_failing(exc)])
    assert len(pf.skipped) == 1
    assert pf.skipped[0].startswith("not checked: filter pattern (")


@pytest.mark.parametrize("exc", UNIMPLEMENTED, ids=["page", "NotImplemented", "501"])
def test_against_aws_a_failed_preflight_still_stops(exc: ClientError) -> None:
    with pytest.raises(ClientError):
        preflight.run_checks(_preflight(None), [_failing(exc)])


def test_a_real_refusal_stops_even_against_a_stand_in() -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException"}}, "TestMetricFilter")
    with pytest.raises(ClientError):
        preflight.run_checks(_preflight("http://127.0.0.1:5055"), [_failing(denied)])


def test_skip_preflight_names_every_check_and_makes_none() -> None:
    pf = _preflight(None)
    called: list[str] = []

    def check_secret(p: preflight.Preflight) -> Any:
        called.append("secret")
        return p.plan

    preflight.run_checks(pf, [check_secret, _failing(UNIMPLEMENTED[0])], skip=True)
    assert called == []
    assert pf.skipped == [
        "not checked (--skip-preflight): secret",
        "not checked (--skip-preflight): filter pattern",
    ]
