"""A service process for the supervisor tests: `python -m tests.integration.demo_service`."""

from __future__ import annotations

from services.mesh.events import Event, RequestSubmitted
from services.mesh.service import ServiceContext, ServiceParts, run_service


def build(ctx: ServiceContext) -> ServiceParts:
    async def ignore(event: Event) -> None:
        return None

    ctx.subscribe(RequestSubmitted, ignore)
    return ServiceParts()


if __name__ == "__main__":
    run_service("demo", build)
