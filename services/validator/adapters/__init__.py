"""Adapters of the validator: the Flink engine (PyFlink), its connector jars, a private PostgreSQL.

SQL text is read by the kernel (`services.flinksql`); `connector_jars`, `postgres` and
`flink_engine` do I/O. Importing this package does not start a JVM or a server.
"""
