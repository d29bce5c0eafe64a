"""`streamwright up --replicas SERVICE=N`: parsed strictly, refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.cli import app
from services.mesh.entrypoints.cli import _replicas


def test_replicas_parse_into_counts() -> None:
    assert _replicas(["validator=2", "generator=3"]) == {"validator": 2, "generator": 3}
    assert _replicas(None) == {}


@pytest.mark.parametrize("value", ["validator", "validator=0", "validator=two", "nosuch=2", "=2"])
def test_bad_replicas_name_the_value(value: str) -> None:
    with pytest.raises(typer.BadParameter) as raised:
        _replicas([value])
    assert repr(value) in str(raised.value)


def test_up_refuses_replicas_of_a_service_it_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path))
    result = CliRunner().invoke(
        app, ["up", "--service", "ingest", "--replicas", "validator=2", "--broker-port", "0"]
    )
    assert result.exit_code == 2, result.output
    assert "validator" in result.output
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").iterdir())
