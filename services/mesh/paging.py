"""Page tokens for List* RPCs (common.proto's paging convention): opaque, checked on the way in."""

from __future__ import annotations

import base64


class BadPageToken(ValueError):
    """A page_token this server did not issue."""


def offset_from_token(token: str) -> int:
    """The offset a page token stands for (0 for the first page)."""
    if not token:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPageToken("page_token is not one this server issued") from exc
    if value < 0:
        raise BadPageToken("page_token is not one this server issued")
    return value


def token_for_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()
