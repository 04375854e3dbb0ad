"""`deniedwatch status` names the region and stack it looked in, and where else to look."""

from __future__ import annotations


def test_status_in_the_wrong_region_names_it_and_the_settings_region(
    aws_env, cli, unique_name, tmp_path
) -> None:
    stack = unique_name("dwnowhere")
    settings = tmp_path / "deniedwatch.toml"
    settings.write_text('[deploy]\nregion = "eu-west-1"\n')
    result = cli("status", "--stack-name", stack, "--region", "us-east-1", "--config", settings)
    assert result.exit_code == 1
    assert f"{stack}: missing in us-east-1" in result.stdout
    assert f"stack {stack} does not exist in us-east-1" in result.stderr
    assert "deniedwatch status --region eu-west-1" in result.stderr


def test_status_without_settings_says_how_to_name_a_region(aws_env, cli, unique_name) -> None:
    stack = unique_name("dwnowhere")
    result = cli("status", "--stack-name", stack)
    assert result.exit_code == 1
    assert f"stack {stack} does not exist in us-east-1" in result.stderr
    assert "pass --region, or set [deploy] region" in result.stderr
