"""`streamwright kb ... --json`: one JSON document per command, the same facts as the text, on a
local store under a temporary home (the text output: test_kb_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from knowledge_fakes import document, spec_of
from typer.testing import CliRunner

from services.knowledge.entrypoints.cli import register

runner = CliRunner()
NARROWED = document("orders").replace("`order_amount` DECIMAL(12, 2)", "`order_amount` DECIMAL(10, 2)")


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`kb(*args)` -> (exit code, the parsed JSON on stdout, or None when stdout is empty)."""
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path / "home"))
    app = typer.Typer()
    register(app)

    def invoke(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, ["kb", *args, "--json"])
        return result.exit_code, json.loads(result.stdout) if result.stdout else None

    return invoke


def _spec_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.spec.json"
    path.write_text(spec_of(text).to_json(), encoding="utf-8")
    return path


def test_commit_history_diff_rollback_as_json(kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Versions, the current mark, graded changes and the rollback's two versions."""
    orders = _spec_file(tmp_path, "orders", document("orders"))
    narrowed = _spec_file(tmp_path, "narrowed", NARROWED)
    code, first = kb("commit", str(orders))
    assert code == 0 and (first["domain"], first["version"]) == ("orders", 1), first
    code, second = kb("commit", str(narrowed))
    assert code == 0 and second["version"] == 2
    assert [(c["kind"], c["table"], c["column"], c["severity"]) for c in second["changes"]] == [
        ("type_narrowed", "dwd_order_wide", "order_amount", "critical")
    ]
    assert first["changes"] == [] and "type_narrowed" in second["summary"]

    code, history = kb("history", "orders")
    assert code == 0 and history["current"] == 2
    assert [(v["version"], v["current"]) for v in history["versions"]] == [(2, True), (1, False)]
    assert history["versions"][0]["summary"] == second["summary"]
    assert history["versions"][0]["created_at"][:4].isdigit()  # ISO 8601

    code, diff = kb("diff", "orders", "1", "2")
    assert code == 0 and (diff["from"], diff["to"]) == (1, 2)
    [change] = [c for c in diff["changes"] if c["kind"] == "type_narrowed"]
    assert change["column"] == "order_amount" and "DECIMAL(10, 2)" in change["detail"]

    code, rolled = kb("rollback", "orders")
    assert (code, rolled) == (0, {"domain": "orders", "rolled_back": 2, "current": 1})
    code, again = kb("rollback", "orders", "--to", "2")
    assert (code, again) == (1, None)  # an error: on stderr, nothing on stdout


def test_show_search_impact_export_import_as_json(kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Tables with typed columns and the diagram; hits; jobs; and empty answers still printed (exit 1)."""
    for name in ("orders", "payments"):
        assert kb("commit", str(_spec_file(tmp_path, name, document(name))))[0] == 0

    code, shown = kb("show", "orders")
    assert code == 0 and (shown["domain"], shown["version"], shown["state"]) == ("orders", 1, "committed")
    shop = next(t for t in shown["tables"] if t["name"] == "dim_shop")
    assert shop["role"] == "dimension" and "options" not in shop
    status = next(c for c in shop["columns"] if c["name"] == "shop_status")
    assert set(status) == {"name", "type", "nullable", "primary_key", "comment"} and status["type"]
    assert any(r["from_table"] == "dim_shop" and r["to_table"] == "dim_city" for r in shown["relationships"])
    assert "erDiagram" in shown["mermaid"] and "dim_shop }o--|| dim_city" in shown["mermaid"]
    code, world = kb("show", "global")
    assert (
        code == 0
        and world["version"] is None
        and world["tables"] == []
        and "dim_merchant {" in world["mermaid"]
    )

    code, found = kb("search", "商户结算周期")
    assert code == 0 and found["query"] == "商户结算周期"
    assert (found["hits"][0]["domain"], found["hits"][0]["table"]) == ("payments", "dim_merchant")
    assert isinstance(found["hits"][0]["score"], float)
    code, none = kb("search", "zzzz-nothing-like-it", "--domain", "orders")
    assert (code, none["hits"], none["domain"]) == (1, [], "orders")

    code, used = kb("impact", "dim_shop.shop_status")
    assert code == 0 and (used["table"], used["column"]) == ("dim_shop", "shop_status")
    [job] = [j for j in used["jobs"] if j["domain"] == "orders"]
    assert job["access"] == "reads" and job["usage"] == "dimension" and "shop_status" in job["columns"]
    code, unused = kb("impact", "no_such_table")
    assert (code, unused["jobs"], unused["column"]) == (1, [], None)

    backup = tmp_path / "kb.json"
    code, exported = kb("export", str(backup))
    assert (code, exported) == (0, {"file": str(backup), "domains": ["orders", "payments"], "versions": 2})
    code, imported = kb("import", str(backup))
    assert code == 0 and imported == {"file": str(backup), "domains": ["orders", "payments"]}


def test_check_json_reports_the_verdict_even_when_incompatible(kb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert kb("commit", str(_spec_file(tmp_path, "orders", document("orders"))))[0] == 0
    code, checked = kb("check", str(_spec_file(tmp_path, "narrowed", NARROWED)))
    assert code == 1 and checked["compatible"] is False and checked["base_version"] == 1
    assert any(c["kind"] == "type_narrowed" and c["severity"] == "critical" for c in checked["conflicts"])
    code, missing = kb("show", "nowhere")
    assert (code, missing) == (1, None)
