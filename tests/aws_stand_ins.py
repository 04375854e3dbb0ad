"""Stand-ins for what moto server cannot do in a `deniedwatch deploy` run, and a record of
every AWS call the CLI makes (the ``aws_stand_ins`` fixture in conftest.py).

Simulated, each for a stated reason:
- logs:TestMetricFilter (moto lacks it): answered by tests/cwl_filter.py, the evaluator
  of CloudWatch Logs' documented pattern syntax;
- the stack's AWS::SecretsManager::Secret (moto's CloudFormation skips it): created right
  after moto creates the stack, as CloudFormation would on AWS;
- the code bucket's TLS-only policy (moto enforces aws:SecureTransport against its own
  plain-http endpoint, which would lock the test out): kept for the test to check, unapplied.

A test can also put AWS's own answer where moto gives another (``Recorded.answers``: a
canned response instead of moto's, like a botocore Stubber for that one operation) or
edit moto's answer (``Recorded.edits``: e.g. a stack status moto never reaches, such as
ROLLBACK_COMPLETE). Each test says which answer it imitates and from which AWS page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from cwl_filter import compile_pattern
from deniedwatch.deploy.names import secret_name


@dataclass
class Recorded:
    calls: set[tuple[str, str]] = field(default_factory=set)
    bucket_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (service, operation) -> params -> AWS's parsed answer, or None to ask moto
    answers: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any] | None]] = field(
        default_factory=dict
    )
    # (service, operation) -> (params, moto's parsed answer) -> None, editing it in place
    edits: dict[tuple[str, str], Callable[[dict[str, Any], dict[str, Any]], None]] = field(
        default_factory=dict
    )


def install(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """Record the CLI's AWS calls; stand in for what moto lacks (see the module doc)."""
    from deniedwatch.cli import stack_io
    from deniedwatch.deploy.stack import Stacks

    recorded = Recorded()

    def judge(body: bytes) -> tuple[Any, dict[str, Any]]:
        request = json.loads(body)
        test = compile_pattern(request["filterPattern"])
        hits = [
            {"eventNumber": i + 1, "eventMessage": m, "extractedValues": {}}
            for i, m in enumerate(request["logEventMessages"])
            if test(m)
        ]
        return SimpleNamespace(status_code=200, headers={}), {"matches": hits}

    class RecordingSession(boto3.session.Session):
        def client(self, name: str, *args: Any, **kwargs: Any) -> Any:
            client = super().client(name, *args, **kwargs)

            def before_call(model: Any, params: dict[str, Any], **_: Any) -> Any:
                recorded.calls.add((name, model.name))
                if answer := recorded.answers.get((name, model.name)):
                    given = params["context"].get("api_params", {})
                    parsed = answer(given)
                    if parsed is not None:  # an "Error" answer is an error, as from AWS
                        status = parsed.get("ResponseMetadata", {}).get(
                            "HTTPStatusCode", 400 if "Error" in parsed else 200
                        )
                        return SimpleNamespace(status_code=status, headers={}), parsed
                if (name, model.name) == ("logs", "TestMetricFilter"):
                    return judge(params["body"])
                if (name, model.name) == ("s3", "PutBucketPolicy"):
                    # moto serves plain http and enforces aws:SecureTransport, so the
                    # TLS-only policy would lock the test out: keep it to check, unapplied.
                    bucket = params["context"]["input_params"]["Bucket"]
                    recorded.bucket_policies[bucket] = json.loads(params["body"])
                    return SimpleNamespace(status_code=204, headers={}), {}
                return None

            def after_call(model: Any, parsed: dict[str, Any], **kwargs: Any) -> None:
                if edit := recorded.edits.get((name, model.name)):
                    edit(kwargs.get("context", {}).get("api_params", {}), parsed)

            def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
                context["api_params"] = dict(params)  # the call's arguments, for the hooks

            client.meta.events.register("before-parameter-build", keep_params)
            client.meta.events.register("before-call", before_call)
            client.meta.events.register("after-call", after_call)
            return client

    monkeypatch.setattr(stack_io, "session", lambda region: RecordingSession(region_name=region))
    real_deploy = Stacks.deploy

    def deploy_then_secret(self: Stacks, name: str, template: str, parameters: Any) -> Any:
        result = real_deploy(self, name, template, parameters)
        if result.action == "create":  # the stack's AWS::SecretsManager::Secret, on AWS
            boto3.client("secretsmanager").create_secret(Name=secret_name(name))
        return result

    monkeypatch.setattr(Stacks, "deploy", deploy_then_secret)
    return recorded
