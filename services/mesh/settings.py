"""Settings shared by every service: environment variables with the prefix STREAMWRIGHT_.

Nothing here needs a config file for the embedded default. Each service adds its own
settings class on top of `MeshSettings` (same prefix), so one environment configures
the whole mesh.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, NoReturn, TypeVar

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from services import exit_codes
from services.mesh.extras import hint, installed


class TokenIdentity(BaseModel):
    """Who a bearer token belongs to."""

    subject: str = Field(min_length=1, max_length=256)
    roles: list[str] = Field(default_factory=list)


MONGODB_EXTRA_HINT = hint("the MongoDB store", "pymongo", "mongodb")


def default_home() -> Path:
    return Path.home() / ".streamwright"


class MeshSettings(BaseSettings):
    """Runtime settings every service shares."""

    model_config = SettingsConfigDict(env_prefix="STREAMWRIGHT_", extra="ignore", frozen=True)

    # Local state of every service lives under one directory, so two installations never mix.
    home: Path = Field(default_factory=default_home)

    # Kafka
    bootstrap_servers: str = "localhost:9092"
    topic_partitions: int = Field(default=3, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1, le=16)
    # Prepended to every topic name (event topics and their .dlq), so several meshes (or tests)
    # can share one Kafka cluster without seeing each other's events.
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=100)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    # The fetch wait of a consumer without wake-ups (below). A real broker answers a fetch as soon
    # as data arrives, so the wait costs no latency there. Tansu answers at once only when data is
    # already there; a record that arrives during the wait comes back at the next check point
    # (half the wait, then three quarters, ...). Measured on 2 cores with the mesh's 24 consumers
    # (docs/operations.md, "Hop latency on the embedded broker"): 100 ms costs up to 50 ms per hop
    # (p50 ~17 ms) and an idle mesh ~0.3 cores; 5 ms gave ~3 ms hops but burnt 1.0-1.5 cores idle.
    fetch_wait_max_ms: int = Field(default=100, ge=0, le=10_000)
    # Wake-ups (services/mesh/wakeup.py, parking.py; Linux): an idle consumer parks (no fetches
    # at all) and producers of the same installation wake it after each publish, so it fetches
    # with a short wait only while records flow. `streamwright up` turns it on for the embedded
    # broker; off (the default) everything is as without it, e.g. on a real Kafka cluster.
    fetch_wakeup: Literal["on", "off"] = "off"
    fetch_wakeup_wait_ms: int = Field(default=5, ge=1, le=10_000)  # the fetch wait of an awake consumer
    # A parked consumer still fetches this often: records whose wake-up was lost (another
    # producer, a full socket buffer) wait at most this long; group rebalances too.
    fetch_wakeup_probe_ms: int = Field(default=1000, ge=10, le=60_000)
    session_timeout_ms: int = Field(default=6000, ge=1000, le=300_000)
    linger_ms: int = Field(default=1, ge=0, le=10_000)

    # Consumer runtime
    handler_retries: int = Field(default=3, ge=0, le=100)
    retry_backoff_ms: int = Field(default=200, ge=0, le=600_000)
    max_in_flight: int = Field(default=8, ge=1, le=10_000)

    # Schema registry: Confluent-compatible URL, else the embedded registry built from schemas/
    schema_registry_url: str | None = None

    # Stores: SQLite under `home` by default, MongoDB when a URL is given
    mongodb_url: SecretStr | None = None
    mongodb_database: str = "streamwright"

    # gRPC. Auth is on unless explicitly "off" (services/mesh/auth.py): every call but health and
    # reflection needs a token; the installation's token is created in grpc_token_file
    # (default <home>/grpc-token, mode 0600) on first start.
    grpc_host: str = "127.0.0.1"
    grpc_auth: Literal["on", "off"] = "on"
    grpc_token_file: Path | None = None
    grpc_token: SecretStr | None = None
    # Per-person tokens: STREAMWRIGHT_GRPC_TOKENS='{"<token>": {"subject": "alice", "roles": ["approver"]}}'.
    # The authenticated subject is, e.g., the reviewer of RouterService.Review.
    grpc_tokens: dict[str, TokenIdentity] = Field(default_factory=dict, repr=False)
    grpc_tls_cert: Path | None = None
    grpc_tls_key: Path | None = None

    # Observability
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Traces are configured by the standard OTEL_* variables only (services/mesh/tracing.py);
    # STREAMWRIGHT_OTLP_ENDPOINT is no longer read.

    # Ports of one service process. None = the service's default (see services.mesh.service.DEFAULT_PORTS);
    # 0 = any free port. The supervisor sets them per child process.
    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Where the other services' gRPC servers are, by service name (JSON in the environment, e.g.
    # STREAMWRIGHT_PEERS='{"ingest": "ingest:50051"}'); a service not listed is at grpc_host on
    # its default port. The supervisor fills it when it picks free ports.
    peers: dict[str, str] = Field(default_factory=dict)

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("grpc_token_file")
    @classmethod
    def _expand_token_file(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("mongodb_url")
    @classmethod
    def _mongodb_needs_pymongo(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked with the settings, not at the first store call: a service without the extra
        # exits 2 naming the variable and the extra instead of failing on its first event.
        if value is not None and not installed("pymongo"):
            raise ValueError(MONGODB_EXTRA_HINT)
        return value

    def service_dir(self, service: str) -> Path:
        """The directory a service keeps its local state in (created on demand)."""
        path = self.home / service
        path.mkdir(parents=True, exist_ok=True)
        return path


S = TypeVar("S", bound=BaseSettings)
# Values of these settings are never echoed in an error message.
_SECRET_WORDS = ("token", "password", "secret", "key", "url")
INVALID_SETTINGS_EXIT = exit_codes.USAGE


class SettingsError(ValueError):
    """The environment holds a setting that cannot be used; the message names the variable."""


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` of `cls` (its first alias, else prefix + NAME)."""
    if field.upper().startswith("STREAMWRIGHT_"):
        return field  # pydantic reports an aliased field by the variable it read
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def describe_invalid(cls: type[BaseSettings], error: ValidationError | SourceError) -> str:
    """One line per invalid setting: `STREAMWRIGHT_X=value: what is wrong` (secrets not echoed)."""
    if isinstance(error, SourceError):
        # pydantic-settings could not even parse a value (e.g. JSON of a dict setting).
        text = str(error)
        for name in cls.model_fields:
            text = text.replace(f'field "{name}"', f"{env_name(cls, name)} ({name})")
        return text
    lines = []
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        name = env_name(cls, loc[0]) if loc else "settings"
        secret = any(word in name.lower() for word in _SECRET_WORDS)
        if secret:  # e.g. STREAMWRIGHT_GRPC_TOKENS is keyed by the tokens themselves
            where = name + (f" ({loc[-1]})" if len(loc) > 2 else "")
        else:
            where = name + "".join(f"[{part}]" for part in loc[1:])
        value = "" if secret or "input" not in problem else f"={problem['input']!r}"
        lines.append(f"{where}{value}: {problem['msg']}")
    return "; ".join(lines)


def load_settings(cls: type[S]) -> S:
    """`cls()` from the environment; SettingsError naming each invalid variable instead of a traceback."""
    try:
        return cls()
    except (ValidationError, SourceError) as error:
        raise SettingsError(f"invalid settings: {describe_invalid(cls, error)}") from None


def settings_or_exit(cls: type[S], program: str) -> S:
    """`load_settings(cls)`, or the reason on stderr and exit code 2 (for process entrypoints)."""
    try:
        return load_settings(cls)
    except SettingsError as error:
        exit_invalid(program, error)


def exit_invalid(program: str, error: SettingsError) -> NoReturn:
    print(f"{program}: error: {error}", file=sys.stderr)
    raise SystemExit(INVALID_SETTINGS_EXIT)
