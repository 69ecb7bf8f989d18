"""Landing records in ``raw``: append-only, COPY in batches, quarantine with a reason, ops.loads.

Guarantees, per load: fetched = landed + quarantined; the rows of a load and its finished
``ops.loads`` row commit together, so a crash mid-load leaves nothing half-visible (the load stays
``running`` and the next load of the same table marks it ``abandoned``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
MAX_FIELD_CHARS = 10_000
FUTURE_TOLERANCE = timedelta(days=1)
IDENTIFIER = r"^[a-z][a-z0-9_]*$"

OPS_DDL = """
create schema if not exists raw;
create schema if not exists ops;
create table if not exists ops.loads (
    load_id uuid primary key,
    source_system text not null,
    entity text not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null check (status in ('running', 'succeeded', 'failed', 'abandoned')),
    fetched bigint not null default 0,
    landed bigint not null default 0,
    quarantined bigint not null default 0,
    duplicates bigint not null default 0,
    watermark_from timestamptz,
    watermark_to timestamptz,
    airflow_run_id text,
    detail text,
    check (status <> 'succeeded' or fetched = landed + quarantined)
);
create table if not exists raw.quarantine (
    load_id uuid not null,
    quarantined_at timestamptz not null default now(),
    source_system text not null,
    entity text not null,
    position bigint,
    reason text not null,
    original text
);
"""

RAW_TABLE_DDL = """
create table if not exists raw.{table} (
    load_id uuid not null,
    loaded_at timestamptz not null,
    source_system text not null,
    record_id text not null,
    record_updated_at timestamptz not null,
    payload jsonb not null
)
"""


@dataclass(frozen=True)
class EntitySpec:
    """What a record of an entity must have to be landed."""

    name: str
    id_field: str
    timestamp_field: str


ENTITIES = {
    "contacts": EntitySpec("contacts", "source_record_id", "updated_at"),
    "interactions": EntitySpec("interactions", "source_interaction_id", "occurred_at"),
    "opportunities": EntitySpec("opportunities", "opportunity_id", "created_at"),
    "campaigns": EntitySpec("campaigns", "campaign_id", "started_at"),
}


class Rejected(ValueError):
    """A record that cannot be landed; the message is the quarantine reason (no record data)."""


@dataclass
class LoadResult:
    load_id: str
    source_system: str
    entity: str
    table: str
    fetched: int = 0
    landed: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_xcom(self) -> dict[str, Any]:
        """Counts and ids only: XComs never carry personal data."""
        return {
            "load_id": self.load_id,
            "source_system": self.source_system,
            "entity": self.entity,
            "table": self.table,
            "fetched": self.fetched,
            "landed": self.landed,
            "quarantined": self.quarantined,
            "reasons": self.reasons,
        }


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (date or date-time); naive values are taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise Rejected("unparseable timestamp") from exc
    else:
        raise Rejected("missing timestamp")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def validate_record(
    record: dict[str, Any], spec: EntitySpec, now: datetime
) -> tuple[str, datetime, dict[str, Any]]:
    """Return (record id, record timestamp, cleaned payload) or raise Rejected with the reason."""
    if None in record:  # csv.DictReader puts surplus cells under the key None
        raise Rejected("more cells than header columns")
    if any(value is None for value in record.values()):
        raise Rejected("fewer cells than header columns")
    payload = {key: (value.strip() if isinstance(value, str) else value) for key, value in record.items()}
    payload = {key: (None if value == "" else value) for key, value in payload.items()}
    for key, value in payload.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise Rejected(f"field {key} longer than {MAX_FIELD_CHARS} characters")
    record_id = payload.get(spec.id_field)
    if record_id is None:
        raise Rejected(f"missing {spec.id_field}")
    if spec.timestamp_field not in payload or payload[spec.timestamp_field] is None:
        raise Rejected(f"missing {spec.timestamp_field}")
    stamp = parse_timestamp(payload[spec.timestamp_field])
    if stamp > now + FUTURE_TOLERANCE:
        raise Rejected(f"{spec.timestamp_field} in the future")
    return str(record_id), stamp, payload


def ensure_schemas(conn: psycopg.Connection) -> None:
    conn.execute(OPS_DDL)


def raw_table_name(source_system: str, entity: str) -> str:
    if not re.match(IDENTIFIER, source_system) or entity not in ENTITIES:
        raise ValueError(f"invalid source/entity: {source_system!r}/{entity!r}")
    return f"{source_system}__{entity}"


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def land_records(
    conn: psycopg.Connection,
    source_system: str,
    entity: str,
    records: Iterable[tuple[int, dict[str, Any] | str]],
    airflow_run_id: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> LoadResult:
    """Land ``(position, record)`` pairs; a ``str`` record is raw text that could not be parsed.

    The whole load is one transaction; its ``ops.loads`` row is inserted (committed) first so a
    running load is visible, then finished inside the data transaction.
    """
    spec = ENTITIES[entity]
    table = raw_table_name(source_system, entity)
    result = LoadResult(str(uuid.uuid4()), source_system, entity, f"raw.{table}")
    now = datetime.now(UTC)

    ensure_schemas(conn)
    conn.execute(sql.SQL(RAW_TABLE_DDL).format(table=sql.Identifier(table)))
    conn.execute(
        "update ops.loads set status = 'abandoned', finished_at = now(), detail = 'never finished'"
        " where source_system = %s and entity = %s and status = 'running'",
        (source_system, entity),
    )
    conn.execute(
        "insert into ops.loads (load_id, source_system, entity, started_at, status, airflow_run_id)"
        " values (%s, %s, %s, %s, 'running', %s)",
        (result.load_id, source_system, entity, now, airflow_run_id),
    )
    conn.commit()

    copy_raw = sql.SQL(
        "copy raw.{table} (load_id, loaded_at, source_system, record_id, record_updated_at, payload)"
        " from stdin"
    ).format(table=sql.Identifier(table))
    copy_quarantine = (
        "copy raw.quarantine (load_id, source_system, entity, position, reason, original) from stdin"
    )
    try:
        with conn.transaction():
            for batch in _batches(records, batch_size):
                good: list[tuple[Any, ...]] = []
                bad: list[tuple[Any, ...]] = []
                for position, record in batch:
                    result.fetched += 1
                    try:
                        if isinstance(record, str):
                            raise Rejected("unparseable record")
                        record_id, stamp, payload = validate_record(record, spec, now)
                    except Rejected as exc:
                        reason = str(exc)
                        result.reasons[reason] = result.reasons.get(reason, 0) + 1
                        original = record if isinstance(record, str) else json.dumps(record, default=str)
                        bad.append((result.load_id, source_system, entity, position, reason, original))
                        continue
                    good.append((result.load_id, now, source_system, record_id, stamp, json.dumps(payload)))
                with conn.cursor() as cur:
                    if good:
                        with cur.copy(copy_raw) as copy:
                            for row in good:
                                copy.write_row(row)
                    if bad:
                        with cur.copy(copy_quarantine) as copy:
                            for row in bad:
                                copy.write_row(row)
                result.landed += len(good)
                result.quarantined += len(bad)
                log.info(
                    "%s: %d fetched, %d landed, %d quarantined so far",
                    result.table,
                    result.fetched,
                    result.landed,
                    result.quarantined,
                )
            conn.execute(
                "update ops.loads set status = 'succeeded', finished_at = now(), fetched = %s, landed = %s,"
                " quarantined = %s where load_id = %s",
                (result.fetched, result.landed, result.quarantined, result.load_id),
            )
    except Exception as exc:
        conn.execute(
            "update ops.loads set status = 'failed', finished_at = now(), detail = %s where load_id = %s",
            (type(exc).__name__, result.load_id),
        )
        conn.commit()
        raise
    conn.commit()
    return result
