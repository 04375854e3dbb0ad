"""docs/explain.md's table of phrasings: per policy type and phrasing, what deniedwatch
reports and the hint, computed here from Finding.from_record and checked line by line.

Print the table: ``.venv/bin/python tests/test_explain_table.py``.
"""

from __future__ import annotations

from pathlib import Path

from deniedwatch.explain import POLICY_KINDS
from deniedwatch.finding import Finding

DOC = Path(__file__).resolve().parents[1] / "docs/explain.md"
HEAD = "User: arn:aws:iam::111122223333:user/u is not authorized to perform: s3:GetObject"
ON = " on resource: arn:aws:s3:::b/k"
ENCODED = "Encoded authorization failure message: EXAMPLEWodyRNrtlQARDip-eTA6i6DrlUhHhP"


def _phrasings() -> list[tuple[str, str, str]]:
    """(phrasing as written in the table, errorCode, errorMessage)."""
    rows = []
    for kind in POLICY_KINDS:
        phrase = kind.words if kind.name == "vpc-endpoint-policy" else kind.phrase
        article = "an" if phrase[0] in "aeiou" else "a"
        rows.append(
            (
                f"… with an explicit deny in {article} {phrase}",
                "AccessDenied",
                f"{HEAD}{ON} with an explicit deny in {article} {phrase}",
            )
        )
        rows.append(
            (
                f"… because no {phrase} allows the … action",
                "AccessDenied",
                f"{HEAD}{ON} because no {phrase} allows the s3:GetObject action",
            )
        )
    rows += [
        (
            "… with an explicit deny (no type: the older phrasing)",
            "AccessDenied",
            f"{HEAD}{ON} with an explicit deny",
        ),
        (
            "The request was denied due to a VPC endpoint policy (`VpceAccessDenied`)",
            "VpceAccessDenied",
            "The request was denied due to a VPC endpoint policy",
        ),
        (
            "EC2: only `Encoded authorization failure message: …`",
            "Client.UnauthorizedOperation",
            f"You are not authorized to perform this. {ENCODED}",
        ),
        ("`Access Denied` (nothing said)", "AccessDenied", "Access Denied"),
    ]
    return rows


def table() -> list[str]:
    lines = [
        "| phrasing in errorMessage | denial_policy | denial_explicit "
        "| hint (for s3:GetObject on arn:aws:s3:::b/k) |",
        "|---|---|---|---|",
    ]
    for said, code, message in _phrasings():
        f = Finding.from_record(
            {
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "awsRegion": "eu-west-1",
                "errorCode": code,
                "errorMessage": message,
                "requestParameters": {"bucketName": "b", "key": "k"},
            }
        )
        explicit = {True: "true", False: "false", None: "null"}[f.denial_explicit]
        hint = (f.hint or "").replace("|", "\\|")
        lines.append(f"| {said} | {f.denial_policy or 'null'} | {explicit} | {hint} |")
    return lines


def test_docs_table_is_what_the_code_reports() -> None:
    doc = DOC.read_text().splitlines()
    missing = [line for line in table() if line not in doc]
    where = "docs/explain.md is out of date; print tests/test_explain_table.py:\n"
    assert not missing, where + "\n".join(missing)


if __name__ == "__main__":
    print("\n".join(table()))
