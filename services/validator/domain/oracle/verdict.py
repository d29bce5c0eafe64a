"""The oracle's verdict on a job: its rows on spec-derived data against the expected rows.

Two independent oracles give expected rows (docs/validator-oracle.md):
- the interpreter (`interpret`): the spec's semantics computed in Python, no SQL;
- the compiler's job for the same spec, run on Flink on the same data (the caller runs it and
  passes its rows), used to check any other SQL: hand-written, edited or an LLM's answer.

When both are there and agree, the job is judged against them. When they disagree, a job that
matches either one is not charged (the disagreement is reported: one of the two is wrong), and a
job that matches neither is judged against the interpreter. Pure: no engine, no I/O.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.flinksql import expr as ast
from services.flinksql.spec import Expression, Join, RequestSpec
from services.flinksql.sqltypes import FlinkType
from services.validator.domain.model import OracleDifference, OracleInput, OracleSummary
from services.validator.domain.oracle.datagen import DerivedData, derive_data
from services.validator.domain.oracle.pipeline import Interpreter, Row
from services.validator.domain.oracle.scalars import JobFailure, Unsupported
from services.validator.domain.values import normalize, render_value

ORACLE_CASE = "oracle"
MAX_SHOWN_DIFFERENCES = 12


@dataclass(frozen=True)
class OraclePlan:
    """The spec-derived data and, when the interpreter covers the spec, its expected rows."""

    data: DerivedData
    expected: tuple[Row, ...] | None
    note: str | None  # why the interpreter gives no rows
    no_rows: str | None = None  # the interpreter's rows are none: why no input reaches the result

    def case_mapping(self) -> dict[str, Any]:
        """The data as a §8 case without expected rows (the verdict compares, not the engine)."""
        return self.data.as_case(ORACLE_CASE).model_dump(mode="json")

    def inputs(self) -> tuple[OracleInput, ...]:
        out = [
            OracleInput(table="events", purpose=purpose, row=dict(event))
            for event, purpose in zip(self.data.events, self.data.purposes, strict=True)
        ]
        for table, rows in self.data.dimensions.items():
            purposes = self.data.dimension_purposes.get(table, ())
            for i, row in enumerate(rows):
                out.append(
                    OracleInput(table=table, purpose=purposes[i] if i < len(purposes) else "", row=dict(row))
                )
        return tuple(out)


def prepare_oracle(spec: RequestSpec, *, seed: int = 0) -> OraclePlan:
    data = derive_data(spec, seed=seed)
    try:
        interpreter = Interpreter(spec)
        expected = interpreter.run(data.events, data.dimensions)
    except Unsupported as exc:
        return OraclePlan(data, None, f"the interpreter does not cover {exc.construct}")
    except JobFailure as exc:  # the data were screened for this: a defect of the screening
        return OraclePlan(data, None, f"the interpreter says Flink fails on the data: {exc}")
    no_rows = None if expected else _why_no_rows(spec, interpreter, data)
    return OraclePlan(data, tuple(expected), None, no_rows)


def _why_no_rows(spec: RequestSpec, interpreter: Interpreter, data: DerivedData) -> str:
    """Why none of the spec-derived inputs (built on both sides of every filter boundary, with
    join hits) gives a result row: the filters that hold on no input, else their combination."""
    mine, joined, holds = interpreter.reach(data.events, data.dimensions)
    if mine == 0:
        return f"no input is of the job's domain {spec.job.domain!r} and event type {spec.job.event_type!r}"
    if joined == 0:
        inner = ", ".join(j.name for j in spec.joins if j.join_type == "INNER")
        return f"none of the {mine} input event(s) survives the INNER join(s) {inner}"
    never = [label for label, n in holds.items() if n == 0]
    if never:
        return (
            f"{'the filter' if len(never) == 1 else 'the filters'} {', '.join(never)} "
            f"{'is' if len(never) == 1 else 'are'} TRUE on none of the {joined} joined input row(s) "
            "(NULL or FALSE on every one: a contradiction, or a comparison with NULL)"
        )
    if holds:
        return (
            f"each filter holds on some input, but no input passes them all together: "
            f"{', '.join(holds)} contradict each other"
        )
    not_null = sorted({c.name for c in spec.result.columns if c.not_null} | set(spec.result.primary_key))
    return (
        f"every joined row has NULL in a NOT NULL or key column ({', '.join(not_null)}), so the sink drops it"
    )


# ---------------------------------------------------------------- the verdict


def judge_oracle(
    spec: RequestSpec,
    plan: OraclePlan,
    *,
    actual: Sequence[Mapping[str, Any]] | None,
    actual_error: str | None = None,
    fidelity: str | None = None,
    reference: Sequence[Mapping[str, Any]] | None = None,
    reference_note: str | None = None,
    seconds: float = 0.0,
) -> OracleSummary:
    """The job's rows (`actual`, or the error it failed with) against the oracles' rows.

    `reference` is the compiler's job's rows on the same data (None: not run; `reference_note`
    says why when worth saying).
    """
    explainer = _Explainer(spec, plan.data)
    interpreted = list(plan.expected) if plan.expected is not None else None
    notes = [n for n in (plan.note, reference_note) if n]
    disagreement: tuple[OracleDifference, ...] = ()
    if interpreted is not None and reference is not None:
        oracle = "interpreter and compiler job"
        disagreement = explainer.differences(interpreted, reference)
        if disagreement:
            notes.append(
                "the interpreter and the compiler's job disagree on the spec-derived data: one of them "
                "is wrong; a job matching either is not charged"
            )
    elif interpreted is not None:
        oracle = "interpreter"
    elif reference is not None:
        oracle = "compiler job"
    else:
        oracle = "none"
    base = OracleSummary(
        oracle=oracle,
        seed=plan.data.seed,
        inputs=plan.inputs(),
        dropped=plan.data.dropped,
        expected_rows=len(interpreted) if interpreted is not None else len(reference) if reference else None,
        actual_rows=None if actual is None else len(actual),
        fidelity=fidelity,
        job_error=actual_error,
        data_screened=interpreted is not None,
        no_rows=plan.no_rows,
        disagreement=disagreement,
        seconds=round(seconds, 3),
    )
    if actual is None or oracle == "none":
        return base.model_copy(update={"note": "; ".join(notes) or None})
    differences: tuple[OracleDifference, ...]
    if disagreement:
        assert interpreted is not None and reference is not None
        matches = [not explainer.differences(rows, actual) for rows in (interpreted, reference)]
        differences = () if any(matches) else explainer.differences(interpreted, actual)
    else:
        expected = interpreted if interpreted is not None else reference
        assert expected is not None
        differences = explainer.differences(expected, actual)
    return base.model_copy(update={"note": "; ".join(notes) or None, "differences": differences})


# ---------------------------------------------------------------- diagnosis


def _text(value: object, zone: ZoneInfo | None) -> str:
    """A value as the findings show it: a TIMESTAMP_LTZ as wall clock in the job's `zone`, as the
    job's rows are shown."""
    return json.dumps(render_value(value, zone), ensure_ascii=False, default=str)


def _row_text(row: Mapping[str, Any], zone: ZoneInfo | None) -> str:
    return json.dumps({k: render_value(v, zone) for k, v in row.items()}, ensure_ascii=False, default=str)


class _Explainer:
    """Pairs expected and actual rows, names what differs and the input that shows it."""

    def __init__(self, spec: RequestSpec, data: DerivedData) -> None:
        self.spec = spec
        self.data = data
        self.zone = ZoneInfo(spec.job.time_zone)
        self.columns: list[tuple[str, FlinkType]] = [(c.name, c.type) for c in spec.result.columns]
        self.mappings = {m.column: m for m in spec.mappings}
        pk = list(spec.result.primary_key)
        if not pk and spec.aggregation.is_aggregate:
            pk = [c for c in spec.aggregation.group_by if c in dict(self.columns)]
        self.key_columns = pk
        self._solo: list[list[Row]] | None = None

    # ---- value forms

    def norm(self, row: Mapping[str, Any]) -> tuple[object, ...]:
        return tuple(normalize(row.get(name), t, self.zone) for name, t in self.columns)

    def key(self, row: Mapping[str, Any]) -> tuple[object, ...] | None:
        if not self.key_columns:
            return None
        types = dict(self.columns)
        return tuple(normalize(row.get(c), types[c], self.zone) for c in self.key_columns)

    # ---- lineage: which input event gives a row (the interpreter on that event alone)

    def solo_rows(self) -> list[list[Row]]:
        if self._solo is None:
            out: list[list[Row]] = []
            try:
                interpreter = Interpreter(self.spec)
            except Unsupported:
                interpreter = None
            for event in self.data.events:
                try:
                    out.append(interpreter.run([event], self.data.dimensions) if interpreter else [])
                except (Unsupported, JobFailure, ArithmeticError, ValueError):
                    out.append([])
            self._solo = out
        return self._solo

    def source_event(self, row: Mapping[str, Any]) -> int | None:
        """The last event that alone gives a row with this key (or these values)."""
        want_key, want = self.key(row), self.norm(row)
        found = None
        for index, rows in enumerate(self.solo_rows()):
            for r in rows:
                if (want_key is not None and self.key(r) == want_key) or self.norm(r) == want:
                    found = index
        return found

    def extra_source(self, row: Mapping[str, Any]) -> tuple[int, str] | None:
        """For a row the spec does not give: the event that gives it once one filter, rule or join
        condition of the spec is lifted, and that change (the likely cause)."""
        want_key, want = self.key(row), self.norm(row)
        for name, relaxed in spec_mutations(self.spec, loosening_only=True):
            try:
                interpreter = Interpreter(relaxed)
            except Unsupported:
                continue
            for index, event in enumerate(self.data.events):
                try:
                    rows = interpreter.run([event], self.data.dimensions)
                except (Unsupported, JobFailure, ArithmeticError, ValueError):
                    continue
                for r in rows:
                    same = (want_key is not None and self.key(r) == want_key) or self.norm(r) == want
                    if same and not self.solo_rows()[index]:
                        return index, name
        return None

    def describe_event(self, index: int | None) -> str | None:
        if index is None:
            return None
        event = self.data.events[index]
        purpose = self.data.purposes[index] if index < len(self.data.purposes) else ""
        payload = event.get("payload")
        return f"event #{index + 1} ({purpose}): {json.dumps(payload, ensure_ascii=False, default=str)}"

    # ---- the differences

    def differences(
        self, expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
    ) -> tuple[OracleDifference, ...]:
        want = Counter(self.norm(r) for r in expected)
        got = Counter(self.norm(r) for r in actual)
        missing = _pick(expected, want - got, self.norm)
        extra = _pick(actual, got - want, self.norm)
        if not missing and not extra:
            return ()
        pairs, missing, extra = self._pair(missing, extra)
        out: list[OracleDifference] = []
        out += self._column_differences(pairs, len(expected))
        if missing:
            out.append(self._missing(missing, expected, actual))
        if extra:
            out.append(self._extra(extra, len(expected), actual))
        mutation = self.reproducing_mutation(actual)
        if mutation is not None:  # the spec changed in one place gives exactly the job's rows
            out = [d.model_copy(update={"cause": f"the job behaves as if {mutation}"}) for d in out]
        return tuple(out[:MAX_SHOWN_DIFFERENCES])

    def reproducing_mutation(self, actual: Sequence[Mapping[str, Any]]) -> str | None:
        """The one change to the spec (a filter, rule or join condition dropped or moved, a join
        type or a comparison flipped) under which the interpreter gives exactly `actual`."""
        got = Counter(self.norm(r) for r in actual)
        for description, mutated in spec_mutations(self.spec):
            try:
                rows = Interpreter(mutated).run(self.data.events, self.data.dimensions)
            except (Unsupported, JobFailure, ArithmeticError, ValueError):
                continue
            if Counter(self.norm(r) for r in rows) == got:
                return description
        return None

    def _pair(
        self, missing: list[Mapping[str, Any]], extra: list[Mapping[str, Any]]
    ) -> tuple[
        list[tuple[Mapping[str, Any], Mapping[str, Any]]], list[Mapping[str, Any]], list[Mapping[str, Any]]
    ]:
        """Expected and actual rows that are the same row with different values: by the key when
        the result has one, then by the most equal columns (at least half of them)."""
        pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        left = list(extra)
        rest: list[Mapping[str, Any]] = []
        for row in missing:
            key = self.key(row)
            match = next((r for r in left if key is not None and self.key(r) == key), None)
            if match is not None:
                left.remove(match)
                pairs.append((row, match))
            else:
                rest.append(row)
        unpaired: list[Mapping[str, Any]] = []
        for row in rest:
            mine = self.norm(row)
            best, best_equal = None, 0
            for r in left:
                equal = sum(a == b for a, b in zip(mine, self.norm(r), strict=True))
                if equal > best_equal:
                    best, best_equal = r, equal
            if best is not None and best_equal * 2 >= len(self.columns):
                left.remove(best)
                pairs.append((row, best))
            else:
                unpaired.append(row)
        return pairs, unpaired, left

    def _column_differences(
        self, pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]], total: int
    ) -> list[OracleDifference]:
        out = []
        for i, (name, ftype) in enumerate(self.columns):
            differing = [
                (e, a)
                for e, a in pairs
                if normalize(e.get(name), ftype, self.zone) != normalize(a.get(name), ftype, self.zone)
            ]
            if not differing:
                continue
            first_e, first_a = differing[0]
            out.append(
                OracleDifference(
                    kind="column",
                    column=name,
                    rows=len(differing),
                    of_rows=total,
                    first_input=self.describe_event(self.source_event(first_e)),
                    expected=_text(first_e.get(name), self.zone),
                    actual=_text(first_a.get(name), self.zone),
                    cause=self._value_cause(i, differing),
                )
            )
        return out

    def _missing(
        self,
        rows: list[Mapping[str, Any]],
        expected: Sequence[Mapping[str, Any]],
        actual: Sequence[Mapping[str, Any]],
    ) -> OracleDifference:
        source = self.source_event(rows[0])
        cause = self._merged_cause(expected, actual)
        if cause is None and source is not None:
            cause = self._missing_cause(source)
        return OracleDifference(
            kind="missing_rows",
            rows=len(rows),
            of_rows=len(expected),
            first_input=self.describe_event(source),
            expected=_row_text(rows[0], self.zone),
            cause=cause,
        )

    def _merged_cause(
        self, expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
    ) -> str | None:
        """Fewer rows, one per value of a coarser (or another) key: rows overwrite each other."""
        if not actual or len(actual) >= len(expected):
            return None
        types = dict(self.columns)
        key = self.key_columns
        shown = ", ".join(key)
        candidates: list[tuple[list[str], str]] = []
        for column in key:
            rest = [k for k in key if k != column]
            if rest:
                candidates.append(
                    (
                        rest,
                        f"rows that differ only in `{column}` are merged: the job keeps one row per "
                        f"({', '.join(rest)}), so its GROUP BY or its sink's PRIMARY KEY lacks `{column}` "
                        f"(the request's key is ({shown}))",
                    )
                )
        for column, _ in self.columns:
            if column not in key:
                candidates.append(
                    (
                        [column],
                        f"the job keeps one row per `{column}`: rows with the same `{column}` overwrite "
                        f"each other (its sink's PRIMARY KEY is not the request's ({shown}))",
                    )
                )
        for columns, text in candidates:

            def project(row: Mapping[str, Any], columns: list[str] = columns) -> tuple[object, ...]:
                return tuple(normalize(row.get(c), types[c], self.zone) for c in columns)

            got = [project(r) for r in actual]
            want = {p for p in (project(r) for r in expected) if None not in p}  # a NULL key: no row
            if len(set(got)) == len(got) == len(want) < len(expected) and set(got) == want:
                return text
        return None

    def _extra(
        self, rows: list[Mapping[str, Any]], total: int, actual: Sequence[Mapping[str, Any]]
    ) -> OracleDifference:
        cause = self._duplicate_key_cause(actual)
        found = self.extra_source(rows[0])
        index = found[0] if found else None
        if cause is None and found is not None:
            cause = f"the job keeps rows the spec drops, as if {found[1]}"
        return OracleDifference(
            kind="extra_rows",
            rows=len(rows),
            of_rows=total,
            first_input=self.describe_event(index),
            actual=_row_text(rows[0], self.zone),
            cause=cause,
        )

    # ---- likely causes

    def _duplicate_key_cause(self, actual: Sequence[Mapping[str, Any]]) -> str | None:
        if not self.spec.result.primary_key:
            return None
        keys = Counter(self.key(r) for r in actual)
        repeated = [k for k, n in keys.items() if n > 1]
        if not repeated:
            return None
        names = ", ".join(self.spec.result.primary_key)
        return (
            f"{len(repeated)} key(s) of ({names}) appear more than once: the job does not upsert by "
            f"the result's primary key (its sink table lacks PRIMARY KEY ({names}) NOT ENFORCED or uses another key)"
        )

    def _missing_cause(self, index: int) -> str | None:
        purpose = self.data.purposes[index] if index < len(self.data.purposes) else ""
        lowered = purpose.lower()
        for join in self.spec.joins:
            hit = join.name.lower() in lowered and ("miss" in lowered or "null" in lowered)
            if hit and join.join_type == "LEFT":
                return (
                    f"the spec's LEFT join {join.name} keeps events without a {join.target_table} row; "
                    "the job drops them: an INNER join, or a filter on the dimension's columns"
                )
        for join in self.spec.joins:
            condition = join.additional_condition
            if condition is not None and f"join {join.name.lower()} condition" in lowered:
                return (
                    f"the condition `{condition.text}` of join {join.name} belongs in the "
                    "join (it blanks the dimension's columns), not in WHERE (it drops the event)"
                )
        for f in self.spec.filters:
            if f.text.lower() in lowered:
                return f"the filter `{f.text}` is stricter in the job (check the boundary: the event is {purpose})"
        for r in self.spec.business_rules:
            if r.name.lower() in lowered or r.condition.text.lower() in lowered:
                return f"the business rule {r.name} (`{r.condition.text}`) is stricter in the job"
        return f"the job drops this input, which the spec keeps ({purpose})" if purpose else None

    def _value_cause(  # noqa: C901, PLR0911
        self, column_index: int, differing: list[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> str | None:
        name, ftype = self.columns[column_index]
        values = [
            (normalize(e.get(name), ftype, self.zone), normalize(a.get(name), ftype, self.zone))
            for e, a in differing
        ]
        # another column's values: a mapping reads the wrong column
        for other, otype in self.columns:
            if other == name or otype.root != ftype.root:
                continue
            if all(
                normalize(e.get(other), otype, self.zone) == av
                for (e, _), (_, av) in zip(differing, values, strict=True)
            ):
                return f"it holds the values the spec gives `{other}`: the job reads the wrong column"
        if all(isinstance(ev, datetime) and isinstance(av, datetime) for ev, av in values):
            shifts = {(av - ev).total_seconds() for ev, av in values}  # type: ignore[operator]
            if len(shifts) == 1:
                shift = shifts.pop()
                if shift and shift % 900 == 0:  # whole quarter-hours: zones such as +05:30, +05:45
                    return (
                        f"shifted by {shift / 3600:+g} h: a time-zone conversion (the job's time zone is "
                        f"{self.spec.job.time_zone}; a time converted twice or in another zone)"
                    )
        if all(isinstance(ev, Decimal) and isinstance(av, Decimal) for ev, av in values):
            decimals = [(ev, av) for ev, av in values if isinstance(ev, Decimal) and isinstance(av, Decimal)]
            # the scale the actual values really carry (774.10 in a DECIMAL(14, 2) column: 1)
            scale = max(_significant_scale(av) for _, av in decimals)
            expected_scale = max(_significant_scale(ev) for ev, _ in decimals)
            if scale < expected_scale and all(_rounded(ev, scale) == av for ev, av in decimals):
                return (
                    f"rounded to {scale} decimal place(s): a CAST or DECIMAL type with the wrong scale "
                    f"({ftype.sql()} expected)"
                )
        mapping = self.mappings.get(name)
        text = mapping.expression.text.upper() if mapping else ""
        if "DISTINCT" in text and all(
            isinstance(ev, int) and isinstance(av, int) and av > ev for ev, av in values
        ):
            return f"counts too high: duplicates counted (the spec says `{mapping.expression.text if mapping else ''}`)"
        if all(av is None and ev is not None for ev, av in values):
            joins = [j for j in self.spec.joins if _mentions_alias(text, j)]
            if joins:
                j = joins[0]
                return (
                    f"NULL where the spec finds a {j.target_table} row: the join {j.name} condition "
                    f"(`{j.source_field}` = `{j.target_field}`) or its extra condition differs in the job"
                )
        if mapping is not None:
            return f"the spec maps it as `{mapping.expression.text}`"
        return None


_FLIPS = {">": ">=", ">=": ">", "<": "<=", "<=": "<"}


def _flipped(node: ast.Expr) -> list[tuple[str, ast.Expr]]:
    """Copies of a predicate with one comparison's boundary moved (`>` ↔ `>=`, `<` ↔ `<=`), found
    through AND / OR / NOT; each with the operator change it makes."""
    if isinstance(node, ast.Binary):
        out: list[tuple[str, ast.Expr]] = []
        if node.op in _FLIPS:
            out.append(
                (f"`{node.op}` is `{_FLIPS[node.op]}`", node.model_copy(update={"op": _FLIPS[node.op]}))
            )
        if node.op in ("AND", "OR"):
            out += [(d, node.model_copy(update={"left": m})) for d, m in _flipped(node.left)]
            out += [(d, node.model_copy(update={"right": m})) for d, m in _flipped(node.right)]
        return out
    if isinstance(node, ast.Unary) and node.op == "NOT":
        return [(d, node.model_copy(update={"operand": m})) for d, m in _flipped(node.operand)]
    return []


def spec_mutations(spec: RequestSpec, *, loosening_only: bool = False) -> list[tuple[str, RequestSpec]]:
    """Single changes to the spec that a job's rows may be explained by, each described as what
    the job does differently; `loosening_only`: those that only keep more rows (a filter, rule or
    join condition lifted, an INNER join made LEFT)."""
    out: list[tuple[str, RequestSpec, bool]] = []
    for i, f in enumerate(spec.filters):
        rest = spec.filters[:i] + spec.filters[i + 1 :]
        out.append((f"the filter `{f.text}` were missing", spec.model_copy(update={"filters": rest}), True))
        for change, node in _flipped(f.ast):
            flipped = Expression(text=f.text, ast=node, type=f.type, line=f.line)
            out.append(
                (
                    f"in the filter `{f.text}` {change} (its boundary differs)",
                    spec.model_copy(update={"filters": (*rest[:i], flipped, *rest[i:])}),
                    False,
                )
            )
    for i, r in enumerate(spec.business_rules):
        rest_rules = spec.business_rules[:i] + spec.business_rules[i + 1 :]
        label = f"the business rule {r.name} (`{r.condition.text}`)"
        out.append((f"{label} were missing", spec.model_copy(update={"business_rules": rest_rules}), True))
        for change, node in _flipped(r.condition.ast):
            rule = r.model_copy(update={"condition": r.condition.model_copy(update={"ast": node})})
            out.append(
                (
                    f"in {label} {change} (its boundary differs)",
                    spec.model_copy(update={"business_rules": (*rest_rules[:i], rule, *rest_rules[i:])}),
                    False,
                )
            )
    for j in spec.joins:
        other = "LEFT" if j.join_type == "INNER" else "INNER"
        out.append(
            (
                f"the join {j.name} (to {j.target_table}) were {other}, not {j.join_type}",
                _with_join(spec, j, join_type=other),
                other == "LEFT",
            )
        )
        cond = j.additional_condition
        if cond is not None:
            out.append(
                (
                    f"the join {j.name} lacked its condition `{cond.text}`",
                    _with_join(spec, j, additional_condition=None),
                    True,
                )
            )
            moved = _with_join(spec, j, additional_condition=None)
            out.append(
                (
                    f"the condition `{cond.text}` of join {j.name} were in WHERE, not in the join's ON",
                    moved.model_copy(update={"filters": (*moved.filters, cond)}),
                    False,
                )
            )
    return [(text, mutated) for text, mutated, loosens in out if loosens or not loosening_only]


def _significant_scale(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _rounded(value: Decimal, scale: int) -> Decimal:
    """Rounded half up, as Flink's CAST to DECIMAL rounds."""
    step = Decimal(1).scaleb(-scale)
    return value.quantize(step, rounding=ROUND_HALF_UP)


def _mentions_alias(upper_text: str, join: Join) -> bool:
    return f"{join.alias.upper()}." in upper_text


def _with_join(spec: RequestSpec, join: Join, **update: object) -> RequestSpec:
    joins = tuple(j.model_copy(update=update) if j.name == join.name else j for j in spec.joins)
    return spec.model_copy(update={"joins": joins})


def _pick(
    rows: Sequence[Mapping[str, Any]], keys: Counter[tuple[object, ...]], norm: Any
) -> list[Mapping[str, Any]]:
    left, out = Counter(keys), []
    for row in rows:
        k = norm(row)
        if left[k] > 0:
            left[k] -= 1
            out.append(row)
    return out


__all__ = ["ORACLE_CASE", "OraclePlan", "judge_oracle", "prepare_oracle"]
