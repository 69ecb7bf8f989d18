"""One run of a transfer: gate → select → push in batches → finish, with the ledger as the truth.

Exactly once, whatever fails: every record is upserted by its external id (the golden contact id),
so re-sending is harmless; the ledger is written before and after each batch (``sent`` before the
request, the outcome after), and every step picks up where an earlier attempt of the same Airflow
run stopped — a task retry, a whole-run rerun or a crash between sending and recording re-sends at
most one round of batches (``concurrent_requests`` of them), which the sales system turns into updates.

Selection: the transfer's target group ∩ its marketing area over ``marts.transfer_candidates``
(consent granted, not unsubscribed), minus contacts whose payload hash equals what was last
delivered (unchanged: the hash leaves out what the definition's ``resend`` ignores, and counts its
stepped numbers by step), minus dead letters (until ``leadflow transfer retry``). Rows that cannot
succeed — no or a duplicate external id, a field the target requires missing — are recorded as
``invalid`` with the reason and not sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from leadflow.erasure import block_erasures, block_erasures_in_transaction, email_key_sql
from leadflow.quality.gate import GateDecision, transfer_gate
from leadflow.transfer.adapters.base import AdapterError, ApiLimitReached, OutboundRecord, RecordOutcome, SalesAdapter
from leadflow.transfer.definitions import CANDIDATE_COLUMNS, TransferDefinition
from leadflow.transfer.ledger import ensure_ledger

log = logging.getLogger(__name__)

REQUIRED_FIELDS = {"salesforce": ("LastName", "Company"), "hubspot": ("email",), "webhook": ()}
SELECT_BATCH = 5_000
# record errors worth another attempt in the same run (the adapters retry whole requests themselves)
RETRYABLE_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "RATE_LIMIT", "TIMEOUT"}


@dataclass
class RunCounts:
    selected: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    unchanged: int = 0
    invalid: int = 0
    dead_letter: int = 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def build_payload(definition: TransferDefinition, row: dict[str, Any]) -> dict[str, Any]:
    """The sales-system fields of one candidate: the mapping, its interests and the tags."""
    fields = {target: _jsonable(row[source]) for target, source in definition.field_mapping.items()}
    if definition.interests_field:
        codes = [code for code in (row.get("interests") or "").split("|") if code]
        if definition.interests != "all":
            codes = [code for code in codes if code in definition.interests]
        fields[definition.interests_field] = ";".join(codes) or None  # a multi-select picklist's separator
    if definition.tags_field:
        fields[definition.tags_field] = ";".join(definition.tags) or None
    return fields


# Version of the resend digest below; part of every digest, so a change of its form sends each
# delivered lead once more (as an update) rather than leaving a changed one unsent.
DIGEST_FORM = "leadflow-resend-2"


def resend_digest_sql(definition: TransferDefinition) -> tuple[sql.Composable, list[Any]]:
    """What the ledger keeps of a candidate's payload to tell a changed lead (sent again) from an
    unchanged one, as an SQL expression over ``candidates`` (marts.transfer_candidates): the SHA-256
    of the definition's fingerprint and the row's values of the fields sent, less those
    ``resend.ignore`` names, each of ``resend.steps``' numbers as its step's number (in numeric:
    0.3 / 0.1 is 3, not 2.999… as in floats), the interests as the payload filters them.

    Computed in the database, so the selection leaves unchanged delivered leads there (at 1 M
    contacts 38 k of a day's 54 k candidates, each built and hashed in Python before: 1 s a day).
    The payload itself is still built in Python, for the leads sent. The digest changes whenever
    the payload does; it may change when the payload does not (a timestamp rendered in another
    session time zone), which sends the lead once more as an update, never a lead twice."""
    resend = definition.resend
    kept = sorted(target for target in definition.field_mapping if target not in resend.ignore)
    values: list[sql.Composable] = []
    params: list[Any] = []
    for target in kept:
        column = sql.SQL("candidates.{}").format(sql.Identifier(definition.field_mapping[target]))
        if target in resend.steps:
            values.append(sql.SQL("floor({} / %s::numeric)").format(column))
            params.append(Decimal(str(resend.steps[target])))
        else:
            values.append(column)
    interests = definition.interests_field is not None and definition.interests_field not in resend.ignore
    if interests:
        # the codes in their order, empty ones dropped and filtered as build_payload does; null when none
        codes = sql.SQL("array_remove(string_to_array(candidates.interests, '|'), '')")
        if definition.interests != "all":
            codes = sql.SQL(
                "array(select code from unnest({codes}) with ordinality as codes (code, position)"
                " where code = any(%s::text[]) order by position)"
            ).format(codes=codes)
            params.append(list(definition.interests))
        values.append(sql.SQL("nullif(array_to_string({codes}, ';'), '')").format(codes=codes))
    # what is the same for every lead: which field is which column, the steps, the filter, the tags
    fingerprint = json.dumps(
        {
            "form": DIGEST_FORM,
            "fields": {target: definition.field_mapping[target] for target in kept},
            "steps": {name: str(step) for name, step in sorted(resend.steps.items())},
            "interests": [definition.interests_field, definition.interests] if interests else None,
            "tags": (
                [definition.tags_field, definition.tags]
                if definition.tags_field and definition.tags_field not in resend.ignore
                else None
            ),
        },
        sort_keys=True,
    )
    # json_build_array takes at most 100 arguments: a long mapping goes in arrays of arrays
    chunks = [
        sql.SQL("json_build_array({})").format(sql.SQL(", ").join(values[start : start + 90]))
        for start in range(0, len(values), 90)
    ]
    row = chunks[0] if len(chunks) == 1 else sql.SQL("json_build_array({})").format(sql.SQL(", ").join(chunks))
    expression = sql.SQL("encode(sha256(convert_to(%s || {}::text, 'UTF8')), 'hex')").format(row)
    # the fingerprint's own hash: hashing its text again for every row cost a third of the digest
    return expression, [hashlib.sha256(fingerprint.encode()).hexdigest(), *params]


def _missing_required(definition: TransferDefinition, fields: dict[str, Any]) -> list[str]:
    return [name for name in REQUIRED_FIELDS[definition.adapter] if not str(fields.get(name) or "").strip()]


# --- the run row -----------------------------------------------------------------------------


def start_run(conn: psycopg.Connection, definition: TransferDefinition, airflow_run_id: str) -> tuple[str, bool]:
    """The run row of this Airflow run: created, or continued (a retry or rerun); returns (id, resumed)."""
    ensure_ledger(conn)
    row = conn.execute(
        "insert into ops.transfer_runs (run_id, transfer_name, airflow_run_id) values (%s, %s, %s)"
        " on conflict (transfer_name, airflow_run_id) do update set status = 'running', finished_at = null"
        " returning run_id::text, (xmax <> 0)",
        (uuid.uuid4(), definition.name, airflow_run_id),
    ).fetchone()
    conn.commit()
    return row[0], bool(row[1])


def run_id_of(conn: psycopg.Connection, definition: TransferDefinition, airflow_run_id: str) -> str:
    row = conn.execute(
        "select run_id::text from ops.transfer_runs where transfer_name = %s and airflow_run_id = %s",
        (definition.name, airflow_run_id),
    ).fetchone()
    if row is None:
        raise LookupError(f"no run of {definition.name} for Airflow run {airflow_run_id}")
    return row[0]


def last_good_run_started(conn: psycopg.Connection, definition: TransferDefinition, run_id: str) -> datetime | None:
    row = conn.execute(
        "select max(started_at) from ops.transfer_runs where transfer_name = %s and status = 'succeeded'"
        " and run_id <> %s",
        (definition.name, run_id),
    ).fetchone()
    return row[0]


def check_gate(conn: psycopg.Connection, definition: TransferDefinition, run_id: str) -> GateDecision:
    """The quality gate for this run; a closed gate marks the run blocked (nothing is selected or sent)."""
    decision = transfer_gate(conn, since=last_good_run_started(conn, definition, run_id))
    if not decision.allowed:
        conn.execute(
            "update ops.transfer_runs set status = 'blocked', finished_at = clock_timestamp(), detail = %s"
            " where run_id = %s",
            (decision.message()[:2000], run_id),
        )
        conn.commit()
    return decision


# --- selection -------------------------------------------------------------------------------


def _scope(
    definition: TransferDefinition, contact_ids: Sequence[str] | None = None
) -> tuple[sql.Composable, list[Any]]:
    """The candidates of the target group joined to their delivery state: FROM … WHERE, with its
    parameters."""
    where, params = definition.target_sql()
    scope = sql.SQL(
        " from marts.transfer_candidates as candidates"
        " left join ops.transfer_contacts as state"
        " on state.transfer_name = %s and state.contact_id = candidates.contact_id"
        " where {where}{only}"
        # an erased person never leaves again, whatever the marts still say (leadflow.erasure)
        " and not exists (select 1 from ops.suppression as s where s.key_hash = {email_key})"
    ).format(
        email_key=sql.SQL(email_key_sql("candidates.email")),  # noqa: S608 - a constant expression
        where=where,
        only=sql.SQL(" and candidates.contact_id = any(%s)") if contact_ids is not None else sql.SQL(""),
    )
    return scope, [definition.name, *params] + ([list(contact_ids)] if contact_ids is not None else [])


# delivered as it is now (unchanged), and a dead letter with the payload it failed with (kept out
# until `leadflow transfer retry`): the columns of _candidates' rows
UNCHANGED = "delivered_status = 'succeeded' and delivered_hash = digest"
SETTLED = "delivered_status in ('succeeded', 'dead_letter') and delivered_hash = digest"


def _candidates(
    conn: psycopg.Connection,
    definition: TransferDefinition,
    contact_ids: Sequence[str] | None = None,
    *,
    unsettled_only: bool = False,
) -> Iterator[dict[str, Any]]:
    """Candidates of the target group with their digest and delivery state, streamed (server-side
    cursor). With ``unsettled_only``, the unchanged and the dead letters (SETTLED) stay in the
    database, and every row also says how many the target group holds (``in_group``) and how many
    of them are unchanged (``unchanged_in_group``), counted by the same statement: when no row is
    left, one row holds the counts alone (its ``digest`` null, which a candidate's never is)."""
    digest, digest_args = resend_digest_sql(definition)
    scope, scope_args = _scope(definition, contact_ids)
    columns = sql.SQL(", ").join(sql.SQL("candidates.{}").format(sql.Identifier(c)) for c in CANDIDATE_COLUMNS)
    query = sql.SQL(
        "select {columns}, {digest} as digest, state.payload_hash as delivered_hash,"
        " state.status as delivered_status, state.sales_record_id as delivered_record_id{scope}"
    ).format(columns=columns, digest=digest, scope=scope)
    if unsettled_only:
        # materialised: each row's digest is computed once, for the counts and the rows
        query = sql.SQL(
            "with scoped as materialized ({query}),"
            " group_counts as (select count(*) as in_group, count(*) filter (where {unchanged})"
            " as unchanged_in_group from scoped)"
            " select group_counts.*, unsettled.* from group_counts"
            " left join (select * from scoped where not coalesce({settled}, false)) as unsettled on true"
            " order by unsettled.contact_id"
        ).format(query=query, unchanged=sql.SQL(UNCHANGED), settled=sql.SQL(SETTLED))
    else:
        query = sql.SQL("{query} order by candidates.contact_id").format(query=query)
    with conn.cursor(name=f"transfer_candidates_{uuid.uuid4().hex[:8]}") as cursor:
        cursor.itersize = SELECT_BATCH
        cursor.execute(query, [*digest_args, *scope_args])
        names = [d.name for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))


def select_candidates(conn: psycopg.Connection, definition: TransferDefinition, run_id: str) -> RunCounts:
    """Record this run's items: pending (to send), invalid (cannot succeed); count the unchanged.

    A run that already has items (a retry) keeps them: the selection is made once per run."""
    if conn.execute("select exists (select 1 from ops.transfer_items where run_id = %s)", (run_id,)).fetchone()[0]:
        log.info("transfer %s: run %s already selected its contacts (a retry): keeping them", definition.name, run_id)
        return run_counts(conn, run_id)
    # no erasure between reading the candidates and writing them to the ledger (read committed: the
    # reads after the lock see an erasure that committed while it was awaited; the counts come with
    # the rows, from one statement)
    block_erasures_in_transaction(conn)
    counts = RunCounts()
    settled_unchanged = 0
    seen: set[str] = set()
    items: list[tuple[Any, ...]] = []
    # read everything first (streamed), then write: the named cursor lives in this transaction; the
    # unchanged and the dead letters stay in the database
    for row in _candidates(conn, definition, unsettled_only=True):
        # every row holds the group's counts; one without a digest nothing else (no row left)
        counts.selected, settled_unchanged = row["in_group"], row["unchanged_in_group"]
        if row["digest"] is None:
            continue
        fields = build_payload(definition, row)
        digest = row["digest"]
        external_id = row["contact_id"]
        if definition.sync_mode == "create_only" and row["delivered_record_id"]:
            counts.unchanged += 1
            continue
        if definition.sync_mode == "update_only" and not row["delivered_record_id"]:
            counts.unchanged += 1
            continue
        missing = _missing_required(definition, fields)
        if not external_id or external_id in seen or missing:
            code = (
                "MISSING_EXTERNAL_ID"
                if not external_id
                else "DUPLICATE_EXTERNAL_ID"
                if external_id in seen
                else "REQUIRED_FIELD_MISSING"
            )
            message = code + (f" on {', '.join(missing)}" if code == "REQUIRED_FIELD_MISSING" else "")
            items.append((run_id, row["contact_id"], external_id, digest, "invalid", code, message))
            counts.invalid += 1
        else:
            items.append((run_id, row["contact_id"], external_id, digest, "pending", None, None))
        seen.add(external_id)
    counts.unchanged += settled_unchanged
    with (
        conn.cursor() as cursor,
        cursor.copy(
            "copy ops.transfer_items (run_id, contact_id, external_id, payload_hash, status, error_code, error_message)"
            " from stdin"
        ) as copy,
    ):
        for item in items:
            copy.write_row(item)
    conn.execute(
        "update ops.transfer_runs set selected = %s, unchanged = %s, invalid = %s where run_id = %s",
        (counts.selected, counts.unchanged, counts.invalid, run_id),
    )
    conn.commit()
    log.info(
        "transfer %s: %d in the target group, %d to send, %d unchanged, %d invalid (not sent)",
        definition.name,
        counts.selected,
        len(items) - counts.invalid,
        counts.unchanged,
        counts.invalid,
    )
    return counts


# --- pushing ---------------------------------------------------------------------------------


def _next_batch(conn: psycopg.Connection, run_id: str, size: int, max_attempts: int) -> list[tuple[str, str]]:
    """Items still to send: pending, sent but not recorded (a crash), or failed and retryable."""
    return conn.execute(
        "select contact_id, external_id from ops.transfer_items where run_id = %s"
        " and status in ('pending', 'sent', 'failed')"
        " and (status <> 'failed' or (error_code = any(%s) and attempts < %s))"
        " order by attempts, contact_id limit %s",
        (run_id, sorted(RETRYABLE_CODES), max_attempts, size),
    ).fetchall()


# one statement per kind of outcome and batch (not per record): the ledger keeps pace with the API
DELIVERED_SQL = """
with delivered as (
    select * from unnest(%(contacts)s::text[], %(hashes)s::text[], %(records)s::text[])
        as v (contact_id, hash, record_id)
),
items as (
    update ops.transfer_items as items
    set status = 'succeeded', payload_hash = delivered.hash, sales_record_id = delivered.record_id,
        error_code = null, error_message = null, updated_at = clock_timestamp()
    from delivered
    where items.run_id = %(run_id)s and items.contact_id = delivered.contact_id
)
insert into ops.transfer_contacts as state
    (transfer_name, contact_id, payload_hash, sales_record_id, status, attempts, last_run_id, delivered_at)
select %(transfer)s, contact_id, hash, record_id, 'succeeded', 0, %(run_id)s, clock_timestamp() from delivered
on conflict (transfer_name, contact_id) do update set
    payload_hash = excluded.payload_hash,
    sales_record_id = coalesce(excluded.sales_record_id, state.sales_record_id),
    status = 'succeeded',
    attempts = 0,
    last_run_id = excluded.last_run_id,
    delivered_at = excluded.delivered_at
"""

# a failure counts an attempt for the contact; at max_attempts it becomes a dead letter (kept out of
# later runs, with the payload hash it failed with, until `leadflow transfer retry`)
FAILED_SQL = """
with failed as (
    select * from unnest(%(contacts)s::text[], %(hashes)s::text[], %(codes)s::text[], %(messages)s::text[])
        as v (contact_id, hash, code, message)
),
counted as (
    insert into ops.transfer_contacts as state (transfer_name, contact_id, payload_hash, status, attempts, last_run_id)
    select
        %(transfer)s, contact_id,
        case when 1 >= %(max_attempts)s then hash end,
        case when 1 >= %(max_attempts)s then 'dead_letter' else 'failed' end,
        1, %(run_id)s
    from failed
    on conflict (transfer_name, contact_id) do update
    set attempts = state.attempts + 1,
        status = case when state.attempts + 1 >= %(max_attempts)s then 'dead_letter' else 'failed' end,
        payload_hash = case
            when state.attempts + 1 >= %(max_attempts)s
                then (select failed.hash from failed where failed.contact_id = excluded.contact_id)
            else state.payload_hash
        end,
        last_run_id = excluded.last_run_id
    returning contact_id, attempts
)
update ops.transfer_items as items
set status = case when counted.attempts >= %(max_attempts)s then 'dead_letter' else 'failed' end,
    error_code = failed.code, error_message = failed.message, updated_at = clock_timestamp()
from failed inner join counted on failed.contact_id = counted.contact_id
where items.run_id = %(run_id)s and items.contact_id = failed.contact_id
"""


def _record(
    conn: psycopg.Connection,
    definition: TransferDefinition,
    run_id: str,
    outcomes: Sequence[RecordOutcome],
    hashes: dict[str, str],
    contact_of: dict[str, str],
) -> None:
    """Write a batch's outcomes: items, and the per-contact delivery state, in one transaction."""
    good = [o for o in outcomes if o.success]
    bad = [o for o in outcomes if not o.success]
    common = {"run_id": run_id, "transfer": definition.name, "max_attempts": definition.max_attempts}
    if good:
        contacts = [contact_of[o.external_id] for o in good]
        conn.execute(
            DELIVERED_SQL,
            {**common, "contacts": contacts, "hashes": [hashes[c] for c in contacts],
             "records": [o.sales_record_id for o in good]},
        )  # fmt: skip
    if bad:
        contacts = [contact_of[o.external_id] for o in bad]
        values = {**common, "contacts": contacts, "hashes": [hashes[c] for c in contacts]}
        codes = {"codes": [o.error_code for o in bad], "messages": [o.error_message for o in bad]}
        conn.execute(FAILED_SQL, {**values, **codes})
    conn.commit()


@dataclass
class _Batch:
    """One request's records, marked ``sent`` in the ledger, with what recording its outcomes needs."""

    records: list[OutboundRecord]
    hashes: dict[str, str]  # contact id → payload hash (resend_digest_sql)
    contact_of: dict[str, str]  # external id → contact id


def _prepare_batch(
    conn: psycopg.Connection, definition: TransferDefinition, run_id: str, contact_ids: list[str]
) -> _Batch | None:
    """A batch's candidates read again and marked ``sent`` (committed by the caller, before the
    request leaves). None when none of them is a candidate any more."""
    rows = {row["contact_id"]: row for row in _candidates(conn, definition, contact_ids)}
    conn.commit()  # close the named cursor's transaction
    gone = [c for c in contact_ids if c not in rows]
    if gone:
        # left the target group or lost consent since selection: never send them
        conn.execute(
            "update ops.transfer_items set status = 'invalid', error_code = 'NO_LONGER_A_CANDIDATE',"
            " error_message = 'left the target group or lost consent before sending'"
            " where run_id = %s and contact_id = any(%s)",
            (run_id, gone),
        )
    payloads = {c: build_payload(definition, rows[c]) for c in contact_ids if c in rows}
    if not payloads:
        return None
    records = [OutboundRecord(rows[c]["contact_id"], fields) for c, fields in payloads.items()]
    conn.execute(
        "update ops.transfer_items set status = 'sent', attempts = attempts + 1, updated_at = clock_timestamp()"
        " where run_id = %s and contact_id = any(%s)",
        (run_id, list(payloads)),
    )
    return _Batch(
        records=records,
        hashes={c: rows[c]["digest"] for c in payloads},
        contact_of={record.external_id: c for record, c in zip(records, payloads, strict=True)},
    )


def _send(
    adapter: SalesAdapter, batches: list[_Batch], pool: ThreadPoolExecutor | None
) -> list[list[RecordOutcome] | AdapterError]:
    """Each batch's outcomes, or the error its request ended with; the requests at once on the pool.
    Every request is waited for, so what did arrive is recorded even when another one failed."""
    if pool is None or len(batches) == 1:
        return [adapter.push(batch.records) for batch in batches]
    futures = [pool.submit(adapter.push, batch.records) for batch in batches]
    answers: list[list[RecordOutcome] | AdapterError] = []
    for future in futures:
        error = future.exception()
        if error is not None and not isinstance(error, AdapterError):
            raise error
        answers.append(error if error is not None else future.result())
    return answers


def push(conn: psycopg.Connection, definition: TransferDefinition, run_id: str, adapter: SalesAdapter) -> RunCounts:
    """Send the run's items in batches, recording each batch before and after its request.

    With ``concurrent_requests`` above 1, that many batches go out at once: all are marked ``sent``
    (committed) before the first request leaves, and each one's outcomes are recorded when every
    request of the round has answered. A sales system's latency then overlaps (Salesforce allows 25
    long-running requests at once per org); a crash re-sends at most one round, as updates."""
    size = min(definition.batch_size, adapter.max_batch)
    at_once = definition.concurrent_requests
    sent = 0
    pool = ThreadPoolExecutor(at_once, thread_name_prefix=f"transfer-{definition.name}") if at_once > 1 else None
    try:
        while items := _next_batch(conn, run_id, size * at_once, definition.max_attempts):
            contact_ids = [contact_id for contact_id, _ in items]
            # no erasure between the re-read of the candidates and the outcomes written
            with block_erasures(conn):
                batches = [
                    batch
                    for start in range(0, len(contact_ids), size)
                    if (batch := _prepare_batch(conn, definition, run_id, contact_ids[start : start + size]))
                ]
                conn.commit()  # the ledger says "sent" before the requests leave
                failure: AdapterError | None = None
                for batch, answer in zip(batches, _send(adapter, batches, pool), strict=True):
                    if isinstance(answer, AdapterError):
                        failure = failure or answer
                    else:
                        _record(conn, definition, run_id, answer, batch.hashes, batch.contact_of)
                if failure is not None:
                    raise failure
            if sent // 10 != (sent + len(batches)) // 10:
                log.info("transfer %s: %d batches sent", definition.name, sent + len(batches))
            sent += len(batches)
    except ApiLimitReached as exc:
        conn.rollback()
        log.warning("transfer %s: %s — stopping; the rest goes in the next run", definition.name, exc)
        conn.execute(
            "update ops.transfer_runs set status = 'limited', detail = %s where run_id = %s", (str(exc)[:500], run_id)
        )
        conn.commit()
    except AdapterError:
        conn.rollback()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return run_counts(conn, run_id)


def run_counts(conn: psycopg.Connection, run_id: str) -> RunCounts:
    row = conn.execute(
        "select runs.selected, runs.unchanged,"
        " count(items.contact_id) filter (where items.status in ('sent', 'succeeded', 'failed', 'dead_letter')),"
        " count(items.contact_id) filter (where items.status = 'succeeded'),"
        " count(items.contact_id) filter (where items.status = 'failed'),"
        " count(items.contact_id) filter (where items.status = 'invalid'),"
        " count(items.contact_id) filter (where items.status = 'dead_letter')"
        " from ops.transfer_runs as runs left join ops.transfer_items as items on items.run_id = runs.run_id"
        " where runs.run_id = %s group by runs.selected, runs.unchanged",
        (run_id,),
    ).fetchone()
    return RunCounts(
        selected=row[0],
        unchanged=row[1],
        sent=row[2],
        succeeded=row[3],
        failed=row[4],
        invalid=row[5],
        dead_letter=row[6],
    )


def finish_run(conn: psycopg.Connection, definition: TransferDefinition, run_id: str) -> tuple[str, RunCounts]:
    """Write the run's counts and status: failed when the failed share exceeds max_failed_share."""
    counts = run_counts(conn, run_id)
    (status,) = conn.execute("select status from ops.transfer_runs where run_id = %s", (run_id,)).fetchone()
    attempted = counts.succeeded + counts.failed + counts.dead_letter
    failed_share = (counts.failed + counts.dead_letter) / attempted if attempted else 0.0
    if status == "running":
        status = "failed" if failed_share > definition.max_failed_share else "succeeded"
    conn.execute(
        "update ops.transfer_runs set status = %s, finished_at = clock_timestamp(), sent = %s, succeeded = %s,"
        " failed = %s, invalid = %s, dead_letter = %s where run_id = %s",
        (status, counts.sent, counts.succeeded, counts.failed, counts.invalid, counts.dead_letter, run_id),
    )
    conn.commit()
    log.info(
        "transfer %s run %s: %s — selected %d, unchanged %d, invalid %d, sent %d, succeeded %d, failed %d,"
        " dead letters %d (failed share %.1f%%, threshold %.0f%%)",
        definition.name, run_id, status, counts.selected, counts.unchanged, counts.invalid, counts.sent,
        counts.succeeded, counts.failed, counts.dead_letter, failed_share * 100, definition.max_failed_share * 100,
    )  # fmt: skip
    return status, counts


def requeue_dead_letters(conn: psycopg.Connection, definition: TransferDefinition) -> int:
    """Give dead letters a fresh set of attempts: the next run selects them again."""
    ensure_ledger(conn)
    count = conn.execute(
        "update ops.transfer_contacts set status = 'requeued', attempts = 0, payload_hash = null"
        " where transfer_name = %s and status = 'dead_letter'",
        (definition.name,),
    ).rowcount
    conn.commit()
    return count
