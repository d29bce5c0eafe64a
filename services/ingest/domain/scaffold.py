"""`streamwright init DOMAIN`: a complete request document with `<your_...>` placeholders.

`check` rejects every unfilled placeholder with its line; once each one is replaced by a real
value (an identifier where the template needs one), the document passes.
"""

from __future__ import annotations

import re

from services.ingest.domain.check_job import DOMAIN
from services.ingest.domain.errors import Issues

PLACEHOLDER = re.compile(r"<your_[A-Za-z0-9_]+>")

_TEMPLATE = """\
# {domain} Flink SQL request v3

Replace every `<your_...>` placeholder, then run `streamwright check {domain}-request-v3.md`.

## Job info
```yaml
job_info:
  name: "<your_job_name>"
  description: "<your_description>"
  domain: "{domain}"
  event_type: "<your_event_type>"
  author: "<your_team>"
  version: "1.0.0"
  time_zone: "UTC"
```

## Source
- BusinessEvent rows with domain = job_info.domain and type = job_info.event_type.
- The payload JSON is described by the class below (one `private <Type> <name>;` per field).

```java
public class {payload_class} {{
    private String <your_id_field>;      // unique id of the event's business object
    private String <your_key_field>;     // key of the dimension row to look up
    private Long eventTime;              // event time, epoch milliseconds
}}
```

## Dimension tables
### Dimension 1: <your_dimension_table>
```sql
CREATE TABLE `<your_dimension_table>` (
    `<your_dimension_key>` STRING NOT NULL COMMENT 'primary key',
    `display_name` STRING COMMENT 'name shown in the result',
    PRIMARY KEY (`<your_dimension_key>`) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:mysql://<your_host>:3306/<your_database>',
    'table-name' = '<your_dimension_table>',
    'lookup.cache' = 'PARTIAL',
    'lookup.partial-cache.max-rows' = '100000',
    'lookup.partial-cache.expire-after-write' = '10 min'
);
```

## Result table
### Table: <your_result_table>
```sql
CREATE TABLE `<your_result_table>` (
    `id` STRING NOT NULL COMMENT 'business object id',
    `display_name` STRING COMMENT 'from the dimension table',
    `event_time` TIMESTAMP(3) COMMENT 'event time in the job time zone',
    PRIMARY KEY (`id`) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:mysql://<your_host>:3306/<your_database>',
    'table-name' = '<your_result_table>'
);
```

## Field mapping
```yaml
field_mapping:
  id: "payload.<your_id_field>"
  display_name: "COALESCE(dim1.display_name, 'unknown')"
  event_time: "TO_TIMESTAMP_LTZ(payload.eventTime, 3)"
```

## Join relationships
```yaml
join_relationships:
  event_to_dimension:
    source_table: "BusinessEvent"
    source_field: "payload.<your_key_field>"
    target_table: "<your_dimension_table>"
    target_field: "<your_dimension_key>"
    join_type: "LEFT JOIN"
    description: "look up the display name; a miss keeps the row with 'unknown'"
```

## Special conditions
```yaml
special_conditions:
  data_filters:
    - "payload.<your_id_field> IS NOT NULL"
  performance_hints:
    - "lookup cache of 100k rows, 10 minutes"
```

## Notes
- <your_notes>
"""


def render_template(domain: str) -> str:
    """The request template for `domain`; ValueError when the domain breaks its pattern."""
    if not DOMAIN.match(domain):
        raise ValueError(
            f"invalid domain {domain!r}: use lower-case letters, digits, '_' and '-', starting with a letter"
        )
    payload_class = "".join(part.capitalize() for part in re.split(r"[_-]+", domain) if part) + "Payload"
    return _TEMPLATE.format(domain=domain, payload_class=payload_class)


def check_placeholders(lines: list[str], issues: Issues) -> None:
    """Every `<your_...>` placeholder left in the document is an error."""
    for number, line in enumerate(lines, start=1):
        for match in PLACEHOLDER.finditer(line):
            issues.error(
                "scaffold.placeholder",
                f"template placeholder {match.group(0)} is not filled in",
                block="document",
                line=number,
                name=match.group(0),
                hint="replace the placeholder with the real value",
            )
