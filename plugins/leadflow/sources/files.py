"""File drops in the generic feed format: ``<source_system>__<entity>.csv|.jsonl[.gz]``.

Each file is landed once, recognised by its SHA-256: a re-dropped file is skipped and reported.

The fast way: the file's bytes stream unparsed into PostgreSQL's COPY (CSV parsing in C), and the
landing rules run as one set-based statement, so Python never touches a row. When PostgreSQL
cannot parse the file (a line with too many or too few cells, broken quoting), the load falls back
to reading it line by line in Python, where each bad line is quarantined with its reason.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from leadflow.sources.feed import ENTITIES, IDENTIFIER, raw_table
from leadflow.sources.landing import (
    LoadResult,
    Unlandable,
    complete_load,
    ensure_schemas,
    fail_load,
    reason_sql,
    start_load,
    write_records,
)

log = logging.getLogger(__name__)

FEED_FILE = re.compile(r"^(?P<source>[a-z][a-z0-9_]*?)__(?P<entity>[a-z]+)\.(?P<format>csv|jsonl)(?P<gz>\.gz)?$")
CHUNK_BYTES = 1 << 20
# PostgreSQL could not parse the file as CSV: read it line by line instead
COPY_FORMAT_ERRORS = (psycopg.errors.BadCopyFileFormat,)

FILES_DDL = """
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
"""

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # an oversized field is quarantined, not a crash


@dataclass(frozen=True)
class FeedFile:
    path: Path
    source_system: str
    entity: str
    format: str
    gzipped: bool

    @classmethod
    def from_path(cls, path: Path) -> FeedFile:
        match = FEED_FILE.match(path.name)
        if not match or match["entity"] not in ENTITIES:
            raise ValueError(
                f"{path.name}: not a feed file name; expected <source_system>__<entity>.csv|.jsonl[.gz] "
                f"with entity one of {', '.join(ENTITIES)}"
            )
        return cls(path, match["source"], match["entity"], match["format"], bool(match["gz"]))

    def open_bytes(self) -> IO[bytes]:
        return gzip.open(self.path, "rb") if self.gzipped else open(self.path, "rb")

    def open_text(self) -> io.TextIOWrapper:
        return io.TextIOWrapper(self.open_bytes(), encoding="utf-8", newline="")

    def chunks(self) -> Iterator[bytes]:
        with self.open_bytes() as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def sha256(self) -> str:
        with open(self.path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    def header(self) -> list[str]:
        """The CSV header as feed column names; a name that is not an identifier is an error."""
        with self.open_text() as handle:
            first = next(csv.reader(handle), [])
        names = [name.strip().lower() for name in first]
        for name in names:
            if not IDENTIFIER.match(name):
                raise ValueError(f"{self.path.name}: header column {name!r} is not a lower-case identifier")
        if len(set(names)) != len(names):
            raise ValueError(f"{self.path.name}: header repeats a column")
        return names

    def records(self) -> Iterator[tuple[int, dict[str, Any] | str | Unlandable]]:
        """Yield (position, record) line by line; what cannot be parsed comes with its reason."""
        with self.open_text() as handle:
            if self.format == "csv":
                reader = csv.reader(handle)
                header = [name.strip().lower() for name in next(reader, [])]
                for position, row in enumerate(reader, start=1):
                    if len(row) != len(header):
                        reason = (
                            "more cells than header columns"
                            if len(row) > len(header)
                            else ("fewer cells than header columns")
                        )
                        yield position, Unlandable(reason, ",".join(row))
                    else:
                        yield position, dict(zip(header, row, strict=True))
            else:
                for position, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        yield position, line.rstrip("\n")
                        continue
                    yield position, record if isinstance(record, dict) else line.rstrip("\n")


def find_feed_files(folder: Path) -> list[FeedFile]:
    """Every feed file in a folder, sorted by name; other files are ignored."""
    if not folder.is_dir():
        raise FileNotFoundError(f"feed folder not found: {folder}")
    return [FeedFile.from_path(p) for p in sorted(folder.iterdir()) if FEED_FILE.match(p.name)]


# --- the fast way ------------------------------------------------------------------------------


def _insert_statement(feed: FeedFile, source: sql.Composable, present: set[str], column) -> sql.Composed:
    """One statement that checks every row and sends it to raw or to the quarantine; returns counts."""
    spec = ENTITIES[feed.entity]

    def value(name: str) -> sql.Composable:
        return sql.SQL("nullif({}, '')").format(column(name)) if name in present else sql.SQL("null")

    extras = sorted(present - set(spec.columns))
    if feed.format == "jsonl":
        keys = sql.SQL(", ").join(sql.Literal(c) for c in spec.columns)
        payload = sql.SQL("nullif(jsonb_strip_nulls(c.j - array[{}]::text[]), '{{}}'::jsonb)").format(keys)
    elif extras:
        pairs = [sql.SQL("{}, {}").format(sql.Literal(name), value(name)) for name in extras]
        objects = [
            sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + 40]))
            for i in range(0, len(pairs), 40)
        ]
        payload = sql.SQL("nullif(jsonb_strip_nulls({}), '{{}}'::jsonb)").format(sql.SQL(" || ").join(objects))
    else:
        payload = sql.SQL("null::jsonb")
    target = sql.Identifier("raw", raw_table(feed.source_system, feed.entity))
    fields = sql.SQL(", ").join(map(sql.Identifier, spec.fields))
    field_values = sql.SQL(", ").join(value(name) for name in spec.fields)
    reason = reason_sql(spec, column, present)
    original = sql.SQL("c.line") if feed.format == "jsonl" else sql.SQL("(to_jsonb(c) - '_row' - '_reason')::text")
    return sql.SQL(
        """
        with checked as materialized (
            select c.*, {reason} as _reason from ({source}) c
        ),
        quarantined as (
            insert into raw.quarantine (load_id, source_system, entity, position, reason, original)
            select %(load_id)s, %(source_system)s, %(entity)s, c._row, c._reason, {original}
            from checked c where c._reason is not null
            returning 1
        ),
        landed as (
            insert into {target} (load_id, loaded_at, source_system, record_at, {fields}, payload)
            select %(load_id)s, now(), %(source_system)s, btrim({ts})::timestamptz, {field_values}, {payload}
            from checked c where c._reason is null
            returning 1
        )
        select (select count(*) from checked), (select count(*) from landed), (select count(*) from quarantined)
        """
    ).format(
        reason=sql.SQL("case when c.unparseable then 'unparseable record' else {} end").format(reason)
        if feed.format == "jsonl"
        else reason,
        source=source,
        original=original,
        target=target,
        fields=fields,
        ts=column(spec.timestamp_field),
        field_values=field_values,
        payload=payload,
    )


def _land_fast(conn: psycopg.Connection, feed: FeedFile, result: LoadResult) -> None:
    conn.execute("set local timezone = 'UTC'")
    spec = ENTITIES[feed.entity]
    if feed.format == "csv":
        names = feed.header()
        conn.execute(
            sql.SQL("create temp table feed_rows (_row bigint generated always as identity, {}) on commit drop").format(
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(n)) for n in names)
            )
        )
        copy = sql.SQL("copy feed_rows ({}) from stdin (format csv, header true)").format(
            sql.SQL(", ").join(map(sql.Identifier, names))
        )
        source = sql.SQL("select * from feed_rows")
        present = set(names)

        def column(name: str) -> sql.Composable:
            return sql.SQL("c.{}").format(sql.Identifier(name))
    else:
        conn.execute(
            "create temp table feed_lines (_row bigint generated always as identity, line text) on commit drop"
        )
        # one line per row: delimiter and quote are control characters that JSON text never contains raw
        copy = sql.SQL("copy feed_lines (line) from stdin (format csv, delimiter e'\\x1f', quote e'\\x1e')")
        source = sql.SQL(
            "select _row, line, j is null as unparseable, j from ("
            " select _row, line, case when ops.is_jsonb(line) then"
            " case when jsonb_typeof(line::jsonb) = 'object' then line::jsonb end end as j"
            " from feed_lines where nullif(btrim(line), '') is not null) parsed"
        )
        present = set(spec.columns)

        def column(name: str) -> sql.Composable:
            return sql.SQL("(c.j ->> {})").format(sql.Literal(name))

    with conn.cursor() as cur:
        with cur.copy(copy) as writer:
            for chunk in feed.chunks():
                writer.write(chunk)
        fetched, landed, quarantined = cur.execute(
            _insert_statement(feed, source, present, column),
            {"load_id": result.load_id, "source_system": feed.source_system, "entity": feed.entity},
        ).fetchone()
        for reason, count in cur.execute(
            "select reason, count(*) from raw.quarantine where load_id = %s group by reason",
            (result.load_id,),
        ):
            result.count_reason(reason, count)
    result.fetched, result.landed, result.quarantined = fetched, landed, quarantined


# --- a whole file ------------------------------------------------------------------------------


def already_landed(conn: psycopg.Connection, feed: FeedFile, digest: str) -> str | None:
    """The load that landed this exact file before, if any."""
    row = conn.execute(
        "select load_id from ops.files where source_system = %s and entity = %s and sha256 = %s",
        (feed.source_system, feed.entity, digest),
    ).fetchone()
    return str(row[0]) if row else None


def land_feed_file(conn: psycopg.Connection, feed: FeedFile, airflow_run_id: str | None = None) -> LoadResult | None:
    """Land one feed file once. Returns None when the same file (by SHA-256) was landed before."""
    ensure_schemas(conn)
    conn.execute(FILES_DDL)
    conn.commit()
    digest = feed.sha256()
    previous = already_landed(conn, feed, digest)
    if previous:
        # reported, not landed again: a skip row in ops.loads says which load had it
        conn.execute(
            "insert into ops.loads (load_id, source_system, entity, started_at, finished_at, status,"
            " airflow_run_id, origin, detail) values (gen_random_uuid(), %s, %s, now(), now(), 'skipped', %s, %s, %s)",
            (feed.source_system, feed.entity, airflow_run_id, feed.path.name, f"same file as load {previous}"),
        )
        conn.commit()
        log.info("%s: skipped, the same file was landed by load %s", feed.path.name, previous)
        return None
    result = start_load(conn, feed.source_system, feed.entity, airflow_run_id, origin=feed.path.name)
    try:
        with conn.transaction():
            try:
                with conn.transaction():  # a savepoint: a file PostgreSQL cannot parse is read again
                    _land_fast(conn, feed, result)
            except COPY_FORMAT_ERRORS as exc:
                log.warning("%s: %s; reading it line by line", feed.path.name, str(exc).splitlines()[0])
                result.fetched = result.landed = result.quarantined = 0
                result.reasons.clear()
                write_records(conn, result, feed.records())
            conn.execute(
                "insert into ops.files (source_system, entity, sha256, file_name, size_bytes, load_id)"
                " values (%s, %s, %s, %s, %s, %s)",
                (
                    feed.source_system,
                    feed.entity,
                    digest,
                    feed.path.name,
                    feed.path.stat().st_size,
                    result.load_id,
                ),
            )
            complete_load(conn, result)
    except BaseException as exc:
        fail_load(conn, result, exc)
        raise
    conn.commit()
    log.info(
        "%s → %s: fetched=%d landed=%d quarantined=%d duplicates=%d",
        feed.path.name,
        result.table,
        result.fetched,
        result.landed,
        result.quarantined,
        result.duplicates,
    )
    return result
