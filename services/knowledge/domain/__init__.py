"""Pure knowledge-base logic: model, conflicts, versions, diagrams, search, impact (no I/O)."""
