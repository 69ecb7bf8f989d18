"""Transfer definitions: the shipped ones load; invalid ones are refused naming file, field and problem;
the target group becomes SQL identifiers and parameters, never interpolated text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from leadflow.settings import ConfigError
from leadflow.transfer.definitions import load_transfer, load_transfers, transfers_dir
from leadflow.transfer.runner import build_payload, payload_hash, resend_hash

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


def test_the_payload_maps_fields_filters_interests_and_adds_tags_and_its_hash_follows_the_content(tmp_path):
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
    assert payload_hash(payload) == payload_hash(dict(reversed(list(payload.items()))))
    assert payload_hash(payload) != payload_hash({**payload, "Company": "Other"})


def test_without_a_resend_setting_any_change_in_what_is_sent_sends_the_lead_again(tmp_path):
    definition = load_transfer(_write(tmp_path, field_mapping={**VALID["field_mapping"], "Score__c": "lead_score"}))
    payload = {"LastName": "Berg", "Company": "Nordlicht", "Score__c": 64.0}

    assert resend_hash(definition, payload) == payload_hash(payload)  # the ledger's hashes stay valid
    assert resend_hash(definition, payload) != resend_hash(definition, {**payload, "Score__c": 63.99})


def test_resend_ignores_fields_sent_along_and_counts_stepped_numbers_by_their_step(tmp_path):
    definition = load_transfer(
        _write(
            tmp_path,
            field_mapping={**VALID["field_mapping"], "Title": "job_title", "Score__c": "lead_score"},
            resend={"ignore": ["Title"], "steps": {"Score__c": 5}},
        )
    )
    payload = {"LastName": "Berg", "Company": "Nordlicht", "Title": "CTO", "Score__c": 64.99}

    def same(**changes: object) -> bool:
        return resend_hash(definition, {**payload, **changes}) == resend_hash(definition, payload)

    assert same(Title="CIO")  # ignored: its change alone sends nothing
    assert same(Score__c=60.0)  # the same step of 5: [60, 65)
    assert not same(Score__c=65.0)  # the next step
    assert not same(Score__c=59.99)  # the step below
    assert not same(Score__c=None)  # a score gone is a change
    assert not same(Company="Other")  # any other field still counts
    assert resend_hash(definition, payload) != payload_hash(payload)


def test_stepped_numbers_are_divided_in_decimal_not_in_binary_floats(tmp_path):
    mapping = {**VALID["field_mapping"], "Score__c": "lead_score"}
    definition = load_transfer(_write(tmp_path, field_mapping=mapping, resend={"steps": {"Score__c": 0.1}}))

    def step_hash(score: float) -> str:
        return resend_hash(definition, {"LastName": "Berg", "Company": "Nordlicht", "Score__c": score})

    # 0.3 / 0.1 is 2.9999999999999996 in floats: 0.3 would share 0.25's step
    assert step_hash(0.3) != step_hash(0.25)
    assert step_hash(0.3) == step_hash(0.39)
