"""The generator's pure core: spec -> IR -> Flink SQL, manifests, docs and test data."""

from services.generator.domain.compile import CompiledJob, compile_job
from services.generator.domain.lower import CompileError
from services.generator.domain.profiles import Profile
from services.generator.domain.target import (
    DEFAULT_TARGET,
    TARGETS,
    Target,
    UnknownTargetError,
    resolve_target,
)

__all__ = [
    "DEFAULT_TARGET",
    "TARGETS",
    "CompileError",
    "CompiledJob",
    "Profile",
    "Target",
    "UnknownTargetError",
    "compile_job",
    "resolve_target",
]
