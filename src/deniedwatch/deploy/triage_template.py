"""The function URL of triage from the alert (docs/triage.md) in the template: spliced in
from deploy/triage.yaml only with `deploy --slack-interactivity`, and the regions where
Lambda has no function URLs (deploy refuses the flag there). Pure."""

from __future__ import annotations

from importlib.resources import files

TRIAGE_RESOURCE = "triage.yaml"  # the function URL: only with --slack-interactivity

# Regions without Lambda function URLs (AWS's list, and cfn-lint's schemas agree:
# tests/test_template.py): `--slack-interactivity` is refused there before any call.
# https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
NO_FUNCTION_URLS: frozenset[str] = frozenset(
    {
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "cn-northwest-1",
        "eu-central-2",
        "il-central-1",
        "me-central-1",
        "mx-central-1",
        "us-gov-east-1",
        "us-gov-west-1",
    }
)


def with_triage(text: str) -> str:
    """The template with the function URL of triage (deploy/triage.yaml) spliced in: its
    resources at the end of Resources, its output at the end of Outputs."""
    fragment = files("deniedwatch.deploy").joinpath(TRIAGE_RESOURCE).read_text(encoding="utf-8")
    resources, _, outputs = fragment.partition("# --- outputs\n")
    resources = resources.split("# --- resources\n", 1)[1]
    head, sep, tail = text.partition("\nOutputs:\n")
    if not sep:
        raise RuntimeError("template.yaml: no Outputs section")
    return (
        head.rstrip("\n")
        + "\n\n"
        + resources.rstrip("\n")
        + "\n"
        + sep
        + (tail.rstrip("\n") + "\n" + outputs)
    )
