"""What the validator changes in a job so it plans and runs here, each change reported.

Connectors that cannot run here are swapped *inside the validator* (options only, never in
artifacts) by the role each table plays in the job's queries (`table_roles`, `swap_options`);
a case run applies the job's SETs with the overrides it needs (`case_run_settings`). Every
change is an `OptionSwap`. Pure: no engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.flinksql import query
from services.flinksql.ddl import CreateTable, Option
from services.flinksql.lexer import TokenKind, significant, tokenize
from services.flinksql.statements import Statement, statement_set_members
from services.validator.domain.case_batch import JobScript

Role = Literal["source", "lookup", "sink", "unused"]

PLACEHOLDER_JDBC_URL = "jdbc:postgresql://placeholder.invalid:5432/streamwright"
PLACEHOLDER_VALUE = "placeholder"
_JAR_CONNECTORS = frozenset({"kafka", "upsert-kafka", "jdbc"})
_BUILTIN_CONNECTORS = frozenset({"filesystem", "datagen", "print", "blackhole"})
# Connectors Flink cannot look up (`FOR SYSTEM_TIME AS OF`): they have no LookupTableSource.
NO_LOOKUP_CONNECTORS = frozenset({"filesystem", "datagen", "print", "blackhole", "kafka", "upsert-kafka"})


@dataclass(frozen=True, slots=True)
class OptionSwap:
    """One change the validator made to a table's options (or to the job config)."""

    table: str
    option: str
    from_value: str | None
    to_value: str | None
    why: str


@dataclass(frozen=True, slots=True)
class SwapPolicy:
    """Which connectors stay as written when planning; everything else is swapped."""

    jars_available: bool = True
    placeholder_jdbc_url: str = PLACEHOLDER_JDBC_URL
    placeholder_value: str = PLACEHOLDER_VALUE

    def keeps(self, connector: str) -> bool:
        if connector in _BUILTIN_CONNECTORS:
            return True
        return self.jars_available and connector in _JAR_CONNECTORS


def table_roles(statements: Sequence[Statement]) -> dict[str, Role]:
    """Role of each table name (last name part) as the job's queries use it."""
    roles: dict[str, Role] = {}
    for st in statements:
        if st.kind not in ("INSERT", "STATEMENT_SET", "QUERY", "CREATE_VIEW", "EXPLAIN"):
            continue
        for ref in query.table_references(st.text):
            if ref.lookup:
                roles[ref.name] = "lookup"
            elif roles.get(ref.name) != "lookup":
                roles[ref.name] = "source"
        for member in statement_set_members(st):
            target = query.insert_target(member.text)
            if target is not None:
                roles.setdefault(target[-1], "sink")
    return roles


def _is_reference(value: str) -> bool:
    return "${" in value and "}" in value


def jdbc_password_missing(table: CreateTable) -> bool:
    """A JDBC table that names a `username` but no `password` (Flink refuses it: both or none);
    a hand-written job often leaves the password to deployment-time injection."""
    opts = {k.lower(): v for k, v in table.option_map.items()}
    return (
        opts.get("connector", "").strip().lower() == "jdbc"
        and bool(opts.get("username", "").strip())
        and not opts.get("password", "").strip()
    )


def lookup_refused(connector: str) -> bool:
    """True when a table on `connector` cannot be read `FOR SYSTEM_TIME AS OF` (a lookup join)."""
    return connector.strip().lower() in NO_LOOKUP_CONNECTORS


def lookup_tables(statements: Sequence[Statement]) -> list[tuple[Statement, str]]:
    """(statement, table name) of every lookup join (`FOR SYSTEM_TIME AS OF`), in script order."""
    found: list[tuple[Statement, str]] = []
    for st in statements:
        if st.kind not in ("INSERT", "STATEMENT_SET", "QUERY", "CREATE_VIEW", "EXPLAIN"):
            continue
        for ref in query.table_references(st.text):
            if ref.lookup and (st, ref.name) not in found:
                found.append((st, ref.name))
    return found


def swap_options(table: CreateTable, role: Role, policy: SwapPolicy) -> tuple[list[Option], list[OptionSwap]]:
    """The options a table is planned with here, and the swaps that made them."""
    opts = table.option_map
    connector = opts.get("connector", "")
    swaps: list[OptionSwap] = []
    name = table.name
    if connector == "jdbc" and policy.keeps("jdbc"):
        url = opts.get("url", "")
        if not url.startswith("jdbc:postgresql:"):
            opts["url"] = policy.placeholder_jdbc_url
            swaps.append(
                OptionSwap(
                    name,
                    "url",
                    url,
                    opts["url"],
                    "no JDBC dialect jar for this URL here: planned as PostgreSQL",
                )
            )
            if "driver" in opts:
                swaps.append(
                    OptionSwap(
                        name, "driver", opts["driver"], "org.postgresql.Driver", "follows the url swap"
                    )
                )
                opts["driver"] = "org.postgresql.Driver"
    elif not policy.keeps(connector):
        new = _replacement(table, role, policy)
        swaps.append(
            OptionSwap(name, "connector", connector or None, new["connector"], _why(connector, role, policy))
        )
        for key, value in opts.items():
            if key != "connector" and new.get(key) != value:
                swaps.append(OptionSwap(name, key, value, new.get(key), "dropped with the connector swap"))
        swaps.extend(
            OptionSwap(name, k, None, v, "needed by the replacement connector")
            for k, v in new.items()
            if k not in opts
        )
        opts = new
    if opts.get("connector") == "jdbc" and jdbc_password_missing(table):
        key = next((k for k in opts if k.lower() == "password"), "password")
        swaps.append(
            OptionSwap(
                name,
                key,
                opts.get(key),
                policy.placeholder_value,
                "username without password (undeployable as written): placeholder password for planning",
            )
        )
        opts[key] = policy.placeholder_value
    for key, value in list(opts.items()):
        if _is_reference(value):
            opts[key] = policy.placeholder_value
            swaps.append(
                OptionSwap(
                    name, key, value, policy.placeholder_value, "secret/variable reference: placeholder"
                )
            )
    return [Option(k, v) for k, v in opts.items()], swaps


def _replacement(table: CreateTable, role: Role, policy: SwapPolicy) -> dict[str, str]:
    if role == "lookup":
        return {"connector": "jdbc", "url": policy.placeholder_jdbc_url, "table-name": table.name}
    if role == "source":
        return {"connector": "datagen"}
    if table.primary_key and policy.jars_available:
        # blackhole is append-only: a keyed sink must stay an upsert sink, or Flink 2.3 refuses
        # the job's ON CONFLICT clause. JDBC with a placeholder URL plans without connecting.
        return {"connector": "jdbc", "url": policy.placeholder_jdbc_url, "table-name": table.name}
    return {"connector": "blackhole"}


def _why(connector: str, role: Role, policy: SwapPolicy) -> str:
    jarless = connector in _JAR_CONNECTORS and not policy.jars_available
    reason = "connector jars missing" if jarless else f"no connector {connector or '(none)'!r} here"
    purpose = {
        "lookup": "a lookup-capable connector (JDBC, placeholder URL: plans without connecting)",
        "source": "an unbounded generated source",
        "sink": "a sink that accepts every changelog (an upsert JDBC sink when keyed)",
        "unused": "a sink that accepts every changelog",
    }[role]
    return f"{reason}: replaced by {purpose}"


# Sinks that take the rows as they come whatever the table's PRIMARY KEY: Flink refuses ON
# CONFLICT there, so a job (the generator's among them) writes none.
APPEND_ONLY_CONNECTORS = frozenset({"print", "blackhole", "filesystem", "kafka"})
_ON_CONFLICT = "ON CONFLICT DO DEDUPLICATE"


def _has_on_conflict(insert: str) -> bool:
    sig = [t for t in significant(tokenize(insert, strict=False)) if t.kind is not TokenKind.HINT]
    return any(
        a.is_word("ON") and b.is_word("CONFLICT") and c.is_word("DO")
        for a, b, c in zip(sig, sig[1:], sig[2:], strict=False)
    )


def keyed_stand_in_insert(insert: str, result: CreateTable) -> tuple[str, list[OptionSwap]]:
    """The INSERT a run executes when the result table, keyed, is stood in for by an upsert
    (JDBC) sink, and the change made, as a swap.

    A keyed table on an append-only connector (`print`, ...) takes the query's rows as they
    come, and the job rightly has no ON CONFLICT (Flink refuses it there). The JDBC stand-in is
    an upsert sink, where Flink 2.3 requires ON CONFLICT whenever the query's upsert key is not
    the primary key. `DO DEDUPLICATE` (the last row written for each key wins) is what the
    validator reads the result as anyway (request-format §5), so the stand-in keeps the job's
    meaning; a job on an upsert connector keeps its own clause, or its lack of one.
    """
    connector = result.option_map.get("connector", "").strip().lower()
    if not result.primary_key or connector not in APPEND_ONLY_CONNECTORS or _has_on_conflict(insert):
        return insert, []
    body = insert.rstrip().removesuffix(";").rstrip()
    swap = OptionSwap(
        "(query)",
        "ON CONFLICT",
        None,
        "DO DEDUPLICATE",
        f"the keyed {connector!r} result table is stood in for by an upsert JDBC sink, which needs it "
        "when the query's upsert key is not the primary key (the last row per key wins, as read)",
    )
    return f"{body}\n{_ON_CONFLICT}", [swap]


def case_run_settings(job: JobScript) -> tuple[list[tuple[str, str]], list[OptionSwap]]:
    """The config a case run sets, in order (the job's SETs, then its overrides), and the
    overrides made, as swaps."""
    settings: list[tuple[str, str]] = []
    swaps: list[OptionSwap] = []
    for _, (key, value) in job.sets:
        if key in ("parallelism.default", "table.exec.resource.default-parallelism") and value != "1":
            swaps.append(OptionSwap("(config)", key, value, "1", "case runs use one slot"))
            continue
        settings.append((key, value))
    enforcer = dict(pair for _, pair in job.sets).get("table.exec.sink.not-null-enforcer")
    if enforcer not in (None, "DROP"):
        swaps.append(
            OptionSwap(
                "(config)", "table.exec.sink.not-null-enforcer", enforcer, "DROP", "§5 NOT NULL drop rule"
            )
        )
    settings.append(("table.exec.sink.not-null-enforcer", "DROP"))
    settings.append(("table.local-time-zone", job.time_zone))
    return settings, swaps


__all__ = [
    "APPEND_ONLY_CONNECTORS",
    "NO_LOOKUP_CONNECTORS",
    "PLACEHOLDER_JDBC_URL",
    "PLACEHOLDER_VALUE",
    "OptionSwap",
    "Role",
    "SwapPolicy",
    "case_run_settings",
    "jdbc_password_missing",
    "keyed_stand_in_insert",
    "lookup_refused",
    "lookup_tables",
    "swap_options",
    "table_roles",
]
