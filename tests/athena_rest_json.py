"""A loopback stand-in that speaks Athena's REST-JSON protocol (botocore >= 1.44) and forwards
each call to moto server's Athena, which speaks only the JSON 1.1 protocol of older botocores.

Simulated, and only this: the wire protocol. Each request is matched to an operation by the
HTTP method and path of the *newer* botocore's own service model (passed in), its members
are gathered from the path, the query string, the headers and the JSON body as that model
binds them, and the call goes to moto as ``X-Amz-Target: AmazonAthena.<Operation>`` with a
JSON body. The answer goes back as REST-JSON: the body as moto wrote it, an error's type in
the ``x-amzn-ErrorType`` header (AWS's ``Type:namespace`` form) and not in the body, so a
client must read it where AWS puts it. What Athena does (states, results, errors) is moto's.
Not checked: SigV4 signatures (moto does not check them either).
Protocol: https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.model import OperationModel, ServiceModel, Shape

_FORWARDED = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.athena/"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: OperationModel


@dataclass
class Seen:
    """One call as it arrived and as it was answered."""

    method: str
    path: str
    operation: str | None
    status: int


@dataclass
class Translator:
    """REST-JSON in, moto's JSON 1.1 out; ``seen`` records every call."""

    model: ServiceModel
    backend: str  # moto server's endpoint
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.model.protocol != "rest-json":
            raise ValueError(f"the model speaks {self.model.protocol}, not rest-json")
        self.routes = [_route(self.model.operation_model(n)) for n in self.model.operation_names]

    def match(self, method: str, path: str) -> tuple[OperationModel, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if route.method == method and found:
                return route.operation, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def answer(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        matched = self.match(method, parts.path)
        if matched is None:
            self.seen.append(Seen(method, parts.path, None, 404))
            return _error(
                404, "UnknownOperationException", f"no operation at {method} {parts.path}"
            )
        operation, labels = matched
        params = _input(operation, labels, parse_qs(parts.query), headers, body)
        status, moto_headers, answer = self._forward(operation.name, headers, params)
        self.seen.append(Seen(method, parts.path, operation.name, status))
        if status >= 300:
            document = json.loads(answer or b"{}")
            kind = str(document.pop("__type", "InternalServerException")).rpartition("#")[2]
            return _error(status, kind, document)
        return status, _output_headers(operation, moto_headers), answer

    def _forward(self, name: str, headers: Any, params: dict[str, Any]) -> tuple[int, Any, bytes]:
        request = urllib.request.Request(
            self.backend + "/",
            data=json.dumps(params).encode(),
            method="POST",
            headers={
                **{h: headers[h] for h in _FORWARDED if headers.get(h)},
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"AmazonAthena.{name}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()


def _route(operation: OperationModel) -> Route:
    """The path template's labels ({Name}, greedy {Name+}) as named groups."""
    uri = operation.http["requestUri"].partition("?")[0]
    pattern = ""
    for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", uri):
        pattern += re.escape(literal)
        if label.endswith("+"):
            pattern += f"(?P<{label[:-1]}>.+)"
        elif label:
            pattern += f"(?P<{label}>[^/]+)"
    return Route(operation.http["method"], re.compile(pattern), operation)


def _input(
    operation: OperationModel,
    labels: dict[str, str],
    query: dict[str, list[str]],
    headers: Any,
    body: bytes,
) -> dict[str, Any]:
    """The operation's input members, each read from where the model binds it."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = json.loads(body) if body.strip() else {}
    if not isinstance(params, dict):
        raise ValueError(f"{operation.name}: the body is not a JSON object")
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if where == "uri":
            value: Any = labels.get(key)
        elif where == "querystring":
            value = query.get(key)
            value = value if value is None or member.type_name == "list" else value[0]
        elif where == "header":
            value = headers.get(key)
        else:
            continue
        if value is not None:
            params[name] = _typed(member, value)
    return params


def _typed(member: Shape, text: Any) -> Any:
    if member.type_name in ("integer", "long"):
        return int(text)
    if member.type_name == "boolean":
        return text == "true"
    if member.type_name in ("string", "list"):
        return text
    raise ValueError(f"the stand-in cannot read a {member.type_name} outside the body")


def _output_headers(operation: OperationModel, moto_headers: Any) -> dict[str, str]:
    members = operation.output_shape.members if operation.output_shape else {}
    located = [name for name, m in members.items() if m.serialization.get("location")]
    if located:  # none of Athena's operations has one today; say so if that changes
        raise ValueError(f"{operation.name}: output members outside the body: {located}")
    return {
        "Content-Type": "application/json",
        "x-amzn-RequestId": moto_headers.get("x-amzn-RequestId", "stand-in"),
    }


def _error(status: int, kind: str, document: dict[str, Any] | str) -> tuple[int, dict, bytes]:
    body = document if isinstance(document, dict) else {"Message": document}
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": f"{kind}:{_ERROR_NAMESPACE}",
        "x-amzn-RequestId": "stand-in-error",
    }
    return status, headers, json.dumps(body).encode()


def _handler(translator: Translator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, answer = translator.answer(self.command, self.path, self.headers, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:  # quiet: the test reads `seen`
            pass

    return Handler


@contextmanager
def serve(model: dict[str, Any], backend: str) -> Iterator[tuple[str, Translator]]:
    """The stand-in on 127.0.0.1 (a free port); yields its endpoint and the translator."""
    translator = Translator(ServiceModel(model, "athena"), backend)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(translator))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", translator
    finally:
        server.shutdown()
        server.server_close()
