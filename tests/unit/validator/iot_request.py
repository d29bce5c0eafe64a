"""The testers' IoT request (tests/unit/validator): a CASE business rule, a LEFT join with a
condition, whole-stream aggregates whose CASE mapping repeats other mappings' aggregate calls."""

from __future__ import annotations

from functools import cache

from services.flinksql.spec import RequestSpec
from services.ingest.domain.checks import check_document

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


@cache
def iot_spec() -> RequestSpec:
    result = check_document(IOT)
    assert result.errors == [], [e.render() for e in result.errors]
    assert result.spec is not None
    return result.spec


__all__ = ["IOT", "iot_spec"]
