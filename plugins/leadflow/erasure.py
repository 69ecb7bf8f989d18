"""`leadflow forget EMAIL|CONTACT_ID`: a person's erasure request, honoured everywhere.

1. Find the person: the golden contact (and the ids merged into it) and the source records it was
   built from (marts.contact_origins); by email alone when the marts do not know them.
2. Their keys — emails, phone numbers, CRM ids, cookie ids, source record ids, as the sources wrote
   them — go to the suppression list ``ops.suppression`` as SHA-256 hashes (the list itself holds no
   personal data). Landing checks every later contact and interaction record against it
   (``suppress_load``): a match is quarantined as "suppressed (erasure request)" without its text,
   so no later load re-creates the person, and the transfers never see them.
3. Their rows are deleted from ``raw`` (contacts and interactions), the quarantine, every
   intermediate and marts table (by contact id, origin key or email; staging is views), and the
   transfer ledger's contact ids are replaced by an anonymous token (the run counts stay true).
   ``int_identity_origins`` is dropped: it merges each load into what it kept (a cookie keeps the
   emails of its forms, other people's too), and its edges and clusters downstream hold node ids;
   the next run builds the identity models from what raw holds now, once (and attribution every
   opportunity).
4. ``ops.erasures`` keeps an audit row: when, by whom, how many keys and rows per table — never
   the data or the identifier itself.
The sales system keeps what it was sent: delete the lead there too (the audit row's token names the
external id it was sent under).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from leadflow.sources.landing import planned_for_this_load, this_loads_rows

log = logging.getLogger(__name__)

SUPPRESSION_DDL = """
create schema if not exists ops;
create table if not exists ops.suppression (
    key_hash text primary key,      -- sha256 of '<kind>:<value>' (kinds: email, phone, crm_id, cookie, record)
    kind text not null,
    erasure_id uuid not null,
    added_at timestamptz not null default now()
);
create table if not exists ops.erasures (
    erasure_id uuid primary key,
    requested_at timestamptz not null default now(),
    requested_by text not null,
    contacts integer not null,
    keys integer not null,
    rows_deleted jsonb not null,    -- {table: rows}
    ledger_token text               -- what the transfer ledger now says instead of the contact id
);
"""
SUPPRESSED = "suppressed (erasure request)"
# An erasure holds this advisory lock exclusively for its transaction; every dbt model's build
# (dbt_project/macros/erasure_guard.sql), every load's last steps (suppress_load), a transfer's
# selection and each of its batches (block_erasures) hold it shared: a build that read the
# person before the erasure committed would write them back after it, a batch would send them
# and write them to the ledger.
ERASURE_LOCK = "leadflow.erasure"
DERIVED_SCHEMAS = ("intermediate", "marts")


def _like(value: str) -> str:
    return re.sub(r"([%_\\])", r"\\\1", value)


def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _h(expression: str) -> str:
    return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"


def key_hashes_sql(entity: str) -> sql.Composable:
    """The suppression keys of a raw contact or interaction row, as an array of hashes (SQL).

    Same normalisation as ``forget``: emails trimmed and lower-cased, phones as their digits (at
    least 6), ids trimmed; a record is '<source_system>:<source_record_id>'.
    """
    keys = [
        email_key_sql("email"),
        _h("'crm_id:' || btrim(crm_id)"),
        _h("'cookie:' || btrim(cookie_id)"),
        _h("'record:' || source_system || ':' || btrim(source_record_id)"),
    ]
    if entity == "contacts":
        keys.append(_h("'phone:' || nullif(regexp_replace(phone, '\\D', '', 'g'), '')"))
    return sql.SQL("array[{}]").format(sql.SQL(", ").join(sql.SQL(k) for k in keys))  # noqa: S608 - constants


def email_key_sql(column: str) -> str:
    """The suppression hash of an email column (SQL), as ``forget`` and landing compute it."""
    return _h(f"'email:' || lower(btrim({column}))")


ANY_ROW = sql.SQL("true")


def _delete_suppressed(
    conn: psycopg.Connection,
    table: str,
    entity: str,
    params: dict[str, str],
    rows: sql.Composable = ANY_ROW,
    keys: sql.Composable = ANY_ROW,
) -> int:
    """Delete the rows of a raw contacts or interactions table (those ``rows`` selects) that carry a
    suppressed key (of those ``keys`` selects in ops.suppression as ``s``); returns how many."""
    return conn.execute(
        sql.SQL(
            "delete from {t} where {rows} and exists (select 1 from ops.suppression s"
            " where {keys} and s.key_hash = any({hashes}))"
        ).format(t=sql.Identifier("raw", table), rows=rows, keys=keys, hashes=key_hashes_sql(entity)),
        params,
    ).rowcount


def ensure_suppression(conn: psycopg.Connection) -> None:
    conn.execute(SUPPRESSION_DDL)


def suppress_load(conn: psycopg.Connection, raw: str, entity: str, load_id: str, source_system: str) -> int:
    """Inside a load's transaction: take this load's suppressed records out of raw into the
    quarantine (reason only, no text). Returns how many."""
    if entity not in ("contacts", "interactions"):
        return 0
    # an erasure committing between this check and the load's commit would miss its rows
    block_erasures_in_transaction(conn)
    if not conn.execute("select exists (select 1 from ops.suppression)").fetchone()[0]:
        return 0
    # the load's rows, not the table's history (a day's seven loads at 1 M contacts, once anyone
    # was erased: 1.31 s → 0.26 s)
    with planned_for_this_load(conn):
        removed = _delete_suppressed(conn, raw, entity, rows=sql.SQL(this_loads_rows()), params={"load": load_id})
    if removed:
        conn.execute(
            "insert into raw.quarantine (load_id, source_system, entity, reason)"
            " select %s, %s, %s, %s from generate_series(1, %s)",
            (load_id, source_system, entity, SUPPRESSED, removed),
        )
        log.info("%s: %d records suppressed (erasure requests)", raw, removed)
    return removed


class ErasureError(LookupError):
    """Nobody to erase: the message says why."""


@dataclass
class ErasureReport:
    erasure_id: str
    contacts: list[str]
    keys: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    ledger_token: str | None = None
    sales_records: list[str] = field(default_factory=list)  # "external id (sales record id)" sent before


def _raw_tables(conn: psycopg.Connection, entity: str) -> list[str]:
    suffix = f"__{entity}"
    return [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
            " and table_type = 'BASE TABLE' and table_name like %s",
            (f"%{suffix}",),
        )
        if name.endswith(suffix)
    ]


def _contact_keys(table: str, condition: str) -> sql.Composable:
    """The distinct key hashes of a raw contacts table's rows that meet the condition ({person}:
    the row is one of the person's records or carries their email)."""
    person = (
        "source_system || ':' || btrim(source_record_id) = any(%(records)s) or lower(btrim(email)) = any(%(emails)s)"
    )
    return sql.SQL("select distinct k from {t}, unnest({keys}) as k where {condition}").format(
        t=sql.Identifier("raw", table),
        keys=key_hashes_sql("contacts"),
        condition=sql.SQL(condition.replace("{person}", person)),  # noqa: S608 - constants
    )


def _person(conn: psycopg.Connection, identifier: str) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """(contact ids, origins as (source_system, source_record_id), emails asked for)."""
    from leadflow.transform.explain import ContactNotFoundError, MissingMartsError, explain_contact

    emails = [identifier.strip().lower()] if "@" in identifier else []
    try:
        story = explain_contact(conn, identifier)
    except (ContactNotFoundError, MissingMartsError) as error:
        if emails:
            return [], [], emails  # not (or no longer) in the marts: erase what the sources sent
        raise ErasureError(str(error)) from error
    ids = [story.contact.contact_id, *story.absorbed_ids]
    origins = [(o.source_system, o.source_record_id) for o in story.origins]
    if story.contact.email:
        emails.append(story.contact.email.lower())
    return ids, origins, emails


def forget(conn: psycopg.Connection, identifier: str, requested_by: str) -> ErasureReport:
    """Erase one person (see the module docstring); one transaction, so all or nothing."""
    erasure_id = str(uuid.uuid4())
    with conn.transaction():
        _wait_for_builds(conn)
        ensure_suppression(conn)
        ids, origins, emails = _person(conn, identifier)
        records = [f"{system}:{record.strip()}" for system, record in origins if not record.startswith("cookie:")]
        cookies = [record.removeprefix("cookie:") for _, record in origins if record.startswith("cookie:")]
        hashes = {_hash("email", e) for e in emails}
        hashes |= {_hash("record", r) for r in records} | {_hash("cookie", c) for c in cookies}
        params = {"records": records, "emails": emails}
        # the keys of every raw contact record of the person, as the sources wrote them
        for table in _raw_tables(conn, "contacts"):
            hashes |= {h for (h,) in conn.execute(_contact_keys(table, "{person}"), params) if h}
        # unnest leaves the hash of an empty key (a null value hashes to null, '' does not)
        hashes -= {_hash(kind, "") for kind in ("email", "crm_id", "cookie", "phone")}
        # a key other people's records hold too (a switchboard phone, a shared inbox) is not the
        # person's to erase: suppressing it would erase the others; the email asked for stays
        for table in _raw_tables(conn, "contacts"):
            query = _contact_keys(table, "k = any(%(hashes)s) and not ({person})")
            shared = {h for (h,) in conn.execute(query, {**params, "hashes": list(hashes)})}
            hashes -= shared - {_hash("email", e) for e in emails[:1]}
        if not hashes:
            raise ErasureError(f"nothing is known about {identifier!r}: no contact, no source record")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.suppression (key_hash, kind, erasure_id) values (%s, 'key', %s)"
                " on conflict (key_hash) do nothing",
                [(h, erasure_id) for h in sorted(hashes)],
            )
        deleted: dict[str, int] = {}
        for entity in ("contacts", "interactions"):
            for table in _raw_tables(conn, entity):
                count = _delete_suppressed(
                    conn, table, entity, keys=sql.SQL("s.erasure_id = %(e)s"), params={"e": erasure_id}
                )
                deleted[f"raw.{table}"] = count
        if emails:  # records held back by the checks keep their text: those naming the person go
            patterns = [f"%{_like(e)}%" for e in emails]
            deleted["raw.quarantine"] = conn.execute(
                "delete from raw.quarantine where original ilike any(%s)", (patterns,)
            ).rowcount
        origin_keys = [f"{s}:{r}" for s, r in origins]
        deleted |= _delete_derived(conn, ids, origin_keys, emails)
        _rebuild_identity_next_run(conn)
        token, sales_records = None, []
        if ids and conn.execute("select to_regclass('ops.transfer_items') is not null").fetchone()[0]:
            token = f"erased_{erasure_id.replace('-', '')[:16]}"
            # what the sales system holds of them, for the operator to delete there (not stored)
            sent = conn.execute(
                "select distinct external_id, sales_record_id from ops.transfer_items"
                " where contact_id = any(%s) and sales_record_id is not null",
                (ids,),
            ).fetchall()
            sales_records = sorted(f"{external} ({record})" for external, record in sent)
            anonymous = "%(token)s || '_' || array_position(%(ids)s::text[], contact_id)"
            for table, also in (
                ("transfer_items", f", external_id = {anonymous}, sales_record_id = null"),
                ("transfer_contacts", ", sales_record_id = null"),
            ):
                deleted[f"ops.{table} (anonymised)"] = conn.execute(
                    sql.SQL("update {t} set contact_id = {anonymous}{also} where contact_id = any(%(ids)s)").format(
                        t=sql.Identifier("ops", table), anonymous=sql.SQL(anonymous), also=sql.SQL(also)
                    ),
                    {"token": token, "ids": ids},
                ).rowcount
        conn.execute(
            "insert into ops.erasures (erasure_id, requested_by, contacts, keys, rows_deleted, ledger_token)"
            " values (%s, %s, %s, %s, %s, %s)",
            (erasure_id, requested_by, len(ids), len(hashes), psycopg.types.json.Jsonb(deleted), token),
        )
    log.info("erasure %s: %d contacts, %d keys, %d rows", erasure_id, len(ids), len(hashes), sum(deleted.values()))
    return ErasureReport(erasure_id, ids, len(hashes), deleted, token, sales_records)


def block_erasures_in_transaction(conn: psycopg.Connection) -> None:
    """Hold the erasure lock shared until this transaction ends: an erasure waits for it, and it
    for an erasure in progress (for work that reads people, then writes what it read)."""
    conn.execute("select pg_advisory_xact_lock_shared(hashtext(%s))", (ERASURE_LOCK,))


@contextlib.contextmanager
def block_erasures(conn: psycopg.Connection) -> Iterator[None]:
    """Hold the erasure lock shared across transactions (a session lock): for a transfer's batch,
    from re-reading its candidates to recording what the sales system answered. An erasure that
    committed in between would see neither the lead about to leave nor the ledger rows written
    after it, so it waits for the batch (and the next batch for it). Work the batch left
    uncommitted (it failed) is rolled back, as without the lock."""
    conn.execute("select pg_advisory_lock_shared(hashtext(%s))", (ERASURE_LOCK,))
    conn.commit()
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:  # a lost session released its lock
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.rollback()
            conn.execute("select pg_advisory_unlock_shared(hashtext(%s))", (ERASURE_LOCK,))
            conn.commit()


def _wait_for_builds(conn: psycopg.Connection) -> None:
    """Take the erasure lock exclusively: wait for the dbt builds, loads and transfer batches in
    progress to end (they hold it shared), and keep new ones waiting until this transaction ends."""
    if conn.execute("select pg_try_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,)).fetchone()[0]:
        return
    log.info("erasure waits for the dbt builds, loads and transfer batches in progress")
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,))


def _rebuild_identity_next_run(conn: psycopg.Connection) -> None:
    """Drop the origins and forget which loads they read, so the next run builds them whole (and
    the identity models downstream with them: macros/identity_changes.sql). Attribution forgets its
    watermark and redoes every opportunity: an account's opportunity counted the person's touches,
    and with their link rows deleted here nothing else would tell it (macros/opportunity_changes.sql)."""
    conn.execute("drop table if exists intermediate.int_identity_origins")
    if conn.execute("select to_regclass('intermediate.loads_read') is not null").fetchone()[0]:
        conn.execute("delete from intermediate.loads_read where model = 'int_identity_origins'")
    if conn.execute("select to_regclass('intermediate.contact_change_watermarks') is not null").fetchone()[0]:
        conn.execute("delete from intermediate.contact_change_watermarks where model = 'campaign_attribution'")


def _delete_derived(
    conn: psycopg.Connection, ids: list[str], origin_keys: list[str], emails: list[str]
) -> dict[str, int]:
    """Rows of dbt-built tables about the person: by contact id, origin key or email."""
    columns: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in conn.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c"
        " join information_schema.tables t using (table_schema, table_name)"
        " where c.table_schema = any(%s) and t.table_type = 'BASE TABLE'"
        " and c.column_name in ('contact_id', 'other_contact_id', 'origin_key', 'email', 'email_key',"
        " 'previous_contact_id')",
        (list(DERIVED_SCHEMAS),),
    ):
        columns.setdefault((schema, table), set()).add(column)
    # other people's rows that name the person as the contact they belonged to before
    # (fct_interactions' lineage) keep their rows, not the person's id
    previous = sorted(table for table, present in columns.items() if "previous_contact_id" in present)
    values = {
        "contact_id": ids,
        "other_contact_id": ids,
        "origin_key": origin_keys,
        "email": emails,
        "email_key": emails,
    }
    deleted: dict[str, int] = {}
    for (schema, table), present in sorted(columns.items()):
        conditions = [
            # (previous_contact_id has no value here: those rows are kept, below)
            sql.SQL("{} = any(%({})s)").format(sql.Identifier(c), sql.SQL(c))
            for c in sorted(present)
            if values.get(c)
        ]
        if not conditions:
            continue
        count = conn.execute(
            sql.SQL("delete from {t} where {cond}").format(
                t=sql.Identifier(schema, table), cond=sql.SQL(" or ").join(conditions)
            ),
            values,
        ).rowcount
        if count:
            deleted[f"{schema}.{table}"] = count
    for schema, table in previous if ids else []:
        count = conn.execute(
            sql.SQL("update {t} set previous_contact_id = null where previous_contact_id = any(%s)").format(
                t=sql.Identifier(schema, table)
            ),
            (ids,),
        ).rowcount
        if count:
            deleted[f"{schema}.{table} (previous_contact_id cleared)"] = count
    return deleted
