"""Landing records in ``raw``: append-only, written with COPY, quarantine with a reason, ops.loads.

Guarantees, per load: fetched = landed + quarantined; the rows of a load and its finished
``ops.loads`` row commit together, so a crash mid-load leaves nothing half-visible (the load stays
``running`` and the next load of the same source and entity marks it ``abandoned``).

Two ways in, with the same rules (``validate_record`` here, ``reason_sql`` for SQL):
- records from Python (REST pages, SQL rows, a malformed file read line by line) are checked here
  and written with COPY in batches;
- feed files go the fast way (``leadflow.sources.files``): PostgreSQL parses the file with COPY and
  the checks run as one set-based statement.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from leadflow.ddl import index_if_missing
from leadflow.sources.feed import ENTITIES, MAX_FIELD_CHARS, Entity, raw_table, raw_table_ddl

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
FUTURE_TOLERANCE = timedelta(days=1)
# what a blank id, timestamp or source name holds: spaces, tabs and line ends (what exports leave in
# empty cells); the same on every path (validate_record, reason_sql)
BLANK = " \t\r\n"
# ISO 8601 date or date-time (the feed's timestamp format); PostgreSQL alone would also take 'yesterday'
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"

OPS_DDL = "".join(
    (
        """
create schema if not exists raw;
create schema if not exists ops;
create table if not exists ops.loads (
    load_id uuid primary key,
    source_system text not null,
    entity text not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    status text not null,
    fetched bigint not null default 0,
    landed bigint not null default 0,
    quarantined bigint not null default 0,
    duplicates bigint not null default 0,
    watermark_from timestamptz,
    watermark_to timestamptz,
    airflow_run_id text,
    origin text,
    detail text,
    check (status <> 'succeeded' or fetched = landed + quarantined)
);
-- columns and states added after the first release of ops.loads; changed only when missing, so a
-- load takes no exclusive lock on ops.loads and does not revalidate its rows every time
do $$
begin
    if not exists (select 1 from information_schema.columns
                   where table_schema = 'ops' and table_name = 'loads' and column_name = 'origin') then
        alter table ops.loads add column origin text;
    end if;
    if not exists (select 1 from pg_constraint where conrelid = 'ops.loads'::regclass
                   and conname = 'loads_status_check' and pg_get_constraintdef(oid) like '%skipped%') then
        alter table ops.loads drop constraint if exists loads_status_check;
        alter table ops.loads add constraint loads_status_check
            check (status in ('running', 'succeeded', 'failed', 'abandoned', 'skipped'));
    end if;
end
$$;
""",
        index_if_missing("ops.loads", "loads_source_entity", "(source_system, entity, started_at desc)"),
        """
create table if not exists raw.quarantine (
    load_id uuid not null,
    quarantined_at timestamptz not null default now(),
    source_system text not null,
    entity text not null,
    position bigint,
    reason text not null,
    original text
);
""",
        index_if_missing("raw.quarantine", "quarantine_load", "(load_id)"),
        """
-- feed files landed, by checksum: a re-dropped file is skipped
create table if not exists ops.files (
    source_system text not null,
    entity text not null,
    sha256 text not null,
    file_name text not null,
    size_bytes bigint not null,
    load_id uuid not null,
    loaded_at timestamptz not null default now(),
    primary key (source_system, entity, sha256)
);
""",
    )
)

# pg_input_is_valid exists from PostgreSQL 16; on 15 a PL/pgSQL fallback gives the same answer.
# Created once: CREATE OR REPLACE rewrites the catalog row every time, and two loads starting at once
# then fail ("tuple concurrently updated").
HELPERS_DDL = """
do $$
begin
    if to_regprocedure('ops.is_jsonb(text)') is not null then
        return;
    elsif current_setting('server_version_num')::int >= 160000 then
        create or replace function ops.is_jsonb(value text) returns boolean
            language sql immutable parallel safe
            as 'select pg_input_is_valid(value, ''jsonb'')';
    else
        create or replace function ops.is_jsonb(value text) returns boolean
            language plpgsql immutable parallel safe
            as 'begin perform value::jsonb; return true; exception when others then return false; end';
    end if;
end
$$;
"""


class Rejected(ValueError):
    """A record that cannot be landed; the message is the quarantine reason (never record data)."""


@dataclass(frozen=True)
class SourceRecord:
    """A record mapped onto the feed columns, with the source's original kept for ``payload``."""

    values: dict[str, Any]
    original: dict[str, Any]


@dataclass(frozen=True)
class Unlandable:
    """A record a reader already knows cannot land (e.g. a CSV line with the wrong number of cells)."""

    reason: str
    original: str


@dataclass
class LoadResult:
    load_id: str
    source_system: str
    entity: str
    table: str
    fetched: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    watermark_from: datetime | None = None
    watermark_to: datetime | None = None

    def count_reason(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + count

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
            "duplicates": self.duplicates,
            "reasons": self.reasons,
        }


# --- the rules ---------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 date or date-time; naive values are taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        # no leading blanks (as in SQL: the value must start with the date); trailing ones are ignored
        text = str(value).rstrip() if value is not None else ""
        if not text.strip():
            raise Rejected("missing timestamp")
        if not re.match(ISO_TIMESTAMP, text):
            raise Rejected("unparseable timestamp")
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise Rejected("unparseable timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    """Feed columns are text: numbers and flags as written, nested values as JSON, '' as null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "|".join(str(v) for v in value) or None  # the feed's list convention: a|b|c
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def validate_record(
    record: dict[str, Any], spec: Entity, source_system: str, now: datetime
) -> tuple[dict[str, str | None], dict[str, Any]]:
    """Return (feed columns, extra fields) or raise Rejected with the reason.

    The same rules, in the same order, as ``reason_sql``.
    """
    values = {key: _text(value) for key, value in record.items()}
    for key, value in values.items():
        if value is not None and len(value) > MAX_FIELD_CHARS:
            raise Rejected(f"field {key} longer than {MAX_FIELD_CHARS} characters")
    if not (values.get(spec.id_field) or "").strip(BLANK):
        raise Rejected(f"missing {spec.id_field}")
    if not (values.get(spec.timestamp_field) or "").strip(BLANK):
        raise Rejected(f"missing {spec.timestamp_field}")
    record_at = parse_timestamp(values[spec.timestamp_field])
    if record_at > now + FUTURE_TOLERANCE:
        raise Rejected(f"{spec.timestamp_field} in the future")
    declared = (values.get("source_system") or "").strip(BLANK)
    if declared and declared != source_system:
        raise Rejected("source_system does not match the source")
    columns = {name: values.get(name) for name in spec.columns}
    extras = {key: value for key, value in values.items() if key not in spec.columns and value is not None}
    return columns, extras


def reason_sql(
    spec: Entity,
    column: Callable[[str], sql.Composable],
    present: set[str],
    source_system: str,
    check_lengths: bool = True,
    now: datetime | None = None,
    read_timestamp: bool = True,
) -> sql.Composed:
    """The quarantine reason of a row as one SQL CASE (null = the row lands): ``validate_record``'s
    rules, cheap enough to run on every row of a COPY.

    ``column(name)`` gives the expression of a feed column, ``present`` the columns the input has.
    A timestamp shaped like an ISO date that PostgreSQL still cannot read (2026-02-30) raises an
    error: the caller then lands the file line by line, where such a record is quarantined.
    ``read_timestamp=False`` leaves out the one rule that reads the timestamp (in the future?),
    which costs as much as all the others together (a cast per row): the shape rules only.
    """

    def col(name: str) -> sql.Composable:
        return column(name) if name in present else sql.SQL("null::text")

    whens: list[sql.Composable] = []
    if check_lengths:
        for name in sorted(present):
            whens.append(
                sql.SQL("when length({c}) > {n} then {r}").format(
                    c=column(name),
                    n=sql.Literal(MAX_FIELD_CHARS),
                    r=sql.Literal(f"field {name} longer than {MAX_FIELD_CHARS} characters"),
                )
            )
    # ordered so that the common, valid row costs the fewest calls
    blank = sql.Literal(BLANK)
    starts_blank = sql.SQL(", ").join(sql.Literal(ord(c)) for c in BLANK)
    for name in (spec.id_field, spec.timestamp_field):
        # null or only BLANK characters; btrim only when the value starts with one (ascii() reads
        # the first character without copying the value): two btrims a row were two thirds of
        # these rules' cost, this way about half of it (5.1 M rows, alternating: 1.3–1.4 s →
        # 0.7–1.0 s; for spaces alone 1.1 s → 0.35 s)
        whens.append(
            sql.SQL("when {c} is null or {c} = '' or (ascii({c}) in ({s}) and btrim({c}, {b}) = '') then {r}").format(
                c=col(name), s=starts_blank, b=blank, r=sql.Literal(f"missing {name}")
            )
        )
    ts = col(spec.timestamp_field)
    # chr(37) is '%': a literal % would be read as a query parameter; folded once at plan time
    whens.append(sql.SQL("when {c} not like '____-__-__' || chr(37) then 'unparseable timestamp'").format(c=ts))
    if read_timestamp:
        limit = ((now or datetime.now(UTC)) + FUTURE_TOLERANCE).isoformat()
        whens.append(
            sql.SQL("when {c}::timestamptz > {limit}::timestamptz then {r}").format(
                c=ts, limit=sql.Literal(limit), r=sql.Literal(f"{spec.timestamp_field} in the future")
            )
        )
    if "source_system" in present:
        whens.append(
            sql.SQL("when {c} <> {src} and btrim({c}, {b}) not in ('', {src}) then {r}").format(
                c=column("source_system"),
                src=sql.Literal(source_system),
                b=blank,
                r=sql.Literal("source_system does not match the source"),
            )
        )
    return sql.SQL("case {} end").format(sql.SQL(" ").join(whens))


Record = dict[str, Any] | str | Unlandable | SourceRecord


def window_start(
    conn: psycopg.Connection, source_system: str, entity: str, window_end: datetime, initial: datetime | None
) -> datetime | None:
    """Where an incremental extraction ending at ``window_end`` (the run's data interval end) starts:
    the end of the last successful load before it — so missed runs leave no gap, and a rerun or a
    backfill of an interval gets the window it had — else the initial watermark (None = everything)."""
    ensure_schemas(conn)
    row = conn.execute(
        "select max(watermark_to) from ops.loads where source_system = %s and entity = %s"
        " and status = 'succeeded' and watermark_to < %s",
        (source_system, entity, window_end),
    ).fetchone()
    return row[0] if row and row[0] else initial


# --- loads -------------------------------------------------------------------------------------


# taken first by the landing's DDL, held to the end of its transaction: the first loads of a
# database, started side by side (several files or sources at once), would otherwise both create
# the same table and one of them fail on the catalog's unique index
DDL_LOCK = "select pg_advisory_xact_lock(hashtext('leadflow.landing_ddl'))"


def ensure_schemas(conn: psycopg.Connection) -> None:
    from leadflow.erasure import ensure_suppression

    conn.execute(DDL_LOCK)
    conn.execute(OPS_DDL)
    conn.execute(HELPERS_DDL)
    ensure_suppression(conn)


def ensure_raw_table(conn: psycopg.Connection, source_system: str, entity: str) -> str:
    conn.execute(DDL_LOCK)
    conn.execute(raw_table_ddl(source_system, entity))
    return raw_table(source_system, entity)


def start_load(
    conn: psycopg.Connection,
    source_system: str,
    entity: str,
    airflow_run_id: str | None = None,
    watermark_from: datetime | None = None,
    watermark_to: datetime | None = None,
    origin: str | None = None,
) -> LoadResult:
    """Register a running load (committed at once, so it is visible while it runs). The caller has
    run ``ensure_schemas`` on the connection (a landing runs it once, before its first query)."""
    table = ensure_raw_table(conn, source_system, entity)
    result = LoadResult(
        str(uuid.uuid4()),
        source_system,
        entity,
        f"raw.{table}",
        watermark_from=watermark_from,
        watermark_to=watermark_to,
    )
    conn.execute(
        "update ops.loads set status = 'abandoned', finished_at = now(), detail = 'never finished'"
        " where source_system = %s and entity = %s and status = 'running'",
        (source_system, entity),
    )
    conn.execute(
        "insert into ops.loads (load_id, source_system, entity, started_at, status, airflow_run_id,"
        " watermark_from, watermark_to, origin) values (%s, %s, %s, now(), 'running', %s, %s, %s, %s)",
        (result.load_id, source_system, entity, airflow_run_id, watermark_from, watermark_to, origin),
    )
    conn.commit()
    return result


def this_loads_rows(alias: str | None = None) -> str:
    """The condition that picks the rows of the load in progress in its raw table (the load's id as
    the parameter ``%(load)s``; ``alias``: the table's alias). They all carry the transaction's
    ``now()`` in ``loaded_at``, so the table's BRIN index on it finds them without reading the
    history; run it under ``planned_for_this_load``."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}loaded_at = now() and {prefix}load_id = %(load)s"


@contextlib.contextmanager
def planned_for_this_load(conn: psycopg.Connection, *also_off: str) -> Iterator[None]:
    """Statements that find the load in progress's rows (``this_loads_rows``): rows not committed
    have no statistics, so the planner would read the whole table; sequential scans are off while
    they run, and the other plan methods named in ``also_off`` (e.g. "nestloop"). ``set local``
    ends with the transaction or savepoint anyway: a failed statement needs no reset (which would
    fail in turn, hiding its error)."""
    methods = ("seqscan", *also_off)
    conn.execute("; ".join(f"set local enable_{method} = off" for method in methods))
    yield
    conn.execute("; ".join(f"reset enable_{method}" for method in methods))


# A probe of the landed-key index costs about what reading 20 rows of the raw table does (measured
# at 1 M contacts: 51 k probes 0.3 s, one pass over 5.2 M rows 1.9 s): a load with fewer keys than
# a twentieth of its table's rows probes, a larger one (a full re-export) reads the table once.
ROWS_PER_PROBE = 20


def landed_key(id_column: str, timestamp_column: str) -> str:
    """A raw row's (id, time) as one bigint: what its table's landed-key index holds. Equal keys give
    equal hashes; a lookup compares the columns themselves too, so a collision counts nothing."""
    return f"hashtextextended({id_column} || '|' || {timestamp_column}, 0)"


def ensure_landed_key_index(conn: psycopg.Connection, result: LoadResult) -> None:
    """The index duplicate counts look earlier loads up by. Made by the first load that has earlier
    ones, after its rows are in (one bulk build: 1.9 s for 5.2 M rows at 1 M contacts), so a
    table's first load, often its whole history, is COPYed into a table without it; every later
    load maintains it (51 k rows: 0.25-0.4 s instead of 0.05 s without it)."""
    spec = ENTITIES[result.entity]
    table = raw_table(result.source_system, result.entity)
    conn.execute(
        index_if_missing(
            f"raw.{table}",
            f"{table}__landed_key",
            f"({landed_key(spec.id_field, spec.timestamp_field)})",
        )
    )


def count_duplicates(conn: psycopg.Connection, result: LoadResult) -> None:
    """Records of this load that an earlier load already landed unchanged (same id, same time).

    They are landed again (raw is append-only and fetched = landed + quarantined holds); staging
    keeps one version. The count shows reruns and overlapping windows in ops.loads.

    The work is the load's, not the history's: the load's keys are found through the BRIN index
    on ``loaded_at`` and looked up in the landed-key index, one probe per distinct key. (Before,
    one pass over every earlier row per load: 4.2 s of a day's 5 s landing at 1 M contacts, and
    growing with the history.) A load about as large as its table reads the table once instead.
    """
    earlier = conn.execute(
        "select exists (select 1 from ops.loads where source_system = %s and entity = %s"
        " and status = 'succeeded' and landed > 0 and load_id <> %s)",
        (result.source_system, result.entity, result.load_id),
    ).fetchone()[0]
    if not earlier:  # a first load has nothing to repeat: skip the scan
        result.duplicates = 0
        return
    ensure_landed_key_index(conn, result)
    spec = ENTITIES[result.entity]
    table = raw_table(result.source_system, result.entity)
    names = {
        "t": sql.Identifier("raw", table),
        "id": sql.Identifier(spec.id_field),
        "ts": sql.Identifier(spec.timestamp_field),
    }
    # The load's distinct keys, how often each, in a temporary table with statistics.
    with planned_for_this_load(conn):
        keys = conn.execute(
            sql.SQL(
                "create temporary table leadflow_load_keys on commit drop as"
                " select {id} as id, {ts} as ts, count(*) as n from {t}"
                " where {this_load} and {id} is not null and {ts} is not null"
                " group by {id}, {ts}"
            ).format(this_load=sql.SQL(this_loads_rows()), **names),
            {"load": result.load_id},
        ).rowcount
    conn.execute("analyze leadflow_load_keys")
    # (the estimate of the last analyze or index build; -1, never counted: the pass)
    query = "select reltuples from pg_class where oid = %s::regclass"
    table_rows = conn.execute(query, (result.table,)).fetchone()[0]
    by_probes = 0 <= keys * ROWS_PER_PROBE <= table_rows
    log.debug("%s: %d keys of load %s, %s", result.table, keys, result.load_id, "probed" if by_probes else "one pass")
    if by_probes:
        # one index probe per key; "limit 1" keeps it a probe (a semi join may hash the table)
        query = sql.SQL(
            "select coalesce(sum(k.n), 0) from leadflow_load_keys as k cross join lateral ("
            " select from {t} as t where {t_key} = {k_key} and t.{id} = k.id and t.{ts} = k.ts"
            " and t.load_id <> %(load)s limit 1"
            ") as earlier"
        ).format(
            t_key=sql.SQL(landed_key(f"t.{spec.id_field}", f"t.{spec.timestamp_field}")),
            k_key=sql.SQL(landed_key("k.id", "k.ts")),
            **names,
        )
    else:
        # one pass over the table hashed against the keys. (A semi join of the load against the
        # table, planned while the new load_id has no statistics, hashed the whole table in each
        # of three processes instead: 2.5 s for 52 k rows against 5 M at L, 1.4 s this way.)
        query = sql.SQL(
            "select coalesce(sum(landed_here), 0) from ("
            " select count(*) filter (where t.load_id = %(load)s) as landed_here,"
            " bool_or(t.load_id <> %(load)s) as landed_before"
            " from {t} as t where (t.{id}, t.{ts}) in (select k.id, k.ts from leadflow_load_keys as k)"
            " group by t.{id}, t.{ts}"
            ") as per_key where landed_before"
        ).format(**names)
    result.duplicates = int(conn.execute(query, {"load": result.load_id}).fetchone()[0])
    conn.execute("drop table leadflow_load_keys")


def finish_load(conn: psycopg.Connection, result: LoadResult) -> None:
    """Inside the load's transaction, last: the finished row commits with the data. finished_at is
    the clock, not the transaction's start, so it tells when the data became visible (within the
    commit's milliseconds): fct_interactions picks up the loads finished since its last build."""
    conn.execute(
        "update ops.loads set status = 'succeeded', finished_at = clock_timestamp(), fetched = %s, landed = %s,"
        " quarantined = %s, duplicates = %s where load_id = %s",
        (result.fetched, result.landed, result.quarantined, result.duplicates, result.load_id),
    )


def fail_load(conn: psycopg.Connection, result: LoadResult, exc: BaseException) -> None:
    """After a rollback: the load is failed; the detail names the error type, never record data."""
    conn.rollback()
    conn.execute(
        "update ops.loads set status = 'failed', finished_at = clock_timestamp(), detail = %s where load_id = %s",
        (type(exc).__name__, result.load_id),
    )
    conn.commit()


# --- the Python path ----------------------------------------------------------------------------


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _original(record: dict[str, Any] | str | Unlandable) -> str:  # for the quarantine
    if isinstance(record, Unlandable):
        return record.original
    return record if isinstance(record, str) else json.dumps(record, default=str, ensure_ascii=False)


def write_records(
    conn: psycopg.Connection,
    result: LoadResult,
    records: Iterable[tuple[int, Record]],
    batch_size: int = BATCH_SIZE,
) -> None:
    """Check and COPY records in batches into the load's raw table and the quarantine.

    Runs inside the caller's transaction. ``payload`` gets a ``SourceRecord``'s original, or the
    fields of a plain record beyond the feed columns.
    """
    spec = ENTITIES[result.entity]
    table = sql.Identifier("raw", raw_table(result.source_system, result.entity))
    columns = ["load_id", "loaded_at", *spec.columns, "payload"]
    copy_raw = sql.SQL("copy {t} ({c}) from stdin").format(t=table, c=sql.SQL(", ").join(map(sql.Identifier, columns)))
    copy_quarantine = "copy raw.quarantine (load_id, source_system, entity, position, reason, original) from stdin"
    # the server's clock, as for a file's rows (the column default): the load's rows are stamped
    # after its started_at, which the raw checks and the staging tests bound their scans by
    now = conn.execute("select now()").fetchone()[0]
    for batch in _batches(records, batch_size):
        good: list[tuple[Any, ...]] = []
        bad: list[tuple[Any, ...]] = []
        for position, item in batch:
            result.fetched += 1
            original = item.original if isinstance(item, SourceRecord) else None
            record = item.values if isinstance(item, SourceRecord) else item
            try:
                if isinstance(record, Unlandable):
                    raise Rejected(record.reason)
                if not isinstance(record, dict):
                    raise Rejected("unparseable record")
                values, extras = validate_record(record, spec, result.source_system, now)
            except Rejected as exc:
                result.count_reason(str(exc))
                bad.append(
                    (
                        result.load_id,
                        result.source_system,
                        result.entity,
                        position,
                        str(exc),
                        _original(record),
                    )
                )
                continue
            payload = original if original is not None else (extras or None)
            good.append(
                (
                    result.load_id,
                    now,
                    *values.values(),
                    json.dumps(payload, default=str, ensure_ascii=False) if payload else None,
                )
            )
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


def complete_load(conn: psycopg.Connection, result: LoadResult) -> None:
    """The last steps inside a load's transaction: records of erased people out (leadflow.erasure),
    the duplicate count, the finished row."""
    from leadflow.erasure import SUPPRESSED, suppress_load

    suppressed = suppress_load(
        conn, raw_table(result.source_system, result.entity), result.entity, result.load_id, result.source_system
    )
    if suppressed:
        result.landed -= suppressed
        result.quarantined += suppressed
        result.count_reason(SUPPRESSED, suppressed)
    count_duplicates(conn, result)
    finish_load(conn, result)


def land_records(
    conn: psycopg.Connection,
    source_system: str,
    entity: str,
    records: Iterable[tuple[int, Record]],
    airflow_run_id: str | None = None,
    batch_size: int = BATCH_SIZE,
    watermark_from: datetime | None = None,
    watermark_to: datetime | None = None,
    origin: str | None = None,
) -> LoadResult:
    """One load of ``(position, record)`` pairs from Python, in one transaction.

    A ``str`` record is text that could not be parsed; an ``Unlandable`` one comes with its reason.
    """
    ensure_schemas(conn)
    result = start_load(conn, source_system, entity, airflow_run_id, watermark_from, watermark_to, origin)
    try:
        with conn.transaction():
            write_records(conn, result, records, batch_size)
            complete_load(conn, result)
    except BaseException as exc:
        fail_load(conn, result, exc)
        raise
    conn.commit()
    return result
