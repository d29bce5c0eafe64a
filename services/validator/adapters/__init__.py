"""Adapters of the validator: the Flink engine (PyFlink), its connector jars, a private PostgreSQL.

`sql_text` is pure text handling; `connector_jars`, `postgres` and `flink_engine` do I/O.
Importing this package does not start a JVM or a server.
"""
