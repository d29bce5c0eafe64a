"""`streamwright kb ...` through typer's CliRunner, on a local store under a temporary home. A markdown
request (checked by `streamwright check` in a child process): tests/integration/knowledge/test_kb_cli_markdown.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from knowledge_fakes import document, spec_of
from typer.testing import CliRunner

from services.knowledge.entrypoints.cli import register

runner = CliRunner()
NARROWED = document("orders").replace("`order_amount` DECIMAL(12, 2)", "`order_amount` DECIMAL(10, 2)")


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))
    app = typer.Typer()
    register(app)

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["kb", *args])
        return result.exit_code, result.output

    return invoke


def _spec_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.spec.json"
    path.write_text(spec_of(text).to_json(), encoding="utf-8")
    return path


def test_commit_check_history_diff_rollback(kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It seeds a domain, flags a breaking request (exit 1), and walks versions back."""
    orders = _spec_file(tmp_path, "orders", document("orders"))
    narrowed = _spec_file(tmp_path, "narrowed", NARROWED)
    code, out = kb("commit", str(orders))
    assert code == 0 and "committed version 1" in out, out
    code, out = kb("check", str(narrowed))
    assert code == 1 and "type_narrowed" in out and "INCOMPATIBLE" in out, out
    code, out = kb("check", str(narrowed), "--mode", "forward", "--json")
    assert code == 0, out
    payload = json.loads(out)
    assert payload["mode"] == "FORWARD" and payload["compatible"] is True
    assert any(c["kind"] == "type_narrowed" and c["severity"] == "warning" for c in payload["conflicts"])
    code, out = kb("commit", str(narrowed))
    assert code == 0 and "committed version 2" in out
    code, out = kb("history", "orders")
    assert code == 0 and out.splitlines()[0].startswith("* v2") and "type_narrowed" in out
    code, out = kb("diff", "orders", "1", "2")
    assert code == 0 and "order_amount: DECIMAL(12, 2) -> DECIMAL(10, 2)" in out
    code, out = kb("rollback", "orders")
    assert code == 0 and "current is now v1" in out
    code, out = kb("rollback", "orders", "--to", "2")
    assert code == 1 and "rolled_back" in out


def test_show_search_impact_export_import(kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It shows diagrams, searches, answers impact, and restores an export into a fresh home."""
    for name in ("orders", "payments"):
        assert kb("commit", str(_spec_file(tmp_path, name, document(name))))[0] == 0
    code, out = kb("show", "orders")
    assert code == 0 and "erDiagram" in out and "dim_shop }o--|| dim_city" in out
    code, out = kb("show", "global")
    assert code == 0 and "dim_merchant {" in out and "dim_city {" in out
    code, out = kb("search", "商户结算周期")
    assert code == 0 and out.splitlines()[0].split()[1].startswith("payments/dim_merchant"), out
    code, out = kb("impact", "dim_shop.shop_status")
    assert code == 0 and "reads  orders/订单实时宽表 (dimension" in out
    backup = tmp_path / "kb.json"
    code, out = kb("export", str(backup))
    assert code == 0 and "2 domain(s), 2 version(s)" in out
    assert kb("rollback", "orders")[0] == 0
    code, out = kb("import", str(backup))
    assert code == 0 and "orders" in out
    assert kb("show", "orders")[0] == 0


def test_usage_errors_exit_two(kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """It exits 2 with a message for missing files, bad modes, bad targets and bad backups."""
    orders = _spec_file(tmp_path, "orders", document("orders"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "x"}', encoding="utf-8")
    for args, text in [
        (("check", str(tmp_path / "missing.md")), "cannot read"),
        (("check", str(orders), "--mode", "sideways"), "--mode must be one of"),
        (("impact", "a.b.c"), "TABLE or TABLE.COLUMN"),
        (("import", str(bad)), "not a knowledge-base snapshot"),
        (("check", str(bad)), "not a request spec"),
    ]:
        code, out = kb(*args)
        assert code == 2 and text in out, (args, out)
    code, out = kb("show", "nowhere")
    assert code == 1 and "no domain 'nowhere'" in out
