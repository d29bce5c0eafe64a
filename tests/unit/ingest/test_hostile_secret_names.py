"""The redaction warning names the secret the generated job actually reads, for every profile
(h60: it named streamwright-jdbc-..., the dev job read sw-dev-jdbc-...)."""

from __future__ import annotations

import pytest

from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain.compile import compile_job
from services.ingest.domain.checks import check_document
from tests.unit.ingest.hostile_base import replaced

WITH_PASSWORD = replaced(
    "    'table-name' = 'dwd_order'", "    'table-name' = 'dwd_order',\n    'password' = 'S3cr3t!pass'"
)
WITH_URL_PASSWORD = replaced("jdbc:mysql://db:3306/dw", "jdbc:mysql://app:S3cr3t@db:3306/dw")


@pytest.mark.parametrize("text", [WITH_PASSWORD, WITH_URL_PASSWORD], ids=["option", "url"])
@pytest.mark.parametrize("profile_name", ["dev", "test", "prod"])
def test_the_warning_names_the_secret_of_the_generated_job(text: str, profile_name: str) -> None:
    result = check_document(text)
    assert result.spec is not None, [e.render() for e in result.errors]
    [warning] = [w for w in result.warnings if w.code == "secrets.redacted"]
    profile = load_profile(profile_name)
    job = compile_job(result.spec, profile=profile, revision=1, generator_version="test")
    [secret] = [s for s in job.ir.secrets if "dwd-order" in s]
    prefix = profile.jdbc.password_secret_prefix
    assert secret.startswith(prefix + "-")
    named = "<prefix>-" + secret.removeprefix(prefix + "-")
    assert f"the secret {named}," in warning.message
    assert "jdbc.password_secret_prefix" in warning.message
    assert "S3cr3t" not in warning.model_dump_json()
