"""The rule catalogue: every check the validator makes, its dimension, default severity and points.

Rules are configurable without code changes (`RuleConfig.from_mapping`):

    rules:                         # every domain
      perf.parallelism_unset: off
      sql.naming_convention: {severity: warning, points: 4}
    domains:
      payments:                    # this domain only (applied after `rules`)
        compliance.sensitive_unmasked: {severity: critical}

A rule may be `off`, or get another severity and/or points. Every report records the rule-set
version: the catalogue version, plus a short hash of the configuration when one is applied, so
two reports with the same version were scored by the same rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from services.validator.domain.model import DimensionName, SeverityName

CATALOGUE_VERSION = "sw-rules-1.5"  # 1.1: artifact_missing, statement_kind_refused, query_hint; 1.2: jdbc_password_missing, lookup_unsupported_connector; 1.3: the oracle rules; 1.4: credentials_in_url; 1.5: oracle_unavailable a Warning, oracle_no_rows


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    dimension: DimensionName
    severity: SeverityName
    points: float  # lost per finding
    cap: float | None  # at most this many points per report from this rule (None: no cap)
    title_en: str
    title_zh: str
    fix_en: str
    fix_zh: str

    def title(self, language: str) -> str:
        return self.title_zh if language == "zh" else self.title_en

    def fix(self, language: str) -> str:
        return self.fix_zh if language == "zh" else self.fix_en


def _r(  # noqa: PLR0917 - one catalogue row per call
    rule_id: str,
    dimension: DimensionName,
    severity: SeverityName,
    points: float,
    titles: tuple[str, str],
    fixes: tuple[str, str],
    cap: float | None = None,
) -> Rule:
    return Rule(rule_id, dimension, severity, points, cap, titles[0], titles[1], fixes[0], fixes[1])


SQL: DimensionName = "sql_standards"
ACC: DimensionName = "data_accuracy"
PERF: DimensionName = "performance"
BIZ: DimensionName = "business_compliance"

CATALOGUE: tuple[Rule, ...] = (
    # ---- SQL standards (25 %)
    _r(
        "sql.engine_rejected",
        SQL,
        "critical",
        30,
        ("Flink's planner accepts every statement", "Flink 解析与优化器接受全部语句"),
        (
            "Fix the statement at the line the engine names; the job cannot be submitted as is.",
            "按引擎给出的行号修复该语句; 当前作业无法提交。",
        ),
    ),
    _r(
        "sql.statement_kind_refused",
        SQL,
        "critical",
        30,
        (
            "Only job statements: CREATE TABLE, CREATE VIEW, SET, INSERT, EXECUTE STATEMENT SET",
            "只包含作业语句: CREATE TABLE、CREATE VIEW、SET、INSERT、EXECUTE STATEMENT SET",
        ),
        (
            "Remove the statement; a job script holds only CREATE [TEMPORARY] TABLE (with columns), "
            "CREATE [TEMPORARY] VIEW, SET, INSERT and EXECUTE STATEMENT SET of INSERTs. The script "
            "was not planned.",
            "删除该语句; 作业脚本只能包含 CREATE [TEMPORARY] TABLE (声明字段)、CREATE [TEMPORARY] VIEW、"
            "SET、INSERT 与只含 INSERT 的 EXECUTE STATEMENT SET。该脚本未提交给引擎规划。",
        ),
    ),
    _r(
        "sql.query_hint",
        SQL,
        "warning",
        5,
        ("No query hints override the script", "不使用覆盖脚本的查询提示 (hint)"),
        (
            "Remove the hint: OPTIONS(...) overrides the table's connector options out of sight of its "
            "DDL; put options in the CREATE TABLE instead.",
            "删除该 hint: OPTIONS(...) 会在 DDL 之外覆盖表的连接器参数; 请把参数写在 CREATE TABLE 中。",
        ),
        cap=15,
    ),
    _r(
        "sql.no_insert",
        SQL,
        "critical",
        30,
        ("The script has an INSERT into the result table", "脚本包含写入结果表的 INSERT"),
        ("Add the INSERT INTO <result> SELECT ... statement.", "补充 INSERT INTO <结果表> SELECT ... 语句。"),
    ),
    _r(
        "sql.credentials_in_ddl",
        SQL,
        "critical",
        30,
        ("No credentials written in the DDL", "DDL 中不含明文凭据"),
        (
            "Replace the literal with a secret reference such as '${secret:<name>}'.",
            "改用密钥引用, 例如 '${secret:<name>}', 不要写明文。",
        ),
    ),
    _r(
        "sql.credentials_in_url",
        SQL,
        "critical",
        30,
        ("No credentials written in a URL", "URL 中不含明文凭据"),
        (
            "Take the password out of the URL (user:password@, password=...) and give it as "
            "'password' = '${secret:<name>}' (with 'username' for the user).",
            "把密码从 URL 中移除 (user:password@、password=...), 改为 'password' = '${secret:<name>}' "
            "(用户名写在 'username' 中)。",
        ),
    ),
    _r(
        "sql.jdbc_password_missing",
        SQL,
        "critical",
        30,
        (
            "A JDBC table with a username also has a password",
            "声明了 username 的 JDBC 表同时声明 password",
        ),
        (
            "Add 'password' = '${secret:<name>}' to the table's WITH options: Flink refuses a JDBC "
            "table with a username and no password, so the job is undeployable as written (it was "
            "planned here with a placeholder password).",
            "在该表的 WITH 参数中补充 'password' = '${secret:<name>}': Flink 不接受只有 username 没有 "
            "password 的 JDBC 表, 该作业按原样无法部署 (此处以占位密码完成规划)。",
        ),
    ),
    _r(
        "sql.lookup_unsupported_connector",
        SQL,
        "critical",
        30,
        (
            "Lookup joins read tables whose connector can look up",
            "维表关联 (lookup join) 只读取支持查找的连接器",
        ),
        (
            "Put the dimension on a lookup-capable connector (e.g. jdbc, hbase) or join it as a "
            "regular join: filesystem, datagen, print, blackhole, kafka and upsert-kafka cannot be "
            "read FOR SYSTEM_TIME AS OF.",
            "把维表换成支持查找的连接器 (如 jdbc、hbase), 或改为普通关联: filesystem、datagen、print、"
            "blackhole、kafka 与 upsert-kafka 不能用 FOR SYSTEM_TIME AS OF 读取。",
        ),
    ),
    _r(
        "sql.connector_options_incomplete",
        SQL,
        "warning",
        8,
        ("Connector options are complete", "连接器参数完整"),
        (
            "Add the options the connector requires (see the Flink connector page).",
            "补齐该连接器必需的参数 (参见 Flink 连接器文档)。",
        ),
        cap=24,
    ),
    _r(
        "sql.select_star",
        SQL,
        "warning",
        10,
        ("No SELECT *", "不使用 SELECT *"),
        (
            "List the columns explicitly, so a source schema change cannot shift the result.",
            "显式列出字段, 避免源表结构变化导致结果错位。",
        ),
    ),
    _r(
        "sql.identifier_unquoted",
        SQL,
        "info",
        1,
        ("Identifiers are backquoted", "标识符使用反引号"),
        (
            "Backquote identifiers (`name`): reserved words such as value/type are then safe.",
            "标识符使用反引号 (`name`), 避免与保留字 (value/type 等) 冲突。",
        ),
        cap=3,
    ),
    _r(
        "sql.naming_convention",
        SQL,
        "info",
        2,
        ("Table and column names follow the naming convention", "表名与字段名符合命名规范"),
        (
            "Use lower snake_case; result tables start with a layer prefix (ods_/dwd_/dws_/ads_/dim_).",
            "使用小写下划线命名; 结果表以分层前缀开头 (ods_/dwd_/dws_/ads_/dim_)。",
        ),
        cap=4,
    ),
    # ---- data accuracy (35 %)
    _r(
        "accuracy.case_failed",
        ACC,
        "critical",
        25,
        ("Every data-accuracy case gives the expected rows", "全部数据准确性用例结果符合预期"),
        (
            "Compare the missing and unexpected rows with the mapping, filters and joins of the request.",
            "对照缺失行与多余行, 检查字段映射、过滤条件与关联逻辑。",
        ),
    ),
    _r(
        "accuracy.artifact_missing",
        ACC,
        "critical",
        20,
        ("Every artifact the validator reads is there", "验证所需的产物齐全"),
        (
            "Regenerate the job: the generator writes the test data and job config beside the SQL.",
            "重新生成作业: 生成器会在 SQL 旁写出测试数据与作业配置。",
        ),
    ),
    _r(
        "accuracy.case_not_run",
        ACC,
        "warning",
        5,
        ("Every case could be run", "全部用例可执行"),
        (
            "Fix the case (dimension keys, result columns) so the runner can run it.",
            "修正用例 (维表主键、结果字段), 使其可以执行。",
        ),
    ),
    _r(
        "accuracy.edge_job_failed",
        ACC,
        "critical",
        25,
        ("The job survives the generated edge cases", "作业在边界用例下不失败"),
        (
            "Make the job tolerate bad events (TRY_CAST, NULLIF guards); a job must not fail on one event.",
            "使作业容忍异常事件 (TRY_CAST、NULLIF 保护); 单条坏数据不能导致作业失败。",
        ),
    ),
    _r(
        "accuracy.edge_invariant",
        ACC,
        "warning",
        10,
        ("Edge-case invariants hold", "边界用例不变量成立"),
        (
            "Check NOT NULL columns, key uniqueness and the filters against the edge-case result.",
            "检查非空字段、主键唯一性与过滤条件。",
        ),
        cap=30,
    ),
    _r(
        "accuracy.oracle_column",
        ACC,
        "critical",
        25,
        (
            "Every result column equals the oracle's on spec-derived data",
            "规格生成数据上每个结果字段与预言机一致",
        ),
        (
            "Map the column as the request's field mapping says (the finding names the input and the likely cause).",
            "按需求的字段映射产出该字段 (发现项给出了输入与可能原因)。",
        ),
    ),
    _r(
        "accuracy.oracle_rows",
        ACC,
        "critical",
        25,
        (
            "The job keeps exactly the rows the request keeps on spec-derived data",
            "规格生成数据上作业保留的行与需求一致",
        ),
        (
            "Apply the request's filters, business rules and join types exactly (the finding names the constraint).",
            "严格按需求实现过滤条件、业务规则与关联类型 (发现项给出了相关约束)。",
        ),
    ),
    _r(
        "accuracy.oracle_job_failed",
        ACC,
        "critical",
        25,
        ("The job runs on spec-derived data", "作业可在规格生成数据上运行"),
        (
            "Make the job total over its inputs (NULLs, boundaries, text that does not parse): TRY_CAST, COALESCE.",
            "让作业能处理所有输入 (NULL、边界值、无法解析的文本): 使用 TRY_CAST、COALESCE。",
        ),
    ),
    _r(
        "accuracy.oracles_disagree",
        ACC,
        "info",
        0,
        ("The interpreter and the compiler agree", "解释器与编译器结果一致"),
        (
            "A defect of Streamwright (its compiler or its interpreter): report it with this request.",
            "Streamwright 自身缺陷 (编译器或解释器): 请附上本需求反馈。",
        ),
    ),
    _r(
        "accuracy.oracle_unavailable",
        ACC,
        "warning",
        5,
        ("An oracle judged the job's rows", "预言机校验了作业结果"),
        (
            "Add data-accuracy cases: no oracle covers this request's constructs, so only your cases and the edge-case invariants checked the job's rows.",
            "请补充数据准确性用例: 预言机不支持本需求中的写法, 仅有您的用例与边界用例不变量校验了作业结果。",
        ),
    ),
    _r(
        "accuracy.oracle_no_rows",
        ACC,
        "warning",
        10,
        ("The result table can get a row", "结果表可以产生数据"),
        (
            "Check the request's filters and business rules: no input passes them all (a contradiction, or a comparison with NULL such as NOT IN (…, NULL)).",
            "检查需求的过滤条件与业务规则: 没有任何输入能全部通过 (条件互相矛盾, 或与 NULL 比较, 如 NOT IN (…, NULL))。",
        ),
    ),
    _r(
        "accuracy.column_not_produced",
        ACC,
        "critical",
        25,
        ("Every result column is produced", "每个结果字段都有产出"),
        (
            "Add the column to the INSERT column list and its mapping to the SELECT.",
            "在 INSERT 字段列表与 SELECT 中补充该字段及其映射。",
        ),
    ),
    _r(
        "accuracy.result_schema_mismatch",
        ACC,
        "critical",
        20,
        ("The result DDL matches the request", "结果表 DDL 与需求一致"),
        (
            "Declare the result table exactly as the request does (columns, types, key).",
            "按需求声明结果表 (字段、类型、主键)。",
        ),
    ),
    _r(
        "accuracy.dimension_schema_mismatch",
        ACC,
        "warning",
        10,
        ("Dimension DDLs match the request", "维表 DDL 与需求一致"),
        ("Declare the dimension table as the request does.", "按需求声明维表结构。"),
        cap=20,
    ),
    _r(
        "accuracy.cast_missing",
        ACC,
        "warning",
        15,
        ("Casts present where types differ", "类型不同处有显式 CAST"),
        (
            "CAST the mapping to the result column's type (INSERT only widens implicitly).",
            "将映射 CAST 为结果字段类型 (INSERT 只做拓宽隐式转换)。",
        ),
    ),
    _r(
        "accuracy.cast_type_mismatch",
        ACC,
        "warning",
        15,
        ("Casts target the result column's type", "CAST 目标类型与结果字段一致"),
        (
            "CAST to exactly the result column's type, so rounding and precision are the request's.",
            "CAST 为与结果字段完全一致的类型, 保证精度与舍入符合需求。",
        ),
    ),
    _r(
        "accuracy.mapping_mismatch",
        ACC,
        "warning",
        10,
        ("Each column is computed as the request maps it", "字段按需求映射计算"),
        (
            "Write the column's expression as the request's field_mapping says.",
            "按 field_mapping 中的表达式计算该字段。",
        ),
        cap=30,
    ),
    _r(
        "accuracy.unguarded_division",
        ACC,
        "warning",
        5,
        ("Divisions are guarded against zero", "除法有除零保护"),
        (
            "Guard the divisor with NULLIF(x, 0) or CASE WHEN x <> 0: a DECIMAL division by zero fails the job.",
            "使用 NULLIF(x, 0) 或 CASE WHEN 保护除数: DECIMAL 除零会导致作业失败。",
        ),
    ),
    # ---- performance (20 %)
    _r(
        "perf.planner_advice",
        PERF,
        "warning",
        5,
        ("No planner advice", "优化器无告警建议"),
        ("Follow the planner's advice (EXPLAIN PLAN_ADVICE).", "按优化器建议 (EXPLAIN PLAN_ADVICE) 调整。"),
        cap=15,
    ),
    _r(
        "perf.lookup_cache_missing",
        PERF,
        "warning",
        10,
        ("Lookup caches set on lookup dimensions", "维表 lookup 缓存已配置"),
        (
            "Set 'lookup.cache' = 'PARTIAL' with 'lookup.partial-cache.max-rows' and "
            "'lookup.partial-cache.expire-after-write' (or the legacy lookup.cache.* options).",
            "配置 'lookup.cache' = 'PARTIAL' 及 max-rows / expire-after-write (或旧版 lookup.cache.* 参数)。",
        ),
    ),
    _r(
        "perf.state_ttl_missing",
        PERF,
        "warning",
        10,
        ("State TTL set where state grows", "有状态算子设置了状态 TTL"),
        (
            "SET 'table.exec.state.ttl' (e.g. '1 d'): joins, aggregations and the upsert materialiser "
            "keep state per key forever without it.",
            "设置 SET 'table.exec.state.ttl' (例如 '1 d'): 否则关联、聚合与 upsert 物化算子的状态无限增长。",
        ),
    ),
    _r(
        "perf.repeated_json_parse",
        PERF,
        "warning",
        5,
        ("Each JSON path is parsed once", "同一 JSON 路径只解析一次"),
        (
            "Extract each payload field once in a subquery and reuse the column.",
            "在子查询中对每个 payload 字段只提取一次并复用。",
        ),
        cap=15,
    ),
    _r(
        "perf.unbounded_regular_join",
        PERF,
        "warning",
        15,
        ("No unbounded regular joins on streams", "流上无无界双流 JOIN"),
        (
            "Join dimensions with FOR SYSTEM_TIME AS OF <proc_time> (lookup join), or bound the state with a TTL.",
            "维表关联使用 FOR SYSTEM_TIME AS OF <proc_time> (lookup join), 或以 TTL 限制状态。",
        ),
    ),
    _r(
        "perf.lookup_on_non_lookup_table",
        PERF,
        "critical",
        20,
        ("Lookup joins read lookup-capable tables", "lookup join 的维表支持点查"),
        (
            "Read the dimension through a lookup-capable connector (jdbc, hbase, ...); kafka/datagen/filesystem "
            "tables cannot be looked up by processing time.",
            "维表应使用支持 lookup 的连接器 (jdbc、hbase 等); kafka/datagen/filesystem 不支持处理时间点查。",
        ),
    ),
    _r(
        "perf.checkpoint_missing",
        PERF,
        "warning",
        5,
        ("Checkpointing configured", "已配置 checkpoint"),
        (
            "Set execution.checkpointing.interval (job config or SET) in line with the SLA.",
            "在作业配置或 SET 中设置 execution.checkpointing.interval, 与 SLA 匹配。",
        ),
    ),
    _r(
        "perf.checkpoint_vs_sla",
        PERF,
        "warning",
        10,
        ("Checkpoint interval fits the SLA", "checkpoint 间隔满足 SLA"),
        (
            "A transactional sink commits on checkpoints: make the interval no longer than the latency SLA.",
            "事务型 sink 在 checkpoint 时提交: checkpoint 间隔不应超过延迟 SLA。",
        ),
    ),
    _r(
        "perf.minibatch_vs_sla",
        PERF,
        "warning",
        5,
        ("Mini-batch latency fits the SLA", "mini-batch 延迟满足 SLA"),
        (
            "Keep table.exec.mini-batch.allow-latency well under the latency SLA (a fifth is a good bound).",
            "table.exec.mini-batch.allow-latency 应远小于延迟 SLA (建议五分之一以内)。",
        ),
    ),
    _r(
        "perf.parallelism_unset",
        PERF,
        "info",
        2,
        ("Parallelism configured", "已配置并行度"),
        (
            "Size the parallelism from the peak rate (job config deployment.parallelism or parallelism.default).",
            "按峰值流量设置并行度 (deployment.parallelism 或 parallelism.default)。",
        ),
    ),
    # ---- business compliance (20 %)
    _r(
        "compliance.event_filter_missing",
        BIZ,
        "critical",
        20,
        ("Events are filtered by domain and type", "按 domain 与 type 过滤事件"),
        (
            "Keep only domain = '<domain>' AND type = '<event_type>' of BusinessEvent.",
            "只保留 domain = '<domain>' AND type = '<event_type>' 的事件。",
        ),
    ),
    _r(
        "compliance.filter_missing",
        BIZ,
        "critical",
        20,
        ("Every data filter is implemented", "全部数据过滤条件已实现"),
        (
            "Add the filter to the WHERE clause (after the joins).",
            "在 WHERE 子句中 (关联之后) 加入该过滤条件。",
        ),
    ),
    _r(
        "compliance.rule_missing",
        BIZ,
        "critical",
        20,
        ("Every business rule is implemented", "全部业务规则已实现"),
        ("Add the rule's condition to the WHERE clause.", "在 WHERE 子句中加入该业务规则条件。"),
    ),
    _r(
        "compliance.join_missing",
        BIZ,
        "critical",
        20,
        ("Every join of the request is implemented", "全部关联关系已实现"),
        (
            "Join the dimension as the request says: <type> JOIN <table> FOR SYSTEM_TIME AS OF ... AS <alias>.",
            "按需求关联维表: <type> JOIN <table> FOR SYSTEM_TIME AS OF ... AS <alias>。",
        ),
    ),
    _r(
        "compliance.join_condition_mismatch",
        BIZ,
        "critical",
        20,
        ("Join conditions are the request's", "关联条件与需求一致"),
        (
            "Put the key equality and the additional condition in the join's ON clause.",
            "在 ON 子句中写明关联键等值条件与附加条件。",
        ),
    ),
    _r(
        "compliance.join_type_mismatch",
        BIZ,
        "warning",
        10,
        ("Join types are the request's", "关联类型与需求一致"),
        (
            "Use the request's join type (LEFT keeps misses, INNER drops them).",
            "使用需求指定的关联类型 (LEFT 保留未关联行, INNER 丢弃)。",
        ),
    ),
    _r(
        "compliance.result_table_mismatch",
        BIZ,
        "critical",
        20,
        ("The job writes the request's result table", "作业写入需求指定的结果表"),
        ("INSERT INTO the result table the request names.", "INSERT INTO 需求指定的结果表。"),
    ),
    _r(
        "compliance.er_conflict",
        BIZ,
        "warning",
        8,
        ("No conflicts with the ER knowledge base", "与 ER 知识库无冲突"),
        (
            "Align the tables with the knowledge base, or change the domain's schema version deliberately.",
            "使表结构与知识库一致, 或有意识地升级该业务域的 schema 版本。",
        ),
        cap=24,
    ),
    _r(
        "compliance.sensitive_unmasked",
        BIZ,
        "warning",
        10,
        ("Sensitive columns are masked", "敏感字段已脱敏"),
        (
            "Mask the value (e.g. CONCAT(SUBSTR(x, 1, 3), '****', SUBSTR(x, 8)) or SHA2(x, 256)) before writing.",
            "写入前脱敏, 例如 CONCAT(SUBSTR(x, 1, 3), '****', SUBSTR(x, 8)) 或 SHA2(x, 256)。",
        ),
        cap=30,
    ),
)

RULES: dict[str, Rule] = {r.id: r for r in CATALOGUE}


class RuleConfigError(ValueError):
    """A rules configuration that names an unknown rule or an invalid setting."""


@dataclass(frozen=True, slots=True)
class Override:
    off: bool = False
    severity: SeverityName | None = None
    points: float | None = None


def _override(rule_id: str, value: object) -> Override:
    if rule_id not in RULES:
        raise RuleConfigError(f"unknown rule {rule_id!r}")
    if value in ("off", False):
        return Override(off=True)
    if value in ("on", True):
        return Override()
    if isinstance(value, str):
        value = {"severity": value}
    if not isinstance(value, Mapping):
        raise RuleConfigError(f"rule {rule_id}: expected off, a severity or a mapping, got {value!r}")
    unknown = set(value) - {"off", "severity", "points", "enabled"}
    if unknown:
        raise RuleConfigError(f"rule {rule_id}: unknown setting(s) {sorted(unknown)}")
    severity = value.get("severity")
    if severity is not None and severity not in ("critical", "warning", "info"):
        raise RuleConfigError(f"rule {rule_id}: severity must be critical, warning or info")
    points = value.get("points")
    if points is not None and (not isinstance(points, int | float) or points < 0 or points > 100):
        raise RuleConfigError(f"rule {rule_id}: points must be a number in 0..100")
    off = bool(value.get("off", False)) or value.get("enabled") is False
    return Override(
        off=off,
        severity=cast(SeverityName | None, severity),
        points=None if points is None else float(points),
    )


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Overrides for every domain (`rules`) and per domain (`domains.<domain>`)."""

    global_overrides: Mapping[str, Override]
    domain_overrides: Mapping[str, Mapping[str, Override]]
    digest: str | None = None

    @classmethod
    def default(cls) -> RuleConfig:
        return cls({}, {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> RuleConfig:
        if not data:
            return cls.default()
        unknown = set(data) - {"rules", "domains"}
        if unknown:
            raise RuleConfigError(f"unknown top-level key(s) {sorted(unknown)}: use rules / domains")
        rules = data.get("rules") or {}
        domains = data.get("domains") or {}
        if not isinstance(rules, Mapping) or not isinstance(domains, Mapping):
            raise RuleConfigError("rules and domains must be mappings")
        glob = {str(k): _override(str(k), v) for k, v in rules.items()}
        per: dict[str, dict[str, Override]] = {}
        for domain, entries in domains.items():
            if not isinstance(entries, Mapping):
                raise RuleConfigError(f"domains.{domain} must be a mapping of rule -> setting")
            per[str(domain)] = {str(k): _override(str(k), v) for k, v in entries.items()}
        canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
        return cls(glob, per, hashlib.sha256(canonical.encode()).hexdigest()[:8])

    def version(self) -> str:
        return CATALOGUE_VERSION if self.digest is None else f"{CATALOGUE_VERSION}+cfg.{self.digest}"

    def resolve(self, domain: str) -> dict[str, Rule]:
        """The effective rules for `domain` (rules turned off are absent)."""
        out: dict[str, Rule] = {}
        for rule in CATALOGUE:
            effective: Rule | None = rule
            for layer in (self.global_overrides, self.domain_overrides.get(domain, {})):
                ov = layer.get(rule.id)
                if ov is None:
                    continue
                if ov.off:
                    effective = None
                    continue
                base = effective or rule
                effective = replace(
                    base,
                    severity=ov.severity or base.severity,
                    points=base.points if ov.points is None else ov.points,
                )
            if effective is not None:
                out[rule.id] = effective
        return out
