"""The result table as a Flink sink: connector, PRIMARY KEY and the changes the job writes.

Flink 2.3 (with the project's pinned Kafka connector) refuses these sinks when the INSERT is
planned, after generation; the checker says so first (verified with PyFlink, EXPLAIN of an
INSERT into each sink):

- `'connector' = 'kafka'` with a PRIMARY KEY and an insert-only format (json, csv, avro, raw,
  ...): "The Kafka table ... with 'json' format doesn't support defining PRIMARY KEY
  constraint". The changelog formats (debezium-json, canal-json, maxwell-json, ogg-json,
  debezium-avro-confluent) take one.
- `'connector' = 'upsert-kafka'` without a PRIMARY KEY: "'upsert-kafka' tables require to
  define a PRIMARY KEY constraint".
- an aggregating job (its rows are updates) into `kafka` or `filesystem` with an insert-only
  format: "Table sink ... doesn't support consuming update changes".
- an aggregating job into `jdbc` without a PRIMARY KEY: "please declare primary key for sink
  table when query contains update/delete record".
- `'connector' = 'datagen'`: "Connector 'datagen' can only be used as a source".

`print`, `blackhole`, `jdbc` and `upsert-kafka` (with its key) take both kinds of job.
"""

from __future__ import annotations

import re

from services.flinksql.spec import Aggregation, Table
from services.ingest.domain.errors import Issues
from services.ingest.domain.parse import RESULT_BLOCK, RawDocument

# Formats whose rows carry a change kind: a Kafka or filesystem sink with one takes updates.
CHANGELOG_FORMATS = frozenset(
    {"debezium-json", "debezium-avro-confluent", "canal-json", "maxwell-json", "ogg-json"}
)
SOURCE_ONLY_CONNECTORS = frozenset({"datagen"})
_PRIMARY_KEY = re.compile(r"\bprimary\s+key\b", re.IGNORECASE)


def _connector(table: Table) -> str:
    return table.options.get("connector", "").strip()


def _format(table: Table) -> str:
    return (table.options.get("value.format") or table.options.get("format") or "").strip()


def _line_of(raw: RawDocument, pattern: re.Pattern[str], default: int) -> int:
    """The document line of the first DDL line matching `pattern` (else `default`)."""
    if raw.result is None:
        return default
    for offset, text in enumerate(raw.result.block.content.split("\n")):
        if pattern.search(text):
            return raw.result.block.content_line + offset
    return default


def _option_line(raw: RawDocument, key: str, default: int) -> int:
    return _line_of(raw, re.compile(r"'" + re.escape(key) + r"'\s*="), default)


def check_result_sink(raw: RawDocument, result: Table | None, issues: Issues) -> None:
    """The connector/PRIMARY KEY combinations Flink refuses whatever the job writes."""
    if result is None:
        return
    connector = _connector(result)
    value_format = _format(result)
    if connector == "kafka" and result.primary_key and value_format not in CHANGELOG_FORMATS:
        shown = f"{value_format!r} format" if value_format else "no format"
        issues.error(
            "ddl.sink_primary_key",
            f"the 'kafka' connector with {shown} cannot hold a PRIMARY KEY: Flink refuses to "
            "create this sink (it cannot guarantee the key's semantics)",
            block=RESULT_BLOCK,
            line=_line_of(raw, _PRIMARY_KEY, result.line),
            name=result.name,
            hint="for an upsert (one row per key) use 'connector' = 'upsert-kafka' with 'key.format' "
            "and 'value.format' (e.g. 'json') instead of 'format'; for an append-only topic drop "
            "the PRIMARY KEY",
        )
    if connector in SOURCE_ONLY_CONNECTORS:
        issues.error(
            "ddl.sink_source_only",
            f"the {connector!r} connector can only be read from: Flink cannot write the result table with it",
            block=RESULT_BLOCK,
            line=_option_line(raw, "connector", result.line),
            name=result.name,
            hint="write the result with a sink connector: 'jdbc', 'upsert-kafka', 'kafka', 'filesystem', "
            "or 'print'/'blackhole' for a trial",
        )
    if connector == "upsert-kafka" and not result.primary_key:
        issues.error(
            "ddl.sink_primary_key",
            "the 'upsert-kafka' connector needs a PRIMARY KEY (it becomes the Kafka message key)",
            block=RESULT_BLOCK,
            line=_option_line(raw, "connector", result.line),
            name=result.name,
            hint="add `PRIMARY KEY (<key columns>) NOT ENFORCED`, or use 'connector' = 'kafka' "
            "for an append-only topic",
        )


def check_sink_changes(
    raw: RawDocument, result: Table | None, aggregation: Aggregation, issues: Issues
) -> None:
    """An aggregating job writes updates: an append-only sink cannot take them."""
    if result is None or not aggregation.is_aggregate:
        return
    connector = _connector(result)
    value_format = _format(result)
    if connector == "jdbc" and not result.primary_key:
        issues.error(
            "ddl.sink_needs_key",
            "the job aggregates, so it writes updates, and a 'jdbc' sink applies updates by its "
            "PRIMARY KEY, which the result table does not declare: Flink refuses the INSERT",
            block=RESULT_BLOCK,
            line=_option_line(raw, "connector", result.line),
            name=result.name,
            hint="declare `PRIMARY KEY (<grouping columns>) NOT ENFORCED` on the result table",
        )
        return
    if connector not in ("kafka", "filesystem") or value_format in CHANGELOG_FORMATS:
        return
    shown = f"{value_format!r} format" if value_format else "no format"
    issues.error(
        "ddl.sink_append_only",
        f"the job aggregates, so it writes updates, but the {connector!r} sink with {shown} "
        "accepts only inserts: Flink refuses the INSERT",
        block=RESULT_BLOCK,
        line=_option_line(raw, "connector", result.line),
        name=result.name,
        hint="write to an upsert sink keyed by the grouping columns ('upsert-kafka' or 'jdbc' with "
        "`PRIMARY KEY (...) NOT ENFORCED`), or map no aggregate",
    )
