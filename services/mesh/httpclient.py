"""What every httpx client of the mesh shares: one TLS context.

httpx builds a new SSL context (certifi's bundle) for every client it creates, ~35 ms each; the
mesh makes short-lived clients (a schema lookup, a Flink REST poll), so they share this one. It
is the system's default context, the trust store urllib used before.
"""

from __future__ import annotations

import ssl
from functools import cache


@cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
