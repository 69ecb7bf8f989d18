from datetime import UTC, datetime, timedelta

import pytest

from leadflow.sources.landing import ENTITIES, Rejected, parse_timestamp, raw_table_name, validate_record

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTACTS = ENTITIES["contacts"]


def contact(**fields):
    record = {"source_system": "crm", "source_record_id": "C-1", "updated_at": "2026-02-01T10:00:00Z"}
    record.update(fields)
    return record


def test_a_valid_record_is_cleaned_and_keyed():
    record_id, stamp, payload = validate_record(contact(email="  a@example.com ", phone=""), CONTACTS, NOW)

    assert record_id == "C-1"
    assert stamp == datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    assert payload["email"] == "a@example.com"
    assert payload["phone"] is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (contact(source_record_id=""), "missing source_record_id"),
        (contact(updated_at=""), "missing updated_at"),
        (contact(updated_at="yesterday"), "unparseable timestamp"),
        (contact(updated_at=(NOW + timedelta(days=2)).isoformat()), "updated_at in the future"),
        (contact(company="x" * 10_001), "field company longer than 10000 characters"),
        ({**contact(), None: ["surplus"]}, "more cells than header columns"),
        (contact(email=None), "fewer cells than header columns"),
    ],
)
def test_records_that_cannot_land_are_rejected_with_a_reason(record, reason):
    with pytest.raises(Rejected) as caught:
        validate_record(record, CONTACTS, NOW)

    assert str(caught.value) == reason


def test_the_reason_never_quotes_the_record():
    with pytest.raises(Rejected) as caught:
        validate_record(contact(updated_at="anna@example.com"), CONTACTS, NOW)

    assert "anna" not in str(caught.value)


def test_naive_timestamps_are_utc_and_dates_are_accepted():
    assert parse_timestamp("2026-01-02 03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp("2026-01-02") == datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_timestamp("2026-01-02T03:04:05+02:00").utcoffset() == timedelta(hours=2)


def test_raw_table_names_accept_only_identifiers_and_known_entities():
    assert raw_table_name("crm", "contacts") == "crm__contacts"
    with pytest.raises(ValueError):
        raw_table_name("crm; drop table x", "contacts")
    with pytest.raises(ValueError):
        raw_table_name("crm", "leads")
