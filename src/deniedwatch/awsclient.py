"""boto3 sessions for the CLI that turn an answer which is not AWS's into one clear line.

Against a local stand-in (``AWS_ENDPOINT_URL``: moto_server, LocalStack) an operation the
stand-in lacks comes back as an HTML page (404, 500, 501), which botocore either fails to
parse ("Unable to parse response … b'<!doctype html>…'") or turns into a ClientError whose
message is the page. A ``before-parse`` hook sees the raw answer first and raises
NotAwsResponse instead: the service, the operation, the status and the endpoint, and no
retries of a call that will not change its mind. The Lambda never uses this module.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from deniedwatch.alerts.text import looks_like_html

NOT_AWS_CODE = "NotAnAwsResponse"
_last_url = threading.local()  # before-send and before-parse run on the caller's thread


class NotAwsResponse(ClientError):
    """An answer with no AWS error document: a stand-in's or a proxy's page.

    A ClientError (code ``NotAnAwsResponse``), so code that handles AWS's refusals by their
    code still passes it on, and the CLI prints ``str(exc)``: one line, no page.
    """

    def __init__(self, service: str, operation: str, status: int, endpoint: str) -> None:
        self.service, self.status, self.endpoint = service, status, endpoint
        line = f"{service} {operation}: HTTP {status} from {endpoint} (not an AWS response)"
        self.line = line
        super().__init__(
            {
                "Error": {"Code": NOT_AWS_CODE, "Message": line},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            operation,
        )

    def __str__(self) -> str:
        return self.line


def is_not_aws(status: int, headers: Any, body: bytes | str | None) -> bool:
    """An answer AWS would never send: an HTML page, or (an error) a bare text that is
    neither XML nor JSON (AWS's error documents are one or the other, or empty for HEAD).
    Only called with a read body: a streamed one (s3 GetObject) is the user's data."""
    text = (body.decode("latin-1") if isinstance(body, bytes) else body or "").lstrip()
    if not text:  # a HEAD's answer has no body, whatever its content-type says
        return False
    if status < 300:
        return looks_like_html(text)
    if text[0] == "{":  # a JSON error document; moto labels its own ones text/html
        return False
    ctype = str((headers or {}).get("content-type", "")).lower()
    return "text/html" in ctype or looks_like_html(text) or text[0] != "<"


def endpoint_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _remember_url(request: Any = None, **_: Any) -> None:
    _last_url.value = endpoint_of(getattr(request, "url", "") or "")


def _check_answer(operation_model: Any = None, response_dict: Any = None, **_: Any) -> None:
    if operation_model is None or not response_dict:
        return
    status = int(response_dict.get("status_code") or 0)
    body = response_dict.get("body")
    if isinstance(body, bytes | str) and is_not_aws(status, response_dict.get("headers"), body):
        service = operation_model.service_model.endpoint_prefix
        where = getattr(_last_url, "value", "") or stand_in_endpoint() or "the endpoint"
        raise NotAwsResponse(service, operation_model.name, status, where)


def guard(session: Any) -> Any:
    """Register the hooks on a boto3 (or botocore) session; returns it."""
    events = session.events if hasattr(session, "events") else session.get_component("events")
    events.register("before-send", _remember_url, unique_id="deniedwatch-remember-url")
    events.register("before-parse", _check_answer, unique_id="deniedwatch-not-aws")
    return session


def session(region: str | None = None) -> Any:
    """A guarded boto3 session (the credential chain and AWS_ENDPOINT_URL as usual)."""
    import boto3

    return guard(boto3.session.Session(region_name=region))


def guard_default_session() -> None:
    """Guard boto3's default session, used by ``boto3.client(...)`` in shared code."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    guard(boto3.DEFAULT_SESSION)


def stand_in_endpoint() -> str | None:
    """The local stand-in the user pointed every AWS call at, if any (AWS_ENDPOINT_URL;
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
    return os.environ.get("AWS_ENDPOINT_URL") or None
