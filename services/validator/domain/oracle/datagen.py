"""Spec-derived test data: a small, seeded set of events and dimension rows for one request.

`derive_data(spec, seed=...)` gives tens of case-shaped events (request-format.md §8) and the
dimension rows they join, chosen from the spec alone so that any job for the request can be run
on them and compared with an oracle: typical rows that pass every filter and hit every join,
values at and beside each predicate's boundary, join hits, misses and NULL keys, each CASE
branch, NULL fields, repeated keys, DECIMAL and integer limits and time-zone edges. Each event
says what it exercises (`purposes`). Rows on which the interpreter says Flink fails the job, or
whose value it cannot predict (`Unpredictable`), are left out (`dropped`). Decisions: docs/request-format-decisions.md, "Spec-derived test data".
Pure: no engine, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from random import Random
from typing import Any

from services.flinksql import expr as ast
from services.flinksql.spec import Case, Join, RequestSpec
from services.validator.domain.oracle.boundaries import (
    BASE_WALL,
    EVAL_ERRORS,
    TEXT_ROOTS,
    Boundaries,
    Candidate,
    Guard,
    Loc,
    Predicate,
    Relative,
    guarded,
    loc_name,
    not_true,
    render,
    when_condition,
)
from services.validator.domain.oracle.evaluate import Scope, payload_json
from services.validator.domain.oracle.pipeline import Interpreter, dimension_rows
from services.validator.domain.oracle.scalars import JobFailure, Unpredictable, Unsupported
from services.validator.domain.values import payload_text

TYPICAL = 6  # typical events first: most of the data must reach the result
GROUPS = 3  # aggregates: typical events fall into this many groups, several events each
UNPREDICTABLE = "the interpreter cannot predict Flink's value on this event"


@dataclass(frozen=True)
class DerivedData:
    events: tuple[dict[str, object], ...]
    purposes: tuple[str, ...]  # one per event: what it exercises
    dimensions: dict[str, tuple[dict[str, object], ...]]  # per dimension table name
    dimension_purposes: dict[str, tuple[str, ...]]
    dropped: tuple[str, ...]  # rows left out, and why
    seed: int

    def as_case(self, name: str = "oracle", expected: Iterable[Mapping[str, Any]] = ()) -> Case:
        return Case(
            name=name,
            description=f"spec-derived data (seed {self.seed})",
            events=self.events,
            dimensions={t: rows for t, rows in self.dimensions.items() if rows},
            expected=tuple(dict(r) for r in expected),
            line=0,
        )


def derive_data(spec: RequestSpec, *, seed: int = 0, max_events: int = 60) -> DerivedData:
    """Deterministic data for `spec` (same spec and seed, same data), at most `max_events` events."""
    gen = _Generator(spec, seed)
    events: list[dict[str, object]] = []
    purposes: list[str] = []
    extras: list[list[tuple[str, dict[str, object]]]] = []
    dropped: list[str] = []
    seen: dict[object, int | None] = {}  # a plan's key -> its event (None: not built)
    # over the budget the most telling inputs stay: stable by tier, so each tier keeps its order
    for plan in sorted(gen.plans(), key=lambda p: p.tier):
        key = plan.key()
        if key is not None and key in seen:
            if (at := seen[key]) is not None:  # one event exercising several things says so
                purposes[at] += f"; {plan.purpose}"
            continue
        seen[key] = len(events) if len(events) < max_events else None
        if len(events) >= max_events:
            dropped.append(f"{plan.purpose}: over the budget of {max_events} events")
            continue
        built = gen.build(plan, len(events))
        if built is None:
            seen[key] = None
            dropped.append(f"{plan.purpose}: not built (a key or NOT NULL dimension column would be NULL)")
            continue
        events.append(built[0])
        purposes.append(plan.purpose)
        extras.append(built[1])
    keep = _screen(
        spec, events=events, purposes=purposes, extras=extras, typical=gen.typical_rows(), dropped=dropped
    )
    dims: dict[str, list[dict[str, object]]] = {d.table.name: [] for d in spec.dimensions}
    dim_purposes: dict[str, list[str]] = {d.table.name: [] for d in spec.dimensions}
    for table, row, purpose in gen.typical_rows():
        if row in dims[table]:
            continue
        dims[table].append(row)
        dim_purposes[table].append(purpose)
    for k in keep:
        for table, row in extras[k]:
            dims[table].append(row)
            dim_purposes[table].append(f"for the event '{purposes[k]}'")
    return DerivedData(
        events=tuple(events[k] for k in keep),
        purposes=tuple(purposes[k] for k in keep),
        dimensions={t: tuple(rows) for t, rows in dims.items()},
        dimension_purposes={t: tuple(p) for t, p in dim_purposes.items()},
        dropped=tuple(dropped),
        seed=seed,
    )


def _screen(
    spec: RequestSpec,
    *,
    events: list[dict[str, object]],
    purposes: list[str],
    extras: list[list[tuple[str, dict[str, object]]]],
    typical: list[tuple[str, dict[str, object], str]],
    dropped: list[str],
) -> list[int]:
    """Indexes of the events to keep: those on which the interpreter sees no job failure, alone
    and together. A spec the interpreter does not support is not screened (all are kept)."""

    def dims(keep: Iterable[int]) -> dict[str, list[dict[str, object]]]:
        out: dict[str, list[dict[str, object]]] = {}
        for table, row, _ in typical:
            out.setdefault(table, []).append(row)
        for k in keep:
            for table, row in extras[k]:
                out.setdefault(table, []).append(row)
        return out

    everything = list(range(len(events)))
    before = len(dropped)
    try:
        interpreter = Interpreter(spec)
        all_dims = dims(everything)
        alone = []
        for k in everything:
            try:
                interpreter.run([events[k]], all_dims)
                alone.append(k)
            except JobFailure as err:
                dropped.append(f"{purposes[k]}: Flink would fail the job on this event ({err})")
            except Unpredictable as err:
                dropped.append(f"{purposes[k]}: {UNPREDICTABLE} ({err.construct})")
        kept: list[int] = []
        for k in alone:  # then together: an event that fails only with the others goes too
            try:
                interpreter.run([events[i] for i in [*kept, k]], dims([*kept, k]))
                kept.append(k)
            except JobFailure as err:
                dropped.append(f"{purposes[k]}: Flink would fail the job on the whole set with it ({err})")
            except Unpredictable as err:
                dropped.append(f"{purposes[k]}: {UNPREDICTABLE} ({err.construct})")
    except Unsupported:
        del dropped[before:]  # a screening that cannot run drops nothing
        return everything
    return kept


@dataclass(frozen=True)
class _Copy:
    """The value that event `index` holds at the location (a duplicate for COUNT(DISTINCT))."""

    index: int


@dataclass
class _Plan:
    purpose: str
    changes: dict[Loc, object] = field(default_factory=dict)
    typical: bool = False  # vary the free fields (typical events differ from each other)
    same_as: int | None = None  # take the primary key / group of that event
    patch: dict[str, object] = field(default_factory=dict)  # event-level: domain, type, payload
    group: int | None = None  # aggregates: this group number (beyond GROUPS: a group of its own)
    # other free fields get values no other event has, so only `changes` repeat (a COUNT of
    # another field would count the same as COUNT(DISTINCT) if its values repeated alike)
    fresh_others: bool = False
    tier: int = 3  # what the budget keeps first (lower first): see `_Generator.plans`

    def key(self) -> object:
        """What makes two plans the same event (None: never merged)."""
        if self.typical:
            return None
        changes = tuple((loc, type(v).__name__, v) for loc, v in self.changes.items())
        return changes, self.same_as, tuple(self.patch.items()), self.group


class _Generator:
    def __init__(self, spec: RequestSpec, seed: int) -> None:
        self.spec = spec
        self.b = Boundaries(spec)
        self.rng = Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.aggregate = spec.aggregation.is_aggregate
        self.payload_locs = [loc for loc in self.b.types if loc[0] == "payload"]
        self.sources: dict[str, Loc] = {
            j.alias: ("payload", j.source_field)
            if j.source_kind == "event"
            else (j.source_alias or "", j.source_field)
            for j in spec.joins
        }
        self.counter = 0
        self.built: list[dict[Loc, object]] = []
        self._contexts: dict[object, dict[Loc, object] | None] = {}
        self.objectives = [p.expr for p in [*self.b.predicates, *self.b.join_conditions.values()]]
        not_null = {c.name for c in spec.result.columns if c.not_null} | set(spec.result.primary_key)
        # non-aggregate mappings must evaluate (no job failure) and be non-NULL in NOT NULL columns
        self.required = (
            [] if self.aggregate else [(m.expression.ast, m.column in not_null) for m in spec.mappings]
        )
        self.A0, self.best = self._typical()
        for m in spec.mappings:  # typical events also pick CASE values (`_vary` checks them)
            for node in ast.walk(m.expression.ast):
                for c, _ in self._case_candidates(node) if isinstance(node, ast.Case) else ():
                    if c.value is not None and not isinstance(c.value, Relative):
                        self.pool.setdefault(c.loc, []).append(c.value)
        ids = spec.aggregation.group_by if self.aggregate else spec.result.primary_key
        wanted = [
            loc
            for m in spec.mappings
            if m.column in ids
            for loc in self.b.locs(m.expression.ast)
            if loc[0] == "payload" and loc not in self.keys
        ]
        self.identity = [
            loc
            for loc in dict.fromkeys(wanted)
            if self.score({**self.A0, loc: self._identity(loc, 1, 1)}) >= self.best
        ]
        self.varying = [loc for loc in self.payload_locs if loc not in self.keys and loc not in self.identity]

    # ------------------------------------------------------------ the typical row

    def _slots(self) -> list[list[Loc]]:
        """The locations grouped by join key equality: one value per group (a slot) makes the
        typical event hit every join (a cascade's column shares its target's slot)."""
        parent = {loc: loc for loc in self.b.types}

        def find(loc: Loc) -> Loc:
            while parent[loc] != loc:
                loc = parent[loc]
            return loc

        for j in self.spec.joins:
            src, tgt = self.sources[j.alias], (j.alias, j.target_field)
            if src in parent and tgt in parent:
                parent[find(src)] = find(tgt)
        slots: dict[Loc, list[Loc]] = {}
        for loc in self.b.types:
            slots.setdefault(find(loc), []).append(loc)
        return list(slots.values())

    def _typical(self) -> tuple[dict[Loc, object], int]:
        """Values for every location that make as many predicates TRUE as a greedy search finds
        (coordinate ascent over the slots, trying each boundary value of each)."""
        slots = self._slots()
        self.keys = {loc for members in slots if len(members) > 1 for loc in members}
        self.pool: dict[Loc, list[object]] = {}
        for pred in self.objectives:
            for c in (c for atom in self.b.atoms(pred) for c in self.b.candidates(atom)):
                if c.value is not None and not isinstance(c.value, Relative):
                    self.pool.setdefault(c.loc, []).append(c.value)
        targets = [(j.alias, j.target_field) for j in self.spec.joins]
        A: dict[Loc, object] = {}
        choices: list[tuple[list[Loc], list[object]]] = []
        for number, members in enumerate(slots):
            key = next((m for m in members if m in targets), None)
            value = self.b.default(members[0], 1, self.rng) if key is None else self._key(key, number + 1)
            A.update(dict.fromkeys(members, value))
            options = [v for m in members for v in self.pool.get(m, [])]
            if options:
                choices.append((members, list(dict.fromkeys([value, *options]))))
        best = self.score(A)
        for _ in range(3):
            improved = False
            for members, options in choices:
                for value in options:
                    trial = {**A, **dict.fromkeys(members, value)}
                    if (s := self.score(trial)) > best:
                        A, best, improved = trial, s, True
            if not improved or best == len(self.objectives) + len(self.required):
                break
        return A, best

    def _key(self, loc: Loc, number: int) -> object:
        root = self.b.types[loc].root
        if root in TEXT_ROOTS:
            return f"{loc[1]}-{number:03d}"
        if root in ("INT", "BIGINT", "DECIMAL"):
            return 1000 * number + 1
        return self.b.default(loc, number, self.rng)

    def _fresh(self, loc: Loc) -> object | None:
        """A key no other row uses, for a dimension row of one event's own."""
        self.counter += 1
        root = self.b.types[loc].root
        if root in TEXT_ROOTS:
            return f"{loc[1]}-{100 + self.counter}"
        if root in ("INT", "BIGINT", "DECIMAL"):
            return 700000 + self.counter
        if root in ("TINYINT", "SMALLINT"):
            return 20 + self.counter % 100
        return None

    def score(self, A: Mapping[Loc, object], skip: ast.Expr | None = None) -> int:
        """How many predicates hold (and NOT NULL mappings are non-NULL) on the row `A`; `skip`
        (a predicate under test) does not count."""
        ev = self.b.ev
        if ev is None:
            return 0
        try:
            scope = self.scope(A)
        except EVAL_ERRORS:
            return -1
        total = 0
        for pred in self.objectives:
            if pred is skip:
                continue
            with suppress(*EVAL_ERRORS):
                total += ev.truth(pred, scope) is True
        for mapping, not_null in self.required:
            with suppress(*EVAL_ERRORS):
                total += ev.eval(mapping, scope)[0] is not None or not not_null
        return total

    def scope(self, A: Mapping[Loc, object]) -> Scope:
        payload = {loc[1]: self.b.raw(loc, A.get(loc)) for loc in self.payload_locs}
        rows: dict[str, Mapping[str, object] | None] = {}
        for j in self.spec.joins:
            raw = self._row(j, A)
            rows[j.alias] = dimension_rows(self.spec, {j.target_table: [raw]})[j.target_table][0]
        return Scope(payload=payload_json(payload_text(payload)), rows=rows)

    def _row(self, join: Join, A: Mapping[Loc, object]) -> dict[str, object]:
        dim = self.spec.dimension(join.target_table)
        columns = dim.table.columns if dim else ()
        return {c.name: self.b.raw((join.alias, c.name), A.get((join.alias, c.name))) for c in columns}

    def typical_rows(self) -> list[tuple[str, dict[str, object], str]]:
        return [
            (j.target_table, self._row(j, self.A0), f"join {j.name}: hit (the typical row, alias {j.alias})")
            for j in self.spec.joins
        ]

    # ------------------------------------------------------------ one event

    def _identity(self, loc: Loc, group: int, index: int) -> object:
        """The value of a primary-key (or grouping) field for that key number."""
        if loc[1] in self.b.time:
            return self.b.time_value(loc[1], BASE_WALL + timedelta(days=group, minutes=index))
        base = self.A0[loc]
        if isinstance(base, str):
            return f"{loc[1]}-{group + 1:03d}"
        if isinstance(base, int | Decimal | float) and not isinstance(base, bool):
            return base + group
        return base

    def _vary(self, A: dict[Loc, object], index: int) -> None:
        """Other values in the free fields of a typical event; a change that makes a predicate
        fail is taken back, so typical events still pass."""
        for loc in self.varying:
            old = A[loc]
            if loc[1] in self.b.time:
                wall = BASE_WALL + timedelta(minutes=index, milliseconds=self.rng.randint(0, 59999))
                A[loc] = self.b.time_value(loc[1], wall)
            else:
                A[loc] = self.rng.choice([*self.pool.get(loc, []), self.b.default(loc, index + 1, self.rng)])
            if self.b.ev is not None and self.score(A) < self.best:
                A[loc] = old

    def _fresh_others(self, A: dict[Loc, object], keep: Mapping[Loc, object]) -> None:
        """Values no other event has in the free fields not in `keep` (unless one breaks a predicate)."""
        for loc in self.varying:
            old, fresh = A[loc], self._fresh(loc)
            if loc in keep or fresh is None:
                continue
            A[loc] = fresh
            if self.b.ev is not None and self.score(A) < self.best:
                A[loc] = old

    def build(
        self, plan: _Plan, index: int
    ) -> tuple[dict[str, object], list[tuple[str, dict[str, object]]]] | None:
        """The event of `plan` at position `index`, and the dimension rows of its own."""
        A = dict(self.A0)
        number = index if plan.same_as is None else plan.same_as
        group = number % GROUPS if self.aggregate else number
        if self.aggregate and plan.group is not None:
            group = plan.group
        for loc in self.identity:
            A[loc] = self._identity(loc, group, index)
        if plan.typical:
            self._vary(A, index)
        if plan.fresh_others:
            self._fresh_others(A, plan.changes)
        changes: dict[Loc, object] = {}
        for loc, wanted in plan.changes.items():
            if isinstance(wanted, _Copy):
                changes[loc] = self.built[wanted.index].get(loc) if wanted.index < len(self.built) else None
            elif not isinstance(wanted, Relative):
                changes[loc] = wanted
        A.update(changes)
        for loc, wanted in plan.changes.items():  # then values relative to the row so far
            if isinstance(wanted, Relative):
                value = self.b.step(loc, A.get(wanted.loc), wanted.step)
                if value is None:
                    return None
                changes[loc] = A[loc] = value
        rows = self._own_rows(A, changes)
        if rows is None:
            return None
        self.built.append(A)
        event: dict[str, object] = {
            "domain": self.spec.job.domain,
            "type": self.spec.job.event_type,
            "create_time": self.b.time_value_ms(BASE_WALL) + index * 1000,
            "payload": {loc[1]: self.b.raw(loc, A[loc]) for loc in self.payload_locs},
        }
        event.update(plan.patch)
        return event, rows

    def _own_rows(
        self, A: dict[Loc, object], changes: Mapping[Loc, object]
    ) -> list[tuple[str, dict[str, object]]] | None:
        """Dimension rows of the event's own for each alias whose row changes, with a fresh key
        that the event (or the row it cascades from, cloned too) points to."""
        joins = self.spec.joins
        needed = {loc[0] for loc in changes if loc[0] != "payload"}
        grew = True
        while grew:
            more = {j.source_alias for j in joins if j.alias in needed and j.source_alias}
            more |= {
                k.alias
                for j in joins
                if j.alias in needed
                for k in joins
                if self.sources[k.alias] == self.sources[j.alias]
            }
            grew = not more <= needed
            needed |= {m for m in more if m}
        assigned: dict[Loc, object] = {}
        for j in joins:
            if j.alias not in needed:
                continue
            tgt, src = (j.alias, j.target_field), self.sources[j.alias]
            key = changes[tgt] if tgt in changes else assigned[src] if src in assigned else self._fresh(tgt)
            if key is None:
                return None
            A[tgt] = A[src] = assigned[src] = key
        rows = []
        for j in joins:
            if j.alias in needed:
                row = self._row(j, A)
                if any(row.get(loc[1]) is None for loc in self.b.not_null if loc[0] == j.alias):
                    return None
                rows.append((j.target_table, row))
        return rows

    # ------------------------------------------------------------ what to exercise, in priority order

    def plans(self) -> list[_Plan]:
        """Every input worth building, each with its tier (what a budget keeps first):
        0 the typical events and the events of another domain and event type (the job's most
        basic filter); 1 every filter and rule boundary, every join miss, NULL key and join
        condition boundary; 2 CASE / IF branches and repeated keys; 3 NULL fields, type edges
        and a payload that is not JSON."""
        spec, b = self.spec, self.b
        whole = self.best == len(self.objectives) + len(self.required)
        typical = "typical: passes every filter and rule" + (
            f", hits every join ({', '.join(j.name for j in spec.joins)})" if spec.joins else ""
        )
        if not whole:
            typical += " (as far as the generator could satisfy them)"
        t, d = spec.job.event_type, spec.job.domain
        out = [_Plan(typical, typical=True, tier=0) for _ in range(TYPICAL)]
        out += [
            _Plan(
                f"another event type ({t}_other): not the job's events", patch={"type": f"{t}_other"}, tier=0
            ),
            _Plan(
                f"another domain ({d}_other): not the job's events", patch={"domain": f"{d}_other"}, tier=0
            ),
        ]
        tier1: list[_Plan] = []
        for pred in b.predicates:
            tier1 += self._boundary(pred)
        for j in spec.joins:
            tier1 += self._join(j)
        tier2 = self._branches() + self._repeats()
        for plans, tier in ((tier1, 1), (tier2, 2)):
            for plan in plans:
                plan.tier = tier
            out += plans
        out += [
            _Plan(f"NULL {loc_name(loc)} (other fields typical)", {loc: None})
            for loc in b.referenced_payload()
        ]
        out += [_Plan(purpose, {loc: value}) for purpose, loc, value in self.b.edges(self.A0)]
        out.append(_Plan("payload that is not JSON: every field NULL", patch={"payload": '{"broken": '}))
        return out

    def _changed(self, changes: Mapping[Loc, object]) -> dict[Loc, object] | None:
        """The typical row with `changes`, values relative to another location resolved on it
        (None: one has no such neighbour)."""
        A = {**self.A0, **{loc: v for loc, v in changes.items() if not isinstance(v, Relative)}}
        for loc, v in changes.items():
            if isinstance(v, Relative):
                value = self.b.step(loc, A.get(v.loc), v.step)
                if value is None:
                    return None
                A[loc] = value
        return A

    def _verdict(self, expr: ast.Expr, changes: Mapping[Loc, object]) -> str:
        A = self._changed(changes)
        if self.b.ev is None or A is None:
            return ""
        try:
            value = self.b.ev.truth(expr, self.scope(A))
        except EVAL_ERRORS:
            return ""
        return ": holds" if value is True else ": fails" if value is False else ": is NULL"

    def _context(
        self, guard: Guard, candidate: Candidate, skip: ast.Expr | None = None
    ) -> dict[Loc, object] | None:
        """Values of other locations that make every condition of `guard` TRUE on the typical row
        with the candidate (the CASE or IF branch the candidate's atom decides in), keeping as
        many of the other predicates (not `skip`) TRUE as a greedy search finds: over the boundary
        values of the guard's own atoms and of every predicate. {} for an empty guard; None when
        no such values are found (or the guard reads an aggregate)."""
        if not guard:
            return {}
        mine = candidate.changes()
        key = (guard, tuple((loc, type(v).__name__, v) for loc, v in mine.items()), skip)
        if key not in self._contexts:
            found = None
            if self.b.ev is not None and not any(ast.aggregate_calls(g) for g in guard):
                found = self._satisfy(guard, mine, skip)
            self._contexts[key] = found
        return self._contexts[key]

    def _satisfy(
        self, guard: Guard, mine: Mapping[Loc, object], skip: ast.Expr | None
    ) -> dict[Loc, object] | None:
        """`_context`'s greedy search (coordinate ascent, two passes)."""
        options: dict[Loc, dict[tuple[str, object], object]] = {}
        values = [
            item
            for cond in guard
            for atom, _ in self.b.guarded_atoms(cond)
            for c in self.b.candidates(atom)
            for item in c.changes().items()
        ]
        values += [(loc, v) for loc, pool in self.pool.items() for v in pool]
        for loc, v in values:
            if loc not in mine and not isinstance(v, Relative):
                options.setdefault(loc, {})[(type(v).__name__, v)] = v
        changes: dict[Loc, object] = {}
        best = self._rank(guard, {**changes, **mine}, skip)
        for _ in range(2):
            improved = False
            for loc, unique in options.items():
                for value in unique.values():
                    trial = {**changes, loc: value}
                    if (r := self._rank(guard, {**trial, **mine}, skip)) > best:
                        changes, best, improved = trial, r, True
            if not improved:
                break
        return changes if best[0] == len(guard) else None

    def _rank(self, guard: Guard, changes: Mapping[Loc, object], skip: ast.Expr | None) -> tuple[int, int]:
        """How many conditions of `guard` hold on the typical row with `changes`, then its score."""
        ev, A = self.b.ev, self._changed(changes)
        if ev is None or A is None:
            return -1, -1
        try:
            scope = self.scope(A)
        except EVAL_ERRORS:
            return -1, -1
        held = 0
        for cond in guard:
            with suppress(*EVAL_ERRORS):
                held += ev.truth(cond, scope) is True
        return held, self.score(A, skip)

    def _where(self, context: Mapping[Loc, object]) -> str:
        """The branch context of an input, for its purpose (`, where payload.kind = 'A'`)."""
        if not context:
            return ""
        return ", where " + ", ".join(self.b.display(loc, v) for loc, v in context.items())

    def _boundary(self, pred: Predicate) -> list[_Plan]:
        out = []
        for atom, guard in self.b.guarded_atoms(pred.expr):
            for c in self.b.candidates(atom):
                context = self._context(guard, c, pred.expr) or {}
                changes = {**context, **c.changes()}
                verdict = self._verdict(pred.expr, changes)
                out.append(
                    _Plan(
                        f"{pred.title}: {c.label} ({self.b.show(c)}){self._where(context)}{verdict}",
                        changes,
                    )
                )
        return out

    def _join(self, j: Join) -> list[_Plan]:
        src, tgt = self.sources[j.alias], (j.alias, j.target_field)
        root = self.b.types[tgt].root if tgt in self.b.types else ""
        miss = (
            f"{j.target_field}-404"
            if root in TEXT_ROOTS
            else 404404
            if root in ("INT", "BIGINT", "DECIMAL")
            else None
        )
        out = []
        if miss is not None and src in self.b.types:
            shown = self.b.raw(tgt, miss)
            out.append(_Plan(f"join {j.name}: miss (no {j.target_table} row for {shown})", {src: miss}))
        if src in self.b.types and src not in self.b.not_null:
            out.append(_Plan(f"join {j.name}: NULL key ({loc_name(src)} is NULL)", {src: None}))
        if j.name in self.b.join_conditions:
            out += self._boundary(self.b.join_conditions[j.name])
        return out

    def _branch(self, node: ast.Case, changes: Mapping[Loc, object]) -> str:
        """Which branch the CASE takes on the typical row with `changes`."""
        ev = self.b.ev
        try:
            A = self._changed(changes)
            if ev is None or A is None:
                raise Unsupported("a relative value")
            scope = self.scope(A)
            for when in node.whens:
                cond = when_condition(node, when)
                if ev.truth(cond, scope) is True:
                    return f"WHEN `{render(cond)}`"
        except EVAL_ERRORS:
            return "a value of its WHEN conditions"
        return "ELSE" if node.default is not None else "no WHEN (NULL)"

    def _case_candidates(self, node: ast.Case, outer: Guard = ()) -> list[tuple[Candidate, Guard]]:
        """Values that take each branch of the CASE, each with the guard its WHEN decides under
        (`outer`, where the CASE itself decides, and no earlier WHEN TRUE)."""
        if node.operand is not None:
            items = tuple(w.condition for w in node.whens)
            return [(c, outer) for c in self.b.candidates(ast.InList(operand=node.operand, items=items))]
        out: list[tuple[Candidate, Guard]] = []
        prior = outer
        for w in node.whens:
            out += [(c, prior) for a in self.b.atoms(w.condition) for c in self.b.candidates(a)]
            prior = (*prior, not_true(when_condition(node, w)))
        return out

    def _branches(self) -> list[_Plan]:
        out = []
        for m in self.spec.mappings:
            guards = {id(n): g for n, g, _ in guarded(m.expression.ast)}
            for node in ast.walk(m.expression.ast):
                outer = guards.get(id(node), ())
                if isinstance(node, ast.Call) and node.name == "IF" and len(node.args) == 3:
                    for a in self.b.atoms(node.args[0]):
                        for c in self.b.candidates(a):
                            context = self._context(outer, c) or {}
                            changes = {**context, **c.changes()}
                            verdict = self._verdict(node.args[0], changes) or ": any"
                            out.append(
                                _Plan(
                                    f"mapping {m.column}: IF condition `{render(node.args[0])}`{verdict}"
                                    f" ({self.b.show(c)}){self._where(context)}",
                                    changes,
                                )
                            )
                for c, guard in self._case_candidates(node, outer) if isinstance(node, ast.Case) else ():
                    assert isinstance(node, ast.Case)
                    context = self._context(guard, c) or {}
                    changes = {**context, **c.changes()}
                    out.append(
                        _Plan(
                            f"mapping {m.column}: CASE {self._branch(node, changes)}"
                            f" ({self.b.show(c)}){self._where(context)}",
                            changes,
                        )
                    )
        return out

    def _repeats(self) -> list[_Plan]:
        spec = self.spec
        if not self.aggregate:
            if not (spec.result.primary_key and self.identity):
                return []
            keys = ", ".join(spec.result.primary_key)
            purpose = f"repeated key: the first event's primary key ({keys}) with other values; the upsert keeps this row"
            return [_Plan(purpose, typical=True, same_as=0)]
        out = [_Plan("aggregate: another event in the first event's group", typical=True, same_as=0)]
        own_group = GROUPS
        nulled: set[str] = set()  # calls that have their all-NULL group (one per call's text)
        for m in spec.mappings:
            for call in ast.aggregate_calls(m.expression.ast):
                locs = [loc for loc in self.b.locs(call) if loc[0] == "payload"]
                if call.distinct and locs:
                    purpose = f"mapping {m.column}: `{render(call)}` sees the first event's value again in its group"
                    out.append(_Plan(purpose, dict.fromkeys(locs, _Copy(0)), same_as=0, fresh_others=True))
                # SUM/MAX/... of only NULLs is NULL, COUNT of them 0
                if locs and not call.star and render(call) not in nulled:
                    nulled.add(render(call))
                    purpose = f"mapping {m.column}: `{render(call)}` over a group whose values are all NULL"
                    for n in range(2):
                        out.append(
                            _Plan(f"{purpose} ({n + 1}/2)", dict.fromkeys(locs), group=own_group, same_as=n)
                        )
                    own_group += 1
        return out


__all__ = ["DerivedData", "derive_data"]
