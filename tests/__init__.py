"""The test suite. A package so that shared test modules import as `tests.fakes` (pytest puts the
repository root on sys.path: `pythonpath` in pyproject.toml); test folders below stay plain directories."""
