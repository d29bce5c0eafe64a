"""Webhook notifications: a JSON POST (Slack/Mattermost-compatible `text`) when a run needs review or fails."""

from __future__ import annotations

from services.mesh.logging import get_logger
from services.router.adapters.http_json import HttpError, request_json
from services.router.domain.runs import RunView

log = get_logger(__name__)


def payload(kind: str, view: RunView, domain: str) -> dict[str, object]:
    headline = {
        "review": f"Run {view.run_id} ({domain}) needs review",
        "failed": f"Run {view.run_id} ({domain}) ended {view.state.value}",
    }.get(kind, f"Run {view.run_id} ({domain}): {kind}")
    score = f"score {view.score:g}" if view.score is not None else "not scored"
    return {
        "text": f"{headline}: {view.reason} ({score}, attempt {view.attempt})",
        "kind": kind,
        "run_id": view.run_id,
        "domain": domain,
        "state": view.state.value,
        "reason": view.reason,
        "score": view.score,
        "attempt": view.attempt,
        "review_command": f"streamwright review {view.run_id} --approve|--reject"
        if kind == "review"
        else None,
    }


class WebhookNotifier:
    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self._timeout = timeout

    async def notify(self, kind: str, view: RunView, domain: str) -> None:
        try:
            await request_json("POST", self._url, payload(kind, view, domain), timeout=self._timeout)
        except HttpError as error:
            log.warning("webhook failed", kind=kind, run_id=view.run_id, error=str(error))


class NoNotifier:
    async def notify(self, kind: str, view: RunView, domain: str) -> None:
        return None
