"""Result types of the value constructors and element access (`services.flinksql.expr`).

As PyFlink 2.3 types them (`TYPEOF(..., TRUE)`): `ARRAY['a', 'bc']` is
`ARRAY<VARCHAR(2) NOT NULL> NOT NULL` (the elements' common type), `MAP['k', v]` is
`MAP<CHAR(1) NOT NULL, <type of v>> NOT NULL`, `ROW(1, 'a')` is
`ROW<EXPR$0 INT NOT NULL, EXPR$1 CHAR(1) NOT NULL> NOT NULL`, and `a[i]` / `m[k]` is the
element or value type made nullable (an index past the end, a missing key give NULL).
Each rule takes the argument types (None: unknown) and gives None when it cannot say.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.flinksql.sqltypes import FlinkType, RowField, common_type

ArgTypes = Sequence[FlinkType | None]
Rule = Callable[[ArgTypes], FlinkType | None]


def _common(types: ArgTypes) -> FlinkType | None:
    known = [t for t in types if t is not None]
    if len(known) < len(types) or not known:
        return None
    merged = common_type(known)
    return None if merged is None or merged.root == "NULL" else merged


def array_type(args: ArgTypes, _call: object = None) -> FlinkType | None:
    """`ARRAY[e1, e2, ...]`: ARRAY of the elements' common type, NOT NULL."""
    element = _common(args)
    return None if element is None else FlinkType(root="ARRAY", element=element, nullable=False)


def map_type(args: ArgTypes, _call: object = None) -> FlinkType | None:
    """`MAP[k1, v1, k2, v2, ...]`: MAP of the keys' and the values' common types, NOT NULL."""
    if len(args) < 2 or len(args) % 2:
        return None
    key, value = _common(args[0::2]), _common(args[1::2])
    if key is None or value is None:
        return None
    return FlinkType(root="MAP", key=key, value=value, nullable=False)


def row_type(args: ArgTypes, _call: object = None) -> FlinkType | None:
    """`ROW(a, b, ...)`: ROW<EXPR$0 a, EXPR$1 b, ...>, NOT NULL."""
    if not args or any(t is None or t.root == "NULL" for t in args):
        return None
    fields = tuple(RowField(name=f"EXPR${i}", type=t) for i, t in enumerate(args) if t is not None)
    return FlinkType(root="ROW", fields=fields, nullable=False)


def item_type(args: ArgTypes, _call: object = None) -> FlinkType | None:
    """`a[i]` of an ARRAY, `m[k]` of a MAP: the element or value type, nullable."""
    if len(args) != 2 or args[0] is None:
        return None
    base = args[0]
    if base.root == "ARRAY" and base.element is not None:
        return base.element.with_nullable(True)
    if base.root == "MAP" and base.value is not None:
        return base.value.with_nullable(True)
    return None
