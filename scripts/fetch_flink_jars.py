"""Fetch, extract and verify the validator's pinned Flink connector jars.

Usage: .venv/bin/python scripts/fetch_flink_jars.py [--dir DIR] [--wheel WHEEL]

DIR defaults to $STREAMWRIGHT_HOME/flink-jars (~/.streamwright/flink-jars). The wheel is taken
from --wheel, $STREAMWRIGHT_FLINK_JARS_WHEEL, DIR/wheels/, or downloaded with pip; every file is
checked against requirements/flink-connectors.sha256. Exit 0 and the jar paths on success, exit 1
and the reason (naming the jar) otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.validator.adapters.connector_jars import (
    ConnectorJarError,
    default_jar_dir,
    ensure_connector_jars,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="jar directory (default: %(default)s)")
    parser.add_argument("--wheel", type=Path, default=None, help="a local copy of the connector wheel")
    args = parser.parse_args(argv)
    jar_dir = args.dir or default_jar_dir()
    started = time.perf_counter()
    try:
        paths = ensure_connector_jars(jar_dir, wheel_path=args.wheel)
    except ConnectorJarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    print(f"{len(paths)} connector jars verified in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
