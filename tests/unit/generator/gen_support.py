"""Helpers for the generator tests: example specs via the ingest checker, a fixed profile."""

from __future__ import annotations

from pathlib import Path

from services.flinksql.spec import RequestSpec
from services.generator.domain import Profile
from services.ingest.domain.checks import check_document

ROOT = Path(__file__).resolve().parents[3]
REQUESTS = ROOT / "tests" / "fixtures" / "requests"
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
EXAMPLES = ("orders", "payments", "user-activity")

PROFILE = Profile.model_validate(
    {
        "name": "golden",
        "namespace": "streamwright-golden",
        "image": "registry.example.internal/streamwright/flink-sql-runner:2.3.0",
        "kafka": {
            "bootstrap_servers": "kafka-0.kafka:9093",
            "topic": "business-events",
            "group_id_prefix": "sw-golden",
            "properties": {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"},
            "sasl_jaas_config_secret": "sw-golden-kafka-jaas",
        },
        "storage": {
            "checkpoint_dir": "s3://sw-golden/checkpoints",
            "savepoint_dir": "s3://sw-golden/savepoints",
        },
    }
)


def request_text(name: str) -> str:
    path = REQUESTS / f"{name}-request-v3.md"
    if not path.exists():
        path = HERE / "fixtures" / f"{name}-request-v3.md"
    return path.read_text(encoding="utf-8")


def load_spec(name: str) -> RequestSpec:
    result = check_document(request_text(name))
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    return result.spec
