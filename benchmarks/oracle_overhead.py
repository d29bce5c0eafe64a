"""What the oracle adds to a validation, per example, warm.

Usage: .venv/bin/python benchmarks/oracle_overhead.py [--runs N]

For each example (orders, payments, user-activity) and two jobs, the compiler's and the
hand-written one under tests/fixtures/handwritten/ (with the compiler's as its reference), with
the request's cases and the generated edge case, exact fidelity (PostgreSQL): the median (and
worst) wall time of a whole validation (`ValidationUseCase.validate`) without the oracle
(STREAMWRIGHT_VALIDATOR_RUN_ORACLE=false) and with it, and the oracle's own timings from the
report (derive + interpret, its share of the batched job, the reference job when one ran, the
comparison). Both jobs are correct, so the reference job never runs: it runs only to confirm a
difference (docs/validator-oracle.md). Target (issue 15): the oracle adds < 50 % to a plain
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

from services.flinksql.artifacts import ArtifactLayout  # noqa: E402
from services.generator.adapters.profiles_fs import load_profile  # noqa: E402
from services.generator.domain import compile_job  # noqa: E402
from services.ingest.domain.checks import check_document  # noqa: E402
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars  # noqa: E402
from services.validator.adapters.engine_runner import EngineRunner  # noqa: E402
from services.validator.domain.model import Report  # noqa: E402
from services.validator.handlers import ValidationUseCase  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "requests"
HANDWRITTEN = ROOT / "tests" / "fixtures" / "handwritten"
EXAMPLES = ("orders", "payments", "user-activity")


def _median(use_case: ValidationUseCase, runs: int, **kwargs: object) -> tuple[float, float, Report]:
    """Median and worst wall time of `runs` validations, and the last report."""
    times, report = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        report = asyncio.run(use_case.validate(**kwargs))  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
    assert report is not None
    return statistics.median(times), max(times), report


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
        f"{'example':<14} {'job':<13} {'no oracle':>9} {'oracle':>8} {'+%':>5} {'max':>7}   oracle timings (s)"
    )
    for name in EXAMPLES:
        text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
        cases = (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8")
        spec = check_document(text, cases_text=cases).spec
        assert spec is not None
        job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="bench")
        test_data = yaml.safe_load(job.files[ArtifactLayout(spec.job.domain).test_data])["test_data"]
        hand = (HANDWRITTEN / f"{name}.sql").read_text(encoding="utf-8")
        for label, sql, reference in (("generated", job.sql, None), ("hand-written", hand, job.sql)):
            common = {"spec": spec, "test_data": test_data, "sql": sql}
            asyncio.run(oracle.validate(reference_sql=reference, **common))  # type: ignore[arg-type]  # warm
            base, _, _ = _median(plain, args.runs, **common)
            with_oracle, worst, report = _median(oracle, args.runs, reference_sql=reference, **common)
            assert report.oracle is not None and not report.oracle.differences, report.oracle
            t = report.timings
            keys = ("oracle_prepare_s", "oracle_s", "oracle_reference_s", "oracle_judge_s")
            shares = " ".join(f"{k[7:-2]} {t[k]:.2f}" for k in keys if k in t)
            print(
                f"{name:<14} {label:<13} {base:>8.2f}s {with_oracle:>7.2f}s "
                f"{100 * (with_oracle - base) / base:>4.0f}% {worst:>6.2f}s   {shares}"
            )
    runner.close()


if __name__ == "__main__":
    main()
