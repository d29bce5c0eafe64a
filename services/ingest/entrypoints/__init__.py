"""Ingest entrypoints: the CLI commands (and, later, the consumer and the gRPC API)."""
