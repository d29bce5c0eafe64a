"""Input-level checks, markdown scanning, headings and safe YAML."""

from __future__ import annotations

import pytest

from services.ingest.domain import yaml_safe
from services.ingest.domain.checks import check_document, check_document_bytes
from services.ingest.domain.document import (
    MAX_DOCUMENT_BYTES,
    Heading,
    dimension_heading,
    is_result_heading,
    normalize_heading,
    result_table_name,
    scan,
)
from services.ingest.domain.errors import Issues


@pytest.mark.parametrize("text", ["", "   \n\t\n", "\n\n\n"])
def test_empty_document_is_rejected_as_empty(text: str) -> None:
    """It rejects zero bytes or only whitespace with a message containing 'empty'."""
    result = check_document(text)
    assert result.spec is None
    assert [e.code for e in result.errors] == ["input.empty"]
    assert "empty" in result.errors[0].message


@pytest.mark.parametrize("data", [b"\xff\xfe\x00a", b"# title\n\xc3\x28", b"abc\x00def"])
def test_binary_input_is_rejected_as_binary(data: bytes) -> None:
    """It rejects bytes that are not UTF-8 or contain NUL with a message containing 'binary'."""
    result = check_document_bytes(data)
    assert [e.code for e in result.errors] == ["input.binary"]
    assert "binary" in result.errors[0].message


def test_nul_in_text_is_binary() -> None:
    """It treats a NUL character in text as binary input."""
    assert "binary" in check_document("# x\n\x00").errors[0].message


def test_too_large_document_is_rejected() -> None:
    """It rejects documents over 1 MiB before parsing, as text or as bytes."""
    big = "a" * (MAX_DOCUMENT_BYTES + 1)
    assert "too large" in check_document(big).errors[0].message
    assert "too large" in check_document_bytes(big.encode()).errors[0].message


def test_multibyte_text_is_measured_in_bytes() -> None:
    """It measures the 1 MiB limit in UTF-8 bytes, not characters."""
    text = "维" * (MAX_DOCUMENT_BYTES // 3 + 1)
    assert "too large" in check_document(text).errors[0].message


def test_fences_of_both_kinds_and_languages_are_found() -> None:
    """It finds ``` and ~~~ fences, their language and 1-based document lines."""
    text = "# T\n```YAML title\na: 1\n```\ntext\n~~~~java\nclass X {}\n```\n~~~~\n"
    doc = scan(text, Issues())
    assert [(b.language, b.fence_line, b.content) for b in doc.blocks] == [
        ("yaml", 2, "a: 1"),
        ("java", 6, "class X {}\n```"),
    ]


def test_unterminated_fence_is_an_error() -> None:
    """It reports an unterminated fence with the line of its opening."""
    issues = Issues()
    scan("# T\n\n```yaml\na: 1\n", issues)
    assert [(e.code, e.line) for e in issues.errors] == [("markdown.unterminated_fence", 3)]


def test_headings_inside_fences_are_not_headings() -> None:
    """It ignores `#` lines inside fenced blocks (YAML comments are not headings)."""
    doc = scan("# A\n```yaml\n# not a heading\n```\n## B\n", Issues())
    assert [h.text for h in doc.headings] == ["A", "B"]


def test_blocks_know_their_enclosing_headings() -> None:
    """It records the stack of headings around each block."""
    doc = scan("# A\n## B\n### C\n```sql\nx\n```\n## D\n```sql\ny\n```\n", Issues())
    assert [h.text for h in doc.blocks[0].headings] == ["A", "B", "C"]
    assert [h.text for h in doc.blocks[1].headings] == ["A", "D"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("🎯 结果表配置", "结果表配置"),
        ("  3. Result Table  ", "result table"),
        ("🔗 维表1：dim_shop", "维表1:dim_shop"),
    ],
)
def test_heading_normalisation(text: str, expected: str) -> None:
    """It ignores leading emoji, numbering and case, and folds the full-width colon."""
    assert normalize_heading(text).replace(" ", "") == expected.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "number", "table"),
    [
        ("维表1: dim_shop", 1, "dim_shop"),
        ("🔗 维表 2：dim_city (城市)", 2, "dim_city"),
        ("Dimension 3: `vvp`.`default`.`dim_user`", 3, "dim_user"),
        ("dimension table 4: Dim_Product", 4, "Dim_Product"),
    ],
)
def test_dimension_headings(text: str, number: int, table: str) -> None:
    """It reads the number and the table of Chinese and English dimension headings."""
    found = dimension_heading(Heading(3, text, normalize_heading(text), 1))
    assert found is not None
    assert (found.number, found.table) == (number, table)


def test_result_headings_and_table_name() -> None:
    """It recognises the result section and the optional table-name heading."""
    for text in ("🎯 结果表配置", "Result table", "result tables"):
        assert is_result_heading(Heading(2, text, normalize_heading(text), 1))
    table = Heading(3, "表名：dwd_x", normalize_heading("表名：dwd_x"), 2)
    assert result_table_name(table) == "dwd_x"
    assert result_table_name(Heading(3, "Table: dwd_y", normalize_heading("Table: dwd_y"), 2)) == "dwd_y"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: &x 1\nb: *x\n", "alias"),
        ("a: !!python/object/apply:os.system [ls]\n", "tag"),
        ("<<: {a: 1}\n", "alias"),
        ("a: 1\na: 2\n", "duplicate"),
        ("a: [1, 2\n", "YAML"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", "deeper"),
    ],
)
def test_unsafe_or_broken_yaml_is_refused(text: str, fragment: str) -> None:
    """It refuses anchors, aliases, merge keys, tags, duplicates, deep nesting and bad syntax."""
    with pytest.raises(yaml_safe.YamlProblem) as caught:
        yaml_safe.load(text, 10)
    assert fragment in caught.value.message
    assert caught.value.line >= 10


def test_yaml_lines_are_document_lines() -> None:
    """It maps every key to its document line."""
    doc = yaml_safe.load("job:\n  name: x\n  list:\n    - a\n    - b\n", 20)
    assert doc.line_of("job", "name") == 21
    assert doc.line_of("job", "list", 1) == 24
    assert doc.line_of("job", "missing") == 20


def test_yaml_values_are_plain_data() -> None:
    """It produces only plain JSON-like data; dates become ISO text."""
    doc = yaml_safe.load("d: 2025-01-06\nn: 1.5\nb: yes\nz: ~\n", 1)
    assert doc.value == {"d": "2025-01-06", "n": 1.5, "b": True, "z": None}
