"""The resend digest, computed in the database: a delivered lead is sent again exactly when what
the transfer sends changes — less the fields ``resend.ignore`` names, stepped numbers by their step."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from leadflow.transfer.definitions import CANDIDATE_COLUMNS, TransferDefinition, load_transfer
from leadflow.transfer.runner import build_payload, resend_digest_sql

pytestmark = pytest.mark.integration

BASE = {
    "name": "t",
    "marketing_area": "EMEA",
    "target_group": [{"column": "stage", "op": "in", "value": ["mql", "sql"]}],
    "schedule": {"cron": "0 6 * * 1-5", "start": "2026-01-01"},
    "connection": "leadflow_sales",
    "adapter": "salesforce",
    "field_mapping": {"LastName": "last_name", "Company": "company", "Score__c": "lead_score"},
}
TYPES = {"text": "text", "number": "numeric(8, 2)", "timestamp": "timestamptz"}
ROW = {"contact_id": "c1", "last_name": "Berg", "company": "Nordlicht", "lead_score": Decimal("64.99")}


def _definition(tmp_path: Path, **changes: Any) -> TransferDefinition:
    path = tmp_path / "t.yml"
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    return load_transfer(path)


def _digests(conn: psycopg.Connection, definition: TransferDefinition, rows: list[dict[str, Any]]) -> list[str]:
    """The digest of each row, from a table shaped like marts.transfer_candidates."""
    conn.execute("drop table if exists pg_temp.candidates")
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(TYPES[kind])) for name, kind in CANDIDATE_COLUMNS.items()
    )
    conn.execute(sql.SQL("create temp table candidates (position integer, {})").format(columns))
    copy_sql = f"copy pg_temp.candidates (position, {', '.join(CANDIDATE_COLUMNS)}) from stdin"
    with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for position, row in enumerate(rows):
            copy.write_row([position, *(row.get(name) for name in CANDIDATE_COLUMNS)])
    digest, params = resend_digest_sql(definition)
    query = sql.SQL("select {} from pg_temp.candidates as candidates order by position").format(digest)
    return [value for (value,) in conn.execute(query, params)]


def _same(conn: psycopg.Connection, definition: TransferDefinition, **changes: Any) -> bool:
    before, after = _digests(conn, definition, [ROW, {**ROW, **changes}])
    return before == after


def test_without_a_resend_setting_any_change_in_what_is_sent_sends_the_lead_again(fresh_database, tmp_path):
    definition = _definition(tmp_path)
    with psycopg.connect(fresh_database.url()) as conn:
        assert _same(conn, definition)
        assert _same(conn, definition, engagement_score=Decimal("12.00"), job_title="CTO")  # not sent
        assert not _same(conn, definition, lead_score=Decimal("64.98"))
        assert not _same(conn, definition, company="Other")
        assert not _same(conn, definition, last_name=None)
        # what is the same for every lead is part of it too: another field, or another column behind it
        (changed_mapping,) = _digests(
            conn, _definition(tmp_path, field_mapping={**BASE["field_mapping"], "Title": "job_title"}), [ROW]
        )
        (other_column,) = _digests(
            conn, _definition(tmp_path, field_mapping={**BASE["field_mapping"], "Company": "account_name"}),
            [{**ROW, "account_name": "Nordlicht"}],
        )  # fmt: skip
        assert len({_digests(conn, definition, [ROW])[0], changed_mapping, other_column}) == 3


def test_resend_ignores_fields_sent_along_and_counts_stepped_numbers_by_their_step(fresh_database, tmp_path):
    definition = _definition(
        tmp_path,
        field_mapping={**BASE["field_mapping"], "Title": "job_title"},
        resend={"ignore": ["Title"], "steps": {"Score__c": 5}},
    )
    with psycopg.connect(fresh_database.url()) as conn:
        assert _same(conn, definition, job_title="CIO")  # ignored: its change alone sends nothing
        assert _same(conn, definition, lead_score=Decimal("60.00"))  # the same step of 5: [60, 65)
        assert not _same(conn, definition, lead_score=Decimal("65.00"))  # the next step
        assert not _same(conn, definition, lead_score=Decimal("59.99"))  # the step below
        assert not _same(conn, definition, lead_score=None)  # a score gone is a change
        assert not _same(conn, definition, company="Other")  # any other field still counts


def test_stepped_numbers_are_divided_in_decimal_not_in_binary_floats(fresh_database, tmp_path):
    definition = _definition(tmp_path, resend={"steps": {"Score__c": 0.1}})
    with psycopg.connect(fresh_database.url()) as conn:
        # 0.3 / 0.1 is 2.9999999999999996 in floats: 0.3 would share 0.25's step
        zero_three, zero_two_five, zero_three_nine = _digests(
            conn, definition, [{**ROW, "lead_score": Decimal(v)} for v in ("0.30", "0.25", "0.39")]
        )
        assert zero_three != zero_two_five
        assert zero_three == zero_three_nine


def test_interests_count_as_the_payload_sends_them_and_tags_with_the_definition(fresh_database, tmp_path):
    filtered = _definition(
        tmp_path, interests=["cloud", "iot"], interests_field="Interests__c", tags=["emea"], tags_field="Tags__c"
    )
    with psycopg.connect(fresh_database.url()) as conn:
        row = {**ROW, "interests": "security|iot|cloud"}
        digests = _digests(
            conn,
            filtered,
            [
                row,
                {**row, "interests": "iot|cloud|security|analytics"},  # only codes not sent changed
                {**row, "interests": "iot||cloud"},  # an empty code is dropped
                {**row, "interests": "cloud|iot"},  # the order is sent: a change
                {**row, "interests": "security"},  # none sent: null, as with no interests at all
                {**row, "interests": None},
            ],
        )
        assert digests[0] == digests[1] == digests[2]
        assert len({digests[0], digests[3], digests[4]}) == 3
        assert digests[4] == digests[5]

        (other_tags,) = _digests(conn, _definition(tmp_path, **{**filtered.model_dump(), "tags": ["apac"]}), [row])
        assert other_tags != digests[0]


def _resend_view(definition: TransferDefinition, row: dict[str, Any]) -> dict[str, Any]:
    """What a change must show in to send a lead again, by the definition (the digest's specification)."""
    fields = build_payload(definition, row)
    kept = {}
    for name, value in fields.items():
        if name in definition.resend.ignore:
            continue
        if name in definition.resend.steps and value is not None:
            value = math.floor(Decimal(str(value)) / Decimal(str(definition.resend.steps[name])))
        kept[name] = value
    return kept


def test_two_rows_share_a_digest_exactly_when_what_the_transfer_sends_of_them_is_the_same(fresh_database, tmp_path):
    definition = _definition(
        tmp_path,
        field_mapping={
            **BASE["field_mapping"],
            "Title": "job_title",
            "Stage__c": "stage",
            "Entered__c": "stage_entered_at",
        },
        interests=["cloud", "iot"],
        interests_field="Interests__c",
        resend={"ignore": ["Title"], "steps": {"Score__c": 2.5}},
    )
    chance = random.Random(7)
    entered = [datetime(2026, 11, day, 9, 30, tzinfo=UTC) for day in (2, 3)]
    scores = [None, *(Decimal(f"{v}.{c}") for v in (59, 60, 62, 64) for c in ("00", "49", "50", "99"))]
    rows = [
        {
            "contact_id": f"c{i}",
            "last_name": chance.choice(["Berg", "Kaya", "", None]),
            "stage_entered_at": chance.choice([None, *entered]),
            "company": chance.choice(["Nordlicht", "Sol"]),
            "lead_score": chance.choice(scores),
            "job_title": chance.choice(["CTO", "CIO", None]),
            "stage": chance.choice(["mql", "sql"]),
            "interests": chance.choice([None, "", "iot", "cloud|iot", "iot|cloud", "security|iot", "iot|security"]),
        }
        for i in range(400)
    ]  # fmt: skip
    with psycopg.connect(fresh_database.url()) as conn:
        digests = _digests(conn, definition, rows)

    views = [_resend_view(definition, row) for row in rows]
    pairs = [(a, b) for a in range(len(rows)) for b in range(a + 1, len(rows))]
    assert any(digests[a] == digests[b] for a, b in pairs)  # the sample has leads that are the same
    mismatched = [(a, b) for a, b in pairs if (digests[a] == digests[b]) != (views[a] == views[b])]
    assert not mismatched, [(rows[a], rows[b]) for a, b in mismatched[:3]]


def test_a_mapping_longer_than_json_build_arrays_arguments_still_counts_every_field(fresh_database, tmp_path):
    # the fields sorted by name, Zz__c last: in the second array
    mapping = {**BASE["field_mapping"], **{f"Extra{i}__c": "job_title" for i in range(120)}, "Zz__c": "industry"}
    definition = _definition(tmp_path, field_mapping=mapping)
    with psycopg.connect(fresh_database.url()) as conn:
        assert _same(conn, definition)
        assert not _same(conn, definition, industry="software")
        assert not _same(conn, definition, company="Other")
