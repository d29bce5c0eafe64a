"""Warm validation latency of the validator, per example, with and without data-accuracy runs.

Usage: .venv/bin/python benchmarks/validate_latency.py [--runs N]

Prints: JVM start, PostgreSQL start, for each example (orders, payments, user-activity) the
median warm latency of a planner-only validation (plan + static rules + score + report) and of
a full one (plus every request case and the generated edge cases, exact fidelity), and the
validator's resident memory (Python process + its JVM child) at the end.
The cases of one validation run as one batched Flink job (docs/flink-engine.md): "cases" is
that run's wall time (the report's `cases_s`), and each case's seconds is its share of it
(own set-up and read-back + an equal part of the shared job), so they add up to it.
Targets (issue #17): planner-only < 300 ms warm, with cases < 1.5 s warm, RSS < 1.5 GiB; each
figure is printed beside its target and its ratio to the previous release
(benchmarks/previous_release.json).

--profile adds, per example, where the time of the validation with cases went: the engine's
phases (environment, DDL, EXPLAIN, submit = optimise + job graph + REST submission, job =
waiting for the job's end, PostgreSQL set-up / read-back / drop) and, from the hot cluster's
REST API, the job's own timeline (INITIALIZING -> CREATED -> RUNNING -> FINISHED, and each
task's duration). docs/flink-engine.md keeps a measured table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from services.flinksql.artifacts import ArtifactLayout  # noqa: E402
from services.generator.adapters.profiles_fs import load_profile  # noqa: E402
from services.generator.domain import compile_job  # noqa: E402
from services.ingest.domain.checks import check_document  # noqa: E402
from services.validator.adapters.artifacts_fs import job_config_from  # noqa: E402
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars  # noqa: E402
from services.validator.adapters.engine_runner import EngineRunner  # noqa: E402
from services.validator.adapters.flink_engine import profiled  # noqa: E402
from services.validator.domain.report import render_markdown  # noqa: E402
from services.validator.handlers import ValidationUseCase  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "requests"
EXAMPLES = ("orders", "payments", "user-activity")
PREVIOUS = json.loads((ROOT / "benchmarks" / "previous_release.json").read_text(encoding="utf-8"))
PHASES = ("environment", "ddl", "explain", "pg_setup", "submit", "job", "pg_read", "pg_drop")


def verdict(value: float, target: float, previous: float | None) -> str:
    """`[target < T: ok|MISSED; x0.42 of the previous release]`."""
    ratio = f"; x{value / previous:.2f} of the previous release" if previous else ""
    return f"[target < {target:g}: {'ok' if value < target else 'MISSED'}{ratio}]"


def last_job_timeline(runner: EngineRunner) -> str:
    """The hot cluster's newest job: its state timestamps and each task's duration, in ms."""
    engine = runner.engine()
    cluster = getattr(engine, "_cluster", None)
    if cluster is None:
        return "(no hot cluster: jobs ran on per-job MiniClusters)"
    base = f"http://{cluster.host}:{cluster.port}"
    with urllib.request.urlopen(f"{base}/jobs/overview", timeout=5) as answer:
        newest = max(json.load(answer)["jobs"], key=lambda j: j["start-time"])
    with urllib.request.urlopen(f"{base}/jobs/{newest['jid']}", timeout=5) as answer:
        job = json.load(answer)
    stamps = job["timestamps"]
    order = [s for s in ("INITIALIZING", "CREATED", "RUNNING", "FINISHED") if stamps.get(s)]
    steps = ", ".join(f"{a}->{b} {stamps[b] - stamps[a]} ms" for a, b in itertools.pairwise(order))
    tasks = ", ".join(f"{v['name'][:40]} {v['duration']} ms" for v in job["vertices"])
    return f"{steps}; tasks: {tasks}"


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(c) for c in text]
    except OSError:
        pass
    return out + [g for c in out for g in _children(c)]


def rss_mib(exclude: set[int]) -> tuple[float, float]:
    """(this process, this process + its children except `exclude`) in MiB."""
    me = os.getpid()
    own = _rss_kib(me)
    total = own + sum(_rss_kib(c) for c in _children(me) if c not in exclude)
    return own / 1024, total / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="where the time of each validation went")
    args = parser.parse_args()
    jars = default_jar_dir()
    ensure_connector_jars(jars)
    runner = EngineRunner(jars)
    began = time.perf_counter()
    warm = runner.warm()
    print(f"JVM start (first table environment): {warm['jvm_start']:.2f} s")
    print(
        f"engine ready:                        {warm['engine_ready']:.2f} s (wall {time.perf_counter() - began:.2f} s)"
    )
    print(f"hot cluster start:                   {warm['cluster_start']:.2f} s")
    print(f"PostgreSQL start:                    {warm['postgres_start']:.2f} s")
    pg = runner.postgres()
    pg_pids = {pg.pid} if pg is not None and pg.pid else set()
    pg_tree = pg_pids | {c for p in pg_pids for c in _children(p)}
    use_case = ValidationUseCase(engine=runner, knowledge=None)
    print()
    print(f"{'example':<15} {'plan-only median':>17} {'min':>8} {'with cases':>11} {'cases':>6} {'score':>6}")
    for name in EXAMPLES:
        text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
        cases = (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8")
        spec = check_document(text, cases_text=cases).spec
        assert spec is not None
        job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="bench")
        domain = spec.job.domain
        test_data = yaml.safe_load(job.files[ArtifactLayout(domain).test_data])["test_data"]
        config = job_config_from(yaml.safe_load(job.files[ArtifactLayout(domain).job_config]), "bench")
        asyncio.run(use_case.validate(spec, job.sql, run_cases=False, job_config=config))  # warm the planner
        plan_only: list[float] = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            report = asyncio.run(use_case.validate(spec, job.sql, run_cases=False, job_config=config))
            render_markdown(report)
            plan_only.append(time.perf_counter() - t0)
        asyncio.run(use_case.validate(spec, job.sql, test_data=test_data, job_config=config))  # warm
        with_cases_runs: list[float] = []
        for _ in range(max(1, args.runs // 2)):
            with profiled() as spent:
                t0 = time.perf_counter()
                full = asyncio.run(use_case.validate(spec, job.sql, test_data=test_data, job_config=config))
                with_cases_runs.append(time.perf_counter() - t0)
        with_cases = statistics.median(with_cases_runs)
        assert all(c.passed for c in full.cases), [c for c in full.cases if not c.passed]
        plan_ms = statistics.median(plan_only) * 1000
        print(
            f"{name:<15} {plan_ms:>14.0f} ms {min(plan_only) * 1000:>5.0f} ms"
            f" {with_cases:>9.2f} s {len(full.cases):>6} {full.score:>6g}"
        )
        print(f"{'':<15} planning {verdict(plan_ms, 300, PREVIOUS['validate_plan_ms'].get(name))}")
        print(f"{'':<15} with cases {verdict(with_cases, 1.5, PREVIOUS['validate_with_cases_s'].get(name))}")
        if args.profile:
            shown = ", ".join(f"{p} {spent[p] * 1000:.0f}" for p in PHASES if p in spent)
            other = with_cases - sum(spent.values())
            print(f"{'':<15} engine phases (ms, last run): {shown}; outside the engine {other * 1000:.0f}")
            print(f"{'':<15} Flink job: {last_job_timeline(runner)}")
        per_case = [c.seconds for c in full.cases]
        print(
            f"{'':<15} cases {full.timings.get('cases_s', 0.0):.2f} s, plan {full.timings.get('plan_s', 0.0):.2f} s;"
            f" per case: {', '.join(f'{s:.2f}' for s in per_case)} s"
        )
        notes = [f"{c.name}: {c.note}" for c in full.cases if c.note]
        if notes:
            print(f"{'':<15} " + "; ".join(notes))
    own, total = rss_mib(pg_tree)
    print()
    print(
        f"validator RSS: python {own:.0f} MiB, python + JVM {total:.0f} MiB (PostgreSQL excluded) "
        f"{verdict(total / 1024, 1.5, PREVIOUS['validator_rss_mib'] / 1024)} GiB"
    )
    runner.close()


if __name__ == "__main__":
    main()
