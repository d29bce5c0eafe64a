"""The Flink connector jars of the validator: fetched once, pinned by SHA-256, verified on use.

The jars (Kafka, JDBC core + PostgreSQL dialect, kafka-clients, the PostgreSQL driver) are
Apache builds redistributed in one PyPI wheel. The wheel is downloaded with pip (never
installed: it also carries Flink 2.0 core jars that clash with PyFlink 2.3), its SHA-256 is
checked against `requirements/flink-connectors.sha256`, and only the five jars are extracted
and checked again. Everything is idempotent: a second call only re-hashes ~11 MB of jars.

Where the wheel comes from, first match wins: the `wheel_path` argument, the environment
variable STREAMWRIGHT_FLINK_JARS_WHEEL, a copy already in `<cache_dir>/wheels/`, pip download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

WHEEL_PROJECT = "shigawire-apache-flink-libraries"
WHEEL_VERSION = "2.0.0.post1"
WHEEL_FILE = "shigawire_apache_flink_libraries-2.0.0.post1-py3-none-any.whl"
WHEEL_ENV = "STREAMWRIGHT_FLINK_JARS_WHEEL"

# jar file name in the cache -> member of the wheel
JAR_MEMBERS: Mapping[str, str] = {
    "flink-connector-kafka-4.0.1-2.0.jar": "pyflink/lib/flink-connector-kafka.jar",
    "flink-connector-jdbc-core-4.0.0-2.0.jar": "pyflink/lib/flink-connector-jdbc-core.jar",
    "flink-connector-jdbc-postgres-4.0.0-2.0.jar": "pyflink/lib/flink-connector-jdbc-postgres.jar",
    "kafka-clients-3.9.1.jar": "pyflink/lib/kafka-clients.jar",
    "postgresql-42.7.3.jar": "pyflink/lib/postgresql.jar",
}

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SUMS_FILE = REPO_ROOT / "requirements" / "flink-connectors.sha256"
_CHUNK = 1 << 20


class ConnectorJarError(RuntimeError):
    """A connector jar (or the wheel carrying them) is missing or does not match its pin."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


def default_jar_dir() -> Path:
    """$STREAMWRIGHT_FLINK_JARS_DIR, else the user's cache (~/.cache/streamwright/flink-jars).

    A cache, not state: the jars are verified against pinned sums, so every installation
    (every STREAMWRIGHT_HOME) on the machine can share one download.
    """
    configured = os.environ.get("STREAMWRIGHT_FLINK_JARS_DIR")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "streamwright" / "flink-jars"


def read_pins(sums_file: Path = DEFAULT_SUMS_FILE) -> dict[str, str]:
    """File name -> lower-case sha256 from a `sha256sum`-style file (comments with #)."""
    try:
        lines = sums_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise ConnectorJarError(f"pinned sums file not found: {sums_file}", name=str(sums_file)) from exc
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest, _, name = line.partition(" ")
        pins[name.strip().lstrip("*")] = digest.lower()
    missing = [n for n in [WHEEL_FILE, *JAR_MEMBERS] if n not in pins]
    if missing:
        raise ConnectorJarError(f"{sums_file} has no pin for {', '.join(missing)}", name=missing[0])
    return pins


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ConnectorJarError(
            f"{what} {path.name} does not match its pinned SHA-256 (expected {expected}, got {actual}); "
            f"delete {path} and fetch again (scripts/fetch_flink_jars.py)",
            name=path.name,
        )


def verify_connector_jars(jar_dir: Path, *, sums_file: Path = DEFAULT_SUMS_FILE) -> list[Path]:
    """The pinned jars in `jar_dir`, each checked; raises naming the first missing/mismatching jar."""
    pins = read_pins(sums_file)
    paths: list[Path] = []
    for name in JAR_MEMBERS:
        path = jar_dir / name
        if not path.is_file():
            raise ConnectorJarError(
                f"connector jar {name} is missing from {jar_dir}; run scripts/fetch_flink_jars.py",
                name=name,
            )
        _check(path, pins[name], "connector jar")
        paths.append(path)
    return paths


def ensure_connector_jars(
    cache_dir: Path,
    *,
    wheel_path: Path | None = None,
    sums_file: Path = DEFAULT_SUMS_FILE,
) -> list[Path]:
    """Make the five pinned jars present and verified in `cache_dir`; return their paths."""
    pins = read_pins(sums_file)
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = [n for n in JAR_MEMBERS if not _matches(cache_dir / n, pins[n])]
    if wanted:
        wheel = _locate_wheel(cache_dir, wheel_path, pins[WHEEL_FILE])
        _extract(wheel, cache_dir, wanted, pins)
    return verify_connector_jars(cache_dir, sums_file=sums_file)


def _matches(path: Path, expected: str) -> bool:
    return path.is_file() and sha256_file(path) == expected


def _locate_wheel(cache_dir: Path, explicit: Path | None, expected: str) -> Path:
    env = os.environ.get(WHEEL_ENV)
    for candidate in (explicit, Path(env) if env else None):
        if candidate is not None:
            if not candidate.is_file():
                raise ConnectorJarError(f"connector wheel not found: {candidate}", name=WHEEL_FILE)
            _check(candidate, expected, "connector wheel")
            return candidate
    cached = cache_dir / "wheels" / WHEEL_FILE
    if _matches(cached, expected):
        return cached
    return _download_wheel(cached.parent, expected)


def _download_wheel(dest: Path, expected: str) -> Path:
    """pip download with --require-hashes: pip itself refuses a wheel that differs from the pin."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{WHEEL_PROJECT}=={WHEEL_VERSION} --hash=sha256:{expected}\n", encoding="utf-8")
        cmd = [
            *_pip_command(),
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(dest),
            "-r",
            str(req),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = dest / WHEEL_FILE
    if proc.returncode != 0 or not wheel.is_file():
        raise ConnectorJarError(
            f"could not download {WHEEL_PROJECT}=={WHEEL_VERSION} with pip "
            f"(exit {proc.returncode}): {proc.stderr.strip()[-800:]}; "
            f"or set {WHEEL_ENV} to a local copy of {WHEEL_FILE}",
            name=WHEEL_FILE,
        )
    _check(wheel, expected, "connector wheel")
    return wheel


def _pip_command() -> list[str]:
    """A pip to download with: this interpreter's, the bootstrap's .tools venv, or PATH's.

    The project venv is built by uv and has no pip; pip only downloads here, never installs.
    """
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    tools_pip = REPO_ROOT / ".tools" / "bin" / "pip"
    if tools_pip.is_file():
        return [str(tools_pip)]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            return [found]
    raise ConnectorJarError(
        f"no pip found to download {WHEEL_PROJECT}; set {WHEEL_ENV} to a local copy of {WHEEL_FILE}",
        name=WHEEL_FILE,
    )


def _extract(wheel: Path, cache_dir: Path, names: list[str], pins: Mapping[str, str]) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for name in names:
            member = JAR_MEMBERS[name]
            try:
                info = archive.getinfo(member)
            except KeyError as exc:
                raise ConnectorJarError(f"{wheel.name} has no {member} (for {name})", name=name) from exc
            tmp = cache_dir / f".{name}.part"
            with archive.open(info) as src, tmp.open("wb") as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
            try:
                _check(tmp, pins[name], "connector jar")
            except ConnectorJarError as exc:
                tmp.unlink(missing_ok=True)
                raise ConnectorJarError(str(exc).replace(tmp.name, name), name=name) from exc
            tmp.replace(cache_dir / name)


def jar_urls(paths: list[Path]) -> str:
    """`pipeline.jars` value: file:// URLs joined with ';'."""
    return ";".join(p.resolve().as_uri() for p in paths)
