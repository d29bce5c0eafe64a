"""Chain of custody: the router starts only the statement list the validator verified.

The validator puts the digest of the statement list it verified in ValidationScored
(`services.flinksql.statements.statements_digest`: tokens only, so layout and comments do not
count and every other edit does). Before a start the router reads the SQL it is about to hand
to a deployer the same way and compares: no validated digest, SQL that does not lex, or a
different digest, and nothing starts; the refusal names both digests.
"""

from __future__ import annotations

from services.flinksql.lexer import LexError
from services.flinksql.statements import split_statements, statements_digest


class CustodyError(ValueError):
    """The SQL to start is not (provably) what the validator verified."""


def verified_digest(sql: str | None, validated: str | None) -> str:
    """The digest of `sql` when it equals `validated`; CustodyError otherwise."""
    if not validated:
        raise CustodyError(
            "no validated statement digest is recorded for this run: only SQL the validator verified starts"
        )
    if not sql:
        raise CustodyError("no SQL is recorded for this run's attempt: nothing to start")
    try:
        actual = statements_digest(split_statements(sql))
    except LexError as error:
        raise CustodyError(f"the SQL to start does not lex ({error}): refusing it") from None
    if actual != validated:
        raise CustodyError(
            f"the SQL to start ({actual}) is not the statement list the validator verified "
            f"({validated}): it was changed after validation, refusing it"
        )
    return actual
