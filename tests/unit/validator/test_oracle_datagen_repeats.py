"""All-NULL aggregate groups in the spec-derived data: one per aggregate call (oracle datagen).

The IoT request's `health` CASE repeats `SUM(CASE WHEN payload.alarm THEN 1 ELSE 0 END)` (as
`alarm_count`) and `MAX(payload.errorCode)` (as `worst_error`): a call already given its all-NULL
group must not get a second one, which would spend the 60-event budget twice.
"""

from __future__ import annotations

import re
from collections import Counter

from iot_request import iot_spec

from services.validator.domain.oracle import derive_data

_NULL_GROUP = re.compile(r"^mapping \S+: `(.+)` over a group whose values are all NULL \(\d/2\)")


def _null_groups(texts: list[str]) -> Counter[str]:
    return Counter(m.group(1) for t in texts for s in t.split("; ") if (m := _NULL_GROUP.match(s)))


def test_each_aggregate_call_gets_one_all_null_group() -> None:
    """Two events (one group) per call's text, among the inputs and those left out alike."""
    data = derive_data(iot_spec(), max_events=500)
    groups = _null_groups(list(data.purposes))
    assert groups, data.purposes
    assert set(groups.values()) == {2}, groups
    assert groups["SUM(CASE WHEN payload.alarm THEN 1 ELSE 0 END)"] == 2
    assert groups["MAX(payload.errorCode)"] == 2
    assert not any("mapping health: `MAX(payload.errorCode)`" in p for p in data.purposes)


def test_the_budget_is_not_spent_on_repeated_calls() -> None:
    """Within the 60-event budget no call's all-NULL group is listed twice (kept or left out)."""
    data = derive_data(iot_spec())
    groups = _null_groups([*data.purposes, *data.dropped])
    assert groups and max(groups.values()) == 2, groups
