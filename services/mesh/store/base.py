"""The document-store port: JSON documents in named collections, keyed by string ids.

Every service keeps its state through this small interface; the adapters (SQLite for the
embedded default, MongoDB for deployments) are interchangeable and held to one conformance
suite (tests/contract/test_store_conformance.py). Semantics every adapter keeps:

- A document is a JSON object: str keys; values None, bool, int (64-bit), finite float,
  str, lists and nested objects. Tuples come back as lists. A stored document is a copy:
  changing the caller's dict afterwards changes nothing stored, and vice versa.
- Every stored document has an integer `version`: 1 when created, +1 per write. Deleting
  a document forgets its version (the next write creates it again at version 1).
- `insert` creates only and is atomic: of many concurrent callers (coroutines, threads or
  processes) with one key, exactly one gets True. Consumers dedupe by event id with it.
- `put(..., expected_version=n)` is a compare-and-set: it writes only when the stored
  version is n (0 means "does not exist"), else raises `VersionConflict`.
- `find`/`count` filter by equality on top-level fields; a list or tuple value means "any
  of". Matching is type-strict (1 matches 1 and 1.0, never "1" or True; a scalar never
  matches a list field); None matches a null or missing field. Results are ordered by
  `order_by` (nulls and missing first when ascending; numbers before strings), then by key
  ascending, so ties always come back in the same order. Order between object or array
  values is adapter-defined: order by scalar fields.
- Collection and field names are code constants and must be identifiers
  (`[A-Za-z_][A-Za-z0-9_]*`, at most 64 characters); anything else raises `InvalidName`.
- A call that is cancelled while in flight may still take effect.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "MAX_NAME_LENGTH",
    "DocumentStore",
    "InvalidDocument",
    "InvalidKey",
    "InvalidName",
    "Scalar",
    "StoreClosed",
    "StoreError",
    "Stored",
    "VersionConflict",
    "check_expected_version",
    "check_key",
    "check_name",
    "check_page",
    "to_document",
    "to_filter",
]

MAX_NAME_LENGTH = 64
MAX_KEY_LENGTH = 1024
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

Scalar: TypeAlias = bool | int | float | str | None
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored document: its key, its current version and its JSON body."""

    key: str
    version: int
    doc: dict[str, Any]


class StoreError(Exception):
    """Base of every error a document store raises on purpose."""


class InvalidName(StoreError, ValueError):
    """A collection, field or service name is not an identifier."""


class InvalidKey(StoreError, ValueError):
    """A document key is not a non-empty string (without NUL, at most 1024 characters)."""


class InvalidDocument(StoreError, ValueError):
    """A document or filter value is not JSON as the store understands it."""


class StoreClosed(StoreError):
    """The store was closed; open a new one."""


class VersionConflict(StoreError):
    """`put` with `expected_version` found another version stored (0 = absent)."""

    def __init__(self, collection: str, key: str, expected: int, actual: int) -> None:
        self.collection = collection
        self.key = key
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"version conflict on {collection}/{key!r}: expected version {expected}, "
            f"stored version is {actual}" + (" (absent)" if actual == 0 else "")
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.collection, self.key, self.expected, self.actual))


@runtime_checkable
class DocumentStore(Protocol):
    """Async JSON document store; see the module docstring for the semantics."""

    async def get(self, collection: str, key: str) -> Stored | None:
        """The document stored under `key`, or None."""
        ...

    async def insert(self, collection: str, key: str, doc: Mapping[str, Any]) -> bool:
        """Create `key` at version 1; False (and nothing written) if it already exists."""
        ...

    async def put(
        self,
        collection: str,
        key: str,
        doc: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> int:
        """Create or replace `key`; returns the new version. See `VersionConflict`."""
        ...

    async def delete(self, collection: str, key: str) -> bool:
        """Remove `key`; False if it was not there."""
        ...

    async def find(
        self,
        collection: str,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Stored]:
        """Documents matching `where`, ordered by `order_by` then key, paged."""
        ...

    async def count(self, collection: str, *, where: Mapping[str, Any] | None = None) -> int:
        """How many documents match `where`."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent. Later calls raise `StoreClosed`."""
        ...


def check_name(name: object, what: str = "collection") -> str:
    """`name` if it is an identifier of at most 64 characters, else `InvalidName`."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidName(
            f"invalid {what} name {name!r}: expected an identifier matching "
            f"[A-Za-z_][A-Za-z0-9_]* of at most {MAX_NAME_LENGTH} characters"
        )
    return name


def check_key(key: object) -> str:
    """`key` if it is a usable document key, else `InvalidKey`."""
    if (
        not isinstance(key, str)
        or not key
        or len(key) > MAX_KEY_LENGTH
        or "\x00" in key
        or _SURROGATE.search(key)
    ):
        raise InvalidKey(
            f"invalid document key {key!r}: expected a non-empty string without NUL "
            f"of at most {MAX_KEY_LENGTH} characters"
        )
    return key


def check_page(limit: int | None, offset: int) -> None:
    """Reject negative (or non-int) paging arguments with ValueError."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative int, got {offset!r}")


def check_expected_version(expected_version: int | None) -> None:
    """Reject an `expected_version` that is not None or a non-negative int with ValueError."""
    if expected_version is not None and (
        isinstance(expected_version, bool) or not isinstance(expected_version, int) or expected_version < 0
    ):
        raise ValueError(f"expected_version must be a non-negative int or None, got {expected_version!r}")


def _copy_json(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise InvalidDocument(f"string at {path} holds a lone surrogate (not UTF-8 encodable)")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidDocument(f"integer at {path} does not fit in 64 bits")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidDocument(f"non-finite number at {path} is not JSON")
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or _SURROGATE.search(k):
                raise InvalidDocument(f"object key {k!r} at {path} is not a UTF-8 encodable string")
            out[k] = _copy_json(v, f"{path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_copy_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise InvalidDocument(f"value of type {type(value).__name__} at {path} is not JSON")


def to_document(doc: object) -> dict[str, Any]:
    """A validated deep copy of `doc` as plain JSON types, else `InvalidDocument`."""
    if not isinstance(doc, Mapping):
        raise InvalidDocument(f"a document must be a JSON object (mapping), got {type(doc).__name__}")
    result: dict[str, Any] = _copy_json(doc, "$")
    return result


def _check_scalar(field: str, value: object) -> Scalar:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, str)):
        copied: int | float | str = _copy_json(value, field)
        return copied
    raise InvalidDocument(
        f"filter on {field!r}: expected None, bool, number or str (or a list of them), "
        f"got {type(value).__name__}"
    )


def to_filter(where: Mapping[str, Any] | None) -> list[tuple[str, list[Scalar]]]:
    """`where` as (field, accepted values) pairs, validated; [] matches everything.

    A scalar value becomes a one-element list; a list or tuple is "any of" (empty: nothing).
    """
    if where is None:
        return []
    if not isinstance(where, Mapping):
        raise InvalidDocument(f"where must be a mapping of field to value, got {type(where).__name__}")
    terms: list[tuple[str, list[Scalar]]] = []
    for field, value in where.items():
        check_name(field, "field")
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        terms.append((field, [_check_scalar(field, v) for v in values]))
    return terms
