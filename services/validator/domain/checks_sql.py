"""SQL standards (25 %): engine acceptance, connector options, credentials, SELECT *, naming."""

from __future__ import annotations

import re

from services.validator.domain import statement_policy
from services.validator.domain.connector_swap import jdbc_password_missing, lookup_refused, lookup_tables
from services.validator.domain.context import Context

# Option keys that hold a credential; their value must be a reference, never a literal.
_SECRET_KEY = re.compile(
    r"(^|[._-])(password|passwd|pwd|secret|token|credentials?|access[._-]?key(-?id)?|secret[._-]?key|private[._-]?key)$",
    re.IGNORECASE,
)
_JAAS_PASSWORD = re.compile(r"password\s*=\s*\"?(?!\$\{)[^\s\";]+", re.IGNORECASE)
_REFERENCE = re.compile(r"^\$\{[^}]+\}$")
# A credential parameter of a URL (`?password=`, `;pwd=`, `&sslpassword=`, `&token=`).
_URL_PARAM = re.compile(r"(password|passwd|pwd|secret|token|access[-_.]?key|credential)$", re.IGNORECASE)
_ORACLE = re.compile(r"jdbc:oracle:[A-Za-z0-9]+:", re.IGNORECASE)
_URL_STOPS = frozenset(" \t\r\n\f\v/?#")

# Options each connector needs (alternatives separated by |).
REQUIRED_OPTIONS: dict[str, tuple[str, ...]] = {
    "kafka": ("topic|topic-pattern", "properties.bootstrap.servers", "format|value.format"),
    "upsert-kafka": ("topic", "properties.bootstrap.servers", "key.format", "value.format"),
    "jdbc": ("url", "table-name"),
    "filesystem": ("path", "format"),
    "elasticsearch-7": ("hosts", "index"),
    "hbase-2.2": ("table-name", "zookeeper.quorum"),
}
_RESULT_NAME = re.compile(r"^(ods|dwd|dws|dwm|ads|dim|dm|app)_[a-z0-9_]+$")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def run(ctx: Context) -> None:
    _statement_kinds(ctx)
    _hints(ctx)
    _engine(ctx)
    _insert_present(ctx)
    _credentials(ctx)
    _jdbc_password(ctx)
    _connector_options(ctx)
    _lookup_connectors(ctx)
    _select_star(ctx)
    _quoting(ctx)
    _naming(ctx)


def _statement_kinds(ctx: Context) -> None:
    """Statements outside the allow-list (the use case did not plan the script at all)."""
    ctx.ran("sql.statement_kind_refused", max(len(ctx.view.statements), 1))
    for refused in statement_policy.refused_statements(ctx.view.statements):
        ctx.add(
            "sql.statement_kind_refused",
            ctx.t(
                f"Statement {refused.number} ({refused.kind}, line {refused.line}: {refused.text}) is not "
                f"allowed in a job script (only {statement_policy.ALLOWED_TEXT}); nothing was run on the engine.",
                f"第 {refused.number} 条语句 ({refused.kind}, 第 {refused.line} 行: {refused.text}) 不允许出现在"
                f"作业脚本中 (只允许 {statement_policy.ALLOWED_TEXT}); 未在引擎上执行任何语句。",
            ),
            location=f"{refused.kind} #{refused.number}",
            line=refused.line,
            name=refused.kind,
        )


def _hints(ctx: Context) -> None:
    for hint in statement_policy.hints(ctx.view.statements):
        ctx.ran("sql.query_hint")
        why_en = (
            "an OPTIONS hint overrides the table's connector options at run time"
            if hint.options
            else "a hint changes how the planner runs the statement"
        )
        why_zh = (
            "OPTIONS hint 会在运行时覆盖表的连接器参数"
            if hint.options
            else "hint 会改变优化器执行该语句的方式"
        )
        ctx.add(
            "sql.query_hint",
            ctx.t(
                f"Statement {hint.number} ({hint.kind}, line {hint.line}) carries the hint {hint.text}: {why_en}.",
                f"第 {hint.number} 条语句 ({hint.kind}, 第 {hint.line} 行) 带有 hint {hint.text}: {why_zh}。",
            ),
            location=f"{hint.kind} #{hint.number}",
            line=hint.line,
            name=hint.text,
        )


def _engine(ctx: Context) -> None:
    plan = ctx.inputs.plan
    if plan is None or not plan.ran:
        return
    ctx.ran("sql.engine_rejected", max(len(plan.statements), 1))
    for st in plan.statements:
        if st.ok:
            continue
        where = f"{st.kind} #{st.index + 1}"
        col = f", column {st.error_column}" if st.error_column else ""
        ctx.add(
            "sql.engine_rejected",
            ctx.t(
                f"Flink rejected statement {st.index + 1} ({st.kind}, line {st.error_line or st.line}{col}): "
                f"{st.error_class or 'error'}: {st.error}",
                f"Flink 拒绝了第 {st.index + 1} 条语句 ({st.kind}, 第 {st.error_line or st.line} 行{col}): "
                f"{st.error_class or 'error'}: {st.error}",
            ),
            location=where,
            line=st.error_line or st.line,
        )


def _insert_present(ctx: Context) -> None:
    ctx.ran("sql.no_insert")
    if not ctx.view.inserts:
        ctx.add(
            "sql.no_insert",
            ctx.t(
                "The script has no INSERT statement: the job writes nothing.",
                "脚本没有 INSERT 语句: 作业不写出任何数据。",
            ),
        )


def _credential_literal(key: str, value: str) -> bool:
    value = value.strip()
    if not value or _REFERENCE.match(value):
        return False
    if key.lower().endswith("sasl.jaas.config"):
        return bool(_JAAS_PASSWORD.search(value))
    return bool(_SECRET_KEY.search(key))


def url_credentials(value: str) -> list[str]:
    """What a URL in `value` holds as a literal credential: `password` (of `user:password@` or
    Oracle's `user/password@`) and the names of credential parameters (`password=`, `pwd=`, ...).
    A `${...}` reference is no literal. Linear: `str.find` and character loops only."""
    found: list[str] = []
    index = value.find("://")
    while index >= 0:
        end = _url_end(value, index + 3, _URL_STOPS)
        at = value.rfind("@", index + 3, end)
        colon = value.find(":", index + 3, at) if at > 0 else -1
        if colon >= 0 and _literal(value[colon + 1 : at]):
            found.append("password")
        index = value.find("://", end if end > index + 3 else index + 3)
    for match in _ORACLE.finditer(value):
        end = _url_end(value, match.end(), _URL_STOPS - {"/"})
        at = value.find("@", match.end(), end)
        slash = value.find("/", match.end(), at) if at > 0 else -1
        if slash >= 0 and _literal(value[slash + 1 : at]):
            found.append("password")
    if "://" in value or value.lower().startswith("jdbc:"):
        found += _url_params(value)
    return found


def _url_params(value: str) -> list[str]:
    found: list[str] = []
    index = 0
    while (eq := value.find("=", index)) >= 0:
        start = eq
        while start > index and (value[start - 1].isalnum() or value[start - 1] in "_.-"):
            start -= 1
        if start > 0 and value[start - 1] in "?&;" and _URL_PARAM.search(value[start:eq]):
            end = _url_end(value, eq + 1, frozenset("&;# \t\r\n\f\v"))
            if _literal(value[eq + 1 : end]):
                found.append(value[start:eq])
        index = eq + 1
    return found


def _url_end(value: str, start: int, stops: frozenset[str]) -> int:
    end = start
    while end < len(value) and value[end] not in stops:
        end += 1
    return end


def _literal(text: str) -> bool:
    return bool(text) and not text.startswith("${")


def _url_credentials(ctx: Context, name: str, line: int, key: str, value: str) -> None:
    if _SECRET_KEY.search(key) or key.lower().endswith("sasl.jaas.config"):
        return  # the whole value is a credential: sql.credentials_in_ddl
    for held in dict.fromkeys(url_credentials(value)):
        ctx.add(
            "sql.credentials_in_url",
            ctx.t(
                f"Table {name} writes a literal credential ({held}) in the URL of option '{key}'.",
                f"表 {name} 的参数 '{key}' 的 URL 中写有明文凭据 ({held})。",
            ),
            location=f"CREATE TABLE {name}",
            line=line,
            name=key,
        )


def _credentials(ctx: Context) -> None:
    for name, (st, ddl) in ctx.view.tables.items():
        ctx.ran("sql.credentials_in_ddl")
        ctx.ran("sql.credentials_in_url")
        for opt in ddl.options:
            _url_credentials(ctx, name, st.line, opt.key, opt.value)
            if _credential_literal(opt.key, opt.value):
                ctx.add(
                    "sql.credentials_in_ddl",
                    ctx.t(
                        f"Table {name} writes the credential option '{opt.key}' as a literal value.",
                        f"表 {name} 的凭据参数 '{opt.key}' 写成了明文。",
                    ),
                    location=f"CREATE TABLE {name}",
                    line=st.line,
                    name=opt.key,
                )
    for st, key, value in ctx.view.sets:
        if _credential_literal(key, value):
            ctx.add(
                "sql.credentials_in_ddl",
                ctx.t(f"SET '{key}' holds a literal credential.", f"SET '{key}' 含明文凭据。"),
                location="SET",
                line=st.line,
                name=key,
            )


def _jdbc_password(ctx: Context) -> None:
    """username without password: Flink refuses the table (the plan used a placeholder)."""
    for name, (st, ddl) in ctx.view.tables.items():
        if ddl.option_map.get("connector", "").strip().lower() != "jdbc":
            continue
        ctx.ran("sql.jdbc_password_missing")
        if jdbc_password_missing(ddl):
            ctx.add(
                "sql.jdbc_password_missing",
                ctx.t(
                    f"JDBC table {name} sets 'username' but no 'password': Flink refuses it (both or "
                    "neither), so the job is undeployable as written. Add "
                    "'password' = '${secret:<name>}'; the validator planned it with a placeholder password.",
                    f"JDBC 表 {name} 设置了 'username' 但没有 'password': Flink 不接受 (须同时设置或都不设置), "
                    "该作业按原样无法部署。请补充 'password' = '${secret:<name>}'; 验证时已使用占位密码规划。",
                ),
                location=f"CREATE TABLE {name}",
                line=st.line,
                name=name,
            )


def _lookup_connectors(ctx: Context) -> None:
    """A lookup join (FOR SYSTEM_TIME AS OF) on a connector with no lookup source."""
    for st, table in lookup_tables(ctx.view.statements):
        found = ctx.view.table(table)
        if found is None:
            continue
        ctx.ran("sql.lookup_unsupported_connector")
        connector = found[1].option_map.get("connector", "")
        if lookup_refused(connector):
            ctx.add(
                "sql.lookup_unsupported_connector",
                ctx.t(
                    f"Table {found[1].name} is read FOR SYSTEM_TIME AS OF (a lookup join, line {st.line}) "
                    f"but its connector '{connector}' cannot look up rows.",
                    f"表 {found[1].name} 以 FOR SYSTEM_TIME AS OF 读取 (维表关联, 第 {st.line} 行), "
                    f"但其连接器 '{connector}' 不支持按键查找。",
                ),
                location=f"CREATE TABLE {found[1].name}",
                line=found[0].line,
                name=found[1].name,
            )


def _connector_options(ctx: Context) -> None:
    for name, (st, ddl) in ctx.view.tables.items():
        opts = {k.lower(): v for k, v in ddl.option_map.items()}
        connector = opts.get("connector", "")
        ctx.ran("sql.connector_options_incomplete")
        if not connector:
            ctx.add(
                "sql.connector_options_incomplete",
                ctx.t(f"Table {name} has no 'connector' option.", f"表 {name} 缺少 'connector' 参数。"),
                location=f"CREATE TABLE {name}",
                line=st.line,
                name=name,
            )
            continue
        missing = [
            need
            for need in REQUIRED_OPTIONS.get(connector, ())
            if not any(alt in opts and opts[alt].strip() for alt in need.split("|"))
        ]
        if missing:
            ctx.add(
                "sql.connector_options_incomplete",
                ctx.t(
                    f"Table {name} ({connector}) lacks required option(s): {', '.join(missing)}.",
                    f"表 {name} ({connector}) 缺少必需参数: {', '.join(missing)}。",
                ),
                location=f"CREATE TABLE {name}",
                line=st.line,
                name=name,
            )


def _select_star(ctx: Context) -> None:
    for ins in ctx.view.inserts:
        ctx.ran("sql.select_star")
        if ins.select_star:
            ctx.add(
                "sql.select_star",
                ctx.t(
                    "The INSERT selects * instead of naming its columns.",
                    "INSERT 使用了 SELECT *, 未显式列出字段。",
                ),
                location=f"INSERT INTO {ins.target}",
                line=ins.statement.line,
            )


def _quoting(ctx: Context) -> None:
    for ins in ctx.view.inserts:
        ctx.ran("sql.identifier_unquoted")
        if ins.unquoted_identifiers:
            shown = ", ".join(ins.unquoted_identifiers[:5])
            ctx.add(
                "sql.identifier_unquoted",
                ctx.t(
                    f"Qualified names are not backquoted in the INSERT (e.g. {shown}).",
                    f"INSERT 中的限定名未使用反引号 (例如 {shown})。",
                ),
                location=f"INSERT INTO {ins.target}",
                line=ins.statement.line,
            )


def _naming(ctx: Context) -> None:
    result = ctx.spec.result.name
    found = ctx.view.table(result)
    ctx.ran("sql.naming_convention")
    if found is not None and not _RESULT_NAME.match(found[1].name):
        ctx.add(
            "sql.naming_convention",
            ctx.t(
                f"Result table {found[1].name} has no layer prefix (ods_/dwd_/dws_/ads_/dim_) in lower snake_case.",
                f"结果表 {found[1].name} 未使用分层前缀 (ods_/dwd_/dws_/ads_/dim_) 的小写下划线命名。",
            ),
            location=f"CREATE TABLE {found[1].name}",
            line=found[0].line,
            name=found[1].name,
        )
    for name, (st, ddl) in ctx.view.tables.items():
        if name.lower() == "businessevent":
            continue
        ctx.ran("sql.naming_convention")
        bad = [c.name for c in ddl.columns if not _SNAKE.match(c.name)]
        if bad:
            ctx.add(
                "sql.naming_convention",
                ctx.t(
                    f"Columns of {name} are not lower snake_case: {', '.join(bad[:5])}.",
                    f"表 {name} 的字段未使用小写下划线命名: {', '.join(bad[:5])}。",
                ),
                location=f"CREATE TABLE {name}",
                line=st.line,
                name=name,
            )
