"""The connector-swap policy (`domain.connector_swap`): table roles, the options a table is
planned with here, a case run's config overrides, every change reported. Pure, no engine."""

from __future__ import annotations

from services.flinksql.ddl import read_create_table
from services.flinksql.statements import split_statements
from services.validator.domain.case_batch import JobScript
from services.validator.domain.connector_swap import (
    PLACEHOLDER_JDBC_URL,
    OptionSwap,
    Role,
    SwapPolicy,
    case_run_settings,
    swap_options,
    table_roles,
)

NO_JARS = SwapPolicy(jars_available=False)
ROLES: dict[str, Role] = {"src": "source", "dim": "lookup", "out": "sink"}


def _table(sql: str) -> tuple[dict[str, str], list[OptionSwap]]:
    """The options a table (named for its role) is planned with when the jars are here."""
    ddl = read_create_table(sql, strict=False)
    options, swaps = swap_options(ddl, ROLES.get(ddl.name, "unused"), SwapPolicy())
    return {o.key: o.value for o in options}, swaps


def test_roles_come_from_how_the_queries_use_each_table() -> None:
    """It reads sources, lookups (FOR SYSTEM_TIME AS OF) and sinks, statement sets included."""
    script = """EXECUTE STATEMENT SET BEGIN
INSERT INTO `out` SELECT a.x FROM `src` AS a JOIN `dim` FOR SYSTEM_TIME AS OF a.t AS d ON a.x = d.x;
INSERT INTO `copy` SELECT * FROM `dim`;
END;"""
    assert table_roles(split_statements(script)) == {
        "src": "source",
        "dim": "lookup",
        "out": "sink",
        "copy": "sink",
    }


def test_builtin_connectors_stay_and_references_become_placeholders() -> None:
    """It keeps filesystem as written, but no ${...} reference reaches the planner."""
    options, swaps = _table(
        "CREATE TABLE src (x INT) WITH ('connector' = 'filesystem', 'path' = '${secret:bucket}/in')"
    )
    assert options == {"connector": "filesystem", "path": "placeholder"}
    assert swaps == [
        OptionSwap(
            "src", "path", "${secret:bucket}/in", "placeholder", "secret/variable reference: placeholder"
        )
    ]


def test_a_jdbc_url_without_a_dialect_jar_here_is_planned_as_postgresql() -> None:
    """It swaps a MySQL URL (and its driver) for the PostgreSQL placeholder, and says why."""
    options, swaps = _table(
        "CREATE TABLE dim (x INT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:mysql://db/x', "
        "'driver' = 'com.mysql.cj.jdbc.Driver', 'table-name' = 'dim')"
    )
    assert options["url"] == PLACEHOLDER_JDBC_URL and options["driver"] == "org.postgresql.Driver"
    assert [(s.option, s.why) for s in swaps] == [
        ("url", "no JDBC dialect jar for this URL here: planned as PostgreSQL"),
        ("driver", "follows the url swap"),
    ]
    postgres, none = _table(
        "CREATE TABLE dim (x INT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/x')"
    )
    assert postgres["url"] == "jdbc:postgresql://h/x" and none == []


def test_an_unknown_connector_is_replaced_by_role() -> None:
    """It plans a source as datagen, a lookup as placeholder JDBC, a keyed sink as upsert JDBC and
    an unkeyed one as blackhole, reporting the dropped and the added options."""
    src, swaps = _table("CREATE TABLE src (x INT) WITH ('connector' = 'pulsar', 'topic' = 't')")
    assert src == {"connector": "datagen"}
    assert [(s.option, s.from_value, s.to_value) for s in swaps] == [
        ("connector", "pulsar", "datagen"),
        ("topic", "t", None),
    ]
    assert "no connector 'pulsar' here" in swaps[0].why
    dim, _ = _table("CREATE TABLE dim (x INT) WITH ('connector' = 'hbase-2.2')")
    assert dim == {"connector": "jdbc", "url": PLACEHOLDER_JDBC_URL, "table-name": "dim"}
    keyed, added = _table(
        "CREATE TABLE out (x INT, PRIMARY KEY (x) NOT ENFORCED) WITH ('connector' = 'elasticsearch-7')"
    )
    assert keyed["connector"] == "jdbc"
    assert {s.option for s in added if s.why == "needed by the replacement connector"} == {
        "url",
        "table-name",
    }
    plain, _ = _table("CREATE TABLE out (x INT) WITH ('connector' = 'elasticsearch-7')")
    assert plain == {"connector": "blackhole"}


def test_without_jars_kafka_is_swapped_and_a_keyed_sink_goes_to_blackhole() -> None:
    """It swaps the jar connectors when the jars are missing, and says so."""
    ddl = read_create_table(
        "CREATE TABLE out (x INT, PRIMARY KEY (x) NOT ENFORCED) WITH ('connector' = 'upsert-kafka')",
        strict=False,
    )
    options, swaps = swap_options(ddl, "sink", NO_JARS)
    assert [(o.key, o.value) for o in options] == [("connector", "blackhole")]
    assert swaps[0].why.startswith("connector jars missing: ")
    assert SwapPolicy().keeps("kafka") and not NO_JARS.keeps("kafka") and NO_JARS.keeps("datagen")


def test_a_case_run_uses_one_slot_drops_nulls_and_keeps_the_jobs_time_zone() -> None:
    """It applies the job's SETs in order, overrides parallelism and the NOT NULL enforcer, and
    reports both overrides."""
    job = JobScript.read(
        "SET 'table.local-time-zone' = 'Asia/Shanghai';\n"
        "SET 'parallelism.default' = '4';\n"
        "SET 'table.exec.sink.not-null-enforcer' = 'ERROR';\n"
        "SET 'parallelism.default' = '1';\n"
    )
    settings, swaps = case_run_settings(job)
    assert settings == [
        ("table.local-time-zone", "Asia/Shanghai"),
        ("table.exec.sink.not-null-enforcer", "ERROR"),
        ("parallelism.default", "1"),
        ("table.exec.sink.not-null-enforcer", "DROP"),
        ("table.local-time-zone", "Asia/Shanghai"),
    ]
    assert [(s.table, s.option, s.from_value, s.to_value) for s in swaps] == [
        ("(config)", "parallelism.default", "4", "1"),
        ("(config)", "table.exec.sink.not-null-enforcer", "ERROR", "DROP"),
    ]
    assert case_run_settings(JobScript.read("SELECT 1;")) == (
        [("table.exec.sink.not-null-enforcer", "DROP"), ("table.local-time-zone", "UTC")],
        [],
    )
