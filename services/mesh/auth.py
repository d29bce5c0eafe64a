"""Who may call the mesh's gRPC services: the installation token, shared and per-person tokens.

Auth is on unless `STREAMWRIGHT_GRPC_AUTH=off`. On first start (`streamwright up`, any service,
or the first CLI call) a random token is written to `<home>/grpc-token` (or
`STREAMWRIGHT_GRPC_TOKEN_FILE`), mode 0600, created atomically so concurrent starters agree on
one. It stands for the installation's owner (subject `owner`, role `approver`); the CLI sends it
unless `STREAMWRIGHT_GRPC_TOKEN` is set. `STREAMWRIGHT_GRPC_TOKENS` adds people and systems with
their own subjects and roles; `STREAMWRIGHT_GRPC_TOKEN` is a shared token without roles.

A token file that others can read is refused rather than used: anyone who can read it can
approve runs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from services.mesh.identity import OWNER_IDENTITY, SHARED_TOKEN_IDENTITY, Identity
from services.mesh.settings import MeshSettings, SettingsError

TOKEN_FILE_NAME = "grpc-token"  # noqa: S105 - a file name, not a secret
_TOKEN_BYTES = 32


def auth_enabled(settings: MeshSettings) -> bool:
    return settings.grpc_auth == "on"


def token_file(settings: MeshSettings) -> Path:
    return settings.grpc_token_file or settings.home / TOKEN_FILE_NAME


def installation_token(settings: MeshSettings) -> str:
    """The installation's token, created (0600, atomically) when there is none yet.

    Raises SettingsError naming the file when it cannot be created or read, is empty, or can be
    read by others than its owner.
    """
    path = token_file(settings)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(_TOKEN_BYTES) + "\n")
            # link() fails when the name exists: a concurrent starter's token wins and both use it.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:
        raise SettingsError(f"cannot create the gRPC token file {path}: {error}") from None


def _read(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError(
                f"the gRPC token file {path} can be read by others (mode {stat.filemode(mode)}): "
                f"run chmod 600 {path}"
            )
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SettingsError(f"cannot read the gRPC token file {path}: {error}") from None
    if not token:
        raise SettingsError(f"the gRPC token file {path} is empty: delete it and start again")
    return token


def server_tokens(settings: MeshSettings) -> dict[str, Identity]:
    """Token -> identity for a server: empty (no auth) only with STREAMWRIGHT_GRPC_AUTH=off."""
    if not auth_enabled(settings):
        return {}
    tokens = {
        token: Identity(subject=who.subject, roles=frozenset(who.roles))
        for token, who in settings.grpc_tokens.items()
        if token
    }
    if settings.grpc_token is not None and settings.grpc_token.get_secret_value():
        tokens.setdefault(settings.grpc_token.get_secret_value(), SHARED_TOKEN_IDENTITY)
    tokens.setdefault(installation_token(settings), OWNER_IDENTITY)
    return tokens


def client_token(settings: MeshSettings) -> str | None:
    """The token a client sends: STREAMWRIGHT_GRPC_TOKEN when set, else the installation's."""
    if settings.grpc_token is not None and settings.grpc_token.get_secret_value():
        return settings.grpc_token.get_secret_value()
    if not auth_enabled(settings):
        return None
    return installation_token(settings)
