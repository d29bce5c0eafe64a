"""`assess`: run every check on the facts, charge and score the findings, and build the Report."""

from __future__ import annotations

import re

from services.flinksql.artifacts import ArtifactLayout, BadDomain
from services.flinksql.spec import RequestSpec
from services.flinksql.statements import statements_digest
from services.validator.domain import checks_accuracy, checks_compliance, checks_performance, checks_sql
from services.validator.domain.checks_accuracy import describe_case_failure
from services.validator.domain.context import Context, Inputs
from services.validator.domain.model import CaseSummary, Language, Report
from services.validator.domain.rules import RuleConfig
from services.validator.domain.score import charge, score

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def detect_language(spec: RequestSpec) -> Language:
    """Chinese when the job's name or description contains CJK characters, else English."""
    text = f"{spec.job.name} {spec.job.description or ''}"
    return "zh" if _CJK.search(text) else "en"


def _sql_file_name(domain: str) -> str:
    try:
        return ArtifactLayout(domain).sql_file_name
    except BadDomain:
        return "job.sql"


def assess(
    inputs: Inputs,
    *,
    rule_config: RuleConfig | None = None,
    run_id: str = "adhoc",
    attempt: int = 1,
    created_at: str,
    language: Language | None = None,
    sql_file: str | None = None,
    timings: dict[str, float] | None = None,
) -> Report:
    """The full report for one job against its request (pure: every fact is passed in)."""
    spec = inputs.spec
    config = rule_config or RuleConfig.default()
    rules = config.resolve(spec.job.domain)
    lang: Language = language or detect_language(spec)
    ctx = Context(inputs, rules, lang)
    checks_sql.run(ctx)
    checks_accuracy.run(ctx)
    checks_performance.run(ctx)
    coverage = checks_compliance.run(ctx)
    findings = charge(ctx.findings, rules)
    result = score(findings, ctx.runs, rules, lang)

    reasons: list[str] = []
    plan = inputs.plan
    if plan is None or not plan.ran:
        note = "; ".join(plan.notes) if plan is not None and plan.notes else ""
        reasons.append(
            ctx.t(f"the Flink engine did not run {note}".strip(), f"Flink 引擎未运行 {note}".strip())
        )
    knowledge = inputs.knowledge
    if knowledge is None or not knowledge.available:
        note = knowledge.note if knowledge is not None and knowledge.note else ""
        reasons.append(
            ctx.t(
                f"the knowledge service was unreachable: ER conflicts not checked {note}".strip(),
                f"知识库服务不可达: 未检查 ER 冲突 {note}".strip(),
            )
        )
    if not inputs.cases_ran:
        reasons.append(ctx.t("data-accuracy runs were skipped", "未执行数据准确性用例"))

    failed_rules = {f.code for f in findings}
    passed = tuple(
        f"{rules[r].dimension}: {rules[r].title(lang)}"
        for r in sorted(ctx.runs, key=lambda r: list(rules).index(r) if r in rules else 999)
        if r in rules and r not in failed_rules
    )
    cases = tuple(
        CaseSummary(
            name=c.name,
            source=c.source,
            fidelity=c.fidelity,
            passed=c.passed,
            seconds=round(c.seconds, 2),
            detail=""
            if c.passed
            else describe_case_failure(c)
            if c.source == "request"
            else "; ".join(([c.error] if c.error else []) + list(c.violations)),
            fallback_reason=c.fallback_reason,
            note=c.note,
        )
        for c in inputs.cases
    )
    swaps = tuple(plan.swaps) if plan is not None else ()
    report = Report(
        run_id=run_id,
        attempt=attempt,
        domain=spec.job.domain,
        job_name=spec.job.name,
        sql_file=sql_file or _sql_file_name(spec.job.domain),
        created_at=created_at,
        language=lang,
        rule_set_version=config.version(),
        sql_digest=statements_digest(ctx.view.statements),  # the statements every check read
        state_fingerprint=plan.state_fingerprint if plan is not None else None,
        score=result.total,
        grade=result.grade,
        gate_passed=result.gate_passed,
        provisional=bool(reasons),
        provisional_reasons=tuple(reasons),
        dimensions=result.dimensions,
        findings=tuple(findings),
        passed_checks=passed,
        coverage=tuple(coverage),
        cases=cases,
        swaps=swaps,
        engine_notes=tuple(plan.notes) if plan is not None else (),
        timings=dict(timings or {}),
        oracle=inputs.oracle,
    )
    return report.model_copy(update={"deployment_advice": _advice(ctx, report)})


def _advice(ctx: Context, report: Report) -> tuple[str, ...]:
    t = ctx.t
    out: list[str] = []
    critical = report.count("critical")
    if report.gate_passed and report.score >= 90:
        out.append(t("✅ Ready for the test environment", "✅ 立即可部署到测试环境"))
        out.append(t("⚡ Promote to production after verification", "⚡ 验证后可上线生产环境"))
    elif report.gate_passed:
        out.append(t("✅ Deployable to the test environment", "✅ 可部署到测试环境"))
        out.append(t("⚠️ Fix the warnings before production", "⚠️ 上线生产前请修复 Warning 级别问题"))
    else:
        why = (
            t(f"{critical} Critical issue(s)", f"{critical} 个 Critical 问题")
            if critical
            else t(f"score {report.score} < 85", f"得分 {report.score} < 85")
        )
        out.append(
            t(
                f"❌ Do not deploy: {why}; fix them and validate again",
                f"❌ 暂不可部署: {why}; 修复后重新验证",
            )
        )
    if report.provisional:
        out.append(
            t("⏳ The score is provisional: ", "⏳ 评分为临时结果: ") + "; ".join(report.provisional_reasons)
        )
    config = ctx.inputs.job_config
    if config is not None and (config.parallelism or config.checkpoint_interval):
        out.append(
            t(
                f"⚙️ Deployment: parallelism {config.parallelism or '-'}, checkpoint every {config.checkpoint_interval or '-'}",
                f"⚙️ 部署配置: 并行度 {config.parallelism or '-'}, checkpoint 间隔 {config.checkpoint_interval or '-'}",
            )
        )
    if report.swaps:
        out.append(
            t(
                f"🔁 {len(report.swaps)} connector option(s) were swapped for validation only; the artifacts are unchanged",
                f"🔁 验证时替换了 {len(report.swaps)} 个连接器参数 (仅用于验证, 产物未改动)",
            )
        )
    return tuple(out)
