"""Data accuracy (35 %): case results, edge-case invariants, mapping coverage and type compatibility."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from services.flinksql.ddl import CreateTable
from services.flinksql.spec import Table
from services.flinksql.sqltypes import FlinkType, parse_type
from services.validator.domain import sqlview as sv
from services.validator.domain.context import Context
from services.validator.domain.model import CaseFacts, OracleDifference


def run(ctx: Context) -> None:
    _artifacts(ctx)
    _cases(ctx)
    _oracle(ctx)
    _columns_produced(ctx)
    _result_schema(ctx)
    _dimension_schemas(ctx)
    _mappings(ctx)
    _divisions(ctx)


def _artifacts(ctx: Context) -> None:
    """A generated job's missing artifact is an error, never silently skipped."""
    ctx.ran("accuracy.artifact_missing")
    for path in ctx.inputs.missing_artifacts:
        ctx.add(
            "accuracy.artifact_missing",
            ctx.t(
                f"Artifact {path} is missing: its checks (edge cases, job config) did not run.",
                f"缺少产物 {path}: 相关检查 (边界用例、作业配置) 未执行。",
            ),
            location=path,
        )


def _row_text(row: Mapping[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, default=str, sort_keys=False)


def describe_case_failure(case: CaseFacts, limit: int = 3) -> str:
    """One line naming the case's missing and unexpected rows (or its error)."""
    if case.error:
        return case.error
    parts: list[str] = []
    if case.missing:
        parts.append("missing " + "; ".join(_row_text(r) for r in case.missing[:limit]))
    if case.unexpected:
        parts.append("unexpected " + "; ".join(_row_text(r) for r in case.unexpected[:limit]))
    more = (
        len(case.missing)
        + len(case.unexpected)
        - min(len(case.missing), limit)
        - min(len(case.unexpected), limit)
    )
    if more > 0:
        parts.append(f"(+{more} more)")
    return " | ".join(parts)


def _cases(ctx: Context) -> None:
    for case in ctx.inputs.cases:
        if case.source == "edge_cases":
            _edge(ctx, case)
            continue
        if case.not_run:
            ctx.ran("accuracy.case_not_run")
            ctx.add(
                "accuracy.case_not_run",
                ctx.t(
                    f"Case {case.name} was not run: {case.error}", f"用例 {case.name} 未执行: {case.error}"
                ),
                location=f"case {case.name}",
                name=case.name,
            )
            continue
        ctx.ran("accuracy.case_not_run")
        ctx.ran("accuracy.case_failed")
        if not case.passed:
            ctx.add(
                "accuracy.case_failed",
                ctx.t(
                    f"Case {case.name} ({case.fidelity}) failed: {describe_case_failure(case)}",
                    f"用例 {case.name} ({case.fidelity}) 未通过: {describe_case_failure(case)}",
                ),
                location=f"case {case.name}",
                name=case.name,
            )


def _difference_text(ctx: Context, d: OracleDifference) -> str:
    """One finding's message: what differs, how often, the first input, the values, the cause."""
    share = f"{d.rows} of {d.of_rows} expected row(s)"
    if d.kind == "column":
        head = ctx.t(
            f"Column {d.column}: {share} differ from the oracle's",
            f"字段 {d.column}: {share} 与预言机不同",
        )
    elif d.kind == "missing_rows":
        head = ctx.t(
            f"{d.rows} row(s) missing (the request keeps them)", f"缺少 {d.rows} 行 (需求保留这些行)"
        )
    else:
        head = ctx.t(
            f"{d.rows} extra row(s) (the request drops them)", f"多出 {d.rows} 行 (需求会过滤这些行)"
        )
    parts = [head]
    if d.expected is not None:
        parts.append(ctx.t(f"expected {d.expected}", f"预期 {d.expected}"))
    if d.actual is not None:
        parts.append(ctx.t(f"actual {d.actual}", f"实际 {d.actual}"))
    if d.first_input:
        parts.append(ctx.t(f"first input: {d.first_input}", f"首个相关输入: {d.first_input}"))
    if d.cause:
        parts.append(ctx.t(f"likely cause: {d.cause}", f"可能原因: {d.cause}"))
    return "; ".join(parts)


def _oracle(ctx: Context) -> None:
    """The job's rows on spec-derived data against the oracles (docs/validator-oracle.md)."""
    summary = ctx.inputs.oracle
    if summary is None:
        return
    ctx.ran("accuracy.oracle_unavailable")
    ctx.ran("accuracy.oracles_disagree")
    if summary.oracle == "none":
        ctx.add(
            "accuracy.oracle_unavailable",
            ctx.t(
                "Data accuracy was judged without the oracle (only the request's cases and the edge-case "
                f"invariants checked the job's rows): {summary.note or 'none available'}",
                "数据准确性未经预言机校验 (仅由需求的用例与边界用例不变量校验作业结果): "
                f"{summary.note or '不可用'}",
            ),
            location="oracle",
        )
    ctx.ran("accuracy.oracle_no_rows")
    if summary.no_rows is not None:
        ctx.add(
            "accuracy.oracle_no_rows",
            ctx.t(
                f"The result table can never get a row: on {len(summary.inputs)} spec-derived inputs "
                f"(both sides of every filter boundary) the request gives none; {summary.no_rows}",
                f"结果表永远不会有数据: 在 {len(summary.inputs)} 行规格生成输入 (覆盖每个过滤边界两侧) 上"
                f"需求不产生任何行; {summary.no_rows}",
            ),
            location="oracle",
        )
    for d in summary.disagreement:
        ctx.add(
            "accuracy.oracles_disagree",
            ctx.t("Interpreter vs compiler's job: ", "解释器与编译器作业不一致: ") + _difference_text(ctx, d),
            location="oracle",
            name=d.column,
        )
    ctx.ran("accuracy.oracle_job_failed")
    if summary.job_error is not None:
        ctx.add(
            "accuracy.oracle_job_failed",
            ctx.t(
                f"The job failed on the spec-derived data ({len(summary.inputs)} input rows): {summary.job_error}",
                f"作业在规格生成数据 ({len(summary.inputs)} 行输入) 上失败: {summary.job_error}",
            ),
            location="oracle",
            # unscreened data (no interpreter) may hold rows Flink rightly fails on
            severity=None if summary.data_screened else "warning",
        )
        return
    if summary.oracle == "none" or summary.actual_rows is None:
        return
    columns = [d for d in summary.differences if d.kind == "column"]
    ctx.ran("accuracy.oracle_column", len(ctx.spec.result.columns))
    for d in columns:
        ctx.add(
            "accuracy.oracle_column",
            _difference_text(ctx, d),
            location=f"result column {d.column}",
            name=d.column,
        )
    ctx.ran("accuracy.oracle_rows")
    for d in summary.differences:
        if d.kind != "column":
            ctx.add("accuracy.oracle_rows", _difference_text(ctx, d), location="oracle")


def _edge(ctx: Context, case: CaseFacts) -> None:
    ctx.ran("accuracy.edge_job_failed")
    if case.error:
        ctx.add(
            "accuracy.edge_job_failed",
            ctx.t(
                f"The job failed on the generated edge cases ({case.fidelity}): {case.error}",
                f"作业在生成的边界用例上失败 ({case.fidelity}): {case.error}",
            ),
            location="edge cases",
            name=case.name,
        )
        return
    ctx.ran("accuracy.edge_invariant", 4)
    for violation in case.violations:
        ctx.add(
            "accuracy.edge_invariant",
            ctx.t(f"Edge-case invariant broken: {violation}", f"边界用例不变量不成立: {violation}"),
            location="edge cases",
            name=case.name,
        )


def check_invariants(
    test_data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], *, is_aggregate: bool
) -> list[str]:
    """The invariants of the generator's edge-case data that the result `rows` break."""
    violations: list[str] = []
    events = test_data.get("events") or []
    invariants = test_data.get("invariants") or []
    for inv in invariants:
        name = inv.get("name")
        columns = list(inv.get("columns") or [])
        if name == "not_null_columns":
            for col in columns:
                nulls = sum(1 for r in rows if r.get(col) is None)
                if nulls:
                    violations.append(f"not_null_columns: {col} is NULL in {nulls} row(s)")
        elif name == "primary_key_unique" and columns:
            keys = Counter(tuple(r.get(c) for c in columns) for r in rows)
            dupes = [k for k, n in keys.items() if n > 1]
            if dupes:
                violations.append(
                    f"primary_key_unique: {len(dupes)} key(s) written more than once, e.g. {dupes[0]}"
                )
        elif name == "row_count" and not is_aggregate:
            kept = sum(1 for e in events if e.get("expect") != "dropped")
            if len(rows) > kept:
                violations.append(f"row_count: {len(rows)} result rows from at most {kept} kept events")
    return violations


def _columns_produced(ctx: Context) -> None:
    ins = ctx.insert
    if ins is None:
        return
    wanted = [c.name for c in ctx.spec.result.columns]
    produced = set(ins.columns) if ins.columns is not None else {w.upper() for w in wanted[: len(ins.items)]}
    for col in wanted:
        ctx.ran("accuracy.column_not_produced")
        if col.upper() not in produced:
            ctx.add(
                "accuracy.column_not_produced",
                ctx.t(
                    f"Result column {col} is not written by the INSERT.",
                    f"结果字段 {col} 未被 INSERT 写入。",
                ),
                location=f"INSERT INTO {ins.target}",
                line=ins.statement.line,
                name=col,
            )


def _same_type(a: FlinkType, b: FlinkType) -> bool:
    return a.model_copy(update={"nullable": True}) == b.model_copy(update={"nullable": True})


def _compare_table(ctx: Context, rule: str, want: Table, have: CreateTable, line: int) -> None:
    ctx.ran(rule)
    problems: list[str] = []
    have_cols = {c.name.lower(): c for c in have.columns if c.physical}
    for col in want.columns:
        got = have_cols.get(col.name.lower())
        if got is None:
            problems.append(ctx.t(f"column {col.name} is missing", f"缺少字段 {col.name}"))
            continue
        try:
            got_type = parse_type(got.type_text)
        except ValueError:
            continue
        if not _same_type(got_type, col.type):
            problems.append(
                ctx.t(
                    f"{col.name} is {got_type.sql()}, the request says {col.type.sql()}",
                    f"{col.name} 为 {got_type.sql()}, 需求为 {col.type.sql()}",
                )
            )
    extra = sorted(set(have_cols) - {c.name.lower() for c in want.columns})
    if extra:
        problems.append(ctx.t(f"extra column(s) {', '.join(extra)}", f"多出字段 {', '.join(extra)}"))
    if [k.lower() for k in have.primary_key] != [k.lower() for k in want.primary_key]:
        problems.append(
            ctx.t(
                f"primary key ({', '.join(have.primary_key)}) differs from ({', '.join(want.primary_key)})",
                f"主键 ({', '.join(have.primary_key)}) 与需求 ({', '.join(want.primary_key)}) 不一致",
            )
        )
    for problem in problems:
        ctx.add(
            rule,
            ctx.t(f"Table {want.name}: {problem}.", f"表 {want.name}: {problem}。"),
            location=f"CREATE TABLE {want.name}",
            line=line,
            name=want.name,
        )


def _result_schema(ctx: Context) -> None:
    found = ctx.view.table(ctx.spec.result.name)
    if found is not None:
        _compare_table(ctx, "accuracy.result_schema_mismatch", ctx.spec.result, found[1], found[0].line)


def _dimension_schemas(ctx: Context) -> None:
    for dim in ctx.spec.dimensions:
        found = ctx.view.table(dim.table.name)
        if found is not None:
            _compare_table(ctx, "accuracy.dimension_schema_mismatch", dim.table, found[1], found[0].line)


def _mappings(ctx: Context) -> None:
    ins = ctx.insert
    if ins is None:
        return
    text = ins.statement.text
    for m in ctx.spec.mappings:
        item = ins.item_for(m.column)
        if item is None:
            continue
        line = ins.statement.line + text.count("\n", 0, item.tokens[0].start) if item.tokens else None
        where = f"INSERT INTO {ins.target}, column {m.column}"
        cast = sv.top_level_cast(item.tokens, lambda a, b: text[a:b])
        ctx.ran("accuracy.cast_missing")
        ctx.ran("accuracy.cast_type_mismatch")
        if m.needs_cast and cast is False:
            src = m.expression.type.sql() if m.expression.type is not None else "?"
            ctx.add(
                "accuracy.cast_missing",
                ctx.t(
                    f"Column {m.column} ({m.column_type.sql()}) gets {src} without a CAST.",
                    f"字段 {m.column} ({m.column_type.sql()}) 的映射类型为 {src}, 缺少 CAST。",
                ),
                location=where,
                line=line,
                name=m.column,
            )
        elif isinstance(cast, FlinkType) and not _same_type(cast, m.column_type):
            ctx.add(
                "accuracy.cast_type_mismatch",
                ctx.t(
                    f"Column {m.column} is {m.column_type.sql()} but its mapping is cast to {cast.sql()}.",
                    f"字段 {m.column} 类型为 {m.column_type.sql()}, 但映射被 CAST 为 {cast.sql()}。",
                ),
                location=where,
                line=line,
                name=m.column,
            )
        ctx.ran("accuracy.mapping_mismatch")
        if not _mapping_matches(sv.render_spec(m.expression.ast), item.tokens):
            ctx.add(
                "accuracy.mapping_mismatch",
                ctx.t(
                    f"Column {m.column} is computed as `{item.text}`, the request maps it to `{m.expression.text}`.",
                    f"字段 {m.column} 的计算为 `{item.text}`, 需求映射为 `{m.expression.text}`。",
                ),
                location=where,
                line=line,
                name=m.column,
            )


def _mapping_matches(spec: list[sv.Tok], sql: list[sv.Tok]) -> bool:
    candidates = [sql]
    inner = sv.cast_inner(sql)
    if inner is not None:
        candidates.append(inner)
    spec_forms = [spec]
    spec_inner = sv.cast_inner(spec)
    if spec_inner is not None:
        spec_forms.append(spec_inner)
    return any(sv.same_predicate(a, b) for a in spec_forms for b in candidates)


def _divisions(ctx: Context) -> None:
    ins = ctx.insert
    if ins is None:
        return
    ctx.ran("accuracy.unguarded_division")
    parts = [i.tokens for i in ins.items] + ins.where
    count = sum(sv.unguarded_divisions(p) for p in parts)
    if count:
        ctx.add(
            "accuracy.unguarded_division",
            ctx.t(
                f"{count} division(s) in the INSERT have an unguarded divisor.",
                f"INSERT 中有 {count} 处除法未做除零保护。",
            ),
            location=f"INSERT INTO {ins.target}",
            line=ins.statement.line,
        )
