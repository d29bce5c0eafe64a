"""The README's and docs' tables name what the code has: every RPC, every CLI command."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from services.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _rpcs() -> dict[str, set[str]]:
    """Service name (e.g. `router`) -> its RPC method names, read from the protos."""
    out: dict[str, set[str]] = {}
    for proto in (ROOT / "proto" / "streamwright" / "v1").glob("*.proto"):
        methods = set(re.findall(r"^\s*rpc\s+(\w+)\s*\(", proto.read_text(encoding="utf-8"), re.M))
        if methods:
            out[proto.stem] = methods
    return out


def test_the_readme_grpc_table_lists_every_rpc() -> None:
    """It fails when a service gains an RPC the README's service table does not name."""
    readme = ROOT / "README.md"
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| (\w+) \|[^|]*\| ([^|]*) \|$", readme.read_text(encoding="utf-8"), re.M)
    }
    for service, methods in _rpcs().items():
        listed = set(re.findall(r"\w+", rows.get(service, "")))
        assert methods <= listed, f"README gRPC row for {service} misses {sorted(methods - listed)}"


def test_the_grpc_doc_lists_every_rpc() -> None:
    """It fails when docs/grpc.md's contract table misses an RPC."""
    text = (ROOT / "docs" / "grpc.md").read_text(encoding="utf-8")
    for service, methods in _rpcs().items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{service}.proto`")), "")
        listed = set(re.findall(r"`(\w+)`", row))
        assert methods <= listed, f"docs/grpc.md row for {service} misses {sorted(methods - listed)}"


def test_the_readme_command_table_lists_every_command() -> None:
    """It fails when the CLI has a command the README's command table does not name."""
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| command | what it does |") : readme.index("## How it fits together")]
    named = set(re.findall(r"`(\w+)[ `]", table)) | set(re.findall(r"^\| `(\w+)", table, re.M))
    assert commands <= named, f"README command table misses {sorted(commands - named)}"
