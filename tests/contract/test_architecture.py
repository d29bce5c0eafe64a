"""Structure rules that keep the codebase navigable, enforced by parsing imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "generator", "validator", "knowledge", "router")
IO_LIBRARIES = {
    "faststream",
    "confluent_kafka",
    "grpc",
    "pymongo",
    "sqlite3",
    "qdrant_client",
    "litellm",
    "pyflink",
    "typer",
    "rich",
    "requests",
    "urllib",
    "http",
    "socket",
    "subprocess",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_code_imports_no_io_library() -> None:
    """It keeps every service's domain/ package free of I/O libraries."""
    offenders = []
    for service in SERVICES:
        for path in sorted((ROOT / "services" / service / "domain").rglob("*.py")):
            bad = {name for name in _imports(path) if name.split(".")[0] in IO_LIBRARIES}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_services_do_not_import_each_other() -> None:
    """It lets services share only services.mesh (plus schemas/ and proto/), never each other."""
    offenders = []
    for service in SERVICES:
        others = {f"services.{other}" for other in SERVICES if other != service}
        for path in sorted((ROOT / "services" / service).rglob("*.py")):
            bad = {n for n in _imports(path) if any(n == o or n.startswith(o + ".") for o in others)}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_mesh_never_imports_a_service() -> None:
    """It keeps the shared runtime below the services: mesh imports no service package."""
    offenders = []
    for path in sorted((ROOT / "services" / "mesh").rglob("*.py")):
        if "rpc" in path.parts:
            continue
        bad = {n for n in _imports(path) if any(n.startswith(f"services.{s}") for s in SERVICES)}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []
