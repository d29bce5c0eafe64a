"""`streamwright test --sql` runs nothing of a script that holds a statement the validator never runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app

ORDERS = Path(__file__).resolve().parents[3] / "examples" / "orders" / "orders-request-v3.md"


@pytest.mark.parametrize(
    ("statement", "kind"),
    [("ADD JAR '/tmp/x.jar'", "ADD_JAR"), ("SET 'pipeline.jars' = 'file:///tmp/x.jar'", "SET pipeline.jars")],
)
def test_a_refused_statement_exits_1_before_the_engine_starts(
    tmp_path: Path, statement: str, kind: str
) -> None:
    """It names the statement and exits 1; the unit-tier guard proves no JVM or process started."""
    script = tmp_path / "job.sql"
    script.write_text(
        "CREATE TEMPORARY TABLE t (a INT) WITH ('connector' = 'datagen');\n"
        f"{statement};\nINSERT INTO t SELECT 1;\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["test", str(ORDERS), "--sql", str(script)])
    assert result.exit_code == 1
    assert f"statement 2 ({kind}, line 2) is refused" in result.output
