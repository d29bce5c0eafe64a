"""Every test run gets its own STREAMWRIGHT_HOME, so no test reads or writes the user's
~/.streamwright (the gRPC installation token is created there on first use)."""

from __future__ import annotations

import os
import tempfile

os.environ["STREAMWRIGHT_HOME"] = tempfile.mkdtemp(prefix="streamwright-test-home-")
