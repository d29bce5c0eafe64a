"""The exit codes of every `streamwright` command, and what `--json` promises.

One scheme for all commands (shown by `streamwright --help` and in the README):

- 0 `OK`: done; for a command that checks something, the check passed.
- 1 `FAILED`: the command ran and its answer is no: a document rejected or not compilable,
  a check, a case or the strict gate failed, a knowledge-base conflict, nothing found, a run
  that ended other than RUNNING, a refused or failed operation.
- 2 `USAGE`: the command was not run as asked: bad arguments or options, an input file that
  is missing or unreadable, invalid `STREAMWRIGHT_*` settings or rules configuration.
- 3 `UNAVAILABLE`: something the command needs is not there: a mesh service (router,
  ingest) or the Kafka broker does not answer, or `test` has no Flink engine to run on.

Plain module, no imports: every CLI module imports it at import time.
"""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
UNAVAILABLE = 3

# The top-level help's epilog. Typer's rich help joins single newlines; paragraphs stay apart.
HELP = (
    "Exit codes: 0 ok (a check passed); "
    "1 failed (rejected, a check or the gate failed, conflict, nothing found, run not RUNNING); "
    "2 usage (bad arguments, unreadable input file, invalid settings); "
    "3 unavailable (a mesh service or the broker does not answer, no Flink engine)."
    "\n\n"
    "--json (every command): stdout holds only JSON, one document (JSON lines for `runs`, "
    "`status --watch`, and the ready line of `broker` and `up`), no colour. "
    "A command that reaches a verdict prints it even when it is a failure (exit 1); "
    "errors are never JSON: they are `error: ...` lines on stderr, with the exit code above."
)
