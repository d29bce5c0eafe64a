"""Business compliance (20 %): the request's filters, rules and joins traced in the SQL; ER
conflicts from the knowledge service; sensitive columns written unmasked.

Tracing compares canonical token sequences (see `sqlview`): each request predicate, rendered
with the request's own column names, must equal a WHERE conjunct of the INSERT (or, for a
predicate written as several ANDed parts, each part must). Join conditions are read from each
join's ON clause, with the dimension's alias mapped to the request's alias by table and order.
Both sides are also compared in one form (`normal_form`: BETWEEN spelt out, simple CASE made
searched). A filter or rule still not traced is Critical, or a Warning when the oracle judged
the job on spec-derived data that makes the predicate fail at each of its boundaries and found
no difference (docs/validator-oracle.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.flinksql.quoting import quote_string
from services.flinksql.spec import Join
from services.validator.domain import sqlview as sv
from services.validator.domain.context import Context
from services.validator.domain.model import CoverageItem, SeverityName

_SENSITIVE_NAME = re.compile(
    r"(phone|mobile|cellphone|telephone|(^|_)tel(_|$)|e_?mail|mail_?addr|id_?card|id_?no|id_?number|"
    r"identity|passport|ssn|bank_?card|card_?no)",
    re.IGNORECASE,
)
_SENSITIVE_COMMENT = re.compile(
    r"(手机|电话|联系方式|邮箱|电子邮件|身份证|证件号|护照|银行卡|phone|mobile|e-?mail|id card|id number)",
    re.IGNORECASE,
)
MASKING_FUNCTIONS = frozenset(
    {
        "MD5",
        "SHA1",
        "SHA2",
        "SHA224",
        "SHA256",
        "SHA384",
        "SHA512",
        "REGEXP_REPLACE",
        "OVERLAY",
        "MASK",
        "MASK_FIRST_N",
        "MASK_LAST_N",
        "MASK_SHOW_FIRST_N",
        "MASK_SHOW_LAST_N",
        "MASK_HASH",
        "TO_BASE64",
        "ENCODE",
        "HASH_CODE",
    }
)
_PARTIAL = frozenset({"SUBSTR", "SUBSTRING", "LEFT", "RIGHT", "LPAD", "RPAD"})


def run(ctx: Context) -> list[CoverageItem]:
    coverage: list[CoverageItem] = []
    _result_table(ctx)
    _event_filter(ctx)
    coverage += _predicates(ctx)
    coverage += _joins(ctx)
    _sensitive(ctx)
    _conflicts(ctx)
    return coverage


def _result_table(ctx: Context) -> None:
    ctx.ran("compliance.result_table_mismatch")
    targets = [i.target for i in ctx.view.inserts if i.target]
    if targets and ctx.spec.result.name.lower() not in {t.lower() for t in targets}:
        ctx.add(
            "compliance.result_table_mismatch",
            ctx.t(
                f"The job writes {', '.join(targets)}, the request's result table is {ctx.spec.result.name}.",
                f"作业写入 {', '.join(targets)}, 需求的结果表为 {ctx.spec.result.name}。",
            ),
            location=f"INSERT INTO {targets[0]}",
            name=ctx.spec.result.name,
        )


def _is_equality(conj: list[sv.Tok], column: str, literal: str) -> bool:
    t = sv.loose(conj)
    if len(t) != 3 or t[1] != "=":
        return False
    a, b = t[0], t[2]
    return (a.rsplit(".", 1)[-1] == column and b == literal) or (
        b.rsplit(".", 1)[-1] == column and a == literal
    )


def _event_filter(ctx: Context) -> None:
    ins = ctx.insert
    if ins is None:
        return
    job = ctx.spec.job
    for column, value in (("DOMAIN", job.domain), ("TYPE", job.event_type)):
        ctx.ran("compliance.event_filter_missing")
        literal = quote_string(value)
        if not any(_is_equality(c, column, literal) for c in ins.where):
            ctx.add(
                "compliance.event_filter_missing",
                ctx.t(
                    f"The job does not keep only {column.lower()} = {literal} of BusinessEvent.",
                    f"作业未按 {column.lower()} = {literal} 过滤 BusinessEvent。",
                ),
                location=f"INSERT INTO {ins.target}",
                line=ins.statement.line,
                name=column.lower(),
            )


def _traced_as_written(predicate: list[sv.Tok], clauses: list[list[sv.Tok]]) -> bool:
    if any(sv.same_predicate(predicate, c) for c in clauses):
        return True
    parts = sv.conjuncts(predicate)
    return len(parts) > 1 and all(any(sv.same_predicate(p, c) for c in clauses) for p in parts)


def traced(predicate: list[sv.Tok], clauses: list[list[sv.Tok]]) -> bool:
    """True when the predicate is one of the clauses, or each of its AND parts is; as written,
    or once both sides are in one form (`x BETWEEN a AND b` as `x >= a AND x <= b`, a simple
    CASE as a searched one: `normal_form`)."""
    if _traced_as_written(predicate, clauses):
        return True
    return _traced_as_written(normal_form(predicate), [normal_form(c) for c in clauses])


# ---- one form for the obvious equivalences


def _tok(text: str, kind: str, at: sv.Tok) -> sv.Tok:
    return sv.Tok(text, kind, at.start, at.end)


def _is_word(tok: sv.Tok, *words: str) -> bool:
    return tok.kind == "word" and tok.text in words


def _is_punct(tok: sv.Tok, text: str) -> bool:
    return tok.kind == "punct" and tok.text == text


def _stops_between(tok: sv.Tok) -> bool:
    return _is_word(tok, *_BETWEEN_STOPS) or _is_punct(tok, ",")


def _block_end(toks: Sequence[sv.Tok], i: int) -> int:
    """The index closing the parenthesis or CASE opened at `i` (the last index when unclosed)."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if _is_punct(t, "(") or _is_word(t, "CASE"):
            depth += 1
        elif _is_punct(t, ")") or _is_word(t, "END"):
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def _top_level(toks: Sequence[sv.Tok]) -> list[bool]:
    """Per token: outside every parenthesis and CASE block of `toks`."""
    out: list[bool] = []
    depth = 0
    for t in toks:
        if _is_punct(t, ")") or _is_word(t, "END"):
            depth -= 1
        out.append(depth == 0 and not (_is_punct(t, "(") or _is_word(t, "CASE")))
        if _is_punct(t, "(") or _is_word(t, "CASE"):
            depth += 1
    return out


def _split_top(toks: Sequence[sv.Tok], words: frozenset[str]) -> list[tuple[sv.Tok | None, list[sv.Tok]]]:
    """`toks` cut at the top-level words in `words`: (the word before the part, the part)."""
    top = _top_level(toks)
    parts: list[tuple[sv.Tok | None, list[sv.Tok]]] = [(None, [])]
    for t, outside in zip(toks, top, strict=True):
        if outside and t.kind == "word" and t.text in words:
            parts.append((t, []))
        else:
            parts[-1][1].append(t)
    return parts


_CASE_WORDS = frozenset({"WHEN", "THEN", "ELSE"})
_BETWEEN_STOPS = frozenset({"AND", "OR", "NOT", "WHEN", "THEN", "ELSE"})


def _case(block: Sequence[sv.Tok]) -> list[sv.Tok]:
    """CASE ... END with its parts in normal form; a simple CASE (`CASE x WHEN v THEN ...`) as
    the searched CASE it means (`CASE WHEN x = v THEN ...`)."""
    head, end = block[0], block[-1]
    parts = _split_top(block[1:-1] if _is_word(end, "END") else block[1:], _CASE_WORDS)
    operand = normal_form(parts[0][1])
    rest = [(word, normal_form(part)) for word, part in parts[1:]]
    simple = bool(operand) and not any(
        word is not None and word.text == "WHEN" and any(_is_punct(t, ",") for t in part)
        for word, part in rest
    )
    out: list[sv.Tok] = [head] + ([] if simple else operand)
    for word, part in rest:
        assert word is not None
        out.append(word)
        if simple and word.text == "WHEN":
            out += [*operand, _tok("=", "punct", word), *part]
        else:
            out += part
    return [*out, end] if _is_word(end, "END") else out


def _between(toks: list[sv.Tok]) -> list[sv.Tok]:
    """Each top-level `x BETWEEN a AND b` (not NOT / SYMMETRIC) as `(x >= a AND x <= b)`."""
    top = _top_level(toks)
    for i, t in enumerate(toks):
        if not (top[i] and _is_word(t, "BETWEEN")) or (i > 0 and _is_word(toks[i - 1], "NOT")):
            continue
        if i + 1 < len(toks) and _is_word(toks[i + 1], "SYMMETRIC", "ASYMMETRIC"):
            continue
        start = i
        while start > 0 and not (top[start - 1] and _stops_between(toks[start - 1])):
            start -= 1
        low_end = next((j for j in range(i + 1, len(toks)) if top[j] and _is_word(toks[j], "AND")), None)
        if low_end is None:
            continue
        stop = next(
            (j for j in range(low_end + 1, len(toks)) if top[j] and _stops_between(toks[j])),
            len(toks),
        )
        x, low, high = toks[start:i], toks[i + 1 : low_end], toks[low_end + 1 : stop]
        if not (x and low and high):
            continue
        rewritten = [
            _tok("(", "punct", t),
            *x,
            _tok(">=", "punct", t),
            *low,
            _tok("AND", "word", t),
            *x,
            _tok("<=", "punct", t),
            *high,
            _tok(")", "punct", t),
        ]
        return toks[:start] + rewritten + _between(toks[stop:])
    return toks


def normal_form(toks: Sequence[sv.Tok]) -> list[sv.Tok]:
    """Canonical tokens with BETWEEN spelt out and simple CASEs made searched, at every depth."""
    out: list[sv.Tok] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if _is_punct(t, "("):
            j = _block_end(toks, i)
            closed = _is_punct(toks[j], ")") and j > i
            out += [t, *normal_form(toks[i + 1 : j if closed else j + 1])] + ([toks[j]] if closed else [])
            i = j + 1
        elif _is_word(t, "CASE"):
            j = _block_end(toks, i)
            out += _case(toks[i : j + 1])
            i = j + 1
        else:
            out.append(t)
            i += 1
    return _between(out)


def _edge_tests(ctx: Context, needle: str) -> tuple[str, ...]:
    data = ctx.inputs.edge_test_data or {}
    events = data.get("events")
    out: list[str] = []
    for ev in events if isinstance(events, list) else []:
        if isinstance(ev, dict) and needle in str(ev.get("purpose", "")):
            out.append(str(ev.get("id")))
    return tuple(out)


def _oracle_found_no_difference(ctx: Context) -> bool:
    """The oracle judged the job's rows on the spec-derived data (which holds rows at and beside
    every filter and rule boundary) and found them equal: no job failure, no difference, and no
    disagreement between the two oracles (docs/validator-oracle.md)."""
    summary = ctx.inputs.oracle
    return (
        summary is not None
        and summary.oracle != "none"
        and summary.job_error is None
        and summary.actual_rows is not None
        and not summary.differences
        and not summary.disagreement
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


_LOC = re.compile(r"\(([^()=]+?) = ")


def _exercised(ctx: Context, title: str) -> bool:
    """The oracle's data made the predicate fail at each of its boundaries, as its inputs'
    purposes say (`<title>: at|beside the boundary[, ...] (<field> = <value>): holds|fails`);
    the typical rows make every predicate hold.

    Rows at and beside a boundary on which the predicate only holds do not test it (e.g. a
    bound inside a CASE branch the rows do not take): an equal result then proves nothing about
    the job's version of it. Grouped by field and end (low / high) of a range.
    """
    summary = ctx.inputs.oracle
    verdicts: dict[tuple[str, str], set[str]] = {}
    for item in summary.inputs if summary is not None else ():
        for segment in item.purpose.split("; "):
            if not segment.startswith(f"{title}: ") or not segment.endswith((": holds", ": fails")):
                continue
            rest = segment[len(title) + 2 :]
            if not rest.startswith(("at the boundary", "beside the boundary")):
                continue
            loc = _LOC.search(rest)
            end = "low" if "low end" in rest else "high" if "high end" in rest else ""
            key = (loc.group(1).strip() if loc else "", end)
            verdicts.setdefault(key, set()).add(rest.rsplit(": ", 1)[1])
    return bool(verdicts) and all("fails" in v for v in verdicts.values())


def _predicates(ctx: Context) -> list[CoverageItem]:
    ins = ctx.insert
    coverage: list[CoverageItem] = []
    items = [
        ("filter", f"filter {n + 1}", f, "compliance.filter_missing") for n, f in enumerate(ctx.spec.filters)
    ]
    items += [
        ("business_rule", r.name, r.condition, "compliance.rule_missing") for r in ctx.spec.business_rules
    ]
    same_rows = _oracle_found_no_difference(ctx)
    for kind, name, expression, rule in items:
        title = f"filter `{_one_line(expression.text)}`" if kind == "filter" else None
        title = title or f"rule {name} (`{_one_line(expression.text)}`)"
        ctx.ran(rule)
        found = ins is not None and traced(sv.render_spec(expression.ast), ins.where)
        if not found:
            what = (
                ctx.t("Filter", "过滤条件")
                if kind == "filter"
                else ctx.t(f"Business rule {name}", f"业务规则 {name}")
            )
            exercised = same_rows and _exercised(ctx, title)
            if exercised and ins is not None:
                # the text differs, the behaviour on data made to test it does not: a Warning
                ctx.add(
                    rule,
                    ctx.t(
                        f"{what} `{expression.text}` is not in the job's WHERE clause as written; the job may "
                        "write it differently: the spec-derived data shows no difference (check it is the same condition).",
                        f"{what} `{expression.text}` 未按原样出现在作业的 WHERE 子句中, 可能写法不同: "
                        "规格生成数据上未发现差异 (请确认是同一条件)。",
                    ),
                    location=f"INSERT INTO {ins.target}",
                    line=ins.statement.line,
                    name=name,
                    severity="warning",
                )
            else:
                untested = same_rows and ins is not None  # equal rows, but the data does not test it
                ctx.add(
                    rule,
                    ctx.t(
                        f"{what} `{expression.text}` is not in the job's WHERE clause."
                        + (
                            " The spec-derived data shows no difference, but it never makes the predicate "
                            "fail at each of its boundaries, so it cannot vouch for the job's version."
                            if untested
                            else ""
                        ),
                        f"{what} `{expression.text}` 未在作业的 WHERE 子句中实现。"
                        + (
                            "规格生成数据上未发现差异, 但数据未在每个边界上使该条件不成立, 无法证明作业的写法等价。"
                            if untested
                            else ""
                        ),
                    ),
                    location=f"INSERT INTO {ins.target}" if ins else None,
                    line=ins.statement.line if ins else None,
                    name=name,
                )
        coverage.append(
            CoverageItem(
                kind=kind,
                name=name,
                text=expression.text,
                traced=found,
                tested_by=_edge_tests(ctx, f"fails predicate {expression.text.strip()}"),
            )
        )
    return coverage


def _key_tokens(join: Join) -> tuple[str, str]:
    target = f"{join.alias.upper()}.{join.target_field.upper()}"
    if join.source_kind == "event":
        source = f"PAYLOAD.{join.source_field.upper()}"
    else:
        source = f"{(join.source_alias or join.source_table).upper()}.{join.source_field.upper()}"
    return target, source


def _key_equality(conj: list[sv.Tok], target: str, source: str) -> bool:
    t = [x for x in sv.loose(conj) if x not in ("TRY_CAST", "CAST")]
    if "=" not in t:
        return False
    eq = t.index("=")
    left, right = t[:eq], t[eq + 1 :]

    def side(part: list[str], name: str) -> bool:
        return bool(part) and part[0] == name

    return (side(left, target) and side(right, source)) or (side(left, source) and side(right, target))


def _joins(ctx: Context) -> list[CoverageItem]:
    ins = ctx.insert
    coverage: list[CoverageItem] = []
    for join in ctx.spec.joins:
        ctx.ran("compliance.join_missing")
        found = None
        if ins is not None:
            found = next((j for j in ins.joins if j.alias == join.alias.upper()), None)
        text = f"{join.join_type} JOIN {join.target_table} AS {join.alias} ON {join.alias}.{join.target_field} = "
        text += f"{'payload' if join.source_kind == 'event' else join.source_alias or join.source_table}.{join.source_field}"
        if join.additional_condition is not None:
            text += f" AND ({join.additional_condition.text})"
        location = f"INSERT INTO {ins.target}" if ins else None
        ok = found is not None
        if found is None:
            ctx.add(
                "compliance.join_missing",
                ctx.t(
                    f"Join {join.name} ({join.join_type} JOIN {join.target_table}) is not in the job.",
                    f"关联 {join.name} ({join.join_type} JOIN {join.target_table}) 未在作业中实现。",
                ),
                location=location,
                line=ins.statement.line if ins else None,
                name=join.name,
            )
        else:
            assert ins is not None
            line = ins.statement.line + found.line_offset
            ctx.ran("compliance.join_type_mismatch")
            if found.join_type != join.join_type:
                ok = False
                ctx.add(
                    "compliance.join_type_mismatch",
                    ctx.t(
                        f"Join {join.name} is a {found.join_type} JOIN, the request says {join.join_type}.",
                        f"关联 {join.name} 为 {found.join_type} JOIN, 需求为 {join.join_type}。",
                    ),
                    location=location,
                    line=line,
                    name=join.name,
                )
            ctx.ran("compliance.join_condition_mismatch")
            target, source = _key_tokens(join)
            problems: list[str] = []
            if not any(_key_equality(c, target, source) for c in found.on):
                problems.append(
                    ctx.t(f"the key condition {target} = {source}", f"关联键条件 {target} = {source}")
                )
            if join.additional_condition is not None:
                cond = sv.render_spec(join.additional_condition.ast)
                in_on = traced(cond, found.on)
                in_where = join.join_type == "INNER" and traced(cond, ins.where)
                if not (in_on or in_where):
                    problems.append(
                        ctx.t(
                            f"the additional condition `{join.additional_condition.text}` in its ON clause",
                            f"ON 子句中的附加条件 `{join.additional_condition.text}`",
                        )
                    )
            if problems:
                ok = False
                ctx.add(
                    "compliance.join_condition_mismatch",
                    ctx.t(
                        f"Join {join.name} lacks {' and '.join(problems)}.",
                        f"关联 {join.name} 缺少{'、'.join(problems)}。",
                    ),
                    location=location,
                    line=line,
                    name=join.name,
                )
        coverage.append(CoverageItem(kind="join", name=join.name, text=text, traced=ok))
        coverage.append(
            CoverageItem(
                kind="join_miss",
                name=join.name,
                text=ctx.t(
                    f"{join.join_type} miss: {'row dropped' if join.join_type == 'INNER' else 'row kept, dimension columns NULL'}",
                    f"{join.join_type} 未关联: {'丢弃该行' if join.join_type == 'INNER' else '保留该行, 维表字段为 NULL'}",
                ),
                traced=ok,
                tested_by=_edge_tests(ctx, f"lookup {join.name} misses"),
            )
        )
    return coverage


def is_sensitive(name: str, comment: str | None) -> bool:
    return bool(_SENSITIVE_NAME.search(name)) or bool(comment and _SENSITIVE_COMMENT.search(comment))


def _masked(toks: list[sv.Tok]) -> bool:
    functions = sv.function_names(toks)
    if functions & MASKING_FUNCTIONS:
        return True
    # a partial value glued to a mask: CONCAT(SUBSTR(x, 1, 3), '****', ...)
    return bool(functions & _PARTIAL) and any(t.kind == "string" and "*" in t.text for t in toks)


def _sensitive(ctx: Context) -> None:
    ins = ctx.insert
    if ins is None:
        return
    for col in ctx.spec.result.columns:
        if not is_sensitive(col.name, col.comment):
            continue
        ctx.ran("compliance.sensitive_unmasked")
        item = ins.item_for(col.name)
        if item is None or _masked(item.tokens):
            continue
        if not any(t.kind == "col" for t in item.tokens):
            continue  # a constant is not personal data
        ctx.add(
            "compliance.sensitive_unmasked",
            ctx.t(
                f"Sensitive column {col.name} ({col.comment or 'personal data'}) is written unmasked: `{item.text}`.",
                f"敏感字段 {col.name} ({col.comment or '个人信息'}) 未脱敏写出: `{item.text}`。",
            ),
            location=f"INSERT INTO {ins.target}, column {col.name}",
            line=ins.statement.line,
            name=col.name,
        )


def _conflicts(ctx: Context) -> None:
    knowledge = ctx.inputs.knowledge
    if knowledge is None or not knowledge.available:
        return
    ctx.ran("compliance.er_conflict")
    for c in knowledge.conflicts:
        sev = c.severity.lower()
        severity: SeverityName = (
            "critical" if sev in ("critical", "error") else "info" if sev == "info" else "warning"
        )
        where = f"{c.table}.{c.column}" if c.column else c.table
        ctx.add(
            "compliance.er_conflict",
            ctx.t(
                f"ER knowledge base conflict ({c.kind}) on {where}: {c.detail}",
                f"与 ER 知识库冲突 ({c.kind}) {where}: {c.detail}",
            ),
            location=where,
            name=c.table,
            severity=severity,
        )
