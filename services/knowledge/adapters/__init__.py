"""Adapters of the knowledge ports: DocumentStore repository, Qdrant index, files, embedders."""
