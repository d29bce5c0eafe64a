"""Operand and argument types Flink 2.3 rejects, as verified against its planner.

Every rule here was checked by planning `SELECT <expr> FROM t` with PyFlink 2.3 (batch mode,
EXPLAIN, which runs Flink's code generation), over columns typed like payload fields
(`TRY_CAST(JSON_VALUE(...))`) and typed literals: the matrix is kept in
tests/unit/ingest/data/flink_type_matrix.tsv and replayed by test_expression_types.py. A rule
rejects only what Flink rejected for every tested value of a category; anything untested
(TIME, INTERVAL, binary, collections, unknown types) is accepted and left to the planner.

What Flink 2.3 does, in short:
- `=`, `<>`, IS [NOT] DISTINCT FROM, NULLIF, simple CASE: numbers compare with numbers only;
  a character string compares with anything but a number ("implicit type conversion between
  VARCHAR and INTEGER is not supported"); otherwise both sides in one group (BOOLEAN;
  TIMESTAMP with TIMESTAMP_LTZ; DATE; TIME; INTERVAL).
- `<`, `<=`, `>`, `>=`, BETWEEN, and the tested value of IN: like `=`, but a character string
  also compares with a number (Calcite converts the string).
- COALESCE, IFNULL, IF and CASE branches, GREATEST/LEAST, the values of an IN list: one common
  type: all character strings, all numbers, all BOOLEAN, TIMESTAMP with TIMESTAMP_LTZ, DATE,
  TIME; COALESCE, IFNULL, GREATEST and LEAST also take DATE with TIMESTAMP (not with
  TIMESTAMP_LTZ). IF also rejects an untyped NULL branch.
- String functions, `||` and LIKE take character strings only; an untyped NULL literal is
  rejected almost everywhere a function expects a type (CAST(NULL AS STRING) is fine).
"""

from __future__ import annotations

from services.flinksql import sqltypes as st
from services.flinksql.sqltypes import FlinkType

# Categories of a type, as the matrix was tested.
CATEGORY_NAMES = {
    "C": "character string",
    "I": "integer",
    "D": "DECIMAL",
    "A": "FLOAT/DOUBLE",
    "B": "BOOLEAN",
    "T": "TIMESTAMP",
    "L": "TIMESTAMP_LTZ",
    "d": "DATE",
    "t": "TIME",
    "V": "INTERVAL",
    "N": "untyped NULL",
}
_TESTED = frozenset("CIDABTLdN")
_GROUP = {
    "C": "C",
    "I": "num",
    "D": "num",
    "A": "num",
    "B": "B",
    "T": "T",
    "L": "T",
    "d": "d",
    "t": "t",
    "V": "V",
}


def category(t: FlinkType | None) -> str | None:
    """The matrix category of `t` (one letter of CATEGORY_NAMES), None when unknown/untested."""
    if t is None:
        return None
    root = t.root
    if root == "NULL":
        return "N"
    if root in st.INTEGER_ROOTS:
        return "I"
    simple = {
        "DECIMAL": "D",
        "FLOAT": "A",
        "DOUBLE": "A",
        "BOOLEAN": "B",
        "TIMESTAMP": "T",
        "TIMESTAMP_LTZ": "L",
        "DATE": "d",
        "TIME": "t",
        "INTERVAL_YEAR_MONTH": "V",
        "INTERVAL_DAY_TIME": "V",
    }
    if root in simple:
        return simple[root]
    return "C" if st.is_character(t) else None


def _pair(a: FlinkType | None, b: FlinkType | None) -> tuple[str, str] | None:
    ca, cb = category(a), category(b)
    if ca is None or cb is None or "N" in (ca, cb):
        return None
    return _GROUP[ca], _GROUP[cb]


def equality_rejected(a: FlinkType | None, b: FlinkType | None) -> bool:
    """True when Flink rejects `a = b` (and <>, IS DISTINCT FROM, NULLIF, simple CASE)."""
    pair = _pair(a, b)
    if pair is None or pair[0] == pair[1]:
        return False
    return not ("C" in pair and "num" not in pair)


def ordering_rejected(a: FlinkType | None, b: FlinkType | None) -> bool:
    """True when Flink rejects `a < b` (and the other orderings, BETWEEN, `a IN (<b>...)`)."""
    pair = _pair(a, b)
    return pair is not None and pair[0] != pair[1] and "C" not in pair


def common_rejected(types: list[FlinkType | None], *, date_with_timestamp: bool = False) -> bool:
    """True when Flink finds no common type for `types` (COALESCE, IF/CASE branches, IN lists).

    `date_with_timestamp`: COALESCE, IFNULL, GREATEST and LEAST also take DATE with TIMESTAMP
    (not with TIMESTAMP_LTZ); IF, CASE and IN lists do not.
    """
    cats = [category(t) for t in types]
    if any(c is None for c in cats):
        return False
    known = {c for c in cats if c != "N"}
    groups = {_GROUP[c] for c in known if c is not None}
    if len(groups) <= 1:
        return False
    return not (date_with_timestamp and groups == {"T", "d"} and "L" not in known)


# (function, number of arguments or None for any, position or None for every position) ->
# the categories Flink rejected there for every tested value. Generated from the matrix.
# TO_TIMESTAMP_LTZ/format is TO_TIMESTAMP_LTZ(<string>, <format>); TO_TIMESTAMP_LTZ(x, 3) is
# the numeric form (epoch, precision). Hand-added from the second probe batch: TIME (t) and
# INTERVAL (V) where tested, SUBSTRING/SUBSTR with two arguments, FLOOR(x TO DAY), TRIM's
# parsed form, unary minus.
ARGUMENT_REJECTS: dict[tuple[str, int | None, int | None], str] = {
    ("ABS", 1, 0): "BCLNTd",
    ("AVG", 1, 0): "BCLNTd",
    ("BTRIM", 1, 0): "ABDILTd",
    ("CEIL", 1, 0): "BCLNTd",
    ("CHARACTER_LENGTH", 1, 0): "ABDILNTd",
    ("CHAR_LENGTH", 1, 0): "ABDILNTd",
    ("CONCAT", None, None): "ABDILNTdt",
    ("CONCAT_WS", None, None): "ABDILNTd",
    ("CONVERT_TZ", 3, 0): "ABDILNTd",
    ("COUNT", 1, 0): "N",
    ("DATE_FORMAT", 2, 0): "ABDINdt",
    ("DATE_FORMAT", 2, 1): "ABDILNTd",
    ("DAYOFWEEK", 1, 0): "ABCDIN",
    ("EXP", 1, 0): "BCLNTd",
    ("EXTRACT", 2, 1): "ABCDIN",
    ("FLOOR", 1, 0): "BCLNTd",
    ("FLOOR", 2, 0): "ABCDIN",  # FLOOR(x TO <unit>)
    ("FROM_UNIXTIME", 1, 0): "ABCDLNTd",
    ("FROM_UNIXTIME", 2, 1): "ABDILNTd",
    ("HOUR", 1, 0): "ABCDIN",
    ("IF", 3, 0): "ACDILNTd",
    ("INITCAP", 1, 0): "ABDILNTd",
    ("JSON_VALUE", 2, 0): "N",
    ("LEFT", 2, 0): "ABDILNTd",
    ("LEFT", 2, 1): "ABCDLNTd",
    ("LIKE", 2, 0): "ABDILNTd",
    ("LIKE", 2, 1): "ABDILNTd",
    ("LN", 1, 0): "BCLNTd",
    ("LOCATE", 2, 0): "ABDILNTd",
    ("LOCATE", 2, 1): "ABDILNTd",
    ("LOG", 1, 0): "BCLNTd",
    ("LOG10", 1, 0): "BCLNTd",
    ("LOWER", 1, 0): "ABDILNTd",
    ("LPAD", 3, 0): "ABDILNTd",
    ("LPAD", 3, 1): "ABCDLNTd",
    ("LTRIM", 1, 0): "ABDILNTd",
    ("MAX", 1, 0): "N",
    ("MD5", 1, 0): "ABDILNTd",
    ("MIN", 1, 0): "N",
    ("MOD", 2, 0): "ABCLNTd",
    ("MOD", 2, 1): "ABCLNTd",
    ("MONTH", 1, 0): "ABCDIN",
    ("POSITION", 2, 0): "ABDILNTd",
    ("POSITION", 2, 1): "ABDILNTd",
    ("POWER", 2, 0): "BCLNTd",
    ("RAND_INTEGER", 1, 0): "ABCDLNTd",
    ("REGEXP", 2, 0): "ABDILNTd",
    ("REGEXP_EXTRACT", 3, 0): "ABDILNTd",
    ("REGEXP_EXTRACT", 3, 2): "ABCDLNTd",
    ("REGEXP_REPLACE", 3, 0): "ABDILNTd",
    ("REPEAT", 2, 0): "ABDILNTd",
    ("REPEAT", 2, 1): "ABCDLNTd",
    ("REPLACE", 3, 0): "ABDILNTd",
    ("REPLACE", 3, 1): "ABDILNTd",
    ("REVERSE", 1, 0): "ABDILNTd",
    ("RIGHT", 2, 0): "ABDILNTd",
    ("ROUND", 1, 0): "BCLNTd",
    ("ROUND", 2, 0): "BCLNTd",
    ("ROUND", 2, 1): "ABCDLNTd",
    ("RPAD", 3, 0): "ABDILNTd",
    ("RTRIM", 1, 0): "ABDILNTd",
    ("SHA1", 1, 0): "ABDILNTd",
    ("SHA256", 1, 0): "ABDILNTd",
    ("SIGN", 1, 0): "BCLNTd",
    ("SIMILAR TO", 2, 0): "ABDILNTd",
    ("SPLIT_INDEX", 3, 0): "ABDILNTd",
    ("SPLIT_INDEX", 3, 2): "ABCDLNTd",
    ("SQRT", 1, 0): "BCLNTd",
    ("SUBSTR", 2, 0): "ABDILNTd",
    ("SUBSTR", 2, 1): "D",
    ("SUBSTRING", 2, 0): "ABDILNTd",
    ("SUBSTRING", 2, 1): "ABCD",
    ("SUBSTRING", 3, 0): "ABDILNTd",
    ("SUBSTRING", 3, 1): "ABCDLNTd",
    ("SUBSTRING", 3, 2): "ABCDLNTd",
    ("SUM", 1, 0): "BCLNTd",
    ("TIMESTAMPADD", 3, 1): "ABCDLNTd",
    ("TIMESTAMPADD", 3, 2): "ABCDIN",
    ("TIMESTAMPDIFF", 3, 1): "ABCDILN",
    ("TO_DATE", 1, 0): "ABDILNTd",
    ("TO_DATE", 2, 0): "ABDILNTd",
    ("TO_TIMESTAMP", 1, 0): "ABDILNTd",
    ("TO_TIMESTAMP", 2, 0): "ABDILNTd",
    ("TO_TIMESTAMP_LTZ", 1, 0): "BLTd",
    ("TO_TIMESTAMP_LTZ", 2, 0): "BCLNTd",
    ("TO_TIMESTAMP_LTZ/format", 2, 0): "ABDILTd",
    ("TRIM", 3, 1): "ABDILNTd",  # TRIM([BOTH|LEADING|TRAILING] <chars> FROM <string>)
    ("TRIM", 3, 2): "ABDILNTd",  # TRIM(<string>) is parsed as TRIM(BOTH ' ' FROM <string>)
    ("TRUNCATE", 2, 0): "BCLNTd",
    ("UNIX_TIMESTAMP", 1, 0): "ABDILNTd",
    ("UNIX_TIMESTAMP", 2, 0): "ABDILNTd",
    ("UPPER", 1, 0): "ABDILNTVdt",
    ("YEAR", 1, 0): "ABCDIN",
    ("||", 2, 0): "ABDILNTd",
    ("||", 2, 1): "ABDILNTdt",
}


ARGUMENT_REJECTS[("-", 1, 0)] = "BCLNTd"


def cast_may_fail(src: FlinkType | None, dst: FlinkType) -> bool:
    """True when CAST(<src> AS <dst>) raises at run time on some value, failing the job.

    Verified on Flink 2.3: CAST of text that does not parse to DECIMAL, INT, BOOLEAN, DATE or
    TIMESTAMP fails the job (TRY_CAST gives NULL); numeric narrowing (BIGINT to INT) wraps and
    does not fail, so only character sources count.
    """
    if src is None or not st.is_character(src):
        return False
    return st.family(dst) not in ("character", "binary", "null")


def argument_key(name: str, args: list[FlinkType | None]) -> str:
    """The table name of a call: TO_TIMESTAMP_LTZ with a string second argument is the format form."""
    if name == "TO_TIMESTAMP_LTZ" and len(args) >= 2 and category(args[1]) == "C":
        return "TO_TIMESTAMP_LTZ/format"
    return name


def rejected_arguments(name: str, args: list[FlinkType | None]) -> list[tuple[int, FlinkType, str]]:
    """(position, type, what Flink accepts there) of each argument Flink rejects."""
    key = argument_key(name, args)
    out: list[tuple[int, FlinkType, str]] = []
    for pos, arg in enumerate(args):
        rejects = ARGUMENT_REJECTS.get((key, len(args), pos)) or ARGUMENT_REJECTS.get((key, None, None))
        cat = category(arg)
        if rejects is None or arg is None or cat is None or cat not in rejects:
            continue
        out.append((pos, arg, accepted_text(rejects)))
    return out


def accepted_text(rejects: str) -> str:
    """Words for what a position accepts: the tested categories Flink did not reject there."""
    accepted = [c for c in "CIDABTLd" if c in _TESTED and c not in rejects]
    named = {**CATEGORY_NAMES, "C": "a character string", "I": "an integer"}
    if set("IDA") <= set(accepted):
        accepted = [c for c in accepted if c not in "DA"]
        named["I"] = "a number"
    words = [named[c] for c in accepted]
    if not words:
        return "no tested type"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def type_text(t: FlinkType) -> str:
    return "an untyped NULL" if t.root == "NULL" else t.sql()
