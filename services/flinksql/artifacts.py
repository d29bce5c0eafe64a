"""The layout of a job's artifacts (seed 000): the one place their paths are written out.

The generator writes these files under a run's `artifact_ref`; the validator, the router and
the workbench read them from here. Every path is built only from a checked domain, so a hostile
domain never becomes a path. A reader that needs an artifact and does not find it gets
`MissingArtifact` naming the path: an absent artifact is an error, never silently skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOMAIN_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class BadDomain(ValueError):
    """A domain that may not become a directory name."""


class MissingArtifact(LookupError):
    """An artifact a reader needs is not where the layout puts it."""

    def __init__(self, path: str, where: str) -> None:
        super().__init__(f"missing artifact {path} under {where}")
        self.path = path
        self.where = where


def checked_domain(domain: str) -> str:
    """The domain, re-checked against DOMAIN_PATTERN (it becomes directory and file names)."""
    if not isinstance(domain, str) or not DOMAIN_PATTERN.fullmatch(domain):
        raise BadDomain(f"domain {domain!r} does not match {DOMAIN_PATTERN.pattern}")
    return domain


@dataclass(frozen=True, slots=True)
class ArtifactLayout:
    """The relative paths of one domain's job artifacts."""

    domain: str

    def __post_init__(self) -> None:
        checked_domain(self.domain)

    @property
    def root(self) -> str:
        return f"job/{self.domain}"

    @property
    def sql_file_name(self) -> str:
        return f"{self.domain}_wide_table_v3.sql"

    @property
    def sql(self) -> str:
        return f"{self.root}/sql/{self.sql_file_name}"

    @property
    def deployment_dir(self) -> str:
        return f"{self.root}/deployment"

    @property
    def deployment(self) -> str:
        return f"{self.deployment_dir}/deploy-{self.domain}-v3.yaml"

    @property
    def test_data(self) -> str:
        return f"{self.root}/validation/test-data-{self.domain}-v3.yaml"

    @property
    def job_config(self) -> str:
        return f"{self.root}/config/{self.domain}-job.yml"

    @property
    def readme(self) -> str:
        return f"{self.root}/docs/README-AI-Generated-v3.md"

    @property
    def lineage(self) -> str:
        """The job's static OpenLineage lineage (a JobEvent, services/flinksql/openlineage.py)."""
        return f"{self.root}/lineage/openlineage.json"

    @property
    def validation_report(self) -> str:
        return f"{self.root}/validation/validation-report-{self.domain}-v3.md"

    @property
    def validation_report_json(self) -> str:
        return f"{self.root}/validation/validation-report-{self.domain}-v3.json"

    @property
    def workflow_report(self) -> str:
        return f"{self.root}/workflow/end-to-end-execution-report-v3.md"

    def generated(self) -> list[str]:
        """Every file the generator writes for a job, in a fixed order."""
        return [self.sql, self.deployment, self.test_data, self.job_config, self.readme, self.lineage]
