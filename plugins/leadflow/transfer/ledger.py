"""The transfer ledger in ``ops`` (DESIGN.md, ops contract): runs, items, per-contact state, status.

- ``ops.transfer_runs``: one row per run of a transfer (an Airflow run maps to one row: a task
  retry or a whole-run rerun continues it instead of starting another);
- ``ops.transfer_items``: one row per contact per run — pending before sending, then succeeded,
  failed, dead_letter (after max attempts) or invalid (could not succeed, never sent);
- ``ops.transfer_contacts``: per transfer and contact, the payload hash last delivered and the
  sales record id — what "new or changed since the last successful transfer" compares with;
- ``ops.transfer_status`` and ``ops.transfer_status_history``: the lifecycle.

Items hold ids, hashes, codes and counts, never the payload (personal data stays in the marts).
"""

from __future__ import annotations

import psycopg

from leadflow.ddl import index_if_missing

# an item's outcome as a sort key, dead letters first: what an operator has to act on comes first
# in the monitor's list of a run's contacts (leadflow.ui.queries), read through the index below
OUTCOME_RANK = "array_position(array['dead_letter', 'failed', 'invalid', 'pending', 'sent', 'succeeded'], {status})"

LEDGER_DDL = (
    """
-- concurrent first runs of several transfers must not race on the catalog
select pg_advisory_xact_lock(hashtext('leadflow.transfer_ledger_ddl'));
create schema if not exists ops;
create table if not exists ops.transfer_runs (
    run_id uuid primary key,
    transfer_name text not null,
    airflow_run_id text,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    status text not null default 'running'
        check (status in ('running', 'succeeded', 'failed', 'blocked', 'limited')),
    selected integer not null default 0,
    sent integer not null default 0,
    succeeded integer not null default 0,
    failed integer not null default 0,
    unchanged integer not null default 0,
    invalid integer not null default 0,
    dead_letter integer not null default 0,
    detail text,
    unique (transfer_name, airflow_run_id)
);
"""
    + index_if_missing("ops.transfer_runs", "transfer_runs_name_started", "(transfer_name, started_at desc)")
    + """
create table if not exists ops.transfer_items (
    run_id uuid not null references ops.transfer_runs (run_id),
    contact_id text not null,
    external_id text,
    payload_hash text not null,
    status text not null check (status in ('pending', 'sent', 'succeeded', 'failed', 'dead_letter', 'invalid')),
    attempts integer not null default 0,
    error_code text,
    error_message text,
    sales_record_id text,
    updated_at timestamptz not null default clock_timestamp(),
    primary key (run_id, contact_id)
);
"""
    + index_if_missing("ops.transfer_items", "transfer_items_contact", "(contact_id)")
    + """
-- what is still to send in a run: finished items leave this index, so finding the next batch
-- does not walk past everything already delivered
"""
    + index_if_missing(
        "ops.transfer_items",
        "transfer_items_unfinished",
        "(run_id, attempts, contact_id) where status in ('pending', 'sent', 'failed')",
    )
    + """
-- (status included: PostgreSQL reads an expression index alone only when it holds the column too)
"""
    + index_if_missing(
        "ops.transfer_items", "transfer_items_run_outcome", "(run_id, ({rank}), contact_id) include (status)"
    )
    + """
create table if not exists ops.transfer_contacts (
    transfer_name text not null,
    contact_id text not null,
    payload_hash text,
    sales_record_id text,
    status text not null,
    attempts integer not null default 0,
    last_run_id uuid,
    delivered_at timestamptz,
    primary key (transfer_name, contact_id)
);
-- contacts the sales system holds, per transfer (the monitor's totals): counted from the index alone
"""
    + index_if_missing(
        "ops.transfer_contacts", "transfer_contacts_delivered", "(transfer_name) where delivered_at is not null"
    )
    + """
create table if not exists ops.transfer_status (
    transfer_name text primary key,
    status text not null check (status in ('draft', 'active', 'paused', 'stopped')),
    changed_at timestamptz not null default now(),
    changed_by text
);
create table if not exists ops.transfer_status_history (
    transfer_name text not null,
    from_status text,
    to_status text not null,
    changed_at timestamptz not null default now(),
    changed_by text
);
"""
)


def ensure_ledger(conn: psycopg.Connection) -> None:
    from leadflow.erasure import ensure_suppression

    conn.execute(LEDGER_DDL.replace("{rank}", OUTCOME_RANK.format(status="status")))
    ensure_suppression(conn)  # selection skips erased people
    conn.commit()
