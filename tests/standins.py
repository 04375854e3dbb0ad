"""Loopback stand-ins for the alert services (pytest-httpserver), answering from a script.

- ``SlackApiStandIn``: Slack's Web API ``chat.postMessage`` / ``chat.update`` (bot token
  in the Authorization header, JSON bodies, ``{"ok": true, "channel", "ts"}`` answers,
  ``thread_ts`` for replies), as slack_sdk's WebClient calls it; ``usergroups.users.list``
  (``usergroups``: id -> members); and an interaction's ``response_url`` (``responses``).
- ``TeamsStandIn``: a Teams Workflows webhook (202 Accepted for a card).
- ``PagerDutyStandIn``: the Events API v2 ``/v2/enqueue`` (202 with the dedup_key;
  one incident per dedup_key, like PagerDuty's own grouping).

Each keeps every request it got and answers scripted statuses first, then success.
The Slack webhook stand-in is ``live_support.SlackStandIn``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from werkzeug import Request, Response

from live_support import Answer

TEAMS_PATH = "/workflows/0a1b2c3d/triggers/manual/paths/invoke"
TEAMS_QUERY = "api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=aTeamsSignatureSecret0123"
PD_PATH = "/v2/enqueue"
BOT_TOKEN = "xoxb-0000000000-1111111111-aSlackBotTokenSecret"
PD_KEY = "R0UTINGKEYAAAABBBBCCCCDDDDEEEE12"


class _Scripted:
    def __init__(self, script: Sequence[Answer]) -> None:
        self.script = list(script)

    def _next(self) -> Answer | None:
        return self.script.pop(0) if self.script else None


class SlackApiStandIn(_Scripted):
    """chat.postMessage / chat.update; ``messages`` maps ts -> the latest message body."""

    def __init__(self, httpserver: Any, script: Sequence[Answer] = (), channel_id: str = "C0B"):
        super().__init__(script)
        self.server = httpserver
        self.channel_id = channel_id
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, body) of every request
        self.messages: dict[str, dict[str, Any]] = {}  # parent ts -> current body
        self.replies: dict[str, list[dict[str, Any]]] = {}  # parent ts -> thread replies
        self.tokens: set[str] = set()
        self._ts = itertools.count(1)
        self.usergroups: dict[str, list[str]] = {}
        self.responses: list[dict[str, Any]] = []  # what was posted to a response_url
        for method in ("chat.postMessage", "chat.update"):
            httpserver.expect_request(f"/api/{method}", method="POST").respond_with_handler(
                self._answer
            )
        httpserver.expect_request("/api/usergroups.users.list").respond_with_handler(
            self._usergroup
        )
        httpserver.expect_request("/actions/T0/1/respond", method="POST").respond_with_handler(
            self._respond
        )

    @property
    def response_url(self) -> str:
        """Where an interaction's response_url points (Slack's: hooks.slack.com/actions/…)."""
        return self.server.url_for("/actions/T0/1/respond")

    def _usergroup(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return _json({"ok": False, "error": "invalid_auth"})
        group = request.values.get("usergroup", "")
        self.calls.append(("usergroups.users.list", {"usergroup": group}))
        if group not in self.usergroups:
            return _json({"ok": False, "error": "no_such_subteam"})
        return _json({"ok": True, "users": self.usergroups[group]})

    def _respond(self, request: Request) -> Response:
        self.responses.append(json.loads(request.get_data() or b"{}"))
        return Response("ok", 200)

    def thread(self, ts: str) -> list[str]:
        """The texts posted in the thread of message ``ts``."""
        return [r.get("text", "") for r in self.replies.get(ts, [])]

    @property
    def api_url(self) -> str:
        return self.server.url_for("/api/")

    def _answer(self, request: Request) -> Response:
        method = request.path.rsplit("/", 1)[1]
        body = json.loads(request.get_data() or b"{}")
        self.calls.append((method, body))
        self.tokens.add(request.headers.get("Authorization", ""))
        if answer := self._next():
            return answer(request)
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return _json({"ok": False, "error": "invalid_auth"})
        if method == "chat.postMessage":
            ts = f"1795770331.{next(self._ts):06d}"
            if parent := body.get("thread_ts"):
                if parent not in self.messages:
                    return _json({"ok": False, "error": "thread_not_found"})
                self.replies.setdefault(parent, []).append(body)
            else:
                self.messages[ts] = body
            return _json({"ok": True, "channel": self.channel_id, "ts": ts, "message": body})
        if body.get("ts") not in self.messages:
            return _json({"ok": False, "error": "message_not_found"})
        self.messages[body["ts"]] = body
        return _json({"ok": True, "channel": self.channel_id, "ts": body["ts"]})

    def parents(self) -> list[dict[str, Any]]:
        return list(self.messages.values())


class TeamsStandIn(_Scripted):
    def __init__(self, httpserver: Any, script: Sequence[Answer] = ()) -> None:
        super().__init__(script)
        self.server = httpserver
        self.bodies: list[dict[str, Any]] = []  # accepted cards' payloads
        self.requests = 0
        httpserver.expect_request(TEAMS_PATH, method="POST").respond_with_handler(self._answer)

    @property
    def url(self) -> str:
        return self.server.url_for(TEAMS_PATH) + "?" + TEAMS_QUERY

    def _answer(self, request: Request) -> Response:
        self.requests += 1
        if answer := self._next():
            return answer(request)
        self.bodies.append(json.loads(request.get_data()))
        return Response("", status=202)

    def cards(self) -> list[dict[str, Any]]:
        return [b["attachments"][0]["content"] for b in self.bodies]


class PagerDutyStandIn(_Scripted):
    def __init__(self, httpserver: Any, script: Sequence[Answer] = ()) -> None:
        super().__init__(script)
        self.server = httpserver
        self.events: list[dict[str, Any]] = []  # accepted events
        self.requests = 0
        httpserver.expect_request(PD_PATH, method="POST").respond_with_handler(self._answer)

    @property
    def url(self) -> str:
        return self.server.url_for(PD_PATH)

    def _answer(self, request: Request) -> Response:
        self.requests += 1
        if answer := self._next():
            return answer(request)
        event = json.loads(request.get_data())
        if event.get("routing_key") != PD_KEY or event.get("event_action") != "trigger":
            return _json({"status": "invalid event", "message": "Event object is invalid"}, 400)
        self.events.append(event)
        body = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
        return _json(body, 202)

    def incidents(self) -> dict[str, list[dict[str, Any]]]:
        """dedup_key -> its events: PagerDuty opens one incident per key."""
        out: dict[str, list[dict[str, Any]]] = {}
        for e in self.events:
            out.setdefault(e["dedup_key"], []).append(e)
        return out


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
