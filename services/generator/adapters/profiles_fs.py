"""Loading environment profiles from `config/profiles/<name>.yaml`."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.generator.domain.profiles import PROFILE_NAME, Profile

DEFAULT_PROFILE_DIR = Path(__file__).resolve().parents[3] / "config" / "profiles"


class ProfileError(ValueError):
    """A profile that is missing or invalid."""


def load_profile(name: str, profile_dir: Path | None = None) -> Profile:
    if not PROFILE_NAME.match(name):
        raise ProfileError(f"profile name {name!r} must match {PROFILE_NAME.pattern}")
    path = (profile_dir or DEFAULT_PROFILE_DIR) / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"no profile {name!r} at {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ProfileError(f"profile {path} is not a mapping")
    try:
        return Profile.model_validate({"name": name, **data})
    except ValueError as exc:
        raise ProfileError(f"profile {path}: {exc}") from exc
