"""Timings of the validator's Flink engine adapter on this machine.

Usage: .venv/bin/python benchmarks/flink_engine.py [--runs N]

Prints: JVM start, cold and warm plan of the orders job, PostgreSQL start, warm exact and
rewritten case runs. Uses the hand-written orders job of the integration tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "integration" / "validator")]

from test_flink_engine import CASE, JDBC_SINK, ORDERS_JOB, PG_URL, orders_job  # noqa: E402

from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars  # noqa: E402
from services.validator.adapters.flink_engine import FlinkEngine  # noqa: E402
from services.validator.adapters.postgres import PrivatePostgres  # noqa: E402


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    jars, t = timed(ensure_connector_jars, default_jar_dir())
    print(f"jars verified          {t:6.2f} s")
    engine = FlinkEngine(jars)
    _, t = timed(engine.start)
    print(f"JVM + first env        {t:6.2f} s")
    plan_job = orders_job(dim_url=PG_URL, result_with=JDBC_SINK)
    _, t = timed(engine.plan, plan_job)
    print(f"plan (cold planner)    {t:6.2f} s")
    warm = [timed(engine.plan, plan_job)[1] for _ in range(args.runs)]
    print(f"plan (warm, median)    {statistics.median(warm):6.2f} s")
    with PrivatePostgres() as pg:
        print(f"PostgreSQL start       {pg.start_seconds:6.2f} s")
        exact = [timed(engine.run_case, ORDERS_JOB, CASE, postgres=pg)[1] for _ in range(args.runs + 1)]
        print(f"exact case (first)     {exact[0]:6.2f} s")
        print(f"exact case (warm, med) {statistics.median(exact[1:]):6.2f} s")
    rewritten = [timed(engine.run_case, ORDERS_JOB, CASE, postgres=None)[1] for _ in range(args.runs)]
    print(f"rewritten case (med)   {statistics.median(rewritten):6.2f} s")


if __name__ == "__main__":
    main()
