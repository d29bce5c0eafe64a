"""`python -m services.runner`: check a job's SQL file and submit it to Flink.

    python -m services.runner --sql JOB.sql --digest sha256:... [--secret NAME ...]
        [--remote HOST:PORT] [--jars JAR ...] [--savepoint PATH [--allow-non-restored-state]]
        [--pipeline-name NAME] [--check-only]

Without `--remote` it runs inside Flink (application mode through PythonDriver: `-pym
services.runner`); with it, against a session cluster's REST endpoint. `--secret` declares the
job's secrets (repeat it, or give a comma list); each value comes from `SW_SECRET_<NAME>`.
`--check-only` runs every check and resolves nothing.

stdout gets exactly one JSON line: `{"job_id", "digest"}` on success, else `{"error", "kind"}`
(`kind`: usage, refused, engine). Exit 0 submitted (or checked), 1 engine error, 2 usage,
3 refused (digest, statement kind, hint, secret). The digest and what runs are logged to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from services.flinksql.job_policy import (
    EXIT_SUBMITTED,
    RunnerError,
    RunPlan,
    UsageError,
    check_script,
    error_text,
    parse_remote,
    resolve,
)
from services.runner.job import Submission

Submit = Callable[[RunPlan, Submission], str]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> _Parser:
    parser = _Parser(
        prog="python -m services.runner",
        description="Check a Streamwright job's SQL (digest, statement kinds, secrets) and submit it to Flink.",
    )
    parser.add_argument("--sql", required=True, help="the job's SQL file")
    parser.add_argument("--digest", required=True, help="the validated statement digest (sha256:...)")
    parser.add_argument(
        "--secret", action="append", default=[], help="a declared secret (repeat, or a comma list)"
    )
    parser.add_argument("--remote", help="HOST:PORT of a session cluster's REST endpoint")
    parser.add_argument("--jars", action="append", default=[], help="jar paths or URLs for pipeline.jars")
    parser.add_argument("--savepoint", help="start from this savepoint")
    parser.add_argument(
        "--allow-non-restored-state",
        action="store_true",
        help="with --savepoint: skip savepoint state that maps to no operator (it is lost)",
    )
    parser.add_argument("--pipeline-name", help="the Flink job's name")
    parser.add_argument("--check-only", action="store_true", help="check, resolve nothing, submit nothing")
    return parser


def read_sql(path: str) -> str:
    """The file's text, byte for byte (no newline translation: a `\\r` inside a literal is a token
    character the digest counts)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read --sql {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--sql {path} is not UTF-8 text") from None


def jar_urls(jars: Iterable[str]) -> str:
    """`pipeline.jars`: local paths as file:// URLs (checked to exist), URLs as given, ';'-joined."""
    urls: list[str] = []
    for value in jars:
        for jar in (part.strip() for part in value.split(";")):
            if not jar:
                continue
            if "://" in jar:
                urls.append(jar)
                continue
            path = Path(jar).expanduser().resolve()
            if not path.is_file():
                raise UsageError(f"connector jar not found: {path}")
            urls.append(path.as_uri())
    return ";".join(urls)


def _say(stream: TextIO, payload: Mapping[str, object]) -> None:
    stream.write(json.dumps(payload, ensure_ascii=False) + "\n")
    stream.flush()


def _log(stream: TextIO, message: str) -> None:
    stream.write(f"streamwright-runner: {message}\n")
    stream.flush()


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    submit: Submit | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    digest: str | None = None
    try:
        args = build_parser().parse_args(argv)
        sql = read_sql(args.sql)
        job = check_script(sql, expected_digest=args.digest, declared_secrets=args.secret)
        digest = job.digest
        _log(err, f"statement digest {job.digest} is the validated one; {job.summary()}")
        if args.check_only:
            _say(out, {"checked": True, "digest": job.digest, "statements": len(job.statements)})
            return EXIT_SUBMITTED
        plan = resolve(job, os.environ if environ is None else environ)
        submission = Submission(
            remote=parse_remote(args.remote) if args.remote else None,
            jars=jar_urls(args.jars),
            savepoint=args.savepoint or None,
            allow_non_restored_state=bool(args.savepoint and args.allow_non_restored_state),
            pipeline_name=args.pipeline_name or None,
        )
        if submit is None:
            from services.runner.job import submit as submit_to_flink

            submit = submit_to_flink
        job_id = submit(plan, submission)
    except RunnerError as error:
        _log(err, f"not submitted ({error.kind}): {error}")
        _say(out, {"error": str(error), "kind": error.kind, "digest": digest})
        return error.exit_code
    except Exception as error:  # the engine's error (Py4JJavaError and friends), one line
        message = error_text(error)
        _log(err, f"not submitted (engine): {message}")
        _say(out, {"error": message, "kind": RunnerError.kind, "digest": digest})
        return RunnerError.exit_code
    _log(err, f"submitted Flink job {job_id} (statement digest {digest})")
    _say(out, {"job_id": job_id, "digest": digest})
    return EXIT_SUBMITTED


if __name__ == "__main__":
    sys.exit(main())
