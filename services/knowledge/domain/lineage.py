"""Transitive impact: where a column's (or a table's) data flows, across jobs and domains.

`impact` (domain/impact.py) lists the jobs that use a table or column directly. `downstream`
follows the column lineage each job recorded (`JobRef.lineage`, `JobRef.row_inputs`) from a
column to the result columns made from it, then from those to the result columns of every job
that reads them, in any domain, until nothing new is reached:

- a hop is DIRECT (the value flows: IDENTITY, TRANSFORMATION, AGGREGATION) or INDIRECT
  CONDITIONAL (the column decides a CASE branch) to one result column, or ROWS: the column
  filters, joins or groups, so every row of the result table may change (a table-level node:
  every job that reads that table is reached next, whichever columns it reads);
- UNKNOWN when the job's record predates column lineage (only `reads` is known): the whole
  result table, as ROWS;
- one table across domains: a table of another domain is the same table when the physical
  identities of both match (services/flinksql/identity.py: same system, object and servers
  that meet), whatever it is called there; by name when either has no identity (the source
  payload, datagen, a URL behind a secret), as the knowledge base's findings decide;
- each node (domain, table, column or all rows) is visited once, so a cycle (job A feeds B and
  B feeds A's input table) ends; an edge back to a node on its own chain is kept in `cycles`.

Pure: it reads the current domain models only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from services.knowledge.domain.identity import physical_identity, same_place
from services.knowledge.domain.model import DomainModel, JobRef

HopKind = Literal["DIRECT", "INDIRECT", "ROWS", "UNKNOWN"]


@dataclass(frozen=True, slots=True, order=True)
class Node:
    """A column of a table as one domain names it; `column` None: all rows of the table."""

    domain: str
    table: str
    column: str | None = None

    def __str__(self) -> str:
        what = f"{self.table}.{self.column}" if self.column is not None else f"rows of {self.table}"
        return f"{what} ({self.domain})"


@dataclass(frozen=True, slots=True)
class Hop:
    node: Node  # what is reached
    job_domain: str
    job: str
    via: Node  # the input as the job's domain names it (another name when the table is shared)
    kind: HopKind
    subtype: str  # IDENTITY, TRANSFORMATION, AGGREGATION, CONDITIONAL, FILTER, JOIN, GROUP_BY, ...
    depth: int  # 1: made directly from a start node
    parent: int | None  # index of the hop that reached `via`'s node; None: a start node


@dataclass(frozen=True, slots=True)
class Downstream:
    start: tuple[Node, ...]
    hops: tuple[Hop, ...]
    cycles: tuple[tuple[Node, Node], ...]  # (a node, the node on its own chain it leads back to)

    def chain(self, index: int) -> list[Node]:
        """The nodes from a start node to hop `index`'s node."""
        nodes: list[Node] = []
        at: int | None = index
        while at is not None:
            hop = self.hops[at]
            nodes.append(hop.node)
            if hop.parent is None:
                nodes.append(hop.via)
            at = hop.parent
        return nodes[::-1]


class _Tables:
    """Every current table (declared, or only read or written by a job), and which are one."""

    def __init__(self, models: Mapping[str, DomainModel]) -> None:
        self._tables = {(d, t.name): t for d, m in models.items() for t in m.tables}
        self._names = set(self._tables) | {
            (d, name) for d, m in models.items() for j in m.jobs for name in (*j.reads, *j.writes)
        }
        self._same: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def same(self, domain: str, name: str) -> list[tuple[str, str]]:
        """(domain, name) of every table that is the table `name` of `domain`, itself included."""
        key = (domain, name)
        if key not in self._same:
            self._same[key] = sorted(set(self._find(domain, name)) | {key})
        return self._same[key]

    def _find(self, domain: str, name: str) -> Iterator[tuple[str, str]]:
        mine = self._tables.get((domain, name))
        mine_id = physical_identity(mine) if mine is not None else None
        for other_domain, other_name in self._names:
            other = self._tables.get((other_domain, other_name))
            theirs = physical_identity(other) if other is not None else None
            if mine_id is not None and theirs is not None:
                if same_place(mine_id, theirs):
                    yield other_domain, other_name
            elif other_name == name:
                yield other_domain, other_name

    def one(self, a: Node, b: Node) -> bool:
        """Whether two nodes are one column (or all rows) of one table."""
        return a.column == b.column and (b.domain, b.table) in self.same(a.domain, a.table)


def _result(job: JobRef) -> str | None:
    return next(iter(job.writes), None)


def _edges(node: Node, job: JobRef, input_table: str) -> Iterator[tuple[Node, HopKind, str]]:
    """What `job` (which reads `input_table`, the same table as `node`'s) makes of `node`."""
    result = _result(job)
    if result is None:
        return
    if node.column is None:  # every row of an input may change: every row of the result may
        if input_table in job.reads:
            yield Node(job.domain, result), "ROWS", "INPUT_ROWS"
        return
    if not job.lineage:  # recorded before column lineage was kept
        if node.column in job.reads.get(input_table, ()):
            yield Node(job.domain, result), "UNKNOWN", "READS"
        return
    for column, inputs in job.lineage.items():
        for used in inputs:
            if (used.table, used.column) == (input_table, node.column):
                yield Node(job.domain, result, column), used.type, used.subtype
    for used in job.row_inputs:
        if (used.table, used.column) == (input_table, node.column):
            yield Node(job.domain, result), "ROWS", used.subtype


def start_nodes(
    models: Mapping[str, DomainModel], table: str, column: str | None, domain: str | None
) -> list[Node]:
    """The table (column) in each current domain (or only `domain`) that declares or reads it."""
    found: list[Node] = []
    for name in sorted(models):
        if domain is not None and name != domain:
            continue
        model = models[name]
        known = model.table(table) is not None or any(
            table in j.reads or table in j.writes for j in model.jobs
        )
        if known:
            found.append(Node(name, table, column))
    return found


def downstream(
    models: Mapping[str, DomainModel], table: str, column: str | None = None, domain: str | None = None
) -> Downstream:
    """Everything made from `table` (`column`), transitively (see the module docstring)."""
    tables = _Tables(models)
    start = start_nodes(models, table, column, domain)
    hops: list[Hop] = []
    cycles: list[tuple[Node, Node]] = []
    seen: set[Node] = set(start)
    queue: deque[tuple[Node, int | None, int]] = deque((n, None, 0) for n in start)
    on_chain: dict[int | None, frozenset[Node]] = {None: frozenset()}
    while queue:
        node, parent, depth = queue.popleft()
        chain = on_chain[parent] | {node}
        for other_domain, other_table in tables.same(node.domain, node.table):
            via = Node(other_domain, other_table, node.column)
            model = models[other_domain]
            for job in model.jobs:
                for reached, kind, subtype in _edges(via, job, other_table):
                    if reached in seen:
                        if any(tables.one(reached, n) for n in chain):
                            cycles.append((node, reached))
                        continue
                    seen.add(reached)
                    hops.append(Hop(reached, job.domain, job.job, via, kind, subtype, depth + 1, parent))
                    index = len(hops) - 1
                    on_chain[index] = chain
                    queue.append((reached, index, depth + 1))
    return Downstream(tuple(start), tuple(hops), tuple(dict.fromkeys(cycles)))
