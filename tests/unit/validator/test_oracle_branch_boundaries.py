"""Boundaries of predicates that decide only inside a CASE or IF branch (oracle datagen).

A bound inside `CASE payload.sensorType WHEN 'TEMP' THEN payload.reading BETWEEN -40 AND ...`
only matters on events that take that branch: the derived inputs at and beside it must also
satisfy the branch's WHEN (and no earlier WHEN), or every wrong bound gives the same rows. The
request is the testers' IoT one (a CASE business rule, a LEFT join with a condition, aggregates).
"""

from __future__ import annotations

from functools import cache

import pytest
from oracle_support import expression, remap

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document
from services.validator.domain.oracle import DerivedData, derive_data, interpret
from services.validator.domain.values import compare_rows

IOT = """# IoT sensor telemetry aggregation request

## Job info
```yaml
job_info:
  name: "Sensor readings per device"
  domain: "iot-sensors"
  event_type: "reading"
  time_zone: "Europe/Berlin"
  sla_requirement: "< 10 s"
  owner_team: "plant-analytics"
```

## Source
```java
public class SensorReading {
    private String deviceId;      // device serial
    private String sensorType;    // TEMP / HUM / PRESS / VIB
    private Double reading;       // measured value
    private Float quality;        // 0..1 quality estimate
    private Integer batteryPct;   // battery level 0..100
    private Short errorCode;      // 0 = ok
    private Byte channel;         // 1..8
    private String firmware;      // firmware version
    private Boolean alarm;        // device-side alarm flag
    private Long ts;              // epoch seconds
    private BigDecimal energyWh;  // consumed energy since last reading

    public String getDeviceId() { return deviceId; }
}
```

## Dimension tables
### Dimension table 1: dim_device
```sql
CREATE TABLE dim_device (
    device_id STRING NOT NULL,
    site_code STRING,
    model STRING,
    max_temp DOUBLE,
    decommissioned BOOLEAN,
    PRIMARY KEY (device_id) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:mysql://db:3306/iot',
    'table-name' = 'dim_device',
    'lookup.partial-cache.max-rows' = '50000',
    'lookup.partial-cache.expire-after-write' = '5 min',
    'lookup.cache' = 'PARTIAL'
);
```

## Result table
### Table: ads_device_reading_stats
```sql
CREATE TABLE ads_device_reading_stats (
    device_id STRING NOT NULL,
    sensor_family STRING NOT NULL,
    site_code STRING,
    reading_count BIGINT,
    valid_reading_count BIGINT,
    alarm_count INT,
    max_reading DOUBLE,
    min_reading DOUBLE,
    avg_reading DOUBLE,
    avg_battery INT,
    total_energy_wh DECIMAL(18, 3),
    firmware_versions BIGINT,
    worst_error SMALLINT,
    health STRING,
    last_seen TIMESTAMP(0),
    PRIMARY KEY (device_id, sensor_family) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'ads_device_reading_stats',
    'properties.bootstrap.servers' = 'kafka:9092',
    'key.format' = 'json',
    'value.format' = 'json'
);
```

## Field mapping
```yaml
field_mapping:
  device_id: "payload.deviceId"
  sensor_family: >-
    CASE payload.sensorType
      WHEN 'TEMP' THEN 'climate'
      WHEN 'HUM' THEN 'climate'
      WHEN 'PRESS' THEN 'mechanical'
      WHEN 'VIB' THEN 'mechanical'
      ELSE 'other'
    END
  site_code: "COALESCE(dim1.site_code, 'UNASSIGNED')"
  reading_count: "COUNT(*)"
  valid_reading_count: "COUNT(payload.reading)"
  alarm_count: "SUM(CASE WHEN payload.alarm THEN 1 ELSE 0 END)"
  max_reading: "MAX(payload.reading)"
  min_reading: "MIN(payload.reading)"
  avg_reading: "AVG(payload.reading)"
  avg_battery: "AVG(payload.batteryPct)"
  total_energy_wh: "SUM(payload.energyWh)"
  firmware_versions: "COUNT(DISTINCT payload.firmware)"
  worst_error: "MAX(payload.errorCode)"
  health: >-
    CASE
      WHEN SUM(CASE WHEN payload.alarm THEN 1 ELSE 0 END) > 2 THEN 'CRITICAL'
      WHEN MIN(payload.batteryPct) < 15 THEN 'LOW_BATTERY'
      WHEN MAX(payload.errorCode) > 0 THEN 'DEGRADED'
      ELSE 'OK'
    END
  last_seen: "MAX(TO_TIMESTAMP_LTZ(payload.ts, 0))"
```

## Join relationships
```yaml
join_relationships:
  reading_to_device:
    source_table: SensorReading
    source_field: payload.deviceId
    target_table: dim_device
    target_field: device_id
    join_type: LEFT
    additional_condition: "dim1.decommissioned IS NOT TRUE"
    description: "device master data; decommissioned devices count as unknown"
```

## Special conditions
```yaml
special_conditions:
  data_filters:
    - "payload.deviceId IS NOT NULL"
    - "payload.channel BETWEEN 1 AND 8"
    - "payload.quality IS NULL OR payload.quality >= 0.2"
  business_rules:
    plausible_reading:
      condition: >-
        CASE payload.sensorType
          WHEN 'TEMP' THEN payload.reading BETWEEN -40 AND COALESCE(dim1.max_temp, 125)
          WHEN 'HUM' THEN payload.reading BETWEEN 0 AND 100
          ELSE TRUE
        END
      description: "drop physically implausible readings"
    no_test_devices:
      condition: "payload.deviceId NOT LIKE 'TEST%'"
      description: "bench devices are excluded"
```

## Notes
Aggregation is over the whole stream (no window): the result is an upsert table keyed by device and sensor family.
"""

RULE = """CASE payload.sensorType
  WHEN 'TEMP' THEN payload.reading BETWEEN -40 AND COALESCE(dim1.max_temp, 125)
  WHEN 'HUM' THEN payload.reading BETWEEN 0 AND 100
  ELSE TRUE
END"""


@cache
def _spec() -> RequestSpec:
    result = check_document(IOT)
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    return result.spec


def _with_rule(spec: RequestSpec, name: str, text: str) -> RequestSpec:
    rules = tuple(
        r.model_copy(update={"condition": expression(text)}) if r.name == name else r
        for r in spec.business_rules
    )
    return spec.model_copy(update={"business_rules": rules})


def _with_filter(spec: RequestSpec, text: str) -> RequestSpec:
    return spec.model_copy(update={"filters": (*spec.filters, expression(text))})


def _differs(spec: RequestSpec, other: RequestSpec, data: DerivedData) -> bool:
    columns = [(c.name, c.type) for c in spec.result.columns]
    mine = interpret(spec, data.events, data.dimensions)
    theirs = interpret(other, data.events, data.dimensions)
    return not compare_rows(mine, theirs, columns).equal


def _segments(data: DerivedData) -> list[str]:
    return [part for p in data.purposes for part in p.split("; ")]


def test_the_rule_is_as_the_testers_wrote_it() -> None:
    assert _spec().business_rules[0].condition.text.split() == RULE.split()


@pytest.mark.parametrize(
    ("mutant", "old", "new"),
    [
        ("c_temp_low", "BETWEEN -40", "BETWEEN -50"),
        ("b_temp_fixed_max", "COALESCE(dim1.max_temp, 125)", "125"),
        ("j_max_temp_swap", "COALESCE(dim1.max_temp, 125)", "COALESCE(dim1.max_temp, 100)"),
        ("h_hum_open", "payload.reading BETWEEN 0 AND 100", "payload.reading > 0 AND payload.reading < 100"),
    ],
)
def test_a_wrong_bound_inside_a_case_branch_changes_the_rows(mutant: str, old: str, new: str) -> None:
    """The four jobs the testers found passing (0 differences): each bound of the rule's TEMP and
    HUM branches, changed, gives other rows on the spec-derived data."""
    spec = _spec()
    data = derive_data(spec)
    assert old in RULE, mutant
    wrong = _with_rule(spec, "plausible_reading", RULE.replace(old, new))
    assert _differs(spec, wrong, data), mutant


def test_inputs_at_a_branch_bound_take_the_branch_and_say_so() -> None:
    """Each input at or beside the TEMP bounds has sensorType 'TEMP' and says so in its purpose
    (`…, where payload.sensorType = 'TEMP': fails`), keeping the wording the compliance checks read."""
    data = derive_data(_spec())
    title = "rule plausible_reading ("
    below = [
        (e, p)
        for e, p in zip(data.events, data.purposes, strict=True)
        for s in p.split("; ")
        if s.startswith(title) and "below the low end (payload.reading = -40.001)" in s
    ]
    assert below, data.purposes
    event, purpose = below[0]
    assert event["payload"]["sensorType"] == "TEMP"  # type: ignore[index]
    assert "(payload.reading = -40.001), where payload.sensorType = 'TEMP': fails" in purpose
    humid = [s for s in _segments(data) if s.startswith(title) and "where payload.sensorType = 'HUM'" in s]
    assert any(s.endswith(": fails") for s in humid) and any(s.endswith(": holds") for s in humid)


def test_a_bound_read_from_a_column_with_a_fallback_is_met_both_ways() -> None:
    """`reading <= COALESCE(dim1.max_temp, 125)`: inputs at and above the dimension's value, and
    at and above 125 where max_temp is NULL."""
    segments = _segments(derive_data(_spec()))
    assert any(
        "(payload.reading = dim1.max_temp + 1 unit), where" in s and s.endswith(": fails") for s in segments
    )
    assert any(
        "(payload.reading = 125.0, dim1.max_temp = NULL), where" in s and s.endswith(": holds")
        for s in segments
    )
    assert any(
        "(payload.reading = 125.001, dim1.max_temp = NULL)" in s and s.endswith(": fails") for s in segments
    )


def test_a_filter_bound_inside_an_if_branch_changes_the_rows() -> None:
    """A filter's IF: its THEN bound is met on events whose IF condition holds."""
    spec = _with_filter(_spec(), "IF(payload.sensorType = 'PRESS', payload.batteryPct >= 20, TRUE)")
    wrong = _with_filter(_spec(), "IF(payload.sensorType = 'PRESS', payload.batteryPct > 20, TRUE)")
    assert _differs(spec, wrong, derive_data(spec))


def test_a_mapping_if_inside_a_case_branch_changes_the_rows() -> None:
    """A mapping's IF inside a CASE branch: its boundary inputs take that branch."""
    text = "CASE WHEN payload.sensorType = 'VIB' THEN IF(payload.channel > 4, 'high', 'low') ELSE 'n/a' END"
    spec = remap(_spec(), "sensor_family", text)
    wrong = remap(_spec(), "sensor_family", text.replace("> 4", "> 5"))
    assert _differs(spec, wrong, derive_data(spec))


def test_a_later_when_is_met_where_the_earlier_whens_do_not_hold() -> None:
    """A searched CASE's second WHEN decides only where the first is not TRUE: its boundary
    inputs make the first fail (here: a NULL battery)."""
    text = "CASE WHEN payload.batteryPct IS NOT NULL THEN 'battery' WHEN payload.errorCode > 0 THEN 'degraded' ELSE 'ok' END"
    spec = remap(_spec(), "sensor_family", text)
    wrong = remap(_spec(), "sensor_family", text.replace("> 0", ">= 0"))
    assert _differs(spec, wrong, derive_data(spec))
