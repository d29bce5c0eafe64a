"""The committed gRPC stubs are exactly what scripts/gen_protos.py makes from proto/, and they import."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RPC = ROOT / "services" / "mesh" / "rpc"
SCRIPT = ROOT / "scripts" / "gen_protos.py"
PACKAGE = "services.mesh.rpc"

# The gRPC surface of the architecture's services table (plus CancelRun and Impact from the brief,
# StopDomain and RollbackDomain from issue 8).
EXPECTED_METHODS = {
    "IngestService": {"SubmitRequest", "GetRequest", "ListRequests", "CheckDocument"},
    "GeneratorService": {"GetArtifacts", "Compile"},
    "ValidatorService": {"GetReport", "ValidateSql"},
    "KnowledgeService": {
        "GetDomain",
        "GetTable",
        "CheckConflicts",
        "SearchSchemas",
        "GetDiagram",
        "ListVersions",
        "Impact",
    },
    "RouterService": {
        "GetRun",
        "ListRuns",
        "WatchRun",
        "Review",
        "CancelRun",
        "StopDomain",
        "RollbackDomain",
    },
}


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def stub_modules() -> list[str]:
    return sorted(
        PACKAGE + "." + ".".join(path.relative_to(RPC).with_suffix("").parts)
        for path in RPC.rglob("*_pb2*.py")
        if "__pycache__" not in path.parts
    )


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("rpc")
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True)
    return tree(out)


def test_committed_stubs_match_the_protos(regenerated: dict[str, bytes]) -> None:
    """It regenerates the stubs and finds them byte-identical to services/mesh/rpc (run gen_protos.py)."""
    committed = tree(RPC)
    hint = "stale stubs: run `python scripts/gen_protos.py` and commit services/mesh/rpc"
    assert sorted(committed) == sorted(regenerated), hint
    changed = [name for name, data in regenerated.items() if committed[name] != data]
    assert not changed, f"{hint}; differing: {changed}"


def test_stubs_use_no_top_level_imports_of_our_protos() -> None:
    """It finds no `from streamwright...` import left, which would only work with rpc/ on sys.path."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in RPC.rglob("*.py*")
        if "__pycache__" not in path.parts
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(from|import) streamwright\b", line)
    ]
    assert not offenders


@pytest.mark.parametrize("module", stub_modules())
def test_every_stub_imports_from_the_package_path(module: str) -> None:
    """It imports every generated module as part of services.mesh.rpc."""
    assert importlib.import_module(module).__name__ == module


def test_services_offer_the_documented_methods() -> None:
    """It finds one service per mesh service in package streamwright.v1, with the documented methods."""
    found: dict[str, set[str]] = {}
    for name in ("ingest", "generator", "validator", "knowledge", "router"):
        descriptor = importlib.import_module(f"{PACKAGE}.streamwright.v1.{name}_pb2").DESCRIPTOR
        assert descriptor.package == "streamwright.v1"
        for service in descriptor.services_by_name.values():
            found[service.name] = {method.name for method in service.methods}
    assert found == EXPECTED_METHODS


def test_watch_run_streams_and_issue_tracks_presence() -> None:
    """It makes WatchRun server-streaming and keeps presence on Issue's optional location fields."""
    from services.mesh.rpc.streamwright.v1 import common_pb2, router_pb2

    watch = router_pb2.DESCRIPTOR.services_by_name["RouterService"].methods_by_name["WatchRun"]
    assert watch.server_streaming
    assert not watch.client_streaming
    issue = common_pb2.Issue(code="x")
    assert not issue.HasField("line")
    issue.line = 0
    assert issue.HasField("line")
