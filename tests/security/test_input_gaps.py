"""A cases file is capped like the document, at every entry point, and checked within the budget.

The 1 MiB cap of a request document (`input.too_large`, tests/security/test_already_holds.py)
did not apply to its cases: `check --cases`, `test`/`validate --cases`, gRPC `SubmitRequest` /
`CheckDocument` and a RequestSubmitted from Kafka all checked any size, at about a second per
MB (10 MB: past any budget, the sidecar parsed twice). Now each refuses a cases text over
`MAX_CASES_BYTES` with `cases.too_large` (gRPC `SubmitRequest` and the `submit`/`run` client
before sending), and a hostile cases text under the cap stops at the check's budget.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.ingest.adapters.request_store import StoreRequestRepository
from services.ingest.domain.check_cases import MAX_CASES_BYTES
from services.ingest.domain.checks import check_document
from services.ingest.entrypoints.grpc_api import SERVICE_NAME, IngestApi
from services.ingest.entrypoints.submit import SubmitError, submit_document
from services.ingest.handlers import IngestHandlers, check_within_budget
from services.mesh.events import RequestRejected, Source
from services.mesh.grpc_client import open_channel
from services.mesh.grpc_server import create_server, stop_server
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc
from services.mesh.settings import MeshSettings
from services.validator.domain.model import PlanFacts
from tests.fakes import MemoryStore, RecordingPublisher

pytestmark = pytest.mark.timeout(120)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "requests"
ORDERS = (FIXTURES / "orders-request-v3.md").read_text(encoding="utf-8")
CASES = (FIXTURES / "orders.cases.yaml").read_text(encoding="utf-8")
BIG = CASES * (10_000_000 // len(CASES.encode("utf-8")) + 1)  # the real cases, repeated: > 10 MB
OVER = CASES * (MAX_CASES_BYTES // len(CASES.encode("utf-8")) + 1)  # just over the cap (gRPC's 4 MB)
MESSAGE = f"cases file is too large (more than {MAX_CASES_BYTES} bytes)"
BOUND_S = 5.0  # a refusal takes ~20 ms; checking 10 MB of cases took ~10-90 s
cli = CliRunner()


def _refused(errors: list[Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["message"]) if isinstance(e, dict) else (e.code, e.message) for e in errors]


class _NoFlink:
    """Stands in for the validator's EngineRunner: the cases are refused before any engine work."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def warm(self) -> dict[str, float]:
        return {}

    def engine(self) -> None:
        return None

    def plan(self, sql: str) -> PlanFacts:
        return PlanFacts(ran=False)

    def close(self) -> None:
        pass


def test_a_10_mb_cases_file_is_refused_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.validator import bootstrap

    monkeypatch.setattr(bootstrap, "EngineRunner", _NoFlink)
    assert MAX_CASES_BYTES == 1_048_576 and len(BIG.encode("utf-8")) > 10_000_000
    document = tmp_path / "orders-request-v3.md"
    document.write_text(ORDERS, encoding="utf-8")
    big = tmp_path / "big.cases.yaml"
    big.write_text(BIG, encoding="utf-8")

    started = time.perf_counter()
    checked = cli.invoke(app, ["check", str(document), "--cases", str(big), "--json"])
    assert time.perf_counter() - started < BOUND_S
    assert checked.exit_code == 1
    result = json.loads(checked.stdout)
    assert _refused(result["errors"]) == [("cases.too_large", MESSAGE)]  # refused before parsing
    assert result["errors"][0]["source"] == "cases"
    text_mode = cli.invoke(app, ["check", str(document), "--cases", str(big)])
    assert text_mode.exit_code == 1 and f"[cases file] -: [cases] {MESSAGE}" in text_mode.output
    for command in (["test"], ["validate", "--no-cases", "--knowledge", "127.0.0.1:9"]):
        started = time.perf_counter()
        result_cli = cli.invoke(app, [*command, str(document), "--cases", str(big)])
        assert time.perf_counter() - started < BOUND_S, command
        assert result_cli.exit_code == 1, (command, result_cli.output)
        assert f"[cases] {MESSAGE}" in result_cli.output, command
    # The text path (gRPC CheckDocument, the Kafka intake) and a document that is too large too.
    assert _refused(check_document(ORDERS, cases_text=BIG).errors) == [("cases.too_large", MESSAGE)]
    both = check_document(ORDERS + "x" * MAX_CASES_BYTES, cases_text=BIG)
    assert [e.code for e in both.errors] == ["input.too_large", "cases.too_large"]
    # Just under the cap is checked as before: the cap is on bytes, not on what they say.
    under = CASES + "#" * (MAX_CASES_BYTES - len(CASES.encode("utf-8")))
    assert check_document(ORDERS, cases_text=under).valid


async def test_grpc_and_the_kafka_intake_refuse_a_cases_text_over_the_cap(tmp_path: Path) -> None:
    requests = StoreRequestRepository(MemoryStore())  # type: ignore[arg-type]
    publisher = RecordingPublisher()
    handlers = IngestHandlers(requests=requests, publisher=publisher, check_budget_s=5.0)  # type: ignore[arg-type]
    mesh = MeshSettings(home=tmp_path)
    server, port = create_server(
        [(ingest_pb2_grpc.add_IngestServiceServicer_to_server, IngestApi(handlers, requests))],
        settings=mesh,
        port=0,
        service_names=[SERVICE_NAME],
    )
    await server.start()
    try:
        async with open_channel(f"127.0.0.1:{port}", mesh) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SubmitRequest(
                    ingest_pb2.SubmitRequestRequest(document=ORDERS, cases_yaml=OVER), timeout=10
                )
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert refused.value.details() == "cases_yaml is too large (limit 1 MiB)"
            assert publisher.events == []  # nothing recorded, nothing published
            checked = await stub.CheckDocument(
                ingest_pb2.CheckDocumentRequest(document=ORDERS, cases_yaml=OVER), timeout=10
            )
            assert not checked.valid
            assert [(e.code, e.message) for e in checked.errors] == [("cases.too_large", MESSAGE)]
    finally:
        await stop_server(server, grace=0)

    # The `submit` and `run` client refuses before sending (nothing listens at that target).
    with pytest.raises(SubmitError, match=r"the cases file is too large \(more than 1048576 bytes\)"):
        await submit_document(
            ORDERS, settings=mesh, file_name=None, cases_yaml=BIG, idempotency_key=None, rpc_timeout=1
        )

    # A RequestSubmitted from Kafka (any producer; here ingest's own submit, which does not cap):
    # rejected with the issue, recorded as REJECTED, not crashed on or checked for seconds.
    submission = await handlers.submit(document=ORDERS, source=Source.CLI, cases_yaml=BIG)
    [submitted] = publisher.events
    started = time.perf_counter()
    await handlers.on_request_submitted(submitted)  # type: ignore[arg-type]
    assert time.perf_counter() - started < BOUND_S
    [rejected] = publisher.of(RequestRejected)
    assert [(e.code, e.message) for e in rejected.errors] == [("cases.too_large", MESSAGE)]
    record = await requests.get(submission.request_id)
    assert record is not None and record.state == "REJECTED"


# Cases texts under the cap that cost the most per byte: 2-12 s each before (a loaded 2-core
# machine), none of it cooperative; now they stop at the budget. Each is at most MAX_CASES_BYTES.
_UNDER = MAX_CASES_BYTES - 64
SLOW_CASES = {
    "empty items": "cases:\n" + "-\n" * (_UNDER // 2),  # a node and a cases.bad_shape error per 2 bytes
    "flow mappings": "[" + "{}," * (_UNDER // 3) + "]",
    "many cases": "cases:\n" + "".join(f"- name: c{i}\n" for i in range(_UNDER // 16)),
    "unknown keys": "cases:\n- name: a\n" + "".join(f"  k{i}: 1\n" for i in range(_UNDER // 12)),
    "wide row": "cases:\n- name: a\n  expected:\n  - {"
    + ",".join(f"c{i}: 1" for i in range(_UNDER // 10))
    + "}\n",
    "long event list": "cases:\n- name: a\n  events:\n" + "  - {domain: x, type: y}\n" * (_UNDER // 26),
}


@pytest.mark.parametrize("shape", SLOW_CASES)
def test_a_slow_cases_text_under_the_cap_stops_at_the_check_budget(shape: str) -> None:
    cases = SLOW_CASES[shape]
    assert len(cases.encode("utf-8")) <= MAX_CASES_BYTES
    budget_s = 0.5
    started = time.perf_counter()
    result = check_within_budget(ORDERS, cases_text=cases, budget_s=budget_s)
    elapsed = time.perf_counter() - started
    assert [e.code for e in result.errors] == ["input.check_budget_exceeded"]
    # Parsing, converting and checking the cases stop at a checkpoint (per YAML event, per node
    # composed, per value converted, per case, row and key, per line): the budget plus slack for
    # the steps without one (redacting the text: one regex pass, ~0.1 s per MiB).
    assert elapsed < budget_s + 1.0, elapsed


def test_a_flood_of_issues_is_listed_up_to_a_cap_and_counted() -> None:
    """Half a million errors in a document under the caps made replies and events of tens of MB:
    the check lists the first 200 errors and says how many more there are."""
    from services.ingest.domain.errors import MAX_LISTED_ISSUES, TOO_MANY_ISSUES

    cases = "cases:\n" + "  - {}\n" * 5_000  # every empty case is an error of its own
    result = check_document(ORDERS, cases_text=cases)
    assert len(result.errors) == MAX_LISTED_ISSUES + 1
    summary = result.errors[-1]
    assert summary.code == TOO_MANY_ISSUES and summary.severity == "error"
    more = int(summary.message.split()[0])
    assert more >= 5_000 - MAX_LISTED_ISSUES
    assert f"only the first {MAX_LISTED_ISSUES}" in summary.message
    assert len(json.dumps([i.model_dump() for i in result.errors])) < 200_000
