"""Physical identity (issue 18 item 7): which physical table a WITH clause names.

- normalising connector options (servers, case, default ports, credentials dropped);
- when two identities name the same physical table;
- a domain's version diff graded by identity; identities in the knowledge-base documents.
The findings across domains are in test_kb_identity_findings.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from knowledge_fakes import example_model

from services.knowledge.domain.conflicts import diff_tables
from services.knowledge.domain.diagrams import domain_documents, global_documents
from services.knowledge.domain.identity import identity_of, same_place
from services.knowledge.domain.model import KbColumn, KbTable

TRADE = "jdbc:mysql://mysql-trade.internal:3306/trade_dim"
GEO = "jdbc:mysql://mysql-geo.internal:3306/geo_dim"


def jdbc(url: str, table: str, **more: str) -> dict[str, str]:
    return {"connector": "jdbc", "url": url, "table-name": table, **more}


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            jdbc(TRADE, "dim_city"), "mysql://mysql-trade.internal:3306 table trade_dim.dim_city", id="mysql"
        ),
        pytest.param(
            jdbc(
                "jdbc:mysql://reader:s3cr3t@MySQL-Trade.Internal/Trade_Dim?user=reader&password=s3cr3t&useSSL=false",
                "DIM_City",
            ),
            "mysql://mysql-trade.internal:3306 table trade_dim.dim_city",
            id="mysql-credentials-case-default-port-params",
        ),
        pytest.param(
            jdbc("jdbc:mysql://mysql-trade.internal:3306/trade_dim", "other_db.dim_city"),
            "mysql://mysql-trade.internal:3306 table trade_dim.other_db.dim_city",
            id="mysql-table-name-quoted-whole",
        ),
        pytest.param(
            jdbc("jdbc:mariadb:loadbalance://h2:3307,H1/geo", "city"),
            "mysql://h1:3306,h2:3307 table geo.city",
            id="mariadb-is-mysql-hosts-as-set",
        ),
        pytest.param(
            jdbc("jdbc:postgresql://pg:5432/Geo?currentSchema=Ref,public&sslmode=require", "Cities"),
            "postgresql://pg:5432 table Geo.ref.cities",
            id="postgresql-current-schema-folds-unquoted",
        ),
        pytest.param(
            jdbc("jdbc:postgresql://pg/geo", 'ref."Cities"'),
            "postgresql://pg:5432 table geo.ref.Cities",
            id="postgresql-quoted-keeps-case",
        ),
        pytest.param(
            jdbc("jdbc:postgresql:geo", "cities"),
            "postgresql://localhost:5432 table geo.public.cities",
            id="postgresql-local",
        ),
        pytest.param(
            jdbc("jdbc:sqlserver://SQL1;databaseName=Geo;encrypt=true;password=x", "Cities"),
            "sqlserver://sql1:1433 table geo.dbo.cities",
            id="sqlserver-database-name-dbo",
        ),
        pytest.param(
            jdbc("jdbc:oracle:thin:@//ora1:1521/geo_svc", "ref.cities"),
            "oracle://ora1:1521 table GEO_SVC.REF.CITIES",
            id="oracle-service-folds-upper",
        ),
        pytest.param(
            jdbc("jdbc:oracle:thin:scott/tiger@ora1:1521:GEO", "cities"),
            "oracle://ora1:1521 table GEO.?.CITIES",
            id="oracle-sid-user-schema-unknown",
        ),
        pytest.param(
            jdbc("jdbc:db2://db2h:50000/geo:currentSchema=REF;", "cities"),
            "db2://db2h:50000 table GEO.REF.CITIES",
            id="db2-current-schema",
        ),
        pytest.param(
            jdbc("jdbc:clickhouse://ch/Geo", "Cities"),
            "clickhouse://ch:8123 table Geo.Cities",
            id="clickhouse-keeps-case",
        ),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "B2:9092, b1", "topic": "orders;audit"},
            "kafka://b1:9092,b2:9092 topic audit;orders",
            id="kafka-servers-and-topics-as-sets",
        ),
        pytest.param(
            {
                "connector": "upsert-kafka",
                "properties.bootstrap.servers": "SASL_SSL://b1:9093",
                "topic-pattern": "orders-.*",
            },
            "kafka://b1:9093 topic-pattern orders-.*",
            id="upsert-kafka-pattern-listener",
        ),
        pytest.param(
            {"connector": "filesystem", "path": "HDFS://NN:8020/warehouse//Orders/"},
            "filesystem://hdfs://nn:8020 path /warehouse/Orders",
            id="filesystem-path-keeps-case",
        ),
        pytest.param(
            {
                "connector": "hologres",
                "endpoint": "holo:80",
                "dbname": "pay_dw",
                "tablename": "DWD_X",
                "password": "p",
            },
            "postgresql://holo:80 table pay_dw.public.dwd_x",
            id="hologres-is-postgresql",
        ),
        pytest.param(
            {"connector": "odps", "project": "Trade_DW", "tableName": "dwd_order_wide"},
            "odps://(default) table trade_dw.dwd_order_wide",
            id="odps",
        ),
        pytest.param(
            {"connector": "elasticsearch-7", "hosts": "http://es1:9200;https://ES2", "index": "Orders"},
            "elasticsearch://es1:9200,es2:9200 index orders",
            id="elasticsearch",
        ),
        pytest.param(
            {"connector": "hbase-2.2", "zookeeper.quorum": "zk1:2181,zk2", "table-name": "ns:Orders"},
            "hbase://zk1:2181/hbase,zk2:2181/hbase table ns.Orders",
            id="hbase",
        ),
        pytest.param(
            {
                "connector": "mongodb",
                "uri": "mongodb://u:p@m1,m2:27018/?replicaSet=r",
                "database": "geo",
                "collection": "cities",
            },
            "mongodb://m1:27017,m2:27018 collection geo.cities",
            id="mongodb",
        ),
        pytest.param(
            jdbc(
                TRADE,
                "dim_city",
                username="flink_reader",
                password="${secret:streamwright-jdbc-dim-city-password}",
            ),
            "mysql://mysql-trade.internal:3306 table trade_dim.dim_city",
            id="secret-password-is-no-obstacle",
        ),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "${secret:brokers}", "topic": "orders"},
            "kafka://(default) topic orders",
            id="secret-servers-unknown",
        ),
        pytest.param({"connector": "datagen", "rows-per-second": "1"}, None, id="datagen"),
        pytest.param({"connector": "blackhole"}, None, id="blackhole"),
        pytest.param({"connector": "redis", "host": "r1"}, None, id="unknown-connector"),
        pytest.param({"connector": "jdbc", "url": TRADE}, None, id="jdbc-without-table-name"),
        pytest.param(jdbc("${secret:url}", "dim_city"), None, id="jdbc-url-is-a-secret"),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "b1"}, None, id="kafka-without-topic"
        ),
        pytest.param({}, None, id="no-options"),
    ],
)
def test_identity_of_options(options: dict[str, str], expected: str | None) -> None:
    """It reduces a WITH clause to connector, servers and object, per the system's rules; else None."""
    found = identity_of(options)
    assert (str(found) if found is not None else None) == expected


@pytest.mark.parametrize(
    "url",
    [
        "jdbc:mysql://reader:s3cr3t@mysql-trade.internal/trade_dim",
        "jdbc:mysql://mysql-trade.internal/trade_dim?user=reader&password=s3cr3t",
        "jdbc:postgresql://pg/geo?user=reader&password=s3cr3t&currentSchema=ref",
        "jdbc:sqlserver://sql1;user=reader;password=s3cr3t;databaseName=geo",
        "jdbc:oracle:thin:reader/s3cr3t@//ora1:1521/geo",
    ],
)
def test_no_credential_reaches_an_identity(url: str) -> None:
    """It drops user info and user/password parameters: an identity is shown in findings and events."""
    found = identity_of(jdbc(url, "cities", username="reader", password="s3cr3t"))
    assert found is not None
    assert "s3cr3t" not in repr(found) and "reader" not in repr(found)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(
            jdbc(TRADE, "dim_city"),
            jdbc("jdbc:mysql://MYSQL-TRADE.internal/trade_dim?useSSL=false", "DIM_CITY"),
            True,
            id="mysql-spelling",
        ),
        pytest.param(
            jdbc(TRADE, "dim_city"),
            jdbc(GEO.replace("geo_dim", "trade_dim"), "dim_city"),
            False,
            id="mysql-other-host",
        ),
        pytest.param(
            jdbc(TRADE, "dim_city"),
            jdbc(TRADE.replace("trade_dim", "geo_dim"), "dim_city"),
            False,
            id="mysql-other-database",
        ),
        pytest.param(
            jdbc("jdbc:postgresql://pg/geo", "cities"),
            jdbc("jdbc:postgresql://pg/geo", "public.cities"),
            True,
            id="pg-default-schema",
        ),
        pytest.param(
            jdbc("jdbc:postgresql://pg/geo?currentSchema=ref", "cities"),
            jdbc("jdbc:postgresql://pg/geo", "public.cities"),
            False,
            id="pg-current-schema",
        ),
        pytest.param(
            jdbc("jdbc:postgresql://pg/geo", "Cities"),
            jdbc("jdbc:postgresql://pg/geo", '"Cities"'),
            False,
            id="pg-quoted-differs",
        ),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "b1:9092", "topic": "orders"},
            {
                "connector": "upsert-kafka",
                "properties.bootstrap.servers": "b2:9092,b1:9092",
                "topic": "orders",
            },
            True,
            id="kafka-shared-broker-upsert",
        ),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "b1:9092", "topic": "orders"},
            {"connector": "kafka", "properties.bootstrap.servers": "b3:9092", "topic": "orders"},
            False,
            id="kafka-other-cluster",
        ),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "b1", "topic": "orders"},
            {"connector": "kafka", "properties.bootstrap.servers": "b1", "topic": "Orders"},
            False,
            id="kafka-topic-case",
        ),
        pytest.param(
            {"connector": "kafka", "properties.bootstrap.servers": "b1", "topic": "orders"},
            {"connector": "kafka", "properties.bootstrap.servers": "b1", "topic-pattern": "orders"},
            False,
            id="kafka-topic-vs-pattern",
        ),
        pytest.param(
            {"connector": "hologres", "endpoint": "holo:80", "dbname": "pay_dw", "tablename": "dwd_x"},
            jdbc("jdbc:postgresql://holo:80/pay_dw", "public.dwd_x"),
            True,
            id="hologres-and-jdbc-postgresql",
        ),
        pytest.param(
            jdbc("jdbc:oracle:thin:@//ora1:1521/geo", "cities"),
            jdbc("jdbc:oracle:thin:@//ora1/GEO", "ref.cities"),
            True,
            id="oracle-user-schema",
        ),
        pytest.param(
            {"connector": "filesystem", "path": "s3://lake/orders/"},
            {"connector": "filesystem", "path": "s3://lake/orders"},
            True,
            id="filesystem-trailing-slash",
        ),
        pytest.param(
            {
                "connector": "odps",
                "project": "trade_dw",
                "tableName": "t",
                "endpoint": "http://svc.maxcompute/api",
            },
            {"connector": "odps", "project": "TRADE_DW", "tableName": "t"},
            True,
            id="odps-default-endpoint",
        ),
        pytest.param(
            jdbc(TRADE, "dim_city"),
            {"connector": "odps", "project": "trade_dim", "tableName": "dim_city"},
            False,
            id="other-system",
        ),
    ],
)
def test_same_place(a: dict[str, str], b: dict[str, str], same: bool) -> None:
    """It matches identities by system, object and meeting servers, both ways round."""
    first, second = identity_of(a), identity_of(b)
    assert first is not None and second is not None
    assert same_place(first, second) is same and same_place(second, first) is same


# ---------------------------------------------------------------- one domain's versions


def _dim(url: str, **more: str) -> KbTable:
    return KbTable(
        name="dim_city",
        role="dimension",
        columns=(KbColumn(name="city_id", type="STRING", nullable=False, primary_key=True),),
        options={**jdbc(url, "dim_city"), **more},
    )


@pytest.mark.parametrize(
    ("new_url", "kind", "mention"),
    [
        pytest.param(
            "jdbc:mysql://MySQL-Trade.internal/trade_dim?useSSL=false",
            "options_changed",
            "same physical table",
            id="respelled",
        ),
        pytest.param(
            GEO, "connector_changed", "-> mysql://mysql-geo.internal:3306 table geo_dim.dim_city", id="moved"
        ),
    ],
)
def test_url_changes_are_graded_by_identity(new_url: str, kind: str, mention: str) -> None:
    """It calls a respelled URL an options change (Info) and a move a connector change (Warning)."""
    (found,) = diff_tables(_dim(TRADE), _dim(new_url))
    assert (found.kind, found.severity) == (kind, "info" if kind == "options_changed" else "warning")
    assert mention in found.detail


def test_a_move_by_a_non_url_option_is_a_connector_change() -> None:
    """It notices a Kafka table moved to another cluster although only bootstrap servers changed."""

    def topic(servers: str) -> KbTable:
        return KbTable(
            name="ods_orders",
            role="result",
            columns=(KbColumn(name="order_id", type="STRING"),),
            options={"connector": "kafka", "topic": "orders", "properties.bootstrap.servers": servers},
        )

    (moved,) = diff_tables(topic("b1:9092"), topic("c1:9092"))
    assert moved.kind == "connector_changed" and "kafka://c1:9092 topic orders" in moved.detail
    (grown,) = diff_tables(topic("b1:9092"), topic("b1:9092,b2:9092"))
    assert grown.kind == "options_changed"


def test_documents_show_physical_tables() -> None:
    """It shows each table's physical identity in the domain documents and the global tables.md."""
    now = datetime(2025, 1, 6, tzinfo=UTC)
    dims = domain_documents(example_model("orders"), 1, generated_at=now)["dimension-tables.md"]
    assert "Physical table: `mysql://mysql-trade.internal:3306 table trade_dim.dim_shop`" in dims
    docs = global_documents({"orders": example_model("orders")}, generated_at=now)
    index = docs["tables.md"]
    assert (
        "| dim_city | dimension | orders | 4 | `mysql://mysql-trade.internal:3306 table trade_dim.dim_city` |"
        in index
    )
    assert "| OrderPayload | source | orders | 9 |  |" in index
