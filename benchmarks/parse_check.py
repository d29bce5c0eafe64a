"""Parse + check time per example request document (target: under 5 ms each).

Run: .venv/bin/python benchmarks/parse_check.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from services.ingest.domain.checks import check_document

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "requests"


def main(rounds: int) -> None:
    for path in sorted(FIXTURES.glob("*-request-v3.md")):
        text = path.read_text(encoding="utf-8")
        assert check_document(text).spec is not None, path
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            check_document(text)
            samples.append((time.perf_counter() - started) * 1000)
        print(
            f"{path.name:32} median {statistics.median(samples):6.2f} ms"
            f"  min {min(samples):6.2f} ms  ({len(text.encode()):,} bytes, {rounds} rounds)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
