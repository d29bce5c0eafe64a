"""The validation report as markdown, in seed 000 §5.2.2's shape, and as JSON.

`render_markdown(report)` writes `validation/validation-report-<domain>-v3.md`: overview,
four-dimension table with grades, total, passed checks, issues by severity (with fix
suggestions and points lost), test coverage of each filter, rule, join and join miss, case
results with their fidelity, the validator's option swaps, and deployment advice.
`render_json(report)` is the same data (`Report.model_dump_json`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from services.flinksql.artifacts import ArtifactLayout
from services.validator.domain.model import OracleDifference, Report, SeverityName

_ICON = {"EXCELLENT": "✅", "GOOD": "✅", "FAIR": "⚠️", "POOR": "❌"}


def report_path(domain: str) -> str:
    return ArtifactLayout(domain).validation_report


def report_json_path(domain: str) -> str:
    return ArtifactLayout(domain).validation_report_json


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2)


def _oracle_section(report: Report, t: Callable[[str, str], str]) -> list[str]:
    """The spec-derived data, the oracle that judged it, and the differences found."""
    o = report.oracle
    out = ["", t("## 🔮 Oracle: spec-derived data", "## 🔮 预言机: 规格生成数据")]
    if o is None:
        out.append(t("The oracle did not run.", "预言机未执行。"))
        return out
    differing = len(o.differences)
    verdict = (
        t("the job failed on the data", "作业在数据上失败")
        if o.job_error
        else t("not judged", "未校验")
        if o.oracle == "none" or o.actual_rows is None
        else t("✅ the job's rows equal the oracle's", "✅ 作业结果与预言机一致")
        if not differing
        else t(f"❌ {differing} difference(s)", f"❌ {differing} 处差异")
    )
    out.append(t("| Item | Value |", "| 项目 | 值 |"))
    out.append("|------|-----|")
    events = sum(1 for i in o.inputs if i.table == "events")
    rows = [
        (t("Oracle", "预言机"), o.oracle),
        (
            t("Inputs (seed)", "输入 (种子)"),
            f"{events} events + {len(o.inputs) - events} dimension rows ({o.seed})",
        ),
        (
            t("Expected / actual rows", "预期 / 实际行数"),
            f"{o.expected_rows if o.expected_rows is not None else '-'} / {o.actual_rows if o.actual_rows is not None else '-'}",
        ),
        (t("Fidelity", "保真度"), o.fidelity or "-"),
        (t("Verdict", "结论"), verdict),
    ]
    if o.note:
        rows.append((t("Note", "说明"), o.note))
    out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    if o.job_error:
        out += ["", f"```text\n{o.job_error}\n```"]
    sections: tuple[tuple[str, tuple[OracleDifference, ...]], ...] = (
        (t("Differences", "差异"), o.differences),
        (t("Interpreter vs compiler's job", "解释器与编译器作业差异"), o.disagreement),
    )
    for title, items in sections:
        if not items:
            continue
        out += [
            "",
            f"### {title}",
            t(
                "| What | Rows | Expected | Actual | First input | Likely cause |",
                "| 内容 | 行数 | 预期 | 实际 | 首个输入 | 可能原因 |",
            ),
            "|------|------|------|------|------|------|",
        ]
        for d in items:
            what = d.column if d.kind == "column" else d.kind.replace("_", " ")
            out.append(
                f"| {_cell(what)} | {d.rows}/{d.of_rows} | {_cell(d.expected or '-')} | {_cell(d.actual or '-')} | "
                f"{_cell(d.first_input or '-')} | {_cell(d.cause or '-')} |"
            )
    out += ["", "<details><summary>" + t("The generated inputs", "生成的输入") + "</summary>", ""]
    out.append(t("| # | Table | Why it is there | Row |", "| # | 表 | 用途 | 行 |"))
    out.append("|---|------|------|------|")
    for n, i in enumerate(o.inputs, 1):
        out.append(
            f"| {n} | {_cell(i.table)} | {_cell(i.purpose)} | `{_cell(json.dumps(i.row, ensure_ascii=False, default=str))}` |"
        )
    for reason in o.dropped:
        out.append(f"| - | - | {_cell(t('left out: ', '已剔除: ') + reason)} | - |")
    out += ["", "</details>"]
    return out


def render_markdown(report: Report) -> str:  # noqa: C901, PLR0912, PLR0915 - one document, top to bottom
    zh = report.language == "zh"

    def t(en: str, cn: str) -> str:
        return cn if zh else en

    out: list[str] = []
    out.append(t(f"# {report.job_name} validation report v3.0", f"# {report.job_name}实时宽表验证报告 v3.0"))
    out.append("")
    out.append(t("## 📋 Overview", "## 📋 验证概览"))
    out.append(t("| Item | Value |", "| 项目 | 值 |"))
    out.append("|------|-----|")
    rows = [
        (t("SQL file", "验证文件"), report.sql_file),
        (t("Validated at", "验证时间"), report.created_at),
        (t("Rule set", "验证规则"), report.rule_set_version),
        (t("Domain", "业务域"), report.domain),
        (t("Run / attempt", "运行 / 尝试"), f"{report.run_id} / {report.attempt}"),
        (t("Statements verified (digest)", "已验证语句 (摘要)"), f"`{report.sql_digest or '-'}`"),
        (t("Engine", "验证引擎"), t("Flink 2.3 planner (PyFlink)", "Flink 2.3 解析与优化器 (PyFlink)")),
    ]
    out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    out.append("")
    out.append(t("## 🎯 Quality score", "## 🎯 综合质量评分"))
    out.append(t("### 📊 Four dimensions", "### 📊 四维度评分详情"))
    out.append(
        t("| Dimension | Score | Weight | Weighted | Status |", "| 维度 | 得分 | 权重 | 加权得分 | 状态 |")
    )
    out.append("|------|------|------|----------|------|")
    for d in report.dimensions:
        out.append(
            f"| {d.title} | {d.score:g}/100 | {round(d.weight * 100):d}% | {d.weighted:.1f} | "
            f"{_ICON[d.grade]} {d.grade} |"
        )
    out.append("")
    out.append(t("### 🏆 Total", "### 🏆 综合评分"))
    out.append(
        t("**Total**", "**总分**") + f": **{report.score:g}/100** {_ICON[report.grade]} **{report.grade}**"
    )
    gate = t("passed", "通过") if report.gate_passed else t("failed", "未通过")
    out.append("")
    out.append(
        t(
            f"Strict quality gate (≥ 85 and no Critical): **{gate}**",
            f"严格质量门控 (≥ 85 分且无 Critical): **{gate}**",
        )
    )
    if report.provisional:
        out.append("")
        out.append(t("> ⏳ Provisional score: ", "> ⏳ 临时评分: ") + "; ".join(report.provisional_reasons))
    out.append("")
    out.append(t("## ✅ Passed checks", "## ✅ 通过验证的项目"))
    for n, d in enumerate(report.dimensions, 1):
        share = 100 * d.checks_passed / d.checks_total if d.checks_total else 100.0
        out.append(
            f"{n}. **{d.title}**: {share:.0f}% "
            + t(f"passed ({d.checks_passed}/{d.checks_total})", f"通过 ({d.checks_passed}/{d.checks_total})")
        )
        for item in report.passed_checks:
            dim, _, title = item.partition(": ")
            if dim == d.name:
                out.append(f"   - {title}")
    out.append("")
    out.append(t("## ⚠️ Issues", "## ⚠️ 发现的问题"))
    if not report.findings:
        out.append(t("No issues.", "未发现问题。"))
        out.append("")
    levels: tuple[tuple[SeverityName, str], ...] = (
        ("critical", "Critical"),
        ("warning", "Warning"),
        ("info", "Info"),
    )
    for sev, label in levels:
        items = [f for f in report.findings if f.severity == sev]
        if not items:
            continue
        out.append(t(f"### {label} ({len(items)})", f"### {label}级别 ({len(items)}个)"))
        for n, f in enumerate(items, 1):
            where = f.location or ""
            if f.line:
                where += t(f", line {f.line}", f", 第 {f.line} 行")
            out.append(f"{n}. **{f.code}** — {f.message}")
            if where:
                out.append(t(f"   - Location: {where}", f"   - 位置: {where}"))
            if f.suggestion:
                out.append(t(f"   - Fix: {f.suggestion}", f"   - 修复建议: {f.suggestion}"))
            out.append(
                t(
                    f"   - Points lost: {f.points_lost:g} ({f.dimension})",
                    f"   - 扣分: {f.points_lost:g} ({f.dimension})",
                )
            )
        out.append("")
    out.append(t("## 🧪 Test coverage", "## 🧪 测试覆盖"))
    if report.coverage:
        out.append(
            t(
                "| Kind | Name | Condition | In the SQL | Edge cases |",
                "| 类型 | 名称 | 条件 | SQL中可追溯 | 边界用例 |",
            )
        )
        out.append("|------|------|------|------|------|")
        for c in report.coverage:
            tested = ", ".join(c.tested_by) if c.tested_by else "-"
            out.append(
                f"| {c.kind} | {_cell(c.name)} | `{_cell(c.text)}` | {'✅' if c.traced else '❌'} | {tested} |"
            )
    else:
        out.append(t("The request has no filters, rules or joins.", "需求中没有过滤条件、业务规则或关联。"))
    out.append("")
    out.append(t("## 🔬 Data-accuracy cases", "## 🔬 数据准确性用例"))
    if report.cases:
        out.append(
            t(
                "| Case | Source | Fidelity | Result | Seconds | Detail |",
                "| 用例 | 来源 | 保真度 | 结果 | 耗时(秒) | 说明 |",
            )
        )
        out.append("|------|------|------|------|------|------|")
        for case in report.cases:
            result = "✅ PASS" if case.passed else "❌ FAIL"
            detail = "; ".join(d for d in (case.detail or case.fallback_reason, case.note) if d)
            out.append(
                f"| {_cell(case.name)} | {case.source} | {case.fidelity} | {result} | {case.seconds:.1f} | {_cell(detail)} |"
            )
    else:
        out.append(t("No cases were run.", "未执行用例。"))
    out += _oracle_section(report, t)
    if report.swaps:
        out.append("")
        out.append(t("## 🔁 Option swaps (validation only)", "## 🔁 连接器参数替换 (仅验证时)"))
        out.append(t("| Table | Option | From | To | Why |", "| 表 | 参数 | 原值 | 替换为 | 原因 |"))
        out.append("|------|------|------|------|------|")
        for s in report.swaps:
            out.append(
                f"| {_cell(s.table)} | {_cell(s.option)} | {_cell(s.from_value or '-')} | "
                f"{_cell(s.to_value or '-')} | {_cell(s.why)} |"
            )
    out.append("")
    out.append(t("## 🚀 Deployment advice", "## 🚀 部署建议"))
    out += [f"- {a}" for a in report.deployment_advice]
    out.append("")
    return "\n".join(out)
