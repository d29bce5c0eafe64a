"""Issue 14 item 5, door 2 (defence in depth): the generator never writes an option literal that
holds CR, LF, `--`, `/*` or `*/`, whichever way it reached the IR (a spec that bypassed the
check, a profile option). Before, `emit_script` quoted such a value and wrote it as is."""

from __future__ import annotations

import pytest

from services.flinksql.spec import RequestSpec
from services.flinksql.statements import split_statements
from services.generator.domain import CompileError, Profile, compile_job
from services.generator.domain.profiles import TableProfile

HOSTILE = ["a -- b", "a\n; DROP TABLE x", "a\rb", "a /* b", "a */ b"]


def _with_result_option(spec: RequestSpec, key: str, value: str) -> RequestSpec:
    table = spec.result.model_copy(update={"options": {**spec.result.options, key: value}})
    return spec.model_copy(update={"result": table})


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_option_value_is_refused_naming_table_and_option(
    value: str, specs: dict[str, RequestSpec], profile: Profile
) -> None:
    spec = _with_result_option(specs["orders"], "sink.note", value)
    with pytest.raises(CompileError, match=r"table 'dwd_order_wide': the value of option 'sink.note'"):
        compile_job(spec, profile=profile, revision=1, generator_version="0.1.0")


def test_a_hostile_option_key_is_refused(specs: dict[str, RequestSpec], profile: Profile) -> None:
    spec = _with_result_option(specs["orders"], "sink--note", "x")
    with pytest.raises(CompileError, match=r"the key of option 'sink--note' \(document\) holds '--'"):
        compile_job(spec, profile=profile, revision=1, generator_version="0.1.0")


def test_a_hostile_profile_option_is_refused_too(specs: dict[str, RequestSpec], profile: Profile) -> None:
    hostile = profile.model_copy(update={"tables": {"dim_city": TableProfile(options={"url": "jdbc:x/*y"})}})
    with pytest.raises(
        CompileError, match=r"table 'dim_city': the value of option 'url' \(profile\) holds '/\*'"
    ):
        compile_job(specs["orders"], profile=hostile, revision=1, generator_version="0.1.0")


def test_safe_values_still_compile_and_read_back(specs: dict[str, RequestSpec], profile: Profile) -> None:
    spec = _with_result_option(specs["orders"], "sink.note", "it's; a -b/c*d `q` 中文")
    sql = compile_job(spec, profile=profile, revision=1, generator_version="0.1.0").sql
    assert "'sink.note' = 'it''s; a -b/c*d `q` 中文'" in sql
    assert len(split_statements(sql)) == len(
        split_statements(
            compile_job(specs["orders"], profile=profile, revision=1, generator_version="0.1.0").sql
        )
    )
