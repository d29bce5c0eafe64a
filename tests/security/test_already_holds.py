"""Issue 16 item 7: the security properties that held before tests/security/ existed, one test each.

Each test drives the real enforcement code (the checker, the generator, the `streamwright` CLI,
the rule parser, a real gRPC server) and asserts what an attacker would have to change:

1. Quoting: 45 injection variants (9 ways to break out of SQL quoting x 5 places where a request's
   text reaches SQL) are rejected by `check`, refused by the generator, or end up inside one quoted
   token of the compiled job, with the original statements and the value as written. Enforced by
   `services/flinksql/quoting.py` (`quote_identifier`, `quote_string`), the name and expression
   checks of `services/ingest/domain/`, `_comment` in `services/generator/domain/emit_sql.py`, and
   the SQL runner's statement policy that `compile_job` applies to every job it compiles (WITH
   options: `tests/unit/ingest/test_hostile_options_property.py`).
2. Output paths: `streamwright generate --out DIR` writes nothing outside DIR, whether the
   request's domain tries `../` or DIR holds a symlink leading out; nor does `streamwright
   validate --out DIR` write its report there (it followed the symlinks until it used the same
   writer). Enforced by the domain pattern (`services/ingest/domain/check_job.py`,
   `services/flinksql/artifacts.py`) and `safe_target` / `write_files` in
   `services/mesh/files.py`, the one writer of job and report files. `streamwright init` writes
   its template with O_CREAT | O_EXCL (`services/ingest/entrypoints/cli.py`): never through a
   symlink (it followed a dangling one).
3. YAML bombs: anchors and aliases (billion laughs, merge keys) and deep nesting in a document's
   YAML or a cases file are refused at once, before any tree is built. Enforced by
   `services/ingest/domain/yaml_safe.py` (`_screen_events`).
4. Size cap: a 10 MB document is refused with `input.too_large` before it is parsed. Enforced by
   `decode_input` / `check_input` in `services/ingest/domain/document.py`.
5. Binary input: NUL bytes, invalid UTF-8 and lone surrogates are refused with `input.binary`.
   Enforced by the same two functions.
6. The gate rule language: every escape attempt (dunders, attribute access, calls, imports,
   lambdas, comprehensions, subscripts, walrus...) is refused when the rule is read, and neither
   that nor evaluating a rule executes anything. Enforced by `services/router/domain/expr.py`
   (its own tokenizer and parser; no eval) through `rule_from` in `services/router/domain/rules.py`.
   Each refusal takes well under 1 ms (~50 us measured); that target belongs in a benchmark.
7. Bearer tokens are compared in constant time: SHA-256 digests, `hmac.compare_digest`, against
   every known token. Enforced by `BearerTokenInterceptor` in `services/mesh/grpc_server.py`.
8. gRPC and metrics listen on loopback by default. Enforced by the `grpc_host` / `metrics_host`
   defaults of `services/mesh/settings.py`, used by `create_server` (`grpc_server.py`) and
   `MetricsServer` (`services/mesh/metrics.py`) as `services/mesh/service.py` wires them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.flinksql.lexer import TokenKind, tokenize
from services.flinksql.quoting import quote_string
from services.flinksql.statements import split_statements
from services.generator.adapters.profiles_fs import load_profile
from services.generator.domain import CompileError, compile_job
from services.ingest.domain.checks import check_document
from services.mesh.grpc_server import create_server, current_identity, stop_server
from services.mesh.identity import Identity
from services.mesh.metrics import MeshMetrics, MetricsServer
from services.mesh.rpc.streamwright.v1 import ingest_pb2, ingest_pb2_grpc
from services.mesh.settings import MeshSettings
from services.router.domain.expr import compile_condition
from services.router.domain.facts import is_known_fact
from services.router.domain.gate import ConfigError
from services.router.domain.rules import rule_from
from services.validator.domain.model import PlanFacts
from tests.security.listeners import is_loopback, listeners

pytestmark = pytest.mark.timeout(120)

ORDERS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "requests" / "orders-request-v3.md"
ORDERS = ORDERS_FILE.read_text(encoding="utf-8")
BOUND_S = 5.0  # generous: a refused bomb takes ~10 ms, an expanded one never ends
cli = CliRunner()


def _check_json(*args: str) -> tuple[int, dict[str, Any]]:
    """`streamwright check ... --json`: the exit code and the parsed result."""
    result = cli.invoke(app, ["check", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


# --- 1. quoting -----------------------------------------------------------------------------------

MARK = "pwned"  # every payload names it; outside a quoted token it would be live SQL
PAYLOADS = {
    "quote": f"x'; DROP TABLE {MARK}; --",
    "quote_paren": f"x'); DROP TABLE {MARK}; --",
    "backquote": f"x`; DROP TABLE {MARK}; --",
    "double_quote": f'x"; DROP TABLE {MARK}; --',
    "backslash_quote": f"x\\'; DROP TABLE {MARK}; --",
    "line_feed": f"x\n; DROP TABLE {MARK}",
    "carriage_return": f"x\r; SET '{MARK}' = '1'",  # a statement the SQL runner would allow
    "comment_close": f"x */ DROP TABLE {MARK}; /*",
    "hint": f"x /*+ OPTIONS('{MARK}'='1') */",
}


def _swap(old: str, new: str) -> str:
    assert old in ORDERS, old
    return ORDERS.replace(old, new, 1)


# Where a request's text reaches SQL: a comment, a literal the author quoted, a literal pasted raw,
# a DDL string and a backquoted DDL name. YAML values are written as JSON (valid YAML) strings.
PLACES: dict[str, Callable[[str], str]] = {
    "job_name": lambda p: _swap('name: "订单实时宽表"', f"name: {json.dumps(p)}"),
    "mapping_literal": lambda p: _swap(
        "shop_name: \"COALESCE(dim1.shop_name, '未知店铺')\"",
        "shop_name: " + json.dumps(f"COALESCE(dim1.shop_name, {quote_string(p)})"),
    ),
    "filter_pasted_raw": lambda p: _swap(
        '- "payload.orderId IS NOT NULL"', "- " + json.dumps(f"payload.channel <> '{p}'")
    ),
    "column_comment": lambda p: _swap(
        "`channel` STRING COMMENT '下单渠道'", f"`channel` STRING COMMENT {quote_string(p)}"
    ),
    "column_name": lambda p: _swap(
        "`channel` STRING COMMENT '下单渠道'", "`" + p.replace("`", "``") + "` STRING COMMENT '下单渠道'"
    ),
}
VARIANTS = [(place, name, payload) for place in PLACES for name, payload in PAYLOADS.items()]


def test_injection_variants_are_rejected_or_stay_quoted() -> None:
    profile = load_profile("dev")

    def compiled_sql(text: str) -> str | None:
        """The compiled job, or None when `check` rejects the document or the generator refuses it."""
        result = check_document(text)
        if not result.valid or result.spec is None:
            return None
        try:
            return compile_job(result.spec, profile=profile, revision=1, generator_version="t").sql
        except CompileError:
            return None

    original = compiled_sql(ORDERS)
    assert original is not None
    kinds = [s.kind for s in split_statements(original)]
    assert len(VARIANTS) == 45
    accepted, broken = set(), []
    for place, name, payload in VARIANTS:
        sql = compiled_sql(PLACES[place](payload))
        if sql is None:
            continue
        accepted.add(f"{place}/{name}")
        tokens = tokenize(sql)  # strict: the job still lexes as Flink lexes it
        live = [
            t.text
            for t in tokens
            if MARK in t.text.lower() and t.kind not in (TokenKind.STRING, TokenKind.IDENT)
        ]
        statements = [s.kind for s in split_statements(sql)]
        # Outside the header comment the text is one literal holding what the author wrote (a raw
        # CR in a document reads as a line break, as in any text file).
        written = {payload, payload.replace("\r", "\n")}
        kept = place == "job_name" or any(t.kind is TokenKind.STRING and t.value in written for t in tokens)
        if live or statements != kinds or not kept:
            broken.append(
                f"{place}/{name}: live tokens {live}, {len(statements)} statements, value kept: {kept}"
            )
    assert broken == []
    # Both outcomes occur: a checker that let nothing through would prove nothing here.
    assert {"mapping_literal/quote", "job_name/carriage_return", "column_comment/line_feed"} <= accepted
    assert not {"filter_pasted_raw/quote", "column_name/backquote"} & accepted


# --- 2. output paths ------------------------------------------------------------------------------


def test_generate_writes_nothing_outside_its_out_directory(tmp_path: Path) -> None:
    document = tmp_path / "orders-request-v3.md"
    document.write_text(ORDERS, encoding="utf-8")
    traversal = tmp_path / "traversal-request-v3.md"
    traversal.write_text(ORDERS.replace('domain: "orders"', 'domain: "../../outside"', 1), encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    linked_dir, linked_file = tmp_path / "out-dir-link", tmp_path / "out-file-link"
    linked_dir.mkdir()
    (linked_dir / "job").symlink_to(outside, target_is_directory=True)
    sql_dir = linked_file / "job" / "orders" / "sql"
    sql_dir.mkdir(parents=True)
    (sql_dir / "orders_wide_table_v3.sql").symlink_to(outside / "planted.sql")  # dangling: would be created

    for source, out, refusal in (
        (traversal, tmp_path / "out-traversal", "does not match"),
        (document, linked_dir, "resolves outside"),
        (document, linked_file, "resolves outside"),
    ):
        result = cli.invoke(app, ["generate", str(source), "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert refusal in result.output
    assert list(outside.rglob("*")) == []
    assert not (tmp_path / "out-traversal").exists()
    # The same command writes the job when nothing is hostile (so the refusals above are the guard's).
    fine = cli.invoke(app, ["generate", str(document), "--out", str(tmp_path / "out")])
    assert fine.exit_code == 0, fine.output
    assert (tmp_path / "out" / "job" / "orders" / "sql" / "orders_wide_table_v3.sql").is_file()


class _NoFlink:
    """Stands in for the validator's EngineRunner: plans nothing, runs no case (no JVM)."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def warm(self) -> dict[str, float]:
        return {}

    def engine(self) -> None:
        return None

    def plan(self, sql: str) -> PlanFacts:
        return PlanFacts(ran=False, notes=("no engine in this test",))

    def close(self) -> None:
        pass


def test_validate_writes_no_report_outside_its_out_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.validator import bootstrap

    monkeypatch.setattr(bootstrap, "EngineRunner", _NoFlink)
    document = tmp_path / "orders-request-v3.md"
    document.write_text(ORDERS, encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    linked_dir, linked_file = tmp_path / "out-dir-link", tmp_path / "out-file-link"
    linked_dir.mkdir()
    (linked_dir / "job").symlink_to(outside, target_is_directory=True)
    report_dir = linked_file / "job" / "orders" / "validation"
    report_dir.mkdir(parents=True)
    (report_dir / "validation-report-orders-v3.md").symlink_to(outside / "planted.md")  # dangling

    def validate(out: Path) -> Any:
        return cli.invoke(
            app, ["validate", str(document), "--no-cases", "--knowledge", "127.0.0.1:9", "--out", str(out)]
        )

    for out in (linked_dir, linked_file):
        result = validate(out)
        assert result.exit_code == 1, result.output  # as `generate` refuses the same directories
        assert "job/orders/validation/validation-report-orders-v3.md" in result.output
        assert "resolves outside the output directory" in result.output
    assert list(outside.rglob("*")) == []
    # The same command writes both report files when nothing is hostile.
    fine = validate(tmp_path / "out")
    assert fine.exit_code == 0, fine.output
    written = tmp_path / "out" / "job" / "orders" / "validation" / "validation-report-orders-v3.md"
    assert written.is_file() and written.with_suffix(".json").is_file()


def test_init_writes_no_template_through_a_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    planted = out / "orders-request-v3.md"
    planted.symlink_to(outside / "planted.md")  # dangling: `exists()` is False, a write creates it
    refused = cli.invoke(app, ["init", "orders", "--out", str(out)])
    assert refused.exit_code == 2, refused.output  # as for a file that exists
    assert f"{planted} is a symbolic link; not writing through it" in refused.output
    # A link planted after that check (a race) is not followed either: the file is opened with
    # O_CREAT | O_EXCL, which refuses any existing name, a symlink included.
    monkeypatch.setattr(Path, "is_symlink", lambda self: False)
    raced = cli.invoke(app, ["init", "orders", "--out", str(out)])
    assert raced.exit_code == 2 and "already exists; not overwriting it" in raced.output
    monkeypatch.undo()
    assert list(outside.iterdir()) == [] and planted.is_symlink()
    planted.unlink()
    fine = cli.invoke(app, ["init", "orders", "--out", str(out)])
    assert fine.exit_code == 0 and planted.is_file() and not planted.is_symlink()


# --- 3. YAML bombs --------------------------------------------------------------------------------

LAUGHS = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)  # 9**9 (387 million) strings once expanded
BOMBS = {  # name -> (YAML text, the refusal)
    "billion_laughs": (LAUGHS + "x: *a9\n", "anchor/alias &a0 is not allowed"),
    "merge_key": ("x:\n  <<: {a: 1}\n", "merge key << (an alias) is not allowed"),
    "deep_nesting": ("x: " + "[\n" * 1000 + "]\n" * 1000, "nesting deeper than 32 levels"),
}


def test_yaml_bombs_are_refused_at_once(tmp_path: Path) -> None:
    clean = tmp_path / "orders-request-v3.md"
    clean.write_text(ORDERS, encoding="utf-8")
    for bomb, (text, refusal) in BOMBS.items():
        in_document = tmp_path / f"{bomb}-request-v3.md"
        in_document.write_text(
            ORDERS.replace("## 💬 备注说明", f"```yaml\n{text}```\n\n## 💬 备注说明", 1), encoding="utf-8"
        )
        cases = tmp_path / f"{bomb}.cases.yaml"
        cases.write_text(text, encoding="utf-8")
        for where, args in (
            ("document", [str(in_document)]),
            ("cases file", [str(clean), "--cases", str(cases)]),
        ):
            started = time.perf_counter()
            exit_code, result = _check_json(*args)
            assert time.perf_counter() - started < BOUND_S, (bomb, where)
            assert exit_code == 1 and result["valid"] is False, (bomb, where)
            codes = {e["code"] for e in result["errors"] if refusal in e["message"]}
            assert codes and all(c.startswith("yaml.") for c in codes), (bomb, where, result["errors"])


# --- 4. size cap ----------------------------------------------------------------------------------


def test_a_10_mb_document_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    padding = "\n".join(f"- note {i}: " + "x" * 90 for i in range(100_000))  # ~10 MB of short lines
    text = ORDERS + "\n" + padding + "\n"
    assert len(text.encode("utf-8")) > 10_000_000
    big = tmp_path / "big-request-v3.md"
    big.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    exit_code, result = _check_json(str(big))  # the bytes path: `check`, `generate`, `validate`
    assert time.perf_counter() - started < BOUND_S
    assert exit_code == 1
    [error] = result["errors"]  # refused before parsing: nothing else is reported
    assert error["code"] == "input.too_large"
    assert error["message"] == "document is too large (more than 1048576 bytes)"
    # The text path: gRPC CheckDocument and the Kafka intake (gRPC refuses a 4 MB message before).
    assert [e.code for e in check_document(text).errors] == ["input.too_large"]


# --- 5. binary input ------------------------------------------------------------------------------


def test_binary_input_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    raw = ORDERS.encode("utf-8")
    files = {
        "nul.md": raw.replace(b"job_info:", b"job_info:\x00", 1),  # valid UTF-8 holding a NUL
        "latin1.md": raw.replace("订单实时宽表".encode(), "caf\xe9".encode("latin-1"), 1),  # invalid UTF-8
        "png.md": b"\x89PNG\r\n\x1a\n\x00\x00",
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        exit_code, result = _check_json(str(path))
        assert exit_code == 1, name
        assert [(e["code"], e["message"]) for e in result["errors"]] == [
            ("input.binary", "document looks binary (NUL byte or invalid UTF-8)")
        ], name
    text_mode = cli.invoke(app, ["check", str(tmp_path / "png.md")])
    assert text_mode.exit_code == 1 and "document looks binary" in text_mode.output
    # Text that cannot have come from UTF-8 (gRPC CheckDocument, the Kafka intake).
    for text in (ORDERS.replace("job_info:", "job_info:\x00", 1), ORDERS + "\ud800"):
        assert [e.code for e in check_document(text).errors] == ["input.binary"]


# --- 6. the gate rule language --------------------------------------------------------------------

ESCAPES = [
    "__import__('os').system('id')",
    "score < 85 or __import__('os')",
    "__builtins__",
    "not __debug__",
    "score.__class__",
    "score.__class__.__mro__[1].__subclasses__()",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__",
    "len.__globals__",
    "len(codes).__class__",
    "any_prefix(codes, 'ER_').__self__",
    "codes.__len__()",
    "score.real",
    "eval('1 + 1')",
    "exec('import os')",
    "compile('1', '', 'eval')",
    "open('/etc/passwd')",
    "getattr(score, '__class__')",
    "globals()",
    "type(score)",
    "breakpoint()",
    "import os",
    "from os import system",
    "lambda: True",
    "(lambda: True)()",
    "[c for c in codes]",
    "{c for c in codes}",
    "{'a': 1}",
    "codes[0]",
    "(x := 1)",
    "true if score else false",
    "f'{score}'",
    "score; __import__('os')",
    "score ** 999999",
    "\\x5f_import__('os')",
    "`id`",
]


def test_gate_rules_refuse_every_escape_and_execute_nothing() -> None:
    # A per-thread audit hook sees imports, exec/compile, open, os.system and subprocesses
    # (an audit hook cannot be removed; outside `watching` it does nothing).
    seen: list[str] = []
    watching: set[int] = set()

    def hook(event: str, _args: tuple[object, ...]) -> None:
        if threading.get_ident() in watching:
            seen.append(event)

    sys.addaudithook(hook)
    watching.add(threading.get_ident())
    try:
        eval("1")  # the witness: the hook does see an eval
        assert "exec" in seen
        seen.clear()
        accepted = []
        for source in ESCAPES:
            try:
                rule_from({"name": "escape", "when": source, "route": "approve"}, 0)
            except ConfigError as error:
                assert "routing.rules[0] (escape)" in str(error)
            else:
                accepted.append(source)
        # A fact name is a key of the facts mapping, never an attribute: `dimension.__class__` is
        # the (absent) dimension named "__class__", so it reads null.
        odd = compile_condition("dimension.__class__ == null and score < 85", is_known_fact)
        assert odd.evaluate({"score": 80.0}) is True
        rule = rule_from(
            {"name": "ok", "when": "any_prefix(codes, 'ER_') && len(codes) > 1", "route": "review"}, 0
        )
        assert rule.condition.evaluate({"codes": ("ER_TYPE_CHANGE", "SQL_SELECT_STAR")}) is True
    finally:
        watching.clear()
    assert accepted == []
    assert seen == []


# --- 7. constant-time token comparison ------------------------------------------------------------

INGEST = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


class _WhoCalls(ingest_pb2_grpc.IngestServiceServicer):
    async def GetRequest(self, request: ingest_pb2.GetRequestRequest, context: Any) -> ingest_pb2.Request:
        identity = current_identity()
        return ingest_pb2.Request(
            request_id=request.request_id, submitted_by=identity.subject if identity else ""
        )


async def test_bearer_tokens_are_compared_in_constant_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = {  # different lengths: a length check would leak which one is near
        "alice-" + os.urandom(4).hex(): Identity("alice"),
        "Bob-" + os.urandom(16).hex(): Identity("bob"),
        "carol-" + os.urandom(32).hex(): Identity("carol"),
    }
    compared: list[tuple[int, int]] = []
    real_compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    server, port = create_server(
        [(ingest_pb2_grpc.add_IngestServiceServicer_to_server, _WhoCalls())],
        settings=MeshSettings(home=tmp_path, grpc_host="127.0.0.1"),
        port=0,
        service_names=[INGEST],
        tokens=tokens,
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)

            async def call(token: str) -> str | None:
                """The subject the server saw, or None when it refused the token."""
                compared.clear()
                try:
                    reply = await stub.GetRequest(
                        ingest_pb2.GetRequestRequest(request_id="r"),
                        metadata=[("authorization", f"Bearer {token}")],
                        timeout=5,
                    )
                except grpc.aio.AioRpcError as error:
                    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
                    assert error.details() == "invalid bearer token"
                    return None
                return str(reply.submitted_by)

            for token, identity in tokens.items():  # a match first, in the middle, last
                assert await call(token) == identity.subject
                assert compared == [(32, 32)] * len(tokens)  # every known token, as SHA-256 digests
            first, second = list(tokens)[:2]
            near_misses = [
                *(first[:-1], first[1:], first + "0", "0" + first, first.swapcase(), first.upper()),
                first + second,
                hashlib.sha256(first.encode()).hexdigest(),  # what the server keeps, if it leaked
            ]
            for token in near_misses:
                assert await call(token) is None, token
                assert compared == [(32, 32)] * len(tokens)
    finally:
        await stop_server(server, grace=0)


# --- 8. loopback by default -----------------------------------------------------------------------


async def test_grpc_and_metrics_listen_on_loopback_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("STREAMWRIGHT_GRPC_HOST", "STREAMWRIGHT_METRICS_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = MeshSettings(home=tmp_path)
    assert (settings.grpc_host, settings.metrics_host) == ("127.0.0.1", "127.0.0.1")
    # As services/mesh/service.py starts them.
    server, grpc_port = create_server([], settings=settings, port=0, service_names=[])
    await server.start()
    metrics = MetricsServer(MeshMetrics(), host=settings.metrics_host, port=0)
    try:
        bound = [
            (address, port)
            for _, address, port in listeners([os.getpid()])
            if port in (grpc_port, metrics.port)
        ]
        assert {port for _, port in bound} == {grpc_port, metrics.port}, bound
        assert all(is_loopback(address) for address, _ in bound), bound
    finally:
        metrics.close()
        await stop_server(server, grace=0)
