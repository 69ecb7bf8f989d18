import json
from pathlib import Path

import pytest

from leadflow.quality.suites import LAYERS, PARAMETERS, SuiteError, expectations_dir, load_suite
from leadflow.sources.feed import ENTITIES

SUITES = sorted(expectations_dir().glob("*/*.json"))


def test_every_layer_has_suites_and_every_raw_entity_a_suite():
    assert {path.parent.name for path in SUITES} == set(LAYERS)
    assert {path.stem for path in SUITES if path.parent.name == "raw"} == set(ENTITIES)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_suite_names_what_it_checks_and_a_severity_per_expectation(path: Path):
    suite = load_suite(path)

    assert suite.layer == path.parent.name
    assert suite.name == f"{suite.layer}.{path.stem}"
    if suite.layer == "raw":
        assert suite.entity == path.stem and suite.per_load
    else:
        assert suite.table == path.stem and suite.schema == "marts"
    assert {e["severity"] for e in suite.expectations} <= {"critical", "warning"}
    assert suite.severity == "critical", "every suite guards something critical"


def _write(tmp_path: Path, meta: dict, expectations: list[dict]) -> Path:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"name": "t", "meta": meta, "expectations": expectations}))
    return path


MARTS = {"layer": "marts", "schema": "marts", "table": "t"}
NOT_NULL = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}


def test_an_expectation_without_severity_is_refused_naming_the_file(tmp_path):
    with pytest.raises(SuiteError, match=r"t\.json: expectations\[0\].*severity"):
        load_suite(_write(tmp_path, MARTS, [NOT_NULL]))


def test_an_unknown_suite_parameter_is_refused(tmp_path):
    expectation = {
        "type": "expect_column_max_to_be_between",
        "kwargs": {"column": "ts", "max_value": {"$PARAMETER": "tomorrow"}},
        "severity": "critical",
    }
    with pytest.raises(SuiteError, match=r"unknown suite parameter\(s\) tomorrow; known: " + ", ".join(PARAMETERS)):
        load_suite(_write(tmp_path, MARTS, [expectation]))


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({**MARTS, "table": "t; drop table x"}, "meta.table must be a plain lower-case identifier"),
        ({"layer": "raw", "entity": "leads"}, "meta.entity must be one of contacts"),
        ({"layer": "gold", "schema": "marts", "table": "t"}, "meta.layer must be one of raw, marts, candidates"),
        ({"layer": "marts", "schema": "marts"}, "meta.table is required"),
    ],
)
def test_a_suite_that_does_not_say_what_it_checks_is_refused(tmp_path, meta, message):
    with pytest.raises(SuiteError, match=message):
        load_suite(_write(tmp_path, meta, [{**NOT_NULL, "severity": "critical"}]))


UNIQUE_ID = {"type": "expect_column_values_to_be_unique_by_index", "kwargs": {"column": "id"}, "severity": "critical"}


def test_a_uniqueness_by_index_check_is_of_the_suites_own_table(tmp_path):
    (check,) = load_suite(_write(tmp_path, MARTS, [UNIQUE_ID])).expectations

    assert check["kwargs"] == {"column": "id", "table": "marts.t"}

    elsewhere = {**UNIQUE_ID, "kwargs": {"column": "id", "table": "marts.other"}}
    with pytest.raises(SuiteError, match=r"kwargs\.table must be the suite's own table marts\.t"):
        load_suite(_write(tmp_path, MARTS, [elsewhere]))
    with pytest.raises(SuiteError, match="a per-load suite has no table"):
        load_suite(_write(tmp_path, {"layer": "raw", "entity": "contacts"}, [UNIQUE_ID]))


def test_every_marts_id_is_checked_by_one_derived_query():
    from leadflow.quality.expectations import ExpectColumnValuesToBeUniqueByIndex

    checks = [
        ExpectColumnValuesToBeUniqueByIndex(**e["kwargs"])
        for path in SUITES
        for e in load_suite(path).expectations
        if e["type"] == UNIQUE_ID["type"]
    ]

    assert sorted(c.table for c in checks) == [
        "marts.contact_scores",
        "marts.dim_contacts",
        "marts.lead_stages",
        "marts.transfer_candidates",
    ]
    for check in checks:
        query = check.unexpected_rows_query
        assert query.startswith(f'select "{check.column}" from {{batch}} where not exists')
        assert f"i.indrelid = '{check.table}'::regclass and a.attname = '{check.column}'" in query
        assert query.endswith(f'group by "{check.column}" having count(*) > 1')


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"column": "id; drop table x", "table": "marts.t"}, "column must be a plain lower-case identifier"),
        ({"column": "id", "table": "t"}, "table must be schema.table"),
        ({"column": "id", "table": "marts.t'--"}, "table must be schema.table"),
        ({"column": "id\n", "table": "marts.t"}, "column must be a plain lower-case identifier"),
        ({"column": "id", "table": "marts.t", "unexpected_rows_query": "select 1 from {batch}"}, "is derived"),
    ],
)
def test_a_uniqueness_by_index_check_refuses_names_that_are_not_plain_identifiers(kwargs, message):
    from leadflow.quality.expectations import ExpectColumnValuesToBeUniqueByIndex

    with pytest.raises(ValueError, match=message):
        ExpectColumnValuesToBeUniqueByIndex(**kwargs)
