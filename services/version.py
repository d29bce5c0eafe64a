"""The package's version: read from the installed distribution's metadata (pyproject.toml's
`[project] version`), never written down a second time."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "streamwright"


def package_version() -> str:
    """The installed `streamwright` distribution's version; "unknown" when it is not installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
