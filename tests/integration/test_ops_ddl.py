"""Making sure of the ops tables at the start of a load, a check or a transfer waits for nobody:
once the tables exist, their DDL takes no lock on them (leadflow.ddl), so another session's open
transaction — a load of another source, a transfer's batch, a monitor page — cannot hold it up."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from leadflow.quality.results import ensure_table
from leadflow.sources.landing import ensure_raw_table, ensure_schemas
from leadflow.transfer.ledger import ensure_ledger

pytestmark = pytest.mark.integration


def _landing(conn: psycopg.Connection) -> None:
    ensure_schemas(conn)
    ensure_raw_table(conn, "crm", "contacts")
    conn.commit()


def _quality(conn: psycopg.Connection) -> None:
    ensure_table(conn)
    conn.commit()


@pytest.mark.parametrize("ensure", [_landing, ensure_ledger, _quality], ids=["landing", "ledger", "quality results"])
def test_ensuring_existing_tables_waits_for_no_open_transaction(
    fresh_database, ensure: Callable[[psycopg.Connection], None]
):
    with psycopg.connect(fresh_database.url()) as busy, psycopg.connect(fresh_database.url()) as starting:
        ensure(starting)  # creates them
        tables = [
            row[0]
            for row in busy.execute(
                "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname in ('ops', 'raw')"
            )
        ]
        # what a session writing to every one of them holds until it commits
        busy.execute(f"lock table {', '.join(tables)} in row exclusive mode")
        starting.execute("set lock_timeout = '2s'")
        starting.commit()

        ensure(starting)  # again, as the next run does

        busy.rollback()
    assert tables
