"""The denial rule and the suppressions as SQL (Athena / Trino): the same rule as
``rules.py``, rendered from the very same tuples and dataclass, so the Athena scan and the
function cannot disagree about what is a denial or what is hidden.

Rendered over AWS's CloudTrail table layout (its columns are the record's keys in lower
case; ``sources/cloudtrail_table.py`` holds the DDL). Every suppression is wrapped in
COALESCE(…, FALSE) so a NULL never turns `NOT (rule)` into "drop the row".
"""

from __future__ import annotations

from dataclasses import fields

from deniedwatch.rules import (
    DENIAL_EXACT,
    DENIAL_PREFIXES,
    DENIAL_SUFFIXES,
    DenialRule,
    Suppression,
)

# Suppression key -> the Finding value it reads, as a SQL expression over the table (for a
# true/false key: the condition that true asks for). A key without an exact SQL form maps
# to None, and a rule using it is applied to the returned rows instead (the scan runs
# Ruleset.evaluate on every row anyway). A new key is one line.
_ACCOUNT_SQL = "COALESCE(NULLIF(recipientaccountid, ''), NULLIF(useridentity.accountid, ''))"
SUPPRESSION_SQL: dict[str, str | None] = {
    "principal_arn": "useridentity.arn",
    "principal_name": None,  # derived per principal type (a service name implies AWSService)
    "principal_type": "useridentity.type",
    "event_source": "eventsource",
    "event_name": "eventname",
    "error_code": "errorcode",
    "account_id": _ACCOUNT_SQL,
    "caller_account_id": "useridentity.accountid",
    "source_ip": "sourceipaddress",
    "user_agent": "useragent",
    "same_account": f"NULLIF(useridentity.accountid, '') = {_ACCOUNT_SQL}",
}
_GLOB_KEYS = frozenset({"principal_arn", "event_name", "user_agent"})
_IPV4 = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


def sql_string(value: str) -> str:
    """A SQL string literal (standard SQL: quotes doubled, backslashes are plain)."""
    return "'" + value.replace("'", "''") + "'"


def _like_literal(value: str) -> str:
    """Escape LIKE's own wildcards, for use with ESCAPE '\\'."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(expr: str, pattern: str) -> str:
    return f"{expr} LIKE {sql_string(pattern)} ESCAPE '\\'"


def denial_sql(rule: DenialRule, code: str = "errorcode") -> str:
    """The denial rule as a SQL condition on the errorCode column."""
    terms = [_like(code, f"{_like_literal(p)}%") for p in DENIAL_PREFIXES]
    terms += [_like(code, f"%{_like_literal(s)}") for s in DENIAL_SUFFIXES]
    exact = sorted({*DENIAL_EXACT, *rule.extra_codes})
    terms.append(f"{code} IN ({', '.join(map(sql_string, exact))})")
    condition = "(" + " OR ".join(terms) + ")"
    if rule.ignored_codes:
        ignored = ", ".join(map(sql_string, sorted(rule.ignored_codes)))
        condition += f" AND {code} NOT IN ({ignored})"
    return condition


def _glob_sql(expr: str, pattern: str) -> str | None:
    """fnmatchcase as SQL: `*` and `?` become LIKE's `%` and `_`; a `[class]` has no
    exact LIKE form (None)."""
    if "[" in pattern:
        return None
    if "*" not in pattern and "?" not in pattern:
        return f"{expr} = {sql_string(pattern)}"
    like = "".join({"*": "%", "?": "_"}.get(c, _like_literal(c)) for c in pattern)
    return _like(expr, like)


def _ip_sql(expr: str, rule: Suppression) -> str | None:
    """Suppression.source_ip as SQL: an IPv4 network by arithmetic on a strictly formed
    dotted quad (what ipaddress accepts), a non-IP value by equality; IPv6: None."""
    assert rule.source_ip is not None
    network = rule._network
    if network is None:
        return f"{expr} = {sql_string(rule.source_ip)}"
    if network.version != 4:
        return None
    quad = rf"\A{_IPV4}(\.{_IPV4}){{3}}\z"
    number = " + ".join(
        f"TRY_CAST(split_part({expr}, '.', {i + 1}) AS BIGINT) * {256 ** (3 - i)}" for i in range(4)
    )
    low, high = int(network.network_address), int(network.broadcast_address)
    # CASE, not AND: SQL does not promise to test the shape first, and the arithmetic on
    # a value that is no address ("600000000000.1.2.3") overflows BIGINT and fails the query
    return (
        f"(CASE WHEN regexp_like({expr}, {sql_string(quad)}) "
        f"THEN ({number}) BETWEEN {low} AND {high} ELSE FALSE END)"
    )


def suppression_sql(rule: Suppression) -> str | None:
    """One suppression as a SQL condition (true when it hides the row), or None when a key
    it uses has no exact SQL form."""
    terms = []
    for item in fields(rule):
        value = getattr(rule, item.name)
        if item.name == "name" or value is None or value is False:
            continue
        column = SUPPRESSION_SQL[item.name]
        if column is None:
            return None
        expr = f"NULLIF({column}, '')"  # finding.py's _str: an empty string is no value
        if value is True:
            term = column  # a condition, not a value
        elif item.name == "source_ip":
            term = _ip_sql(expr, rule)
        elif item.name in _GLOB_KEYS:
            term = _glob_sql(expr, value)
        else:
            term = f"{expr} = {sql_string(value)}"
        if term is None:
            return None
        terms.append(term)
    if not terms:
        return None
    return "COALESCE((" + " AND ".join(terms) + "), FALSE)"
