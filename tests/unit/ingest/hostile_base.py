"""Shared request document for the hostile-input regression tests (tests/unit/ingest/test_hostile_*)."""

from __future__ import annotations

BASE = """\
# Base

## Job info
```yaml
job_info:
  name: "base"
  domain: "shop"
  event_type: "order_paid"
```

## Source
```java
public class OrderPayload {
    private String orderId;
    private String shopId;
    private BigDecimal amount;
    private String note;
}
```

## Dimension tables
### Dimension 1: dim_shop
```sql
CREATE TABLE dim_shop (
    shop_id STRING NOT NULL,
    shop_name STRING,
    PRIMARY KEY (shop_id) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:mysql://db:3306/shop',
    'table-name' = 'shop',
    'lookup.cache' = 'PARTIAL',
    'lookup.partial-cache.max-rows' = '1000'
);
```

## Result table
```sql
CREATE TABLE dwd_order (
    order_id STRING NOT NULL,
    shop_name STRING,
    amount DECIMAL(12, 2),
    note STRING,
    PRIMARY KEY (order_id) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:mysql://db:3306/dw',
    'table-name' = 'dwd_order'
);
```

## Field mapping
```yaml
field_mapping:
  order_id: "payload.orderId"
  shop_name: "COALESCE(dim1.shop_name, 'unknown')"
  amount: "CAST(payload.amount AS DECIMAL(12, 2))"
  note: "payload.note"
```

## Join relationships
```yaml
join_relationships:
  to_shop:
    source_table: "BusinessEvent"
    source_field: "payload.shopId"
    target_table: "dim_shop"
    target_field: "shop_id"
    join_type: "LEFT JOIN"
    description: "shop"
```

## Special conditions
```yaml
special_conditions:
  data_filters:
    - "payload.orderId IS NOT NULL"
```
"""


def replaced(old: str, new: str, text: str = BASE) -> str:
    """`text` with `old` replaced once; fails loudly when `old` is not there (a stale test)."""
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line holding `needle` (after the first holding `after`)."""
    lines = text.split("\n")
    start = 0 if after is None else next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines[start:], start=start + 1) if needle in line)
