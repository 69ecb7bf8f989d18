"""SQL table sources: a table or view in another PostgreSQL (e.g. a CRM replica), read incrementally.

Rows changed in the window [from, to) of their timestamp column stream through a server-side cursor
in batches, are mapped onto the feed columns and landed; the original row goes into ``payload``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from leadflow.settings import DatabaseUrl
from leadflow.sources.config import SourceConfig
from leadflow.sources.landing import BATCH_SIZE, LoadResult, SourceRecord, land_records, window_start

log = logging.getLogger(__name__)


def extract_rows(
    source_url: DatabaseUrl, source: SourceConfig, entity: str, window_from: datetime | None, window_to: datetime
) -> Iterator[tuple[int, SourceRecord]]:
    settings = source.entities[entity]  # type: ignore[index]
    schema, _, table = settings.table.rpartition(".")
    relation = sql.Identifier(schema, table) if schema else sql.Identifier(table)
    ts = sql.Identifier(settings.timestamp_column)
    lower = sql.SQL("{ts} >= %(from)s and ").format(ts=ts) if window_from else sql.SQL("")
    query = sql.SQL("select * from {relation} where {lower}{ts} < %(to)s order by {ts}").format(
        relation=relation, lower=lower, ts=ts
    )
    with psycopg.connect(source_url.url(), row_factory=dict_row) as conn:
        conn.execute("set transaction read only")
        with conn.cursor(name="leadflow_extract") as cursor:  # server-side: memory stays flat
            cursor.itersize = BATCH_SIZE
            cursor.execute(query, {"from": window_from, "to": window_to})
            for position, row in enumerate(cursor, start=1):
                values = {feed: row.get(column) for feed, column in settings.mapping.items()}
                values.setdefault("source_system", source.name)
                yield position, SourceRecord(values, row)


def land_sql_entity(
    warehouse: psycopg.Connection,
    source_url: DatabaseUrl,
    source: SourceConfig,
    entity: str,
    interval_end: datetime,
    airflow_run_id: str | None = None,
) -> LoadResult:
    """One load of one entity: the window from the last good load to the end of the data interval."""
    initial = datetime.fromisoformat(source.initial_watermark) if source.initial_watermark else None
    window_from = window_start(warehouse, source.name, entity, interval_end, initial)
    log.info("%s/%s: extracting changes in [%s, %s)", source.name, entity, window_from or "beginning", interval_end)
    return land_records(
        warehouse,
        source.name,
        entity,
        extract_rows(source_url, source, entity, window_from, interval_end),
        airflow_run_id,
        watermark_from=window_from,
        watermark_to=interval_end,
        origin=f"{source.conn_id}:{source.entities[entity].table}",  # type: ignore[index]
    )
