"""Router settings that name files are checked when the router starts, not when a job deploys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.router.bootstrap import make_deployer
from services.router.settings import RouterSettings


def test_flink_jars_split_like_path(tmp_path: Path) -> None:
    a, b = tmp_path / "kafka.jar", tmp_path / "jdbc.jar"
    a.write_bytes(b"PK")
    b.write_bytes(b"PK")
    settings = RouterSettings(home=tmp_path, flink_jars=f"{a}{os.pathsep} {b} {os.pathsep}")
    assert settings.flink_jar_paths() == [str(a), str(b)]
    assert RouterSettings(home=tmp_path).flink_jar_paths() == []


def test_a_missing_jar_fails_naming_the_setting_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMWRIGHT_ROUTER_FLINK_JARS", str(tmp_path / "absent.jar"))
    with pytest.raises(ValidationError) as raised:
        RouterSettings(home=tmp_path)
    text = str(raised.value)
    assert "STREAMWRIGHT_ROUTER_FLINK_JARS" in text
    assert "absent.jar" in text


def test_flink_session_deployer_gets_the_jars(tmp_path: Path) -> None:
    jar = tmp_path / "kafka.jar"
    jar.write_bytes(b"PK")
    settings = RouterSettings(
        home=tmp_path, deployer="flink-session", flink_rest_url="http://127.0.0.1:8081", flink_jars=str(jar)
    )
    deployer = make_deployer(settings)
    assert deployer.target == "flink-session"
    assert deployer._jars == [str(jar)]  # what is shipped as pipeline.jars
