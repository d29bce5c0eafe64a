"""Mutated documents never crash or hang the checker: every input yields a spec or errors."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.checks import check_document

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"
DOCUMENTS = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*-request-v3.md"))]
NOISE = st.sampled_from(
    [
        "```",
        "~~~",
        "```yaml",
        "```sql",
        "```java",
        "# ",
        "## 维表9: x",
        "&a",
        "*a",
        "!!str",
        "<<: *a",
        ": :",
        "'",
        '"',
        "(",
        ")",
        ";",
        "--",
        "/*",
        "\t",
        "\x00",
        "\ufeff",
        "维",
        "💥",
        "\r",
        "payload.",
        "dim1.",
        "{",
        "}",
        "- ",
        "  ",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(DOCUMENTS)).split("\n")
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(
            st.sampled_from(["delete", "duplicate", "swap", "insert", "noise", "truncate", "unicode"])
        )
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == "insert":
            lines.insert(index, draw(st.text(max_size=40)))
        elif action == "noise":
            column = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:column] + draw(NOISE) + lines[index][column:]
        elif action == "truncate":
            lines = lines[: index + 1]
        else:
            lines[index] = draw(st.text(alphabet=st.characters(), max_size=30))
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_documents_yield_a_spec_or_errors(text: str) -> None:
    """It answers every mutated document with a spec or with errors, quickly and without raising."""
    started = time.perf_counter()
    result = check_document(text)
    assert time.perf_counter() - started < 2.0
    assert (result.spec is None) == bool(result.errors)
    assert not any(e.code == "internal.error" for e in result.errors), [e.render() for e in result.errors]
    for error in result.errors:
        assert error.message and error.hint and error.block


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes(text: str) -> None:
    """It answers arbitrary text with errors (or, in principle, a spec) and never raises."""
    result = check_document(text)
    assert result.spec is not None or result.errors
    assert not any(e.code == "internal.error" for e in result.errors)
