"""Whether a savepoint upgrade keeps the running job's state: the two jobs' state fingerprints compared.

Flink restores a savepoint by operator id (services.flinksql.state_fingerprint says how a SQL
job's ids come about). So each operator of the running job that holds state is looked up by its
id in the new job:

- **compatible**: every one is there, of the same kind, with the same key, state, input types
  and definition (a change of TTL duration, of what feeds it, or anything downstream is noted,
  not refused: the state still fits);
- **drop**: some are gone (their ids no longer exist). Flink refuses the start unless it may
  skip that state (allowNonRestoredState); the state is then lost, and each loss is named (an
  aggregate starts counting from zero, a source from its configured startup position);
- **incompatible**: an id is still there but what sits on it changed: another operator, another
  key or input type, other state or another definition (aggregate calls, join condition, ...).
  Flink would hand the old state to the new operator: it fails the restore (the key or state
  serializer does not match, as a changed GROUP BY key does) or, where the types happen to
  match, silently continues from state the new definition did not write. Never automatic.
- **unknown**: a fingerprint is missing, unreadable or not comparable (another Flink version,
  parallelism, connector swaps, or the digest of other SQL than the one being started);
- **none**: nothing runs, so nothing is restored.

Pure: fingerprints in, a verdict with its explanation out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.flinksql.state_fingerprint import (
    FORMAT,
    FingerprintError,
    StateFingerprint,
    StateHolder,
    field_types,
    from_json,
)


class Verdict(StrEnum):
    NONE = "none"
    COMPATIBLE = "compatible"
    DROP = "drop"
    INCOMPATIBLE = "incompatible"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class UpgradeCheck:
    verdict: Verdict
    summary: str
    # What a start that drops state loses, one line per operator.
    lost: tuple[str, ...] = ()
    # Why the state cannot be restored, one line per operator.
    incompatible: tuple[str, ...] = ()
    # Worth knowing, refuses nothing (new operators start empty, TTL changes, upstream changes).
    notes: tuple[str, ...] = ()
    from_revision: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "summary": self.summary,
            "lost": list(self.lost),
            "incompatible": list(self.incompatible),
            "notes": list(self.notes),
            "from_revision": self.from_revision,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> UpgradeCheck:
        try:
            verdict = Verdict(str(doc.get("verdict")))
        except ValueError:
            verdict = Verdict.UNKNOWN
        revision = doc.get("from_revision")
        return cls(
            verdict=verdict,
            summary=str(doc.get("summary") or ""),
            lost=tuple(str(x) for x in doc.get("lost") or []),
            incompatible=tuple(str(x) for x in doc.get("incompatible") or []),
            notes=tuple(str(x) for x in doc.get("notes") or []),
            from_revision=revision if isinstance(revision, int) else None,
        )


def read_fingerprint(value: Any) -> tuple[StateFingerprint | None, str | None]:
    """A stored fingerprint (JSON text or parsed), or why there is none usable."""
    if value is None or value == "":
        return None, "no state fingerprint recorded"
    try:
        return from_json(value), None
    except FingerprintError as error:
        return None, str(error)


def classify(
    old: StateFingerprint | None,
    new: StateFingerprint | None,
    *,
    running: bool = True,
    old_revision: int | None = None,
    new_digest: str | None = None,
    missing_why: str | None = None,
) -> UpgradeCheck:
    """The verdict of restoring the job of `old` (running: `running`) into the job of `new`.

    `new_digest`: the statement digest being started, which `new` must have been computed on.
    """
    if not running:
        return UpgradeCheck(Verdict.NONE, "no running job: nothing is restored", from_revision=old_revision)
    where = f"revision {old_revision}" if old_revision is not None else "the running job"
    if old is None or new is None:
        side = where if old is None else "the new job"
        why = f" ({missing_why})" if missing_why else ""
        return _unknown(f"{side} has no state fingerprint{why}", old_revision)
    problem = _not_comparable(old, new, new_digest)
    if problem is not None:
        return _unknown(problem, old_revision)
    now = new.by_uid()
    lost: list[str] = []
    refused: list[str] = []
    notes: list[str] = []
    for holder in old.holders:
        counterpart = now.get(holder.uid)
        if counterpart is None:
            lost.append(_loss(holder))
            continue
        reasons, remarks = _compare(holder, counterpart)
        if reasons:
            refused.append(f"{holder.label} -> {counterpart.operator}: {'; '.join(reasons)}")
        notes += [f"{holder.operator}: {r}" for r in remarks]
    known = {h.uid for h in old.holders}
    notes += [f"{h.label} is new: it starts with empty state" for h in new.holders if h.uid not in known]
    if refused:
        summary = (
            f"state of {where} cannot be restored into the new job: {len(refused)} operator(s) would "
            f"get state another definition wrote ({refused[0]})"
        )
        verdict = Verdict.INCOMPATIBLE
    elif lost:
        summary = (
            f"state of {where} must be dropped: {len(lost)} operator(s) holding state are gone from the "
            f"new job, and Flink starts it only when that state may be skipped ({lost[0]})"
        )
        verdict = Verdict.DROP
    else:
        summary = f"state of {where} maps completely: every operator holding state is kept as it was"
        verdict = Verdict.COMPATIBLE
    return UpgradeCheck(
        verdict,
        summary,
        lost=tuple(lost),
        incompatible=tuple(refused),
        notes=tuple(notes),
        from_revision=old_revision,
    )


def _unknown(why: str, revision: int | None) -> UpgradeCheck:
    return UpgradeCheck(Verdict.UNKNOWN, f"state compatibility unknown: {why}", from_revision=revision)


def _not_comparable(old: StateFingerprint, new: StateFingerprint, digest: str | None) -> str | None:
    swaps = (", ".join(old.connector_swaps) or "none", ", ".join(new.connector_swaps) or "none")
    checks = (
        (
            old.format != FORMAT or new.format != FORMAT,
            f"fingerprint formats {old.format} and {new.format} (this router reads {FORMAT})",
        ),
        (
            old.id_scheme != new.id_scheme,
            f"operator ids were computed differently ({old.id_scheme}, {new.id_scheme})",
        ),
        (
            old.flink_version != new.flink_version,
            f"the jobs were compiled by Flink {old.flink_version} and {new.flink_version}",
        ),
        (
            old.parallelism != new.parallelism,
            f"the jobs were hashed at parallelism {old.parallelism} and {new.parallelism}",
        ),
        (
            old.connector_swaps != new.connector_swaps,
            f"the jobs were planned with different connector swaps ({swaps[0]} and {swaps[1]})",
        ),
        (
            bool(digest and new.sql_digest and digest != new.sql_digest),
            f"the new fingerprint is of other SQL ({new.sql_digest}) than the SQL to start ({digest})",
        ),
    )
    return next((why for failed, why in checks if failed), None)


def _loss(holder: StateHolder) -> str:
    if holder.kind == "source":
        return (
            f"{holder.label}: its read positions (offsets, splits) are lost; it starts from its "
            "configured startup position (events may be read twice or skipped)"
        )
    if holder.kind == "sink":
        return f"{holder.label}: the sink's pending state (transactions, in-progress files) is dropped"
    names = ", ".join(s.name for s in holder.state) or "its state"
    return f"{holder.label}: {names} is lost; it starts empty (aggregates count from zero, joins forget)"


def _compare(old: StateHolder, new: StateHolder) -> tuple[list[str], list[str]]:
    """Why `new` cannot take `old`'s state (empty: it can), and what is worth noting anyway."""
    reasons: list[str] = []
    notes: list[str] = []
    if old.kind != new.kind or old.type != new.type:
        reasons.append(f"it was a {old.type} ({old.kind}) and is now a {new.type} ({new.kind})")
        return reasons, notes
    if old.kind in ("source", "sink"):
        if old.table != new.table:
            reasons.append(f"it now reads or writes table {new.table} instead of {old.table}")
        elif old.origin != new.origin:
            reasons.append(
                f"its connector now points elsewhere ({', '.join(old.origin)} -> {', '.join(new.origin)}): "
                "the restored positions belong to the old one"
            )
        return reasons, notes
    if field_types(old.key) != field_types(new.key):
        reasons.append(f"its key changed ({_list(old.key)} -> {_list(new.key)})")
    _compare_state(old, new, reasons, notes)
    if [field_types(i) for i in old.inputs] != [field_types(i) for i in new.inputs]:
        reasons.append("its input row type changed")
    if not reasons and old.logic != new.logic:
        reasons.append(
            "its definition changed (e.g. its aggregate functions or join condition): the new one "
            "would continue from state the old one wrote"
            + (f" [{old.summary} -> {new.summary}]" if old.summary != new.summary else "")
        )
    if not reasons and old.upstream != new.upstream:
        notes.append("what feeds it changed: its state, built from the old input, is kept")
    return reasons, notes


def _compare_state(old: StateHolder, new: StateHolder, reasons: list[str], notes: list[str]) -> None:
    """Its state by name; TTL may change its length, not be turned on or off (Flink refuses that)."""
    old_names, new_names = [s.name for s in old.state], [s.name for s in new.state]
    if old_names != new_names:
        reasons.append(f"its state changed ({_list(old_names)} -> {_list(new_names)})")
        return
    for before, after in zip(old.state, new.state, strict=True):
        if (before.ttl_ms > 0) != (after.ttl_ms > 0):
            reasons.append(f"state TTL of {before.name} was turned {'on' if after.ttl_ms > 0 else 'off'}")
        elif before.ttl_ms != after.ttl_ms:
            notes.append(f"state TTL of {before.name} changes from {before.ttl_ms} ms to {after.ttl_ms} ms")


def _list(items: Any) -> str:
    return ", ".join(str(i) for i in items) or "nothing"
