"""The runner's pure checks: digest, statement kinds, hints, secrets (services.flinksql.job_policy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flinksql.job_policy import (
    ALLOWED_KINDS,
    EXIT_REFUSED,
    EXIT_USAGE,
    Refused,
    UsageError,
    check_script,
    declared_secret_names,
    error_text,
    parse_remote,
    prepare,
    secret_variable,
)
from services.flinksql.statements import StatementKind, parse_set, script_digest, split_statements
from services.generator.domain.manifests import secret_env_var

ROOT = Path(__file__).resolve().parents[3]

SOURCE = """CREATE TEMPORARY TABLE `src` (
    `id` STRING,
    `note` STRING
)
WITH (
    'connector' = 'datagen',
    'number-of-rows' = '10'
);"""
SINK = """CREATE TEMPORARY TABLE `dim` (
    `id` STRING NOT NULL,
    `name` STRING,
    PRIMARY KEY (`id`) NOT ENFORCED
) COMMENT 'the dimension'
WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:postgresql://db:5432/x',
    'username' = 'reader',
    'password' = '${secret:dim-reader}'
);"""
INSERT = "INSERT INTO `dim` (`id`, `name`)\nSELECT `id`, `note` FROM `src`;"
JOB = "\n".join(
    [
        "-- Values '${secret:<name>}' are secret references (a comment: never resolved, never refused)",
        "SET 'table.local-time-zone' = 'Asia/Shanghai';",
        SOURCE,
        SINK,
        INSERT,
        "",
    ]
)
ENV = {"SW_SECRET_DIM_READER": "s3cr3t"}


def _prepare(sql: str, *, declared: tuple[str, ...] = ("dim-reader",), env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return prepare(
        sql,
        expected_digest=script_digest(sql),
        declared_secrets=declared,
        environ=ENV if env is None else env,
    )


def _refusal(sql: str, **kwargs: object) -> str:
    with pytest.raises(Refused) as caught:
        _prepare(sql, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == EXIT_REFUSED
    return str(caught.value)


# --- the digest ------------------------------------------------------------------------------


def test_the_validated_digest_lets_the_job_through_and_is_kept() -> None:
    """It accepts the script whose statement digest is the validated one, and reports it."""
    plan = _prepare(JOB)
    assert plan.digest == script_digest(JOB)
    assert [s.kind for s in plan.steps] == [
        StatementKind.SET,
        StatementKind.CREATE_TABLE,
        StatementKind.CREATE_TABLE,
        StatementKind.INSERT,
    ]
    assert plan.steps[0].setting == ("table.local-time-zone", "Asia/Shanghai")
    assert plan.inserts == [INSERT.rstrip(";")]
    assert (
        script_digest(JOB) in plan.summary and "dim-reader" in plan.summary and "s3cr3t" not in plan.summary
    )


def test_a_digest_mismatch_names_both_digests() -> None:
    """It refuses SQL that is not the validated statement list, naming what it read and what it was given."""
    edited = JOB.replace("'10'", "'11'")
    with pytest.raises(Refused) as caught:
        prepare(edited, expected_digest=script_digest(JOB), declared_secrets=["dim-reader"], environ=ENV)
    assert script_digest(edited) in str(caught.value) and script_digest(JOB) in str(caught.value)


def test_layout_and_comments_do_not_change_the_digest() -> None:
    """It compares statements, not bytes: another layout with other comments is the same job."""
    relaid = "/* other */ " + JOB.replace("\n", "\n\n").replace("SELECT", "-- x\nSELECT")
    plan = prepare(relaid, expected_digest=script_digest(JOB), declared_secrets=["dim-reader"], environ=ENV)
    assert plan.digest == script_digest(JOB)


def test_sql_that_does_not_lex_is_refused() -> None:
    """It reads the script strictly: an unterminated literal is refused, not guessed at."""
    with pytest.raises(Refused, match="does not lex"):
        prepare(JOB + "SELECT 'open", expected_digest="sha256:x", declared_secrets=[], environ={})


def test_nothing_to_insert_is_refused() -> None:
    """It refuses a script without an INSERT INTO: nothing would run."""
    assert "no INSERT" in _refusal("SET 'table.a' = 'b';\n" + SOURCE)
    assert "no statement" in _refusal("-- only a comment\n")


@pytest.mark.parametrize(
    "key", ["pipeline.jars", "pipeline.classpaths", "python.files", "a", "env.java.opts"]
)
def test_a_set_that_would_load_code_or_reach_outside_the_job_is_refused(key: str) -> None:
    """It runs only SETs that tune the job (shared list: services.flinksql.job_policy.safe_set_key)."""
    assert f"SET {key!r} is refused" in _refusal(f"SET '{key}' = 'x';\n" + SOURCE)


# --- statement kinds and hints ---------------------------------------------------------------

REFUSED = {
    "ADD JAR '/tmp/x.jar'": StatementKind.ADD_JAR,
    "REMOVE JAR '/tmp/x.jar'": StatementKind.REMOVE_JAR,
    "CREATE TEMPORARY FUNCTION f AS 'com.example.F'": StatementKind.CREATE_FUNCTION,
    "LOAD MODULE hive": StatementKind.LOAD_MODULE,
    "UNLOAD MODULE core": StatementKind.UNLOAD_MODULE,
    "CREATE CATALOG c WITH ('type' = 'generic_in_memory')": StatementKind.CREATE_CATALOG,
    "CREATE DATABASE d": StatementKind.CREATE_DATABASE,
    "DROP TABLE `src`": StatementKind.DROP,
    "ALTER TABLE `src` SET ('x' = 'y')": StatementKind.ALTER,
    "USE CATALOG c": StatementKind.USE,
    "RESET 'table.local-time-zone'": StatementKind.RESET,
    "EXPLAIN SELECT 1": StatementKind.EXPLAIN,
    "SELECT * FROM `src`": StatementKind.QUERY,
    "SHOW TABLES": StatementKind.SHOW,
    "DESCRIBE `src`": StatementKind.DESCRIBE,
    "CALL sys.do_it()": StatementKind.OTHER,
    "CREATE MATERIALIZED TABLE m AS SELECT 1": StatementKind.CREATE_OTHER,
    "CREATE TEMPORARY VIEW v AS SELECT `id` FROM `src`": StatementKind.CREATE_VIEW,
    "EXECUTE STATEMENT SET BEGIN INSERT INTO `dim` SELECT `id`, `note` FROM `src`; END": (
        StatementKind.STATEMENT_SET
    ),
    "BEGIN STATEMENT SET": StatementKind.BEGIN_STATEMENT_SET,
}


@pytest.mark.parametrize(
    ("statement", "kind"), list(REFUSED.items()), ids=[k.value for k in REFUSED.values()]
)
def test_every_kind_the_generator_never_emits_is_refused(statement: str, kind: StatementKind) -> None:
    """It refuses each kind outside SET / CREATE TABLE / INSERT, naming statement number, line and kind."""
    sql = f"{SOURCE}\n{SINK}\n\n{statement};\n{INSERT}\n"
    [parsed] = [s for s in split_statements(sql) if s.index == 2]
    assert parsed.kind is kind
    message = _refusal(sql)
    assert f"statement 3 (line {parsed.line}, {kind.value})" in message
    assert "SET 'key' = 'value', CREATE [TEMPORARY] TABLE and INSERT INTO" in message


def test_exactly_what_the_generator_emits_is_allowed() -> None:
    """It allows SET, CREATE TABLE and INSERT: what emit_sql writes and the repair check admits."""
    assert set(ALLOWED_KINDS) == {StatementKind.SET, StatementKind.CREATE_TABLE, StatementKind.INSERT}
    plain = JOB.replace("CREATE TEMPORARY TABLE `src`", "CREATE TABLE IF NOT EXISTS `src`")
    assert _prepare(plain).steps[1].kind is StatementKind.CREATE_TABLE


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("INSERT OVERWRITE `dim` SELECT `id`, `note` FROM `src`", "INSERT OVERWRITE"),
        ("EXECUTE INSERT INTO `dim` SELECT `id`, `note` FROM `src`", "EXECUTE INSERT"),
        ("CREATE TABLE `t` WITH ('connector' = 'blackhole') AS SELECT `id` FROM `src`", "AS"),
        ("CREATE TABLE `t` LIKE `src`", "LIKE"),
        ("SET", "without a key"),
    ],
)
def test_unusual_forms_of_allowed_kinds_are_refused(statement: str, why: str) -> None:
    """It refuses INSERT OVERWRITE, EXECUTE INSERT, CREATE TABLE AS/LIKE and a bare SET."""
    assert why in _refusal(f"{SOURCE}\n{SINK}\n{statement};\n{INSERT}\n")


def test_hints_are_refused() -> None:
    """It refuses /*+ ... */ hints (the generator emits none), naming where; a comment is fine."""
    hinted = INSERT.replace("FROM `src`", "FROM `src` /*+ OPTIONS('rows-per-second' = '1') */")
    message = _refusal(f"{SOURCE}\n{SINK}\n{hinted}\n")
    assert "statement 3 (line 20, INSERT)" in message and "/*+ OPTIONS" in message and "at line 21" in message
    commented = INSERT.replace("FROM `src`", "FROM `src` /* not a hint */")
    assert _prepare(f"{SOURCE}\n{SINK}\n{commented}\n").inserts


# --- secrets ---------------------------------------------------------------------------------


def test_a_declared_exact_secret_is_resolved_and_nothing_else_moves() -> None:
    """It replaces the option's value from SW_SECRET_<NAME> and keeps every other character and line."""
    plan = _prepare(JOB)
    ddl = plan.steps[2].text
    assert "'password' = 's3cr3t'" in ddl and "${secret:" not in ddl
    original = SINK.rstrip(";")
    assert ddl.count("\n") == original.count("\n")
    head = original[: original.index("WITH (")]
    assert ddl.startswith(head)
    assert plan.steps[1].text == SOURCE.rstrip(";")
    assert plan.steps[3].text == INSERT.rstrip(";")


def test_a_value_with_a_quote_is_escaped_through_rewrite_options() -> None:
    """It writes a value holding quotes as one literal (quotes doubled) whose value is the secret."""
    value = "p'w'' ; -- */ ${secret:other}"
    plan = _prepare(JOB, env={"SW_SECRET_DIM_READER": value})
    ddl = plan.steps[2].text
    assert "'password' = 'p''w'''' ; -- */ ${secret:other}'" in ddl
    [again] = split_statements(ddl)
    strings = [t.value for t in again.tokens if t.kind.value == "string"]
    assert value in strings


def test_the_secret_comes_from_the_variable_the_manifest_sets() -> None:
    """It reads the variable the FlinkDeployment exposes (manifests.secret_env_var)."""
    for name in ("dim-reader", "sw-test-jdbc-dim-shop", "a.b_c", "Mixed-9"):
        assert secret_variable(name) == secret_env_var(name)


def test_a_missing_variable_is_named_never_a_value() -> None:
    """It refuses to run with an unset secret and names the variable to set."""
    message = _refusal(JOB, env={"SW_SECRET_OTHER": "hunter2"})
    assert "SW_SECRET_DIM_READER" in message and "hunter2" not in message


def test_an_undeclared_secret_is_refused() -> None:
    """It resolves only the job's declared secrets."""
    message = _refusal(JOB, declared=("other",))
    assert "'dim-reader'" in message and "does not declare" in message and "statement 3" in message


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        # in another statement
        (JOB.replace("'Asia/Shanghai'", "'${secret:dim-reader}'"), "statement 1"),
        (INSERT.replace("`note`", "'${secret:dim-reader}'") + "\n" + SOURCE + SINK, "statement 1"),
        # a partial value
        (
            JOB.replace("'jdbc:postgresql://db:5432/x'", "'jdbc:postgresql://${secret:dim-reader}@db/x'"),
            "statement 3",
        ),
        # as an option key
        (JOB.replace("'username' = 'reader'", "'${secret:dim-reader}' = 'reader'"), "statement 3"),
        # not in the WITH clause (a column comment)
        (JOB.replace("`name` STRING,", "`name` STRING COMMENT '${secret:dim-reader}',"), "statement 3"),
        # escaped forms the lexer decodes
        (JOB.replace("'${secret:dim-reader}'", "U&'\\0024{secret:dim-reader}'"), "statement 3"),
        (JOB.replace("'${secret:dim-reader}'", "E'${secret:dim-reader}'"), "statement 3"),
        # spelled across tokens
        (JOB.replace("`note` FROM", "`note` ${secret:dim-reader} FROM"), "statement 4"),
        # a backquoted name
        (JOB.replace("`note` FROM", "`${secret:dim-reader}` FROM"), "statement 4"),
    ],
    ids=["set", "insert", "partial", "key", "comment-clause", "unicode", "c-style", "bare", "ident"],
)
def test_a_secret_reference_anywhere_else_is_refused(sql: str, where: str) -> None:
    """It refuses `${secret:` outside an exact WITH option value, naming the statement."""
    assert f"{where} (" in _refusal(sql)


def test_an_option_clause_that_is_not_plain_literals_is_not_resolved() -> None:
    """It resolves only in a WITH clause of plain 'key' = 'value' literals (what rewrite_options writes)."""
    sql = JOB.replace("'username' = 'reader'", "'username' = E'reader'")
    assert "statement 3" in _refusal(sql)


def test_declared_secrets_come_repeated_or_as_comma_lists() -> None:
    """It reads --secret NAME repeated or as a comma list, and rejects a name that is not one."""
    assert declared_secret_names(["a,b", "c", " a ", ""]) == ("a", "b", "c")
    with pytest.raises(UsageError) as caught:
        declared_secret_names(["../etc"])
    assert caught.value.exit_code == EXIT_USAGE


# --- the rest --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SET 'table.local-time-zone' = 'Asia/Shanghai'", ("table.local-time-zone", "Asia/Shanghai")),
        ("-- why\nSET 'pipeline.name' = 'it''s';", ("pipeline.name", "it's")),
        ("/* c */ set 'a.b' = '1'", ("a.b", "1")),
        ("INSERT INTO `t` SELECT 1", None),
        ("SELECT 'SET x = 1'", None),
    ],
)
def test_set_statements_are_read_as_key_value(statement: str, expected: tuple[str, str] | None) -> None:
    """It reads SET statements (quoted, commented, any case) with the kernel's parse_set."""
    assert parse_set(statement) == expected


def test_remote_endpoints_and_engine_errors() -> None:
    """It reads HOST:PORT (IPv6 too) and shortens an engine error to its line and deepest cause."""
    assert parse_remote("jobmanager:8081") == ("jobmanager", 8081)
    assert parse_remote("[::1]:8081") == ("::1", 8081)
    for bad in ("jobmanager", ":8081", "host:0", "host:http", "a b:1"):
        with pytest.raises(UsageError):
            parse_remote(bad)
    error = RuntimeError("An error occurred\nat x\nCaused by: a.B: first\nCaused by: c.D: deepest")
    assert error_text(error) == "RuntimeError: An error occurred (caused by c.D: deepest)"


def test_check_script_without_a_digest_still_checks_everything_else() -> None:
    """It skips only the digest comparison when a caller has none (and says so)."""
    job = check_script(JOB, expected_digest=None, declared_secrets=["dim-reader"])
    assert job.secret_names == ("dim-reader",)
    with pytest.raises(Refused):
        check_script(JOB + "DROP TABLE `src`;", expected_digest=None, declared_secrets=["dim-reader"])
