"""What the oracle adds to a validation, per example, warm.

Usage: .venv/bin/python benchmarks/oracle_overhead.py [--runs N]

For each example (orders, payments, user-activity), with its cases and the generated edge case,
exact fidelity (PostgreSQL), the median wall time of a whole validation (`ValidationUseCase.validate`):
- without the oracle (STREAMWRIGHT_VALIDATOR_RUN_ORACLE=false);
- with it, for the compiler's own job (the interpreter judges; its data rides in the cases' job);
- with it, for the hand-written job under tests/fixtures/handwritten/ (the compiler's job also
  runs on the data as the second oracle: one more Flink job).
and the oracle's own timings from the report (derive + interpret, its share of the batched job,
the reference job, the comparison). Target (issue 15): the oracle adds < 50 % to a plain
validation with cases.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.generator.adapters.profiles_fs import load_profile  # noqa: E402
from services.generator.domain import compile_job  # noqa: E402
from services.ingest.domain.checks import check_document  # noqa: E402
from services.validator.adapters.artifacts_fs import test_data_path  # noqa: E402
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars  # noqa: E402
from services.validator.adapters.engine_runner import EngineRunner  # noqa: E402
from services.validator.domain.model import Report  # noqa: E402
from services.validator.handlers import ValidationUseCase  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "requests"
HANDWRITTEN = ROOT / "tests" / "fixtures" / "handwritten"
EXAMPLES = ("orders", "payments", "user-activity")


def _median(use_case: ValidationUseCase, runs: int, **kwargs: object) -> tuple[float, Report]:
    times, report = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        report = asyncio.run(use_case.validate(**kwargs))  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    assert report is not None
    return statistics.median(times), report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    jars = default_jar_dir()
    ensure_connector_jars(jars)
    runner = EngineRunner(jars)
    warm = runner.warm()
    print(f"engine ready {warm['engine_ready']:.1f} s, PostgreSQL {warm['postgres_start']:.1f} s\n")
    plain = ValidationUseCase(engine=runner, knowledge=None, run_oracle=False)
    oracle = ValidationUseCase(engine=runner, knowledge=None)
    print(
        f"{'example':<14} {'no oracle':>9} {'generated':>10} {'+%':>5} {'hand+ref':>9} {'+%':>5}   "
        "oracle timings (generated | hand-written)"
    )
    for name in EXAMPLES:
        text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
        cases = (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8")
        spec = check_document(text, cases_text=cases).spec
        assert spec is not None
        job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="bench")
        test_data = yaml.safe_load(job.files[test_data_path(spec.job.domain)])["test_data"]
        hand = (HANDWRITTEN / f"{name}.sql").read_text(encoding="utf-8")
        common = {"spec": spec, "test_data": test_data}
        asyncio.run(oracle.validate(sql=job.sql, **common))  # type: ignore[arg-type]  # warm this shape
        base, _ = _median(plain, args.runs, sql=job.sql, **common)
        gen, gen_report = _median(oracle, args.runs, sql=job.sql, **common)
        ref, ref_report = _median(oracle, args.runs, sql=hand, reference_sql=job.sql, **common)
        assert gen_report.oracle is not None and not gen_report.oracle.differences, gen_report.oracle
        assert ref_report.oracle is not None and not ref_report.oracle.differences, ref_report.oracle

        def shares(report: Report) -> str:
            t = report.timings
            keys = ("oracle_prepare_s", "oracle_s", "oracle_reference_s", "oracle_judge_s")
            return " ".join(f"{k[7:-2]} {t[k]:.2f}" for k in keys if k in t)

        print(
            f"{name:<14} {base:>8.2f}s {gen:>9.2f}s {100 * (gen - base) / base:>4.0f}% {ref:>8.2f}s "
            f"{100 * (ref - base) / base:>4.0f}%   {shares(gen_report)} | {shares(ref_report)}"
        )
    runner.close()


if __name__ == "__main__":
    main()
