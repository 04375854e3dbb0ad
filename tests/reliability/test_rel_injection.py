"""Injection: attacker strings in every record field that reaches a message.

Pure rendering (Slack Block Kit JSON and the email subject/body), no server: the
end-to-end path through the handler is covered in tests/test_lambda_handler.py.

An *escape* is counted per rendered message when any of these holds:
  a. Slack mrkdwn text (fields, sections, context, the fallback ``text``) holds a
     ``<`` or ``>`` that is not one of our links, i.e. ``<https://HOST/...|label>``
     with HOST exactly a partition's console host, optionally after ``<region>.``
     (``console.aws.amazon.com``, ``console.amazonaws.cn``, ``console.amazonaws-us-gov.com``)
     (covers ``<!channel>``, ``<@U..>``, ``<#C..>``, ``<!subteam^..>``, ``<http://x|y>``);
     the ``>`` quote marker we put at a line start is ours and allowed;
  b. a Block Kit limit is broken (header 150, field 2000, section/fallback 3000, ...);
  c. an invisible or direction-changing character survives anywhere in the Slack
     payload or the email (``text.is_unsafe``: every non-printable character and
     Unicode's Default_Ignorable_Code_Point set, Hangul fillers included; newline
     excepted), so names cannot be spoofed ("adm\\u200bin", "c\\u034fd") or text reversed;
  d. record text is formatted: in the summary, field and error-message sections,
     the text outside inline code spans differs from a benign rendering
     (so ``*``, ``_``, ``~``, a backtick or a forged ``>`` quote got out);
  e. the email forges a line (a line not of the fixed shape) or the subject breaks
     SNS rules (over 99 chars, non-ASCII, a control character);
  f. the push preview (the payload's ``text``) carries a character Slack formats;
  g. the email carries a clickable URL from the record (``://`` outside its LINKS).
The header is ``plain_text``: Slack shows it verbatim (no mentions, no links), so
only (b) and (c) apply to it.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from figures import record, sizes

from blockkit_limits import limit_problems
from deniedwatch.alerts import wording
from deniedwatch.alerts.email import body, subject
from deniedwatch.alerts.group import LogLocation, group_findings
from deniedwatch.alerts.slack import render
from deniedwatch.alerts.text import is_unsafe
from deniedwatch.finding import Finding
from live_support import denial, mrkdwn_texts

MENTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0123ABCD>",
    "<@W0123|bob>",
    "<!subteam^S0123>",
    "<!subteam^S0123|@security>",
    "<#C0123ABCD>",
    "<#C0123|general>",
    "<!channel|x>",
    "<!date^1392734382^{date}|Feb 18>",
    "<<!here>>",
    "<!here",
    "@channel @here",
]
LINKS = [
    "<http://x|y>",
    "<https://evil.example|Open the event in CloudTrail>",
    "<https://evil.example>",
    "<mailto:a@evil.example|mail>",
    "<tel:+15555550100|call>",
    "<slack://open>",
    "http://evil.example/login",
    "x|<http://evil.example>",
]
MRKDWN = [
    "*bold*",
    "_italic_",
    "~strike~",
    "`code`",
    "```block```",
    "`",
    "``",
    "> quote",
    "\n> forged quote",
    ">>> multi",
    "*`_~>",
    ":skull:",
    "a|b",
]
ENTITIES = ["&amp;", "&lt;!channel&gt;", "&#60;!here&#62;", "&lt;", "&gt;", "&#x3C;@U1&#x3E;"]
INVISIBLE = [
    "adm\u200bin",
    "\u200b<\u200b!channel>",
    "x\u200cy",
    "x\u200dy",
    "\ufeffbom",
    "x\u2060y",
    "\u202eevil",
    "\u202dltr",
    "\u2066iso\u2069",
    "\u200e\u200f",
    "\u061c",
    "soft\u00adhyphen",
    "a\nb",
    "a\r\nSubject: forged",
    "nul\x00",
    "\x1b[31mred",
    "del\x7f",
    "nel\u0085",
    "line\u2028sep",
    "para\u2029sep",
    "\u180emongolian",
    "c\u034fd",
    "\u2764\ufe0f",
    "x\U000e0100y",
    "\u3164",
    "\u115f\u1160",
    "\uffa0",
    "\u2800",
    "\U000e0041\U000e007f",
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07",
    "\x9b2J",
]
URLS = [
    "https://signin.aws.amazon.com.evil.example/console",
    "Mozilla/5.0 (see http://evil.example/x?a=b)",
    "www.evil.example",
    "HTTPS://EVIL.EXAMPLE",
]
LONG = [
    "A" * 262_144,
    "<!channel>" * 5_000,
    "&" * 5_000,
    "\U0001f6ab" * 3_000,
    "`" * 5_000,
    "e\u0301" * 5_000,
    "<" * 2_999 + "!here>",
]
ATTACKS = MENTIONS + LINKS + MRKDWN + ENTITIES + INVISIBLE + URLS + LONG


def _identity(r: dict[str, Any]) -> dict[str, Any]:
    return r["userIdentity"]


def _assumed(r: dict[str, Any], session: str) -> None:
    r["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEROLEID0001:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/deploy/{session}",
        "accountId": "111122223333",
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "deploy"}},
    }


# Every record field that reaches a message -> how to put the attack string there.
FIELDS: dict[str, Any] = {
    "userAgent": lambda r, s: r.update(userAgent=s),
    "errorMessage": lambda r, s: r.update(errorMessage=s),
    "errorMessage (resource clause)": lambda r, s: r.update(
        errorMessage="User: arn:aws:iam::111122223333:user/mallory is not authorized to "
        f"perform: s3:GetObject on resource: {s} because no identity-based policy allows it"
    ),
    "errorCode": lambda r, s: r.update(errorCode="AccessDenied" + s),
    "userIdentity.arn": lambda r, s: _identity(r).update(arn=s),
    "userIdentity.userName": lambda r, s: _identity(r).update(userName=s),
    "assumed-role session name": _assumed,
    "userIdentity.type": lambda r, s: _identity(r).update(type=s, userName=None),
    "sourceIPAddress": lambda r, s: r.update(sourceIPAddress=s),
    "eventName": lambda r, s: r.update(eventName=s),
    "eventSource": lambda r, s: r.update(eventSource=s),
    "resources[0].ARN": lambda r, s: r.update(
        resources=[{"ARN": s, "type": "AWS::S3::Object"}], errorMessage="Access Denied"
    ),
    "requestParameters": lambda r, s: r.update(requestParameters={"bucketName": s, "k": [s]}),
    "requestParameters.roleArn": lambda r, s: r.update(
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        errorMessage="Access denied",
        requestParameters={"roleArn": s},
    ),
    "errorMessage (policy ARN)": lambda r, s: r.update(
        errorMessage="User: arn:aws:iam::111122223333:user/mallory is not authorized to "
        "perform: s3:GetObject with an explicit deny in a service control policy: "
        f"arn:aws:organizations::111122223333:policy/{s}"
    ),
    "vpcEndpointId": lambda r, s: r.update(errorCode="VpceAccessDenied", vpcEndpointId="vpce-" + s),
    "recipientAccountId": lambda r, s: r.update(recipientAccountId=s),
    "userIdentity.accountId": lambda r, s: (
        r.pop("recipientAccountId"),
        _identity(r).update(accountId=s),
    ),
    "awsRegion": lambda r, s: r.update(awsRegion=s),
    "eventTime": lambda r, s: r.update(eventTime=s),
    "eventID": lambda r, s: r.update(eventID=s),
}
LOG_FIELDS = ("log group name", "log stream name")
SLACK_HOSTS = re.compile(
    r"(?:[a-z0-9-]+\.)?console\.aws\.amazon\.com|console\.amazonaws\.cn"
    r"|console\.amazonaws-us-gov\.com"
)
LINK = re.compile(r"<([^<>|\s]*)\|[^<>]*>")
# What a mail client would turn into a link: a scheme (not the defanged hxxp) or www.
CLICKABLE = re.compile(r"(?i)(?<![a-z0-9+.-])(?!hxxps?://)[a-z][a-z0-9+.-]*://|\bwww\.")
EMAIL_LINE = re.compile(
    r"(|WHO|WHAT|WHY|WHERE|WHEN \(UTC\)|LINKS|deniedwatch: \d+ denied AWS API calls?\."
    r"|  (Who|Principal type|Principal ARN|What|Error code|Error message|Why|Resource"
    r"|Where \(account / region\)|Source IP|User agent|When|Open the event in CloudTrail"
    r"|Log stream|Example \d+|Denying policy|VPC endpoint|Next step|Note):\s+\S.*)"
)


def attacked(field: str, value: str):
    """The alert of one denial with ``value`` written into ``field``."""
    r = denial(eventID="0f6c2a6e-8d1b-4c53-9d3e-2b7c5f1e9a10")
    log = LogLocation("eu-west-1", "aws-cloudtrail-logs-111122223333", "111122223333_CT")
    if field == "log group name":
        log = LogLocation("eu-west-1", value, "111122223333_CT")
    elif field == "log stream name":
        log = LogLocation("eu-west-1", "aws-cloudtrail-logs-111122223333", value)
    else:
        FIELDS[field](r, value)
    return group_findings([Finding.from_record(r)], log=log)[0]


def build(field: str, value: str) -> tuple[dict[str, Any], str, str]:
    alert = attacked(field, value)
    return render(alert, window_minutes=60), subject(alert), body(alert, window_minutes=60)


def _outside_code(text: str) -> str:
    return re.sub(r"`[^`]*`|_unknown_", "`…`", text)


def _formatted_texts(payload: dict[str, Any]) -> list[str]:
    """Summary, fields and error message: where record text must stay in code spans."""
    blocks = payload["blocks"]
    texts = [blocks[1]["text"]["text"]] + [f["text"] for f in blocks[2]["fields"]]
    texts += [
        b["text"]["text"]
        for b in blocks[3:]
        if b["type"] == "section" and b["text"]["text"].startswith("*Error")
    ]
    return [_outside_code(t) for t in texts]


def escapes(field: str, value: str, baseline: tuple[list[str], int]) -> list[str]:
    """The escape kinds (a-e above) one rendering shows; empty when it held."""
    return check(*build(field, value), baseline)


def check(
    payload: dict[str, Any], subj: str, text: str, baseline: tuple[list[str], int]
) -> list[str]:
    found = []
    for t in mrkdwn_texts(payload):
        rest = LINK.sub(lambda m: "" if _our_url(m.group(1)) else m.group(), t)
        rest = re.sub(r"(^|\n)>", r"\1", rest)
        if "<" in rest or ">" in rest:
            found.append("a: < or > outside our links")
            break
    if limit_problems(payload):
        found.append("b: " + ", ".join(limit_problems(payload)))
    strings = [payload["blocks"][0]["text"]["text"], *mrkdwn_texts(payload), subj, text]
    if any(is_unsafe(c) and c != "\n" for s in strings for c in s):
        found.append("c: invisible or direction character")
    if _formatted_texts(payload) != baseline[0]:
        found.append("d: record text outside a code span")
    lines = text.split("\n")
    if (
        len(text.splitlines()) != len(lines) - 1
        or any(not EMAIL_LINE.fullmatch(line) and not line.startswith("Plus ") for line in lines)
        or len(lines) > baseline[1]
    ):
        found.append("e: email line forged")
    # SNS: UTF-8 with no line breaks or control characters, under 100 characters
    if len(subj) > 99 or not subj.isprintable():
        found.append("e: email subject")
    if any(c in payload["text"] for c in "*_~`"):
        found.append("f: formatting in the push preview")
    if CLICKABLE.search(text.split("\nLINKS\n", 1)[0]) or CLICKABLE.search(subj):
        found.append("g: clickable record URL in the email")
    return found


def _our_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(SLACK_HOSTS.fullmatch(parts.hostname or ""))


def _baseline(field: str) -> tuple[list[str], int]:
    payload, _, text = build(field, "benign-value-1")
    return _formatted_texts(payload), len(text.split("\n"))


@pytest.mark.parametrize("size", sizes(small=7, full=1))
def test_attacker_strings_in_every_field_never_escape(size: int) -> None:
    attacks = ATTACKS[::size]
    fields = [*FIELDS, *LOG_FIELDS]
    holes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    renders = 0
    for field in fields:
        baseline = _baseline(field)
        for attack in attacks:
            renders += 1
            for kind in escapes(field, attack, baseline):
                key = f"{field}: {kind}"
                holes[key] += 1
                examples.setdefault(key, attack[:60])
    record(
        "injection",
        "attacker strings x record fields -> Slack JSON + email",
        tried=f"{len(attacks)} strings x {len(fields)} fields",
        times=renders,
        held="escapes == 0",
        attack_strings=len(attacks),
        fields=len(fields),
        renders=renders,
        escapes=sum(holes.values()),
    )
    assert not holes, {k: (n, examples[k]) for k, n in holes.items()}
    assert len(ATTACKS) >= 50


def test_the_checker_catches_what_it_should() -> None:
    """The definition bites: a raw mention, formatting, a zero-width space, a forged line."""
    baseline = _baseline("userAgent")
    payload, subj, text = build("userAgent", "x")
    assert check(payload, subj, text, baseline) == []
    ua = payload["blocks"][2]["fields"][9]
    for bad, kind in [
        (" <!channel>", "a"),
        (" *bold*", "d"),
        ("\u200b", "c"),
    ]:
        evil = copy.deepcopy(payload)
        evil["blocks"][2]["fields"][9]["text"] = ua["text"] + bad
        assert kind in [k[0] for k in check(evil, subj, text, baseline)], bad
    assert check(payload, subj, text + "Subject: forged\n", baseline)[0].startswith("e")
    preview = {**payload, "text": payload["text"] + " *x*"}
    assert [k[0] for k in check(preview, subj, text, baseline)] == ["f"]
    linked = text.replace("  User agent:", "  User agent:        https://x.example", 1)
    assert "g" in [k[0] for k in check(payload, subj, linked, baseline)]
    assert check(payload, subj + "\n", text, baseline)[0].startswith("e")


# --- Teams (Adaptive Card) and PagerDuty -------------------------------------
#
# A Teams escape is counted per rendered card when any of these holds:
#   a. record text reaches Markdown: a TextBlock's text differs from a benign
#      rendering (TextBlocks are Teams Markdown; record text belongs in TextRuns,
#      which Adaptive Cards never parse), or the card sends msteams.entities (mentions);
#   b. the payload is over Teams' 28 KB message limit;
#   c. an invisible or direction-changing character survives in any text;
#   d. a button opens a URL that is not ours.
# A PagerDuty escape: (c) anywhere in the event, a summary over 1024 characters, or
# a link that is not ours.


def build_teams(field: str, value: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from deniedwatch.alerts.channels.pagerduty import render as pd_render
    from deniedwatch.alerts.channels.teams import render as teams_render

    alert = attacked(field, value)
    event = pd_render(alert, routing_key="k" * 32, severity="high")
    return teams_render(alert, window_minutes=60), event


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _markdown(card: dict[str, Any]) -> list[str]:
    """Our Markdown TextBlocks, less the explanation's labels: those rows appear only when
    the record has the value (a malformed vpcEndpointId has none), so they are not compared."""
    return [
        n["text"]
        for n in _walk(card)
        if n.get("type") == "TextBlock" and n["text"] not in wording.EXPLANATION_LABELS
    ]


def teams_check(payload: dict[str, Any], event: dict[str, Any], benign: list[str]) -> list[str]:
    import json

    found = []
    card = payload["attachments"][0]["content"]
    if _markdown(card) != benign or "entities" in json.dumps(card.get("msteams", {})):
        found.append("a: record text in Teams Markdown")
    size = len(json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace"))
    if size > 28 * 1024:
        found.append(f"b: {size} bytes")
    strings = _strings(payload) + _strings(event)
    if any(is_unsafe(c) and c != "\n" for s in strings for c in s):
        found.append("c: invisible or direction character")
    urls = [a["url"] for a in card.get("actions", [])] + [x["href"] for x in event["links"]]
    if not all(_our_url(u) for u in urls):
        found.append("d: a link that is not ours")
    if len(event["payload"]["summary"]) > 1024:
        found.append("e: PagerDuty summary over 1024")
    return found


@pytest.mark.parametrize("size", sizes(small=7, full=1))
def test_attacker_strings_never_escape_in_teams_or_pagerduty(size: int) -> None:
    attacks = ATTACKS[::size]
    fields = [*FIELDS, *LOG_FIELDS]
    holes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for field in fields:
        benign = _markdown(build_teams(field, "benign-value-1")[0]["attachments"][0]["content"])
        for attack in attacks:
            for kind in teams_check(*build_teams(field, attack), benign):
                holes[f"{field}: {kind}"] += 1
                examples.setdefault(f"{field}: {kind}", attack[:60])
    record(
        "injection",
        "attacker strings x record fields -> Teams card + PagerDuty event",
        tried=f"{len(attacks)} strings x {len(fields)} fields",
        times=len(attacks) * len(fields),
        held="escapes == 0",
        escapes=sum(holes.values()),
    )
    assert not holes, {k: (n, examples[k]) for k, n in holes.items()}


def test_the_teams_checker_catches_what_it_should() -> None:
    payload, event = build_teams("userAgent", "x")
    benign = _markdown(payload["attachments"][0]["content"])
    assert teams_check(payload, event, benign) == []
    card = payload["attachments"][0]["content"]
    evil = copy.deepcopy(payload)
    evil["attachments"][0]["content"]["body"].append({"type": "TextBlock", "text": "[x](y)"})
    assert teams_check(evil, event, benign)[0].startswith("a")
    evil = copy.deepcopy(payload)
    evil["attachments"][0]["content"]["actions"] = [
        {"type": "Action.OpenUrl", "url": "https://evil.example/", "title": "x"}
    ]
    assert teams_check(evil, event, benign)[0].startswith("d")
    assert card["body"][0]["type"] == "RichTextBlock"
