"""Ask Flink 2.3 whether it accepts scalar expressions: the source of flink_type_matrix.tsv.

Usage (PyFlink 2.3 and a JDK installed; about 3 expressions a second):
    python tests/unit/ingest/data/flink_type_probe.py EXPRS.txt > verdicts.tsv
EXPRS.txt has one expression per line, written as in the matrix (payload.<f>, t.<c>). Each is
planned as `SELECT <expr> FROM t` in batch mode with EXPLAIN, which also runs Flink's code
generation (where e.g. `'a' = 1` is refused). The source is datagen, not VALUES, so constant
folding cannot turn a run-time failure into a planning one. Prints `Y|n<TAB>expr<TAB>error`.
Not collected by pytest.
"""

from __future__ import annotations

import re
import sys

COLUMNS = """
 JSON_VALUE(payload, '$.code') AS code,
 JSON_VALUE(payload, '$.txt') AS txt,
 TRY_CAST(JSON_VALUE(payload, '$.qty') AS INT) AS qty,
 TRY_CAST(JSON_VALUE(payload, '$.big') AS BIGINT) AS big,
 TRY_CAST(JSON_VALUE(payload, '$.ms') AS BIGINT) AS ms,
 TRY_CAST(JSON_VALUE(payload, '$.sm') AS SMALLINT) AS sm,
 TRY_CAST(JSON_VALUE(payload, '$.ti') AS TINYINT) AS ti,
 TRY_CAST(JSON_VALUE(payload, '$.price') AS DECIMAL(38, 18)) AS price,
 TRY_CAST(JSON_VALUE(payload, '$.ratio') AS DOUBLE) AS ratio,
 TRY_CAST(JSON_VALUE(payload, '$.fl') AS FLOAT) AS fl,
 TRY_CAST(JSON_VALUE(payload, '$.urgent') AS BOOLEAN) AS urgent,
 CAST(JSON_VALUE(payload, '$.vc') AS VARCHAR(5)) AS vc,
 CAST(JSON_VALUE(payload, '$.ch') AS CHAR(3)) AS ch,
 TRY_CAST(JSON_VALUE(payload, '$.ts') AS TIMESTAMP(3)) AS ts,
 TO_TIMESTAMP_LTZ(TRY_CAST(JSON_VALUE(payload, '$.ms') AS BIGINT), 3) AS ltz,
 TRY_CAST(JSON_VALUE(payload, '$.d') AS DATE) AS d,
 TRY_CAST(JSON_VALUE(payload, '$.tm') AS TIME) AS tm
"""


def bare(expr: str) -> str:
    """payload.code / t.ts -> code / ts, outside string literals."""
    parts = expr.split("'")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\b(?:payload|t)\.", "", parts[i])
    return "'".join(parts)


def main(path: str) -> None:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    env.execute_sql(
        "CREATE TEMPORARY TABLE src (payload STRING) WITH "
        "('connector' = 'datagen', 'number-of-rows' = '1', 'fields.payload.length' = '3')"
    )
    env.execute_sql(f"CREATE TEMPORARY VIEW t AS SELECT {COLUMNS} FROM src")
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            expr = line.strip()
            if not expr:
                continue
            try:
                env.sql_query(f"SELECT {bare(expr)} AS x FROM t").explain()
                print(f"Y\t{expr}\t", flush=True)
            except Exception as exc:  # any refusal is the verdict
                first = next((x for x in str(exc).splitlines() if "Exception" in x), str(exc)[:200])
                print(f"n\t{expr}\t{first.strip()[:300]}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
