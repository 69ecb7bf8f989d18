from datetime import UTC, datetime, timedelta

import pytest

from leadflow.sources.feed import ENTITIES, raw_table
from leadflow.sources.landing import Rejected, parse_timestamp, validate_record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTACTS = ENTITIES["contacts"]


def contact(**fields):
    record = {"source_system": "crm", "source_record_id": "C-1", "updated_at": "2026-02-01T10:00:00Z"}
    record.update(fields)
    return record


def test_a_valid_record_keeps_its_values_and_splits_off_extra_fields():
    values, extras = validate_record(
        contact(email="  a@example.com ", phone="", loyalty_tier="gold"), CONTACTS, "crm", NOW
    )

    assert values["email"] == "  a@example.com "  # kept as received; staging normalises
    assert values["phone"] is None  # empty is null, as COPY reads an empty CSV cell
    assert values["updated_at"] == "2026-02-01T10:00:00Z"
    assert list(values) == list(CONTACTS.columns)
    assert extras == {"loyalty_tier": "gold"}


def test_json_values_become_text_the_way_they_were_written():
    values, _ = validate_record(contact(email_opt_in=True, company_size=250), CONTACTS, "crm", NOW)

    assert (values["email_opt_in"], values["company_size"]) == ("true", "250")


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (contact(source_record_id=""), "missing source_record_id"),
        (contact(source_record_id="   "), "missing source_record_id"),
        (contact(updated_at=""), "missing updated_at"),
        (contact(updated_at="yesterday"), "unparseable timestamp"),
        (contact(updated_at="2026-02-30"), "unparseable timestamp"),
        (contact(updated_at=(NOW + timedelta(days=2)).isoformat()), "updated_at in the future"),
        (contact(company="x" * 10_001), "field company longer than 10000 characters"),
        (contact(source_system="events"), "source_system does not match the source"),
    ],
)
def test_records_that_cannot_land_are_rejected_with_a_reason(record, reason):
    with pytest.raises(Rejected) as caught:
        validate_record(record, CONTACTS, "crm", NOW)

    assert str(caught.value) == reason


def test_the_reason_never_quotes_the_record():
    with pytest.raises(Rejected) as caught:
        validate_record(contact(updated_at="anna@example.com"), CONTACTS, "crm", NOW)

    assert "anna" not in str(caught.value)


def test_naive_timestamps_are_utc_and_dates_are_accepted():
    assert parse_timestamp("2026-01-02 03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp("2026-01-02") == datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_timestamp("2026-01-02T03:04:05+02:00").utcoffset() == timedelta(hours=2)


def test_raw_table_names_accept_only_identifiers_and_known_entities():
    assert raw_table("crm", "contacts") == "crm__contacts"
    with pytest.raises(ValueError):
        raw_table("crm; drop table x", "contacts")
    with pytest.raises(ValueError):
        raw_table("crm", "leads")
