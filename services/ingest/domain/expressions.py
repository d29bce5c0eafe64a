"""Flink SQL scalar expressions of request documents: parse, analyse, render.

The parser lives in `expressions_parse`, type inference and checks in `expressions_analysis`;
this module is the public face (import from here). The AST and `render` are in
`services.mesh.expr` (shared with the generator).
"""

from services.ingest.domain.expressions_analysis import (
    FUNCTIONS,
    NONDETERMINISTIC,
    Analysis,
    Problem,
    TypeEnv,
    analyze,
    arithmetic_type,
)
from services.ingest.domain.expressions_parse import (
    MAX_DEPTH,
    MAX_LENGTH,
    NAME_RE,
    ExpressionError,
    parse_expression,
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
    "TypeEnv",
    "analyze",
    "arithmetic_type",
    "parse_expression",
]
