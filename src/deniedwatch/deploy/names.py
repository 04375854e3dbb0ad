"""Every name and fact deploy derives from the stack name, declared once.

The template builds the same names with ``!Sub "${AWS::StackName}..."``;
tests/test_names.py renders the template and checks each one against this module, so
code and template cannot drift. Each name carries its service's length limit, and the
longest stack name is computed from them (checked before any AWS call).
"""

from __future__ import annotations

from dataclasses import dataclass

STACK_PLACEHOLDER = "${AWS::StackName}"


@dataclass(frozen=True)
class DerivedName:
    """``{stack}``-based name format, what it names, and that service's length limit."""

    what: str
    format: str
    limit: int

    def of(self, stack: str) -> str:
        return self.format.format(stack=stack)

    @property
    def in_template(self) -> str:
        """The ``!Sub`` text the template uses for this name."""
        return self.of(STACK_PLACEHOLDER)


# Lambda function names: at most 64 characters (Lambda CreateFunction, FunctionName).
FUNCTION = DerivedName("function", "{stack}-alerts", 64)
FUNCTION_LOG_GROUP = DerivedName("function log group", "/aws/lambda/{stack}-alerts", 512)
TRAIL = DerivedName("trail", "{stack}-trail", 128)
# Holds every destination's secret (JSON name -> secret); named from when it held one URL.
SECRET = DerivedName("destination secrets", "{stack}/slack-webhook-url", 512)
METRIC_NAMESPACE = DerivedName("metric namespace", "deniedwatch/{stack}", 255)
# The stack's IAM roles live under this path, so the deployer policy can name them
# whatever (shortened) name CloudFormation generates: arn:aws:iam::ACCOUNT:role/PATH*.
ROLE_PATH = DerivedName("role path", "/deniedwatch/{stack}/", 512)
CODE_PREFIX = DerivedName("code key prefix", "deniedwatch/{stack}/", 1024 - 46)  # + lambda-….zip

DERIVED_NAMES: tuple[DerivedName, ...] = (
    FUNCTION,
    FUNCTION_LOG_GROUP,
    TRAIL,
    SECRET,
    METRIC_NAMESPACE,
    ROLE_PATH,
    CODE_PREFIX,
)

# CloudFormation's own limit is 128; the tightest derived name decides.
MAX_STACK_NAME = min(128, *(n.limit - len(n.of("")) for n in DERIVED_NAMES))

# Stack statuses after which the stack is usable (status, deploy's result).
HEALTHY_STACK_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})

# CloudWatch Logs' allowed retention values (PutRetentionPolicy, retentionInDays);
# the template's LogRetentionDays AllowedValues must say the same (tests/test_names.py).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096),
    *(1827, 2192, 2557, 2922, 3288, 3653),
)
ALARM_PERIODS: tuple[int, ...] = (60, 300, 900, 3600, 21600, 86400)


def function_name(stack: str) -> str:
    return FUNCTION.of(stack)


def secret_name(stack: str) -> str:
    return SECRET.of(stack)


def code_prefix(stack: str) -> str:
    return CODE_PREFIX.of(stack)


def too_long(stack: str) -> list[str]:
    """The derived names that would exceed their service's limit (empty when fine)."""
    return [
        f"{n.what} {n.of(stack)!r} ({len(n.of(stack))} > {n.limit})"
        for n in DERIVED_NAMES
        if len(n.of(stack)) > n.limit
    ]
