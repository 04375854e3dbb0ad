"""`deniedwatch deploy`'s prompts forgive a typo: each answer is checked at its prompt and
asked again; nothing a flag, the environment or the settings gave is asked; a hidden
prompt without a terminal says which variable to set; `--yes` never prompts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deniedwatch.cli import app, stack_io

WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"


@pytest.fixture(autouse=True)
def _no_webhook_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DENIEDWATCH_SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "DENIEDWATCH_ALERT_EMAIL"):
        monkeypatch.delenv(name, raising=False)


def _run(args: list[str], answers: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, args, input=answers, env=env)


def test_a_bad_email_is_asked_again_and_given_values_are_not_asked(
    aws_stand_ins, unique_name, monkeypatch
) -> None:
    stack = unique_name("dw-three")
    args = [
        "deploy", "--stack-name", stack, "--region", "us-east-1", "--account-trail",
        "--code-bucket", unique_name("dwcode"),
    ]  # fmt: skip
    # channel, email (a typo, then right), existing log group, trail bucket, Deploy? no
    answers = "\nsecops-at-example.com\nsecops@example.com\n\n\nn\n"
    result = _run(args, answers, env={"DENIEDWATCH_SLACK_WEBHOOK_URL": WEBHOOK})
    out = result.output
    assert result.exit_code == 1, out  # declined at "Deploy?": nothing created
    assert "'secops-at-example.com' is not an email address: try again" in out
    assert "secops@example.com" in out.split("Deploy?")[0].split("email")[-1]
    for given in ("Stack name", "AWS region", "Code bucket", "Organization trail", "webhook"):
        assert given not in out, given
    assert WEBHOOK not in out


def test_a_hidden_prompt_without_a_terminal_names_the_variable(
    aws_env, unique_name, monkeypatch
) -> None:
    monkeypatch.setattr(stack_io, "has_terminal", lambda: False)
    args = ["deploy", "--stack-name", unique_name("dwtty"), "--region", "us-east-1"]
    result = _run(args, "")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert "no terminal to ask for the Slack webhook URL" in lines[-1]
    assert "set DENIEDWATCH_SLACK_WEBHOOK_URL" in lines[-1]
    assert "GetPassWarning" not in result.output and "Aborted" not in result.output


def test_a_bad_webhook_is_asked_again_without_losing_the_other_answers(
    aws_stand_ins, unique_name, monkeypatch
) -> None:
    monkeypatch.setattr(stack_io, "has_terminal", lambda: True)
    args = [
        "deploy", "--stack-name", unique_name("dwhook"), "--region", "us-east-1",
        "--account-trail", "--code-bucket", unique_name("dwcode"), "--email", "a@example.com",
    ]  # fmt: skip
    # webhook (http: refused, then https), channel, existing log group, trail bucket, no
    answers = f"http://hooks.example.com/x\n{WEBHOOK}\n#sec\n\n\nn\n"
    result = _run(args, answers)
    assert result.exit_code == 1, result.output
    assert "try again" in result.output and "Deploy?" in result.output
    assert "new for slack" in result.output  # the second answer was taken


@pytest.mark.parametrize("command", [["set-secret", "slack"], ["set-webhook"]])
def test_set_secret_with_yes_says_what_to_set_not_answer_the_prompt(aws_env, command) -> None:
    result = _run([*command, "--yes"], "")
    assert result.exit_code == 2
    assert "answer the prompt" not in result.output
    assert "--yes asks nothing" in result.output
    assert "DENIEDWATCH_SLACK_WEBHOOK_URL" in result.output


def test_yes_never_prompts(aws_env, unique_name) -> None:
    args = [
        "deploy", "--yes", "--stack-name", unique_name("dwyes"), "--region", "us-east-1",
        "--slack-webhook-url", "http://not-https.example.com/x",
    ]  # fmt: skip
    result = _run(args, "")  # no input at all: any prompt would abort
    assert result.exit_code == 2 and "Aborted" not in result.output
    assert "must be an https URL" in result.output or "https" in result.output
