"""Issue 14 item 5: hostile text in a result-table option never changes the job's statements.

Property: take the orders example and put hostile text (quotes, `;`, `--`, `/*`, `*/`, CR, LF,
`${secret:x}`, backquotes, unicode) into a result-table option key or value, either quoted as
SQL quotes it or pasted raw between the quotes. Then either `check` rejects the document, or
the compiled job, cut by the kernel's splitter, has exactly the statement kinds of the original
job (no extra statement), and the kernel's lenient DDL reader reads the option back exactly.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.flinksql.ddl import read_create_table
from services.flinksql.quoting import quote_string
from services.flinksql.statements import StatementKind, split_statements
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.generator.domain.lower import SENSITIVE_OPTION
from services.ingest.domain.checks import check_document

ROOT = Path(__file__).resolve().parents[3]
BASE = (ROOT / "examples" / "orders" / "orders-request-v3.md").read_text(encoding="utf-8")
PROFILE = load_profile("dev")
RESULT = "dwd_order_wide"
KEY, VALUE = "tableName", "dwd_order_wide"
OPTION = f"'{KEY}' = '{VALUE}'"
UNSAFE = ("\r", "\n", "--", "/*", "*/")

FRAGMENTS = st.sampled_from(
    [
        "'",
        "''",
        ";",
        "--",
        "-",
        "/*",
        "*/",
        "/",
        "*",
        "/*+ OPTIONS('connector'='blackhole') */",
        "\r",
        "\n",
        "\r\n",
        "${secret:x}",
        "$",
        "{",
        "`",
        "``",
        '"',
        "\\",
        "U&'",
        "\\0024",
        " ",
        "\t",
        "a",
        "b1",
        ".",
        "=",
        ",",
        ")",
        "(",
        "DROP TABLE t",
        "END",
        "中文",
        "💥",
        "\u00a0",
        "\u2028",
        "e\u0301",
    ]
)
HOSTILE = st.lists(FRAGMENTS, min_size=1, max_size=8).map("".join)


def _compile(text: str) -> tuple[object, str] | None:
    result = check_document(text)
    if not result.valid:
        return None
    assert result.spec is not None
    return result.spec, compile_job(result.spec, profile=PROFILE, revision=1, generator_version="t").sql


_ORIGINAL = _compile(BASE)
assert _ORIGINAL is not None
EXPECTED_KINDS = [s.kind for s in split_statements(_ORIGINAL[1])]


def _result_options(sql: str) -> dict[str, str]:
    statements = split_statements(sql)
    assert [s.kind for s in statements] == EXPECTED_KINDS  # exactly the original statements
    tables = [
        read_create_table(s.text, strict=False) for s in statements if s.kind is StatementKind.CREATE_TABLE
    ]
    [result] = [t for t in tables if t.name == RESULT]
    return result.option_map


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile=HOSTILE, quoted=st.booleans(), in_key=st.booleans())
@example(hostile="x' ; DROP TABLE t; --", quoted=False, in_key=False)
@example(hostile="x'); DROP TABLE t; --", quoted=False, in_key=False)
@example(hostile="a\r;DROP TABLE t", quoted=True, in_key=False)
@example(hostile="${secret:x}", quoted=True, in_key=False)
@example(hostile="it's `q` ; 中文", quoted=True, in_key=False)
@example(hostile="it's `q` ; 中文", quoted=True, in_key=True)
def test_hostile_option_text_is_rejected_or_round_trips(hostile: str, quoted: bool, in_key: bool) -> None:
    literal = quote_string(hostile) if quoted else f"'{hostile}'"
    option = f"{literal} = '{VALUE}'" if in_key else f"'{KEY}' = {literal}"
    text = BASE.replace(OPTION, option, 1)
    compiled = _compile(text)
    if "${" in hostile and quoted:
        assert compiled is None  # door 1: a secret reference is never accepted
    if compiled is None:
        return
    spec, sql = compiled
    written = spec.result.options  # type: ignore[attr-defined]
    if quoted:
        assert (hostile in written) if in_key else (written[KEY] == hostile)
    assert not any(bad in k or bad in v for k, v in written.items() for bad in UNSAFE)  # door 2
    assert not any("${" in k or "${" in v for k, v in written.items())
    read_back = _result_options(sql)
    for key, value in written.items():
        if SENSITIVE_OPTION.search(key):
            assert read_back[key].startswith("${secret:")  # the generator's reference, not the value
        else:
            assert read_back[key] == value
    assert set(read_back) == set(written)
