"""The oracle's rows equal Flink's: the generator's compiled job, run exact on PyFlink, and the
spec interpreted without Flink (services.validator.domain.oracle) give the same result table.

For every example: its request cases, the generator's edge case and a probe case of awkward
payloads (numeric strings, fractions into integers, numbers into strings, bad JSON, half-up
rounding of negatives), all in one batched exact job; each case's Flink rows are compared with
the oracle's by the validator's own multiset comparison. One warm JVM and one PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.flinksql.artifacts import ArtifactLayout
from services.flinksql.spec import RequestSpec
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import compile_job
from services.ingest.domain.checks import check_document
from services.validator.adapters.connector_jars import default_jar_dir, ensure_connector_jars
from services.validator.adapters.engine_runner import edge_case_mapping
from services.validator.adapters.flink_engine import FlinkEngine
from services.validator.adapters.postgres import PrivatePostgres
from services.validator.domain.oracle import JobFailure, Unsupported, interpret
from services.validator.domain.values import compare_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "requests"

PROBES: dict[str, list[dict[str, Any]]] = {
    "orders": [
        {
            "orderId": "P1",
            "userId": 7,
            "shopId": "S1",
            "orderAmount": "-0.005",
            "discountAmount": "0.005",
            "itemCount": "2.5",
            "orderStatus": " 2 ",
            "channel": 1.5,
            "createdAt": "1736208000000",
        },
        {
            "orderId": "P2",
            "userId": True,
            "shopId": "S1",
            "orderAmount": 1e-3,
            "itemCount": 3000000000,
            "orderStatus": 1.0,
            "channel": {"a": 1},
            "createdAt": 0,
        },
        {"orderId": "P3", "shopId": "S2", "orderAmount": 12345678901.999, "orderStatus": 3, "createdAt": -1},
    ],
    "payments": [
        {
            "paymentId": "P1",
            "merchantId": "M1",
            "userId": "U1",
            "payChannel": "9",
            "payAmount": "4999.995",
            "payStatus": "SUCCESS",
            "paidAt": 1736179199.9,
        },
        {
            "paymentId": "P2",
            "merchantId": "M1",
            "payChannel": 2.9,
            "payAmount": 5000,
            "payStatus": 1,
            "paidAt": "1736179200",
        },
    ],
    "user-activity": [
        {
            "userId": "U1",
            "sessionId": 5,
            "actionType": "VIEW",
            "stayMillis": "7.9",
            "actionTime": 1736179199999,
            "platform": "ios",
        },
        {
            "userId": "U1",
            "sessionId": "5",
            "actionType": "VIEW",
            "stayMillis": -3,
            "actionTime": 1736179199000,
            "platform": "ios",
        },
        {"userId": "U2", "actionType": "view", "actionTime": "1736179200000", "platform": "h5"},
    ],
}
PROBE_DIMENSIONS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "orders": {
        "dim_shop": [
            {"shop_id": "S1", "shop_name": "一号店", "city_id": "C1", "shop_status": 1},
            {"shop_id": "S2", "shop_name": "二号店", "city_id": None, "shop_status": 1},
        ],
        "dim_city": [{"city_id": "C1", "city_name": "杭州", "province_name": None, "city_tier": 2}],
    },
    "payments": {
        "dim_merchant": [
            {"merchant_id": "M1", "merchant_name": "m", "merchant_type": "ONLINE", "is_blacklisted": False}
        ],
        "dim_user_account": [{"user_id": "U1", "user_level": None, "is_test_account": None}],
    },
    "user-activity": {"dim_user_profile": [{"user_id": "U1", "member_level": 4, "is_internal": False}]},
}
DOMAINS = {
    "orders": ("orders", "order_created"),
    "payments": ("payments", "payment_result"),
    "user-activity": ("user-activity", "user_action"),
}


def _example(name: str) -> tuple[RequestSpec, str, list[dict[str, Any]]]:
    text = (FIXTURES / f"{name}-request-v3.md").read_text(encoding="utf-8")
    cases_text = (FIXTURES / f"{name}.cases.yaml").read_text(encoding="utf-8")
    spec = check_document(text, cases_text=cases_text).spec
    assert spec is not None
    job = compile_job(spec, profile=load_profile("dev"), revision=1, generator_version="test")
    test_data = yaml.safe_load(job.files[ArtifactLayout(spec.job.domain).test_data])["test_data"]
    domain, kind = DOMAINS[name]
    probe = {
        "name": "oracle_probe",
        "events": [{"domain": domain, "type": kind, "payload": p} for p in PROBES[name]]
        + [
            {"domain": domain, "type": kind, "payload": '{"not json'},
            {"domain": domain, "type": kind, "payload": None},
        ],
        "dimensions": PROBE_DIMENSIONS[name],
        "expected": [],
    }
    cases = [c.model_dump(mode="json") for c in spec.cases]
    return spec, job.sql, [*cases, edge_case_mapping(test_data), probe]


@pytest.fixture(scope="module")
def engine() -> FlinkEngine:
    jars = default_jar_dir()
    ensure_connector_jars(jars)
    return FlinkEngine(jar_dir=jars).start()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        yield pg


@pytest.mark.parametrize("name", ["orders", "payments", "user-activity"])
def test_oracle_rows_equal_flink_rows(name: str, engine: FlinkEngine, postgres: PrivatePostgres) -> None:
    """Each case's Flink rows (exact run of the compiled job) equal the oracle's rows."""
    spec, sql, cases = _example(name)
    results = engine.run_cases(sql, cases, postgres=postgres, fidelity="exact")
    columns = [(c.name, c.type) for c in spec.result.columns]
    zone = ZoneInfo(spec.job.time_zone)
    unjudged, disagreements = [], []
    for case, result in zip(cases, results, strict=True):
        assert result.fidelity == "exact", (case["name"], result.fallback_reason)
        try:
            rows = interpret(spec, case["events"], case.get("dimensions") or {})
        except Unsupported as err:
            unjudged.append(f"{case['name']}: {err.construct}")
            continue
        except JobFailure as err:
            assert result.error is not None, (
                f"{case['name']}: the oracle says the job fails ({err}), Flink ran it"
            )
            continue
        assert result.error is None, f"{case['name']}: Flink failed: {result.error}"
        diff = compare_rows(rows, list(result.rows), columns, zone=zone)
        if not diff.equal:
            disagreements.append(f"{case['name']}: oracle only {diff.missing}; Flink only {diff.unexpected}")
    print(f"\n{name}: {len(cases)} cases, unjudged {unjudged}")
    assert disagreements == []
    assert len(unjudged) <= 1, unjudged
