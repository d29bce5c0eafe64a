"""When a job's cases may share one Flink job (`batch_blocker`, pure text, no engine)."""

from __future__ import annotations

import pytest

from services.validator.domain.case_batch import batch_blocker

TABLES = """SET 'table.local-time-zone' = 'Asia/Shanghai';
CREATE TEMPORARY TABLE `BusinessEvent` (`domain` STRING, `payload` STRING, `proc_time` AS PROCTIME())
WITH ('connector' = 'kafka');
CREATE TEMPORARY TABLE `dim_shop` (`shop_id` STRING NOT NULL, `name` STRING, PRIMARY KEY (`shop_id`) NOT ENFORCED)
WITH ('connector' = 'jdbc');
CREATE TEMPORARY TABLE `result` (`id` STRING NOT NULL, `name` STRING, `d` BIGINT, PRIMARY KEY (`id`) NOT ENFORCED)
WITH ('connector' = 'jdbc');
"""

INSERT = """INSERT INTO `result`
SELECT JSON_VALUE(`e`.`payload`, '$.id'), `d`.`name`, EXTRACT(DAY FROM `e`.`proc_time`)
FROM `BusinessEvent` AS `e`
LEFT JOIN `dim_shop` FOR SYSTEM_TIME AS OF `e`.`proc_time` AS `d` ON `d`.`shop_id` = `e`.`domain`;
"""


def test_a_plain_job_batches() -> None:
    """Unqualified tables and one INSERT: every name resolves in each case's own database
    (a qualified column after FROM inside EXTRACT is not a table)."""
    assert batch_blocker(TABLES + INSERT) is None


def test_views_and_functions_with_plain_names_batch() -> None:
    """Views and functions are created per case (system functions once): they may batch."""
    script = (
        TABLES
        + "CREATE TEMPORARY VIEW `ev` AS SELECT * FROM `BusinessEvent`;\n"
        + "CREATE TEMPORARY SYSTEM FUNCTION f AS 'com.example.F';\n"
        + "CREATE FUNCTION IF NOT EXISTS g AS 'com.example.G';\n"
        + INSERT.replace("FROM `BusinessEvent` AS `e`", "FROM `ev` AS `e`")
    )
    assert batch_blocker(script) is None


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (
            TABLES.replace("`dim_shop` (", "`vvp`.`default`.`dim_shop` (")
            + INSERT.replace("JOIN `dim_shop`", "JOIN `vvp`.`default`.`dim_shop`"),
            "qualified name",
        ),
        (
            TABLES + INSERT.replace("FROM `BusinessEvent`", "FROM `default_database`.`BusinessEvent`"),
            "qualifier",
        ),
        (
            TABLES + INSERT.replace("INSERT INTO `result`", "INSERT INTO `default_database`.`result`"),
            "target",
        ),
        (TABLES + "USE `other`;\n" + INSERT, "USE"),
        (TABLES + "CREATE DATABASE `db2`;\n" + INSERT, "CREATE_DATABASE"),
        (TABLES + "CREATE TEMPORARY VIEW `db2`.`v` AS SELECT 1;\n" + INSERT, "qualified or unreadable"),
        (TABLES + "RESET 'table.local-time-zone';\n" + INSERT, "RESET"),
        (TABLES + INSERT + INSERT, "not one INSERT"),
    ],
    ids=[
        "qualified-ddl",
        "qualified-ref",
        "qualified-target",
        "use",
        "database",
        "view",
        "reset",
        "two-inserts",
    ],
)
def test_names_that_could_leave_the_case_database_do_not_batch(script: str, reason: str) -> None:
    """A qualified name or a catalog/database statement could bind every case to one table."""
    blocker = batch_blocker(script)
    assert blocker is not None and reason in blocker
