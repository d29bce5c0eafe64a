"""TIMESTAMP_LTZ results compare as instants whatever the job's time zone (request-format.md §8).

A job's rows are kept as text (`render_value`) and read back by the oracle and the case
comparison (`normalize`); the text must name the same instant in the job's zone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.flinksql.sqltypes import parse_type
from services.validator.domain.values import compare_rows, json_result_rows, normalize, render_value

LTZ = parse_type("TIMESTAMP_LTZ(3)")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York", "Asia/Shanghai", "Asia/Kathmandu"])
def test_a_rendered_job_row_reads_back_as_the_same_instant(zone_name: str) -> None:
    """Flink's JSON gives UTC instants; rendered in the job's zone they compare equal to the
    interpreter's aware value (the false `shifted by +5 h` Critical in New York)."""
    zone = ZoneInfo(zone_name)
    [row] = json_result_rows(['{"at": "2025-01-06 19:16:55Z"}'], [("at", LTZ)], [])
    text = render_value(row["at"], zone)
    interpreted = datetime(2025, 1, 6, 19, 16, 55, tzinfo=UTC)
    assert normalize(text, LTZ, zone) == normalize(interpreted, LTZ, zone)


def test_the_job_row_is_shown_as_wall_clock_in_the_jobs_zone() -> None:
    assert render_value(datetime(2025, 1, 6, 19, 16, 55, tzinfo=UTC), NEW_YORK) == "2025-01-06 14:16:55"
    stamp = datetime(2025, 1, 6, 19, 16, 55, 250000, tzinfo=UTC)
    assert render_value(stamp, NEW_YORK) == "2025-01-06 14:16:55.250"


def test_without_a_zone_an_instant_keeps_its_offset() -> None:
    """Text without an offset would be read as wall clock in the job's zone: never drop it."""
    text = render_value(datetime(2025, 1, 6, 19, 16, 55, tzinfo=UTC))
    assert text == "2025-01-06 19:16:55+00:00"
    assert normalize(text, LTZ, NEW_YORK) == datetime(2025, 1, 6, 19, 16, 55, tzinfo=UTC)


def test_the_repeated_hour_keeps_two_instants_apart() -> None:
    """01:30 happens twice in New York on 2025-11-02: the rendered text says which."""
    first = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    second = datetime(2025, 11, 2, 6, 30, tzinfo=UTC)
    texts = [render_value(first, NEW_YORK), render_value(second, NEW_YORK)]
    assert texts == ["2025-11-02 01:30:00-04:00", "2025-11-02 01:30:00-05:00"]
    assert [normalize(t, LTZ, NEW_YORK) for t in texts] == [first, second]
    assert normalize(first, LTZ, NEW_YORK) != normalize(second, LTZ, NEW_YORK)


def test_case_rows_compare_as_instants_and_report_in_the_jobs_zone() -> None:
    """A case's expected wall clock (§8) against the job's UTC instant: equal; a real difference is
    reported in the job's zone for expected and actual alike."""
    columns = [("at", LTZ)]
    actual = [{"at": datetime(2025, 1, 6, 19, 16, 55, tzinfo=UTC)}]
    assert compare_rows([{"at": "2025-01-06 14:16:55"}], actual, columns, zone=NEW_YORK).equal
    diff = compare_rows([{"at": "2025-01-06 14:17:55"}], actual, columns, zone=NEW_YORK)
    assert json.dumps(diff.missing) == '[{"at": "2025-01-06 14:17:55"}]'
    assert json.dumps(diff.unexpected) == '[{"at": "2025-01-06 14:16:55"}]'


def test_a_case_keeps_the_jobs_rows_in_the_jobs_zone() -> None:
    """`PendingCase.result` stores the job's rows as text; the instant Flink gives in UTC is kept
    as wall clock in the job's zone (Asia/Shanghai here), which the oracle reads back as is."""
    from decimal import Decimal

    from services.validator.domain.case_batch import JobScript
    from services.validator.domain.cases import CaseShape, PendingCase
    from tests.unit.validator.test_case_shape import JOB, _case

    job = JobScript.read(JOB)
    case = _case()
    shape = CaseShape.of(job, case)
    instant = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    produced = {"id": "o1", "shop_name": "Shop 'One'", "amount": Decimal("12.50"), "paid_at": instant}
    result = PendingCase(case, shape, "exact", None, rows=[produced]).result(job)
    assert result.passed
    assert result.rows[0]["paid_at"] == "2023-11-15 06:13:20"
    shanghai = ZoneInfo("Asia/Shanghai")
    assert normalize(result.rows[0]["paid_at"], LTZ, shanghai) == instant
