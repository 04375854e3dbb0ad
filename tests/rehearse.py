"""A local rehearsal of a deployment, before your real account (`make rehearse`).

Against moto_server on 127.0.0.1 (started here, on a free port), with fake credentials:
`deniedwatch deploy` (its Slack webhook is a local receiver started here), one sample
denial pushed through the deployed function's code (the zip the deploy uploaded, unpacked
and run as the Lambda runtime runs it: tests/lambda_zip.py), the alert the receiver got,
`deniedwatch status`, `deniedwatch destroy --purge`, and a last `status` that finds no
stack. Each step is one line; a failed step ends the run with one line naming it and exit
1; the servers are stopped whatever happens.

Simulated, and said so when it happens: moto's CloudFormation skips the stack's
AWS::SecretsManager::Secret, so the function gets the webhook through its environment
(SLACK_WEBHOOK_URL, what deniedwatch.secrets reads without DENIEDWATCH_SECRETS_ARN); moto
cannot run Lambda code, so the zip runs in a local interpreter (python3.12, the Lambda's,
when this machine has it).

    python tests/rehearse.py [--endpoint URL] [--stack-name NAME] [--region REGION]

``--endpoint``: use a stand-in already running there (LocalStack, a moto_server of your
own) instead of starting one; it is neither started nor stopped here.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
STEPS = ("stand-in", "receiver", "deploy", "invoke", "alert", "status", "destroy", "gone")
SAMPLE = Path(__file__).resolve().parent.parent / "src/deniedwatch/data/sample_record.json"


class StepFailed(Exception):
    """One line saying why the step failed."""


@dataclass
class Rehearsal:
    stack: str
    region: str
    workdir: Path
    endpoint: str = ""
    webhook: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    deployed: bool = False
    sample: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)  # printed under the step's line

    def env(self) -> dict[str, str]:
        """What every command gets: the stand-in, fake credentials, the region, the
        receiver as the webhook; nothing of this shell's AWS setup or settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DENIEDWATCH_"))}
        env.pop("SLACK_WEBHOOK_URL", None)
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=self.region,
            AWS_CONFIG_FILE=str(self.workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.workdir / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            DENIEDWATCH_SLACK_WEBHOOK_URL=self.webhook,
            COLUMNS="200",
        )
        return env

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`deniedwatch ARGS` as a process, in an empty folder (no ./deniedwatch.toml)."""
        done = subprocess.run(
            [str(BIN / "deniedwatch"), *args, "--stack-name", self.stack, "--region", self.region],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
        for text in (done.stdout, done.stderr):
            if "Traceback" in text or "<!doctype" in text.lower():
                raise StepFailed(f"`deniedwatch {args[0]}` printed a traceback or a page")
        return done


def say(text: str = "") -> None:
    print(text, flush=True)


def error_line(done: subprocess.CompletedProcess[str], command: str) -> str:
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    said = next((x for x in lines if x.startswith("error:")), lines[-1] if lines else "")
    return f"`deniedwatch {command}` exited {done.returncode}: {said or '(nothing on stderr)'}"


# -- the servers ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[str]:
    """moto_server (the command) on a free port of 127.0.0.1, stopped on the way out."""
    port = free_port()
    log = (workdir / "moto_server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server, workdir / "moto_server.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        say(f"stopped moto_server {url} (pid {server.pid})")


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            last = (log.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
            raise StepFailed(f"moto_server exited {server.returncode}: {last}")
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise StepFailed(f"moto_server did not answer on {url} within 60 s")


@contextlib.contextmanager
def receiver() -> Iterator[Any]:
    """The local Slack receiver (tests/live_support.SlackStandIn on a real HTTP server)."""
    from pytest_httpserver import HTTPServer

    from live_support import SlackStandIn

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log on the terminal
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield SlackStandIn(server)
    finally:
        server.stop()
        say(f"stopped the receiver {server.url_for('/')}")


# -- the steps -----------------------------------------------------------------------------
def deploy(r: Rehearsal) -> str:
    done = r.cli("deploy", "--yes", "--code-bucket", f"{r.stack}-code")
    if done.returncode != 0:
        raise StepFailed(error_line(done, "deploy"))
    r.deployed = True
    warnings = [x for x in done.stderr.splitlines() if x.startswith("warning:")]
    r.details += warnings
    said = next((x for x in done.stderr.splitlines() if x.startswith(f"stack {r.stack} ")), "")
    return f"{said or 'done'}; {len(warnings)} warnings (what the stand-in lacks)"


def sample_denial() -> dict[str, Any]:
    """The bundled AccessDenied record (what `test-alert` sends), as if made just now."""
    record = json.loads(SAMPLE.read_text())
    record["eventTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record["eventID"] = str(uuid.uuid4())
    return record


def invoke(r: Rehearsal) -> str:
    from deniedwatch.deploy import aws, names, package
    from lambda_zip import ZipRunFailed, function_env, run_zip, subscription_payload

    cfn, fn = r.client("cloudformation"), r.client("lambda")
    stack = cfn.describe_stacks(StackName=r.stack)["Stacks"][0]
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
    bucket, key = params["CodeBucket"], params["CodeKey"]
    zip_bytes = r.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    config = fn.get_function(FunctionName=names.function_name(r.stack))["Configuration"]
    variables = dict(config.get("Environment", {}).get("Variables", {}))
    secret = names.secret_name(r.stack)
    if aws.secret_state(r.client("secretsmanager"), secret) == "missing":
        variables.pop("DENIEDWATCH_SECRETS_ARN", None)
        variables["SLACK_WEBHOOK_URL"] = r.webhook
        r.details.append(
            "simulated: moto does not create the secret; the webhook is given through "
            "the environment (SLACK_WEBHOOK_URL instead of DENIEDWATCH_SECRETS_ARN)"
        )
    python = package.runtime_python()
    if python is None:
        python = sys.executable
        r.details.append(
            f"simulated: no python3.12 here: the zip runs under {sys.version.split()[0]}"
        )
    home = r.workdir / "function"
    home.mkdir()
    env = function_env(variables, r.endpoint, home, r.region)
    r.sample = sample_denial()
    try:
        result = run_zip(python, zip_bytes, env, subscription_payload(r.sample), home)
    except ZipRunFailed as exc:
        raise StepFailed(f"the function failed: {last_line(str(exc))}") from None
    if result.get("status") != "ok" or not result.get("sent"):
        raise StepFailed(f"the function sent nothing: {json.dumps(result)[:300]}")
    who = r.sample["userIdentity"]["arn"].rsplit("/", 2)[-2:]
    return (
        f"s3://{bucket}/{key} run by {Path(python).name} on 1 denial "
        f"({r.sample['eventName']} by {'/'.join(who)}): {result['findings']} finding, "
        f"{result['sent']} alert sent"
    )


def last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1] if lines else "(no output)"


def readable(payload: dict[str, Any]) -> list[str]:
    """A Slack message as plain lines: the header, each field as `label: value`, links by
    their label only (a terminal is not where one clicks them)."""
    from live_support import mrkdwn_texts

    lines = [b["text"]["text"] for b in payload.get("blocks", []) if b.get("type") == "header"]
    for text in mrkdwn_texts(payload)[1:]:  # [0] is the notification's fallback text
        text = html.unescape(re.sub(r"<[^|>]+\|([^>]+)>", r"\1", text))
        parts = [re.sub(r"^>|[*`]", "", x).strip() for x in text.splitlines() if x.strip()]
        if len(parts) == 2 and re.fullmatch(r"\*[^*]+\*", text.splitlines()[0].strip()):
            parts = [f"{parts[0]}: {parts[1]}"]  # a field: its label, then its value
        elif label := re.match(r"\*([^*]+)\* `", text):  # label and value on one line
            parts[0] = parts[0].replace(label.group(1), f"{label.group(1)}:", 1)
        lines += parts
    return lines


def alert(r: Rehearsal, slack: Any) -> str:
    if len(slack.bodies) != 1:
        raise StepFailed(f"the receiver got {len(slack.bodies)} messages, not 1")
    (body,) = slack.bodies
    r.details += ["| " + line for line in readable(body)]
    action = r.sample["errorMessage"].split("perform: ", 1)[1].split()[0]
    if action not in json.dumps(body) or "deploy-pipeline/build-4711" not in json.dumps(body):
        raise StepFailed(f"the message does not name {action} and deploy-pipeline/build-4711")
    return f"the receiver got 1 Slack message, naming {action} and its caller:"


def status(r: Rehearsal) -> str:
    done = r.cli("status")
    if done.returncode != 0:
        raise StepFailed(error_line(done, "status"))
    r.details += [x.strip() for x in (done.stdout + done.stderr).splitlines() if x.strip()]
    return "healthy (exit 0)"


def destroy(r: Rehearsal) -> str:
    done = r.cli("destroy", "--yes", "--purge")
    if done.returncode != 0:
        raise StepFailed(error_line(done, "destroy --purge"))
    r.deployed = False
    r.details += [
        x for x in done.stderr.splitlines() if x.startswith(("deleted", "bucket", "log "))
    ]
    return f"stack {r.stack} deleted, and what --purge removes:"


def gone(r: Rehearsal) -> str:
    done = r.cli("status")
    said = " ".join((done.stdout + done.stderr).split())
    if f"stack {r.stack} does not exist" not in said:
        raise StepFailed(f"`deniedwatch status` still finds stack {r.stack}")
    return f"`deniedwatch status` says: stack {r.stack} does not exist in {r.region}"


# -- the run -------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    step, failed = "stand-in", ""

    def done(name: str, line: str) -> None:
        say(f"[{STEPS.index(name) + 1}/{len(STEPS)}] {name}: {line}")
        for extra in r.details:
            say(f"      {extra}")
        r.details.clear()

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        r = Rehearsal(args.stack_name, args.region, Path(tmp))
        try:
            if args.endpoint:
                r.endpoint = args.endpoint.rstrip("/")
                done(step, f"{r.endpoint} (given: neither started nor stopped here)")
            else:
                r.endpoint = stack.enter_context(moto_server(r.workdir))
                done(step, f"moto_server started on {r.endpoint} (fake credentials)")
            step = "receiver"
            slack = stack.enter_context(receiver())
            r.webhook = slack.url
            done(step, f"local Slack receiver on {slack.server.url_for('/')} (the webhook)")
            steps: list[tuple[str, Callable[[], str]]] = [
                ("deploy", lambda: deploy(r)),
                ("invoke", lambda: invoke(r)),
                ("alert", lambda: alert(r, slack)),
                ("status", lambda: status(r)),
                ("destroy", lambda: destroy(r)),
                ("gone", lambda: gone(r)),
            ]
            for step, action in steps:
                done(step, action())
        except (Exception, KeyboardInterrupt) as exc:
            reason = str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
            reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else reason
            if r.deployed:  # leave nothing behind on a stand-in that outlives this run
                with contextlib.suppress(Exception):
                    r.cli("destroy", "--yes", "--purge")
                    say(f"cleaned up: destroyed stack {r.stack} on {r.endpoint}")
            n = STEPS.index(step) + 1
            failed = f"rehearse: FAILED at step {n}/{len(STEPS)} ({step}): {last_line(reason)}"
    if failed:  # after the servers stopped: the last word is what failed
        print(failed, file=sys.stderr, flush=True)
        return 1
    say(f"rehearsal passed: {len(STEPS)} steps against {r.endpoint}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="a stand-in already running (default: start one)")
    parser.add_argument("--stack-name", default="deniedwatch-rehearsal")
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args(argv)

    def stop(signum: int, _: Any) -> None:  # `kill` is Ctrl-C: the servers still stop
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
