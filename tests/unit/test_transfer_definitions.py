"""Transfer definitions: the shipped ones load; invalid ones are refused naming file, field and problem;
the target group becomes SQL identifiers and parameters, never interpolated text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from leadflow.settings import ConfigError
from leadflow.transfer.definitions import load_transfer, load_transfers, transfers_dir
from leadflow.transfer.runner import build_payload

VALID = {
    "name": "t",
    "marketing_area": "EMEA",
    "target_group": [
        {"column": "stage", "op": "in", "value": ["mql", "sql"]},
        {"column": "lead_score", "op": ">=", "value": 60},
    ],
    "schedule": {"cron": "0 6 * * 1-5", "start": "2026-01-01"},
    "connection": "leadflow_sales",
    "adapter": "salesforce",
    "field_mapping": {"LastName": "last_name", "Company": "company"},
}


def _write(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "t.yml"
    path.write_text(yaml.safe_dump({**VALID, **changes}))
    return path


def test_the_shipped_definitions_load():
    definitions = load_transfers(transfers_dir())
    assert definitions and all(d.dag_id == f"transfer_{d.name}" for d in definitions)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"target_group": [{"column": "password", "op": "=", "value": "x"}]},
            r"target_group\.0: column 'password' is not allowed",
        ),
        (
            {"target_group": [{"column": "stage", "op": ">", "value": "mql"}]},
            "op > does not apply to the text column stage",
        ),
        ({"target_group": [{"column": "lead_score", "op": ">=", "value": "60; drop table x"}]}, "is a number"),
        ({"target_group": [{"column": "stage", "op": "in", "value": []}]}, "needs a non-empty list"),
        ({"schedule": {"cron": "every day", "start": "2026-01-01"}}, r"schedule\.cron: .*not a cron expression"),
        ({"schedule": {"cron": "0 6 * * *", "start": "2026-02-01", "end": "2026-01-01"}}, "end must come after start"),
        ({"field_mapping": {"LastName": "last_name"}}, "Salesforce Leads require Company"),
        ({"field_mapping": {"LastName": "last_name", "Company": "company; --"}}, "is not a golden attribute"),
        ({"field_mapping": {"Last Name": "last_name", "Company": "company"}}, "is not an API name"),
        ({"batch_size": 500}, "salesforce takes at most 200 records a request"),
        ({"concurrent_requests": 0}, "concurrent_requests: Input should be greater than or equal to 1"),
        ({"concurrent_requests": 11}, "concurrent_requests: Input should be less than or equal to 10"),
        ({"adapter": "pigeon"}, r"adapter: Input should be 'salesforce', 'hubspot' or 'webhook'"),
        ({"name": "Bad Name"}, "name: String should match pattern"),
        ({"unknown_key": 1}, "unknown_key: Extra inputs are not permitted"),
        ({"resend": {"ignore": ["Rating"]}}, "resend: 'Rating' is not a field this transfer sends"),
        ({"resend": {"steps": {"Company": 5}}}, "resend.steps: Company is not a number"),
        ({"resend": {"steps": {"Score__c": 0}}}, r"resend\.steps: Score__c: a step must be above 0"),
        ({"resend": {"ignore": ["Score__c"], "steps": {"Score__c": 5}}}, "Score__c is both ignored and stepped"),
        (
            {"resend": {"ignore": ["LastName", "Company", "Score__c"]}},
            "every field is ignored, so no lead would ever be updated",
        ),
        ({"resend": {"ignored": ["Score__c"]}}, "resend.ignored: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_definition_is_refused_naming_the_file_and_field(tmp_path, changes, message):
    changes.setdefault("field_mapping", {**VALID["field_mapping"], "Score__c": "lead_score"})
    with pytest.raises(ConfigError, match=r"t\.yml: .*" + message):
        load_transfer(_write(tmp_path, **changes))


def test_the_target_group_is_identifiers_and_parameters(tmp_path):
    definition = load_transfer(_write(tmp_path))
    where, params = definition.target_sql()

    assert where.as_string(None) == '"marketing_area" = %s and "stage" in (%s, %s) and "lead_score" >= %s'
    assert params == ["EMEA", "mql", "sql", 60]


def test_the_payload_maps_fields_filters_interests_and_adds_tags(tmp_path):
    definition = load_transfer(
        _write(
            tmp_path,
            interests=["cloud", "iot"],
            interests_field="Interests__c",
            tags=["emea", "q4"],
            tags_field="Tags__c",
        )
    )
    row = {"last_name": "Berg", "company": "Nordlicht", "interests": "security|iot|cloud"}

    payload = build_payload(definition, row)

    assert payload == {"LastName": "Berg", "Company": "Nordlicht", "Interests__c": "iot;cloud", "Tags__c": "emea;q4"}
