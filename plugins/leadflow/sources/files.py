"""File drops in the generic feed format: ``<source_system>__<entity>.csv|.jsonl[.gz]``.

Each file is landed once, recognised by its SHA-256: a re-dropped file is skipped and reported.

The fast way: the file's bytes stream unparsed into PostgreSQL's COPY (CSV parsing in C), and the
landing rules run as one set-based statement, so Python never touches a row. When PostgreSQL
cannot parse the file (a line with too many or too few cells, broken quoting), the load falls back
to reading it line by line in Python, where each bad line is quarantined with its reason.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import logging
import re
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from leadflow.sources.feed import ENTITIES, IDENTIFIER, LOAD_ID_DEFAULT, MAX_FIELD_CHARS, raw_table
from leadflow.sources.landing import (
    LoadResult,
    Unlandable,
    complete_load,
    ensure_schemas,
    fail_load,
    planned_for_this_load,
    reason_sql,
    start_load,
    this_loads_rows,
    write_records,
)

log = logging.getLogger(__name__)

FEED_FILE = re.compile(r"^(?P<source>[a-z][a-z0-9_]*?)__(?P<entity>[a-z]+)\.(?P<format>csv|jsonl)(?P<gz>\.gz)?$")
CHUNK_BYTES = 1 << 20
# PostgreSQL could not parse the file as CSV: read it line by line instead
# (or a date PostgreSQL cannot read, such as 2026-02-30)
COPY_FORMAT_ERRORS = (psycopg.errors.BadCopyFileFormat, psycopg.errors.DataError)

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


class FileScan:
    """What landing needs to know of a file's bytes — its SHA-256 and its longest line — gathered
    while the bytes stream into PostgreSQL, so the file is read once (no pass before the COPY)."""

    def __init__(self, feed: FeedFile):
        self.feed = feed
        self.complete = False

    def chunks(self) -> Iterator[bytes]:
        """The file's (decompressed) bytes; reading them to the end completes the scan. A read that
        stopped early (a failed COPY) leaves the scan incomplete; the next read starts it afresh."""
        if self.complete:  # a second read (the slow path) only needs the bytes
            yield from self.feed.chunks()
            return
        self._hasher = hashlib.sha256()
        self._decompressor = zlib.decompressobj(wbits=31) if self.feed.gzipped else None
        self._longest = 0
        self._current = 0  # length of the line still open at the end of the previous chunk
        self.size_bytes = 0
        with open(self.feed.path, "rb") as handle:
            while raw := handle.read(CHUNK_BYTES):
                self.size_bytes += len(raw)
                self._hasher.update(raw)
                chunk = self._decompressor.decompress(raw) if self._decompressor else raw
                # split and len run in C, ≈ 1.4 GB/s: half numpy's speed, but without its import
                # (0.12 s, more than the newline search of a 150 MB feed costs this way)
                lines = chunk.split(b"\n")
                if len(lines) > 1:
                    self._longest = max(self._longest, self._current + len(lines[0]), *map(len, lines[1:-1]))
                    self._current = len(lines[-1])
                else:
                    self._current += len(chunk)
                yield chunk
        self.complete = True

    def finish(self) -> FileScan:
        """Read whatever has not streamed yet (after a COPY that stopped early, or before any)."""
        for _ in self.chunks():
            pass
        return self

    @property
    def sha256(self) -> str:
        assert self.complete, "the scan has not reached the end of the file"
        return self._hasher.hexdigest()

    @property
    def longest_line(self) -> int:
        """In bytes; no cell can be longer, so most files need no length checks."""
        assert self.complete, "the scan has not reached the end of the file"
        return max(self._longest, self._current)


def scan_file(feed: FeedFile) -> FileScan:
    """The whole scan before landing (for a file that may be a re-drop)."""
    return FileScan(feed).finish()


def _copy_file(cur: psycopg.Cursor, statement: sql.Composable, chunks: Iterator[bytes]) -> int:
    with cur.copy(statement) as writer:
        for chunk in chunks:
            writer.write(chunk)
    return cur.rowcount


def _json_column(name: str) -> sql.Composable:
    return sql.SQL("(c.j ->> {})").format(sql.Literal(name))


def _quarantine_from(
    conn: psycopg.Connection,
    result: LoadResult,
    source: sql.Composable,
    reason: sql.Composable,
    original: sql.Composable,
) -> int:
    """Send the rows of ``source`` (aliased c) that have a reason to the quarantine."""
    statement = sql.SQL(
        "insert into raw.quarantine (load_id, source_system, entity, position, reason, original)"
        " select %(load)s, %(source)s, %(entity)s, c._row, r.reason, {original}"
        " from ({source}) c cross join lateral (select {reason} as reason) r where r.reason is not null"
    ).format(source=source, reason=reason, original=original)
    return conn.execute(
        statement, {"load": result.load_id, "source": result.source_system, "entity": result.entity}
    ).rowcount


def _connect_args(conn: psycopg.Connection) -> dict[str, Any]:
    """What opens another connection to the same database as ``conn``."""
    password = conn.pgconn.password
    return {"conninfo": conn.info.dsn, "password": password.decode() if password else None}


class SecondConnection:
    """The connection the second passes of a landing's files share: opened for the first file,
    closed by whoever opened it. A connection of its own per file cost 10–25 ms on the second
    pass's path (the connection, then a cold catalog cache for its CREATE TABLE): at 10 k people
    nine files spent more on it than on their rows."""

    def __init__(self, conn: psycopg.Connection):
        self._connect = _connect_args(conn)
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(**self._connect)
            self._conn.execute("set timezone = 'UTC'")
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SecondConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HeldBackPass(threading.Thread):
    """A second COPY of the same file on the second connection into ``table``, keeping only the
    rows the checks hold back, numbered by their line in the file (``_row``, an identity COPY draws
    for every row it reads, kept or not). The table is committed (and so visible to the load's
    transaction) before ``join`` returns; ``rows`` is then how many rows the pass read."""

    def __init__(
        self,
        second: SecondConnection,
        feed: FeedFile,
        table: sql.Identifier,
        create: sql.Composable,
        copy: sql.Composable,
    ):
        super().__init__(daemon=True)
        self.second = second
        self.feed, self.table, self.create, self.copy = feed, table, create, copy
        self.error: BaseException | None = None
        self.rows = 0

    def run(self) -> None:
        conn = None
        try:
            conn = self.second.get()
            conn.execute(self.create)
            with conn.cursor() as cur:
                _copy_file(cur, self.copy, self.feed.chunks())
            self.rows = self._rows_read(conn)
            conn.commit()
        except BaseException as exc:  # re-raised in the load's thread by join()
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()
            self.error = exc

    def _rows_read(self, conn: psycopg.Connection) -> int:
        """The identity's last value in this session (currval): the row count of the file as
        PostgreSQL parsed it. A file without rows drew none, and currval is then an error."""
        name = self.table.as_string(conn)
        try:
            with conn.transaction():  # a savepoint: the error must not roll back the table
                return conn.execute("select currval(pg_get_serial_sequence(%s, '_row'))", (name,)).fetchone()[0]
        except psycopg.errors.ObjectNotInPrerequisiteState:
            return 0

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            error, self.error = self.error, None
            raise error


class LinesTooLong(Exception):
    """A file landed without length checks has a line longer than a field may be: land it again."""


def held_back_table(load_id: str) -> sql.Identifier:
    """The table a load's second pass fills (dropped with the load, or after it fails)."""
    return sql.Identifier("ops", f"held_back_{load_id.replace('-', '')}")


def _drop_held_back(conn: psycopg.Connection, load_id: str) -> None:
    conn.execute(sql.SQL("drop table if exists {}").format(held_back_table(load_id)))


def _remove_held_back(
    conn: psycopg.Connection, result: LoadResult, target: sql.Identifier, held: sql.Composable, names: list[str]
) -> int:
    """Take held-back rows (``held``: a table or a parenthesised query) out of the load's
    uncommitted rows in raw (never visible to anyone).

    A row is held back by a function of its cells alone, so the rows to take out are exactly those
    of this load equal to a held-back row. The load's rows are found through the BRIN index on
    ``loaded_at`` (they all carry the transaction's ``now()``), not by reading the table's history.
    They are found by a SELECT, which PostgreSQL runs on every core (a DELETE's scan runs on one),
    and deleted by their row ids: about 1.0 s instead of 1.3–1.7 s for 2.4 M rows.
    """
    same_row = sql.SQL("({}) is not distinct from ({})").format(
        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(n)) for n in names),
        sql.SQL(", ").join(sql.SQL("h.{}").format(sql.Identifier(n)) for n in names),
    )
    id_field = ENTITIES[result.entity].id_field
    first = sql.Identifier(id_field if id_field in names else names[0])  # the hash join's key
    # fresh rows have no statistics yet: tell the planner the plan (BRIN scan, hash join on the id)
    with planned_for_this_load(conn, "nestloop", "mergejoin"):
        rows = conn.execute(
            sql.SQL(
                "select distinct r.ctid::text from {t} r join {h} h"
                " on coalesce(r.{first}, '') = coalesce(h.{first}, '') and {same_row}"
                " where {this_load}"
            ).format(t=target, h=held, first=first, same_row=same_row, this_load=sql.SQL(this_loads_rows("r"))),
            {"load": result.load_id},
        ).fetchall()
        return conn.execute(
            sql.SQL("delete from {} where ctid = any(%s::tid[])").format(target), ([row[0] for row in rows],)
        ).rowcount


@contextlib.contextmanager
def load_id_literal(cur: psycopg.Cursor, target: sql.Identifier, load_id: str) -> Iterator[None]:
    """The load's id as the raw table's ``load_id`` default while its COPY runs, the setting-based
    default again afterwards (both inside the load's transaction, so no other session ever sees
    the literal). A literal costs nothing per row; reading the setting is a function call and a
    uuid parse per row, about a quarter of the COPY (2.4 M rows: 7.6 s against 5.8 s).

    The price is ALTER TABLE's lock: readers of this raw table wait for the load's commit.
    In the pipeline nothing reads raw while it lands (staging and the raw checks come after)."""
    alter = sql.SQL("alter table {} alter column load_id set default {}")
    cur.execute(alter.format(target, sql.Literal(load_id)))
    yield
    cur.execute(alter.format(target, sql.SQL(LOAD_ID_DEFAULT)))


def _land_csv(
    conn: psycopg.Connection, feed: FeedFile, result: LoadResult, scan: FileScan, second: SecondConnection
) -> None:
    """COPY the file straight into its raw table (inside the load's transaction), every row the
    cheap shape rules pass. At the same time a second COPY of the same bytes on a second
    connection (the machine's second core) keeps only the rows the checks hold back, with their
    line positions; those go to the quarantine, and the few of them the first COPY landed (held
    back for the timestamp's value) are taken out of the load's uncommitted rows before anything
    commits. The second pass also counts the rows read, so that landed + quarantined = fetched
    compares two passes. A file with columns beyond the feed goes through a temporary table
    instead, so its extra columns can travel in ``payload``."""
    spec = ENTITIES[feed.entity]
    names = feed.header()
    present = set(names)
    extras = sorted(present - set(spec.columns))
    now = datetime.now(UTC)  # one clock for every pass over the file

    def rules(check_lengths: bool, read_timestamp: bool = True) -> sql.Composable:  # columns by their bare names
        return reason_sql(spec, sql.Identifier, present, feed.source_system, check_lengths, now, read_timestamp)

    column_list = sql.SQL(", ").join(map(sql.Identifier, names))
    text_columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(n)) for n in names)
    target = sql.Identifier("raw", raw_table(feed.source_system, feed.entity))
    copy_into = sql.SQL("copy {t} ({c}) from stdin (format csv, header true)")
    original = sql.SQL("(to_jsonb(c) - '_row')::text")
    with conn.cursor() as cur:
        if not extras:
            # Length checks cost a call per cell; a file whose longest line is within the limit needs
            # none. Before the first read that is assumed: if the read proves otherwise, LinesTooLong
            # makes the caller roll back and land the file again, with the checks.
            check_lengths = scan.complete and scan.longest_line > MAX_FIELD_CHARS
            reason = rules(check_lengths)
            # the COPY into raw keeps out the rows the shape rules hold back (a few calls a row), so
            # only the rare row held back for its timestamp's value must be taken out again; the
            # rule that reads the timestamp (a cast a row) runs in the second pass alone
            shape = rules(check_lengths, read_timestamp=False)
            held = held_back_table(result.load_id)
            helper = HeldBackPass(
                second,
                feed,
                held,
                # the identity caches its values: a sequence call per row for the line numbers cost
                # 0.3–0.6 s of 6.7 s for 5.1 M rows (one session draws them in order all the same).
                # No autovacuum: its analyze of the new table made the load's DROP wait for the
                # deadlock timeout (1 s) before cancelling it. Not unlogged: creating an unlogged
                # table syncs its init forks to disk at once (4–5 ms against 1.2 ms here), and
                # the rows it keeps (the held-back ones) are too few for their WAL to matter.
                sql.SQL(
                    "create table {} (_row bigint generated always as identity (cache 100000), {})"
                    " with (autovacuum_enabled = off)"
                ).format(held, text_columns),
                sql.SQL("{} where ({}) is not null").format(copy_into.format(t=held, c=column_list), reason),
            )
            helper.start()
            try:
                with load_id_literal(cur, target, result.load_id):
                    copied = _copy_file(
                        cur,
                        sql.SQL("{} where ({}) is null").format(copy_into.format(t=target, c=column_list), shape),
                        scan.chunks(),
                    )
            finally:
                helper.join()  # the second pass has ended (and committed its table) either way
            if not check_lengths and scan.longest_line > MAX_FIELD_CHARS:
                raise LinesTooLong
            quarantined = _quarantine_from(conn, result, sql.SQL("select * from {}").format(held), reason, original)
            let_through = sql.SQL("(select * from {} where ({}) is null)").format(held, shape)
            removed = 0
            if passed := conn.execute(sql.SQL("select count(*) from {} as c").format(let_through)).fetchone()[0]:
                removed = _remove_held_back(conn, result, target, let_through, names)
                if removed != passed:
                    raise RuntimeError(f"{feed.path.name}: {passed} rows held back but {removed} taken out of raw")
            cur.execute(sql.SQL("drop table {}").format(held))
            # counted by two passes: the second one's rows read against the first one's rows landed
            # (checked by the caller: landed + quarantined = fetched)
            result.fetched, result.landed, result.quarantined = helper.rows, copied - removed, quarantined
            return
        cur.execute(
            sql.SQL("create temp table feed_rows (_row bigint generated always as identity, {}) on commit drop").format(
                text_columns
            )
        )
        fetched = _copy_file(cur, copy_into.format(t=sql.Identifier("feed_rows"), c=column_list), scan.chunks())
        reason = rules(scan.longest_line > MAX_FIELD_CHARS)
        pairs = [sql.SQL("{}, nullif({}, '')").format(sql.Literal(n), sql.Identifier(n)) for n in extras]
        objects = [
            sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + 40]))
            for i in range(0, len(pairs), 40)
        ]
        payload = sql.SQL("nullif(jsonb_strip_nulls({}), '{{}}'::jsonb)").format(sql.SQL(" || ").join(objects))
        values = sql.SQL(", ").join(
            sql.SQL("nullif({}, '')").format(sql.Identifier(n)) if n in present else sql.SQL("null")
            for n in spec.columns
        )
        landed = cur.execute(
            sql.SQL(
                "insert into {t} (load_id, loaded_at, {cols}, payload) select %(load)s, now(), {values}, {payload}"
                " from feed_rows where ({reason}) is null"
            ).format(
                t=target,
                cols=sql.SQL(", ").join(map(sql.Identifier, spec.columns)),
                values=values,
                payload=payload,
                reason=reason,
            ),
            {"load": result.load_id},
        ).rowcount
        quarantined = _quarantine_from(conn, result, sql.SQL("select * from feed_rows"), reason, original)
    result.fetched, result.landed, result.quarantined = fetched, landed, quarantined


def _land_jsonl(conn: psycopg.Connection, feed: FeedFile, result: LoadResult, scan: FileScan) -> None:
    spec = ENTITIES[feed.entity]
    with conn.cursor() as cur:
        cur.execute("create temp table feed_lines (_row bigint generated always as identity, line text) on commit drop")
        # one line per row: delimiter and quote are control characters that JSON text never holds raw
        _copy_file(
            cur,
            sql.SQL("copy feed_lines (line) from stdin (format csv, delimiter e'\\x1f', quote e'\\x1e')"),
            scan.chunks(),
        )
        cur.execute(
            "create temp table feed_json on commit drop as"
            " select _row, line, case when ops.is_jsonb(line) then"
            " case when jsonb_typeof(line::jsonb) = 'object' then line::jsonb end end as j"
            " from feed_lines where nullif(btrim(line), '') is not null"
        )
        fetched = cur.execute("select count(*) from feed_json").fetchone()[0]
        reason = sql.SQL("case when c.j is null then 'unparseable record' else {} end").format(
            reason_sql(spec, _json_column, set(spec.columns), feed.source_system, now=datetime.now(UTC))
        )
        keys = sql.SQL(", ").join(sql.Literal(c) for c in spec.columns)
        landed = cur.execute(
            sql.SQL(
                "insert into {t} (load_id, loaded_at, {cols}, payload)"
                " select %(load)s, now(), {values},"
                " nullif(jsonb_strip_nulls(c.j - array[{keys}]::text[]), '{{}}'::jsonb)"
                " from feed_json c where ({reason}) is null"
            ).format(
                t=sql.Identifier("raw", raw_table(feed.source_system, feed.entity)),
                cols=sql.SQL(", ").join(map(sql.Identifier, spec.columns)),
                values=sql.SQL(", ").join(sql.SQL("nullif({}, '')").format(_json_column(n)) for n in spec.columns),
                keys=keys,
                reason=reason,
            ),
            {"load": result.load_id},
        ).rowcount
        quarantined = _quarantine_from(conn, result, sql.SQL("select * from feed_json"), reason, sql.SQL("c.line"))
    result.fetched, result.landed, result.quarantined = fetched, landed, quarantined


def _land_fast(
    conn: psycopg.Connection, feed: FeedFile, result: LoadResult, scan: FileScan, second: SecondConnection
) -> None:
    conn.execute("set local timezone = 'UTC'")
    conn.execute("select set_config('leadflow.load_id', %s, true)", (result.load_id,))
    if feed.format == "csv":
        _land_csv(conn, feed, result, scan, second)
    else:
        _land_jsonl(conn, feed, result, scan)
    if result.landed + result.quarantined != result.fetched:
        raise RuntimeError(
            f"{feed.path.name}: {result.fetched} rows but {result.landed} landed + {result.quarantined} quarantined"
        )
    for reason, count in conn.execute(
        "select reason, count(*) from raw.quarantine where load_id = %s group by reason", (result.load_id,)
    ):
        result.count_reason(reason, count)


# --- a whole file ------------------------------------------------------------------------------


def already_landed(conn: psycopg.Connection, feed: FeedFile, digest: str) -> str | None:
    """The load that landed this exact file before, if any."""
    row = conn.execute(
        "select load_id from ops.files where source_system = %s and entity = %s and sha256 = %s",
        (feed.source_system, feed.entity, digest),
    ).fetchone()
    return str(row[0]) if row else None


def already_landed_size(conn: psycopg.Connection, feed: FeedFile) -> bool:
    """Whether a file of this size was landed for the same source and entity (a possible re-drop)."""
    return conn.execute(
        "select exists (select 1 from ops.files where source_system = %s and entity = %s and size_bytes = %s)",
        (feed.source_system, feed.entity, feed.path.stat().st_size),
    ).fetchone()[0]


def _record_skip(
    conn: psycopg.Connection, feed: FeedFile, airflow_run_id: str | None, previous: str, load_id: str | None = None
) -> None:
    """A re-dropped file is reported, not landed again: a skip row in ops.loads names the load that
    had it (the row of the load that found out, when it was already started)."""
    detail = f"same file as load {previous}"
    if load_id:
        conn.execute(
            "update ops.loads set status = 'skipped', finished_at = now(), detail = %s where load_id = %s",
            (detail, load_id),
        )
    else:
        conn.execute(
            "insert into ops.loads (load_id, source_system, entity, started_at, finished_at, status,"
            " airflow_run_id, origin, detail) values (gen_random_uuid(), %s, %s, now(), now(), 'skipped', %s, %s, %s)",
            (feed.source_system, feed.entity, airflow_run_id, feed.path.name, detail),
        )
    conn.commit()
    log.info("%s: skipped, the same file was landed by load %s", feed.path.name, previous)


def _reset(second: SecondConnection, result: LoadResult) -> None:
    """After a rolled-back attempt: no counts, no held-back rows. That table was committed by the
    second connection, so it is dropped there too (the load's transaction stays open)."""
    other = second.get()
    _drop_held_back(other, result.load_id)
    other.commit()
    result.fetched = result.landed = result.quarantined = 0
    result.reasons.clear()


def _land_file(
    conn: psycopg.Connection, feed: FeedFile, result: LoadResult, scan: FileScan, second: SecondConnection
) -> None:
    """Inside the load's transaction: the fast way, in a savepoint; the slow way if PostgreSQL
    cannot parse the file."""
    while True:
        try:
            with conn.transaction():
                _land_fast(conn, feed, result, scan, second)
            return
        except LinesTooLong:
            _reset(second, result)  # the scan is complete now: the next attempt checks lengths
        except COPY_FORMAT_ERRORS as exc:
            log.warning("%s: %s; reading it line by line", feed.path.name, str(exc).splitlines()[0])
            _reset(second, result)
            scan.finish()
            write_records(conn, result, feed.records())
            return


def land_feed_file(
    conn: psycopg.Connection,
    feed: FeedFile,
    airflow_run_id: str | None = None,
    second: SecondConnection | None = None,
) -> LoadResult | None:
    """Land one feed file once. Returns None when the same file (by SHA-256) was landed before.

    A file the size of one landed before may be a re-drop: its checksum is taken before anything
    is landed. Any other file is checksummed while it streams into PostgreSQL (read once); the
    primary key of ops.files still catches the same file landed by a concurrent load. ``second``
    is the connection for the file's second pass, shared by the files of one landing; without
    it the file opens its own.
    """
    if second is None:
        with SecondConnection(conn) as own:
            return land_feed_file(conn, feed, airflow_run_id, own)
    ensure_schemas(conn)
    conn.commit()
    scan = scan_file(feed) if already_landed_size(conn, feed) else FileScan(feed)
    if scan.complete and (previous := already_landed(conn, feed, scan.sha256)):
        _record_skip(conn, feed, airflow_run_id, previous)
        return None
    result = start_load(conn, feed.source_system, feed.entity, airflow_run_id, origin=feed.path.name)
    try:
        with conn.transaction():
            _land_file(conn, feed, result, scan, second)
            conn.execute(
                "insert into ops.files (source_system, entity, sha256, file_name, size_bytes, load_id)"
                " values (%s, %s, %s, %s, %s, %s)",
                (feed.source_system, feed.entity, scan.sha256, feed.path.name, scan.size_bytes, result.load_id),
            )
            complete_load(conn, result)
    except psycopg.errors.UniqueViolation:  # a concurrent load landed the same file first
        conn.rollback()
        _drop_held_back(conn, result.load_id)
        _record_skip(conn, feed, airflow_run_id, already_landed(conn, feed, scan.sha256) or "?", result.load_id)
        return None
    except BaseException as exc:
        fail_load(conn, result, exc)
        _drop_held_back(conn, result.load_id)
        conn.commit()
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


def land_files(conn: psycopg.Connection, feeds: list[FeedFile], airflow_run_id: str | None) -> list[dict[str, Any]]:
    """Land each file once; the outcome per file for logs and XComs (counts, never record data)."""
    outcomes = []
    with SecondConnection(conn) as second:
        for feed in feeds:
            result = land_feed_file(conn, feed, airflow_run_id, second)
            outcomes.append({"file": feed.path.name, **(result.as_xcom() if result else {"skipped": "already landed"})})
    return outcomes
