"""Compile time per example request (target: under 20 ms per compile).

Run: `python benchmarks/compile_time.py` from the project root. The spec is built once by the
ingest checker (not timed); `compile_job` (SQL, manifests, test data, config, README) is timed
over repeated runs after a warm-up, and the median and p95 are printed per example.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.generator.adapters.profiles_fs import load_profile  # noqa: E402
from services.generator.domain import compile_job  # noqa: E402
from services.generator.version import GENERATOR_VERSION  # noqa: E402
from services.ingest.domain.checks import check_document  # noqa: E402

EXAMPLES = ("orders", "payments", "user-activity")
RUNS = 50
TARGET_MS = 20.0


def main() -> int:
    profile = load_profile("prod")
    worst = 0.0
    for name in EXAMPLES:
        text = (ROOT / "tests" / "fixtures" / "requests" / f"{name}-request-v3.md").read_text(
            encoding="utf-8"
        )
        spec = check_document(text).spec
        assert spec is not None, name
        for _ in range(5):
            compile_job(spec, profile=profile, revision=1, generator_version=GENERATOR_VERSION)
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            compile_job(spec, profile=profile, revision=1, generator_version=GENERATOR_VERSION)
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        median, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
        worst = max(worst, median)
        print(f"{name:15s} median {median:6.2f} ms   p95 {p95:6.2f} ms   ({RUNS} runs)")
    verdict = "OK" if worst < TARGET_MS else "OVER"
    print(f"target < {TARGET_MS:.0f} ms per compile: {verdict} (worst median {worst:.2f} ms)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
