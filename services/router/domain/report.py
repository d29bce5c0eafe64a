"""The end-to-end execution report (seed 000 §5.2.4), from the run's read-model and real timings.

Written to `job/<domain>/workflow/end-to-end-execution-report-v3.md` when a run ends. The
shape follows the seed: overview table, per-phase results, deployment advice; every number
comes from the run's events (no invented figures such as the seed's "10x efficiency").
"""

from __future__ import annotations

from datetime import datetime

from services.flinksql.artifacts import ArtifactLayout
from services.router.domain.runs import Phase, RunState, RunView

_PHASE_TITLES = {
    "ingest": "阶段0: 需求解析 (ingest)",
    "generate": "阶段1: SQL生成 (generate)",
    "validate": "阶段2: 质量验证 (validate)",
    "gate": "质量门控 (gate)",
    "review": "人工评审 (review)",
    "knowledge": "阶段3: ER知识库更新 (knowledge)",
    "start": "作业启动 (start)",
}


def report_path(domain: str) -> str:
    return ArtifactLayout(domain).workflow_report


def human_duration(ms: int | None) -> str:
    """12345 -> '12秒345毫秒'; 150000 -> '2分钟30秒' (seed 000 writes durations in Chinese)."""
    if ms is None:
        return "进行中"
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    if minutes:
        return f"{minutes}分钟{seconds}秒"
    if seconds:
        return f"{seconds}秒{millis}毫秒" if millis else f"{seconds}秒"
    return f"{millis}毫秒"


def _ok(state: RunState) -> str:
    return "✅" if state is RunState.RUNNING else "❌"


def _total_ms(view: RunView) -> int | None:
    if view.created_at is None or view.updated_at is None:
        return None
    return int((view.updated_at - view.created_at).total_seconds() * 1000)


def _advice(view: RunView) -> list[str]:
    score = view.score
    if view.state is RunState.RUNNING:
        risk = "低风险" if (score or 0) >= 90 else "中等风险"
        return [
            f"**状态**: ✅ 作业已启动 ({view.target or 'manifest'})",
            "**生产**: ⚡ 观察运行指标后推荐上线"
            if (score or 0) >= 85
            else "**生产**: ⚠️ 人工批准上线, 建议复核",
            f"**风险**: {risk}, 支持回滚 (按修订版本从保存点恢复)",
        ]
    return [f"**状态**: ❌ 未部署 ({view.state.value})", f"**原因**: {view.reason or '-'}"]


def _phase_lines(phase: Phase) -> list[str]:
    title = _PHASE_TITLES.get(phase.name, phase.name)
    suffix = (
        f" (第{phase.attempt}次)" if phase.attempt and phase.name in ("generate", "validate", "gate") else ""
    )
    mark = "✅" if phase.finished_at is not None else "⏳"
    return [f"### {title}{suffix} {mark}", f"- **执行时间**: {human_duration(phase.duration_ms)}"]


def render_report(view: RunView, domain: str, now: datetime) -> str:
    """The markdown report of a run."""
    score = f"{view.score:.1f}/100 {_ok(view.state)}" if view.score is not None else "-"
    lines = [
        f"# {domain}端到端AI工作流执行报告 v3.0",
        "",
        "## 📋 执行概览",
        "| 项目 | 值 |",
        "|------|-----|",
        f"| 工作流ID | {view.run_id} |",
        f"| 业务域 | {domain} |",
        f"| 修订版本 | {view.revision if view.revision is not None else '-'} |",
        f"| 最终状态 | {view.state.value} {_ok(view.state)} |",
        f"| 执行时长 | {human_duration(_total_ms(view))} |",
        f"| 综合评分 | {score} |",
        f"| 生成尝试 | {view.attempt} |",
        "",
        "## 🎯 分阶段结果",
    ]
    for phase in view.phases:
        lines += _phase_lines(phase)
        if phase.name == "validate" and phase.attempt == view.attempt and view.score is not None:
            lines.append(f"- **验证评分**: {view.score:g}/100")
            lines.append(
                f"- **问题统计**: {view.critical or 0}个Critical, {view.warnings or 0}个Warning, {view.infos or 0}个Info"
            )
            for name, value in view.dimensions.items():
                lines.append(f"- **{name}**: {value:g}")
        lines.append("")
    lines += [
        "## 🚦 决策记录",
        "| 尝试 | 决策 | 决策者 | 模式 | 原因 |",
        "|------|------|--------|------|------|",
    ]
    for d in view.decisions:
        who = d.get("reviewer") or d.get("rule") or d.get("decided_by")
        reason = str(d.get("reason") or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {d.get('attempt')} | {d.get('decision')} | {who} | {d.get('mode')} | {reason} |")
    totals = view.llm_totals()
    lines += [
        "",
        "## 🤖 LLM 使用",
        f"- 路由分类调用: {totals['calls']} 次, tokens {totals['prompt_tokens']}+{totals['completion_tokens']},"
        f" 费用 ${totals['cost_usd']:.6f}, 延迟 {totals['latency_ms']} ms",
        f"- 生成器使用LLM的尝试: {totals['generator_llm_attempts']}",
        "",
        "## 🚀 部署建议",
        *_advice(view),
        "",
        "## 🔗 引用",
        *[f"- {key}: `{value}`" for key, value in sorted(view.references.items())],
        "",
        f"_生成于 {now.isoformat()} (streamwright router)_",
        "",
    ]
    return "\n".join(lines)
