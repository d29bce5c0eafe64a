"""Flink SQL scalar expressions of request documents: parse, analyse, render.

The parser is the kernel's `services.flinksql.expr_parse`, type inference and checks in `expressions_analysis`;
this module is the public face (import from here). The AST and `render` are in
`services.flinksql.expr` (shared with the generator).
"""

from services.flinksql.expr_parse import (
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    parse_expression,
)
from services.flinksql.quoting import NAME_RE
from services.ingest.domain.expressions_analysis import (
    FUNCTIONS,
    NONDETERMINISTIC,
    Analysis,
    Problem,
    ProblemKind,
    TypeEnv,
    analyze,
    arithmetic_type,
)

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "NAME_RE",
    "NONDETERMINISTIC",
    "Analysis",
    "ExpressionError",
    "Problem",
    "ProblemKind",
    "TypeEnv",
    "analyze",
    "arithmetic_type",
    "parse_expression",
]
