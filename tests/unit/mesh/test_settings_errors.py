"""Invalid environment variables are reported by name, without tracebacks and without secrets."""

from __future__ import annotations

import json

import pytest

from services.mesh.settings import MeshSettings, SettingsError, load_settings, settings_or_exit
from services.router.settings import RouterSettings


def test_a_bad_value_names_the_variable_and_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWRIGHT_SESSION_TIMEOUT_MS", "abc")
    with pytest.raises(SettingsError) as raised:
        load_settings(MeshSettings)
    assert str(raised.value).startswith("invalid settings: STREAMWRIGHT_SESSION_TIMEOUT_MS='abc': ")


def test_an_aliased_service_setting_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_LLM_REPAIR", "maybe")
    monkeypatch.setenv("STREAMWRIGHT_FETCH_WAIT_MAX_MS", "-1")
    with pytest.raises(SettingsError) as raised:
        load_settings(RouterSettings)
    text = str(raised.value)
    assert "STREAMWRIGHT_ROUTER_LLM_REPAIR='maybe': Input should be a valid boolean" in text
    assert "STREAMWRIGHT_FETCH_WAIT_MAX_MS='-1': Input should be greater than or equal to 0" in text


def test_secrets_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWRIGHT_GRPC_TOKENS", json.dumps({"s3cr3t-token": {"subject": ""}}))
    with pytest.raises(SettingsError) as raised:
        load_settings(MeshSettings)
    assert "STREAMWRIGHT_GRPC_TOKENS (subject)" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def test_unparsable_json_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWRIGHT_PEERS", "{not json")
    with pytest.raises(SettingsError, match=r"STREAMWRIGHT_PEERS \(peers\)"):
        load_settings(MeshSettings)


def test_a_process_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMWRIGHT_LINGER_MS", "soon")
    with pytest.raises(SystemExit) as exited:
        settings_or_exit(MeshSettings, "ingest")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("ingest: error: invalid settings: STREAMWRIGHT_LINGER_MS='soon'")
        and err.count("\n") == 1
    )
