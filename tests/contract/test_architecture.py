"""Structure rules that keep the codebase navigable, enforced by parsing imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "generator", "validator", "knowledge", "router")
IO_LIBRARIES = {
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


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved), anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_of(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from pkg import module` imports pkg.module
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "rpc" not in p.relative_to(ROOT).parts)


def _project(names: set[str]) -> set[str]:
    return {n for n in names if n == "services" or n.startswith("services.")}


def test_domain_code_imports_no_io_library() -> None:
    """It keeps every service's domain/ package free of I/O libraries."""
    offenders = []
    for service in SERVICES:
        for path in _python_files(ROOT / "services" / service / "domain"):
            bad = {name for name in _imports(path) if name.split(".")[0] in IO_LIBRARIES}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []


def test_services_do_not_import_each_other() -> None:
    """It lets services share only the runtime (services.mesh, its generated stubs) and the
    kernel (services.flinksql), never each other."""
    offenders = []
    for service in SERVICES:
        others = {f"services.{other}" for other in SERVICES if other != service}
        for path in _python_files(ROOT / "services" / service):
            bad = {n for n in _imports(path) if any(n == o or n.startswith(o + ".") for o in others)}
            bad |= {n for n in _imports(path) if n.startswith("services.workbench")}
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


def test_the_kernel_imports_nothing_of_the_project() -> None:
    """It keeps the Flink SQL kernel pure: the standard library, pydantic and itself only."""
    offenders = []
    allowed_third_party = {"pydantic"}
    for path in _python_files(ROOT / "services" / "flinksql"):
        for name in _imports(path):
            top = name.split(".")[0]
            ours = top == "services"
            if (ours and not name.startswith("services.flinksql")) or (
                not ours and top not in sys.stdlib_module_names and top not in allowed_third_party
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def _domain_offenders(package: str, domain_dir: Path) -> list[str]:
    """Imports of a domain package that leave it: anything but itself, the kernel and the
    event contracts (services.mesh.events: pydantic data, no I/O)."""
    pure = (f"{package}.domain", "services.flinksql", "services.mesh.events")
    offenders = []
    for path in sorted(domain_dir.rglob("*.py")):
        for name in sorted(_imports(path)):
            ours = name.startswith(("services.", "tests.")) or name in ("services", "tests")
            if not ours or name.startswith(pure) or package.startswith(name):
                continue
            offenders.append(f"{path.relative_to(ROOT)}: {name}")
    return offenders


def test_domain_code_imports_no_adapter() -> None:
    """It keeps every domain/ package (relative imports included) away from adapters, handlers,
    entrypoints and the runtime: domain code uses only itself, the kernel and the events."""
    offenders = []
    for service in SERVICES:
        offenders += _domain_offenders(f"services.{service}", ROOT / "services" / service / "domain")
    assert offenders == []


def test_the_domain_rule_fails_on_a_relative_adapter_import() -> None:
    """It flags `from ..adapters import store` in a domain module (the old check skipped
    relative imports): proof the rule above can fail."""
    fixture = ROOT / "tests" / "contract" / "fixtures" / "relative_import_domain"
    offenders = _domain_offenders("tests.contract.fixtures.relative_import_domain", fixture / "domain")
    assert offenders == [
        "tests/contract/fixtures/relative_import_domain/domain/bad.py: "
        "tests.contract.fixtures.relative_import_domain.adapters",
        "tests/contract/fixtures/relative_import_domain/domain/bad.py: "
        "tests.contract.fixtures.relative_import_domain.adapters.store",
    ]


def test_the_workbench_wires_services_only_through_their_roots() -> None:
    """It lets the workbench (the CLI's composition root) use a service's bootstrap, settings,
    domain, entrypoints, adapters and version, never its handlers: use cases come from bootstrap."""
    offenders = []
    for path in _python_files(ROOT / "services" / "workbench"):
        for name in _project(_imports(path)):
            parts = name.split(".")
            if len(parts) >= 3 and parts[1] in SERVICES and parts[2] == "handlers":
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_no_module_is_over_900_lines() -> None:
    """It keeps every hand-written module under 900 lines (generated stubs excepted)."""
    long = [
        f"{p.relative_to(ROOT)}: {n}"
        for p in _python_files(ROOT / "services")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 900
    ]
    assert long == []


def test_the_runner_uses_only_the_kernel() -> None:
    """It keeps the SQL runner (what the image ships) on the kernel alone: no service, no runtime."""
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _python_files(ROOT / "services" / "runner")
        for name in sorted(_project(_imports(path)))
        if not name.startswith(("services.flinksql", "services.runner")) and name != "services"
    ]
    assert offenders == []
