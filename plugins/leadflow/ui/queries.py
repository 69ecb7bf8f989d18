"""What the transfer monitor shows, read from ``ops`` (the ledger, quality results) and ``marts``.

Read-only: nothing here creates or changes a table, so the pages work for a login that may only
read. Every list is paginated in SQL (limit/offset over an index), so a page costs the same with
ten runs or a million ledger rows. The same functions serve the HTML pages and the JSON API.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict

from leadflow.settings import ConfigError
from leadflow.transfer.definitions import TransferDefinition, load_transfers
from leadflow.transfer.ledger import OUTCOME_RANK
from leadflow.transform.explain import (
    Contact,
    ContactNotFoundError,
    IdEvent,
    Interaction,
    Interest,
    MissingMartsError,
    Origin,
    ScoreReason,
    Scores,
    Stage,
    StageChange,
    explain_contact,
)

Item = TypeVar("Item")

ITEM_STATUSES = ("dead_letter", "failed", "invalid", "pending", "sent", "succeeded")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    total: int
    limit: int
    offset: int
    next_offset: int | None

    @classmethod
    def of(cls, items: list[Any], total: int, limit: int, offset: int) -> Page[Any]:
        more = offset + len(items) < total
        return cls(items=items, total=total, limit=limit, offset=offset, next_offset=offset + limit if more else None)


class RunSummary(BaseModel):
    run_id: str
    transfer_name: str
    airflow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    selected: int
    sent: int
    succeeded: int
    failed: int
    unchanged: int
    invalid: int
    dead_letter: int
    detail: str | None


class TransferTotals(BaseModel):
    runs: int = 0
    failed_runs: int = 0
    selected: int = 0
    succeeded: int = 0
    failed: int = 0
    dead_letter: int = 0
    contacts_delivered: int = 0  # contacts whose current data the sales system holds


class TransferSummary(BaseModel):
    name: str
    description: str
    status: str
    status_changed_at: datetime | None
    defined: bool  # False: runs in the ledger, but its definition file is gone
    marketing_area: str | None
    schedule: str | None
    tags: list[str]
    adapter: str | None
    dag_id: str
    last_run: RunSummary | None
    totals: TransferTotals


class TransferDetail(TransferSummary):
    definition: dict[str, Any] | None
    in_progress: list[RunSummary]


class RunContact(BaseModel):
    contact_id: str
    name: str | None
    company: str | None
    status: str
    attempts: int
    error_code: str | None
    error_message: str | None
    sales_record_id: str | None
    updated_at: datetime


class ContactTransfer(BaseModel):
    transfer_name: str
    run_id: str
    started_at: datetime
    run_status: str
    status: str
    attempts: int
    error_code: str | None
    sales_record_id: str | None
    updated_at: datetime


class QualityResult(BaseModel):
    result_id: int
    suite: str
    layer: str
    batch: str
    checked_at: datetime
    success: bool
    severity: str
    rows: int | None
    failed: list[dict[str, Any]]
    accepted_at: datetime | None
    docs_page: str | None


class NotFoundError(LookupError):
    """What was asked for does not exist; the message says what and why."""


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _ledger_exists(conn: psycopg.Connection) -> bool:
    return _exists(conn, "ops.transfer_runs")


def _definitions() -> dict[str, TransferDefinition]:
    try:
        return {d.name: d for d in load_transfers()}
    except ConfigError:
        # a broken definition file is reported by the DAG import and `leadflow transfer list`;
        # the monitor still shows what the ledger knows
        return {}


TOTALS_SQL = """
select transfer_name, count(*) as runs, count(*) filter (where status in ('failed', 'blocked')) as failed_runs,
    coalesce(sum(selected), 0) as selected, coalesce(sum(succeeded), 0) as succeeded,
    coalesce(sum(failed), 0) as failed, coalesce(sum(dead_letter), 0) as dead_letter
from ops.transfer_runs where {one} group by transfer_name
"""
LAST_RUN_SQL = """
select distinct on (transfer_name) * from ops.transfer_runs where {one} order by transfer_name, started_at desc
"""
DELIVERED_SQL = """
select transfer_name, count(*) as contacts_delivered from ops.transfer_contacts
where delivered_at is not null and {one} group by transfer_name
"""


def _run(row: dict[str, Any]) -> RunSummary:
    return RunSummary(**{**row, "run_id": str(row["run_id"])})


def transfers(
    conn: psycopg.Connection, tag: str | None = None, status: str | None = None, name: str | None = None
) -> list[TransferSummary]:
    """Every transfer (or the one named), defined or seen in the ledger, with status, last run and totals."""
    definitions = {n: d for n, d in _definitions().items() if name is None or n == name}
    statuses: dict[str, dict[str, Any]] = {}
    totals: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    delivered: dict[str, int] = {}
    if _ledger_exists(conn):
        one = "(%(name)s::text is null or transfer_name = %(name)s)"
        p = {"name": name}
        with conn.cursor(row_factory=dict_row) as cur:
            statuses = {
                r["transfer_name"]: r
                for r in cur.execute(f"select * from ops.transfer_status where {one}", p).fetchall()  # noqa: S608
            }
            totals = {r["transfer_name"]: r for r in cur.execute(TOTALS_SQL.format(one=one), p).fetchall()}
            last = {r["transfer_name"]: r for r in cur.execute(LAST_RUN_SQL.format(one=one), p).fetchall()}
            delivered = {
                r["transfer_name"]: r["contacts_delivered"]
                for r in cur.execute(DELIVERED_SQL.format(one=one), p).fetchall()
            }
    names = sorted(set(definitions) | set(statuses) | set(totals))
    summaries = []
    for name in names:
        definition = definitions.get(name)
        stored = statuses.get(name)
        summary = TransferSummary(
            name=name,
            description=definition.description if definition else "",
            # a transfer not yet seen by any run starts at its initial status (lifecycle.current_status)
            status=stored["status"] if stored else (definition.initial_status if definition else "unknown"),
            status_changed_at=stored["changed_at"] if stored else None,
            defined=definition is not None,
            marketing_area=definition.marketing_area if definition else None,
            schedule=definition.schedule.cron if definition else None,
            tags=list(definition.tags) if definition else [],
            adapter=definition.adapter if definition else None,
            dag_id=f"transfer_{name}",
            last_run=_run(last[name]) if name in last else None,
            totals=TransferTotals(
                **{k: v for k, v in totals.get(name, {}).items() if k != "transfer_name"},
                contacts_delivered=delivered.get(name, 0),
            ),
        )
        summaries.append(summary)
    return only(summaries, tag, status)


def only(summaries: list[TransferSummary], tag: str | None, status: str | None) -> list[TransferSummary]:
    return [s for s in summaries if (tag is None or tag in s.tags) and (status is None or s.status == status)]


def all_tags(summaries: list[TransferSummary]) -> list[str]:
    return sorted({tag for s in summaries for tag in s.tags})


def transfer(conn: psycopg.Connection, name: str) -> TransferDetail:
    found = transfers(conn, name=name)
    if not found:
        raise NotFoundError(f"no transfer named {name!r}: it is neither defined in config/transfers nor in the ledger")
    definition = _definitions().get(name)
    in_progress: list[RunSummary] = []
    if _ledger_exists(conn):
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "select * from ops.transfer_runs where transfer_name = %s and status = 'running'"
                " order by started_at desc",
                (name,),
            ).fetchall()
        in_progress = [_run(r) for r in rows]
    return TransferDetail(
        **found[0].model_dump(),
        definition=definition.model_dump(mode="json") if definition else None,
        in_progress=in_progress,
    )


def runs(conn: psycopg.Connection, name: str, limit: int, offset: int) -> Page[RunSummary]:
    """A transfer's runs, newest first."""
    if not _ledger_exists(conn):
        return Page[RunSummary].of([], 0, limit, offset)
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute("select count(*) as n from ops.transfer_runs where transfer_name = %s", (name,)).fetchone()
        rows = cur.execute(
            "select * from ops.transfer_runs where transfer_name = %s order by started_at desc, run_id"
            " limit %s offset %s",
            (name, limit, offset),
        ).fetchall()
    return Page[RunSummary].of([_run(r) for r in rows], total["n"], limit, offset)


def run(conn: psycopg.Connection, run_id: str) -> RunSummary:
    row = None
    if _ledger_exists(conn):
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute("select * from ops.transfer_runs where run_id::text = %s", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no transfer run with the id {run_id!r}")
    return _run(row)


def run_contacts(
    conn: psycopg.Connection, run_id: str, limit: int, offset: int, status: str | None = None
) -> Page[RunContact]:
    """A run's contacts with their outcome: dead letters first, then failures, then the rest (the
    caller has found the run with ``run``)."""
    names = _exists(conn, "marts.dim_contacts")
    contact = (
        "left join marts.dim_contacts as c on c.contact_id = i.contact_id"
        if names
        else "left join (select null::text as contact_id, null::text as first_name, null::text as last_name,"
        " null::text as company) as c on false"
    )
    # by outcome, dead letters first, through the ledger's index on (run_id, outcome rank, contact_id)
    rank = OUTCOME_RANK.format(status="i.status")
    where = "i.run_id = %(run)s::uuid" + (
        f" and {rank} = {OUTCOME_RANK.format(status='%(status)s::text')}" if status else ""
    )
    params = {"run": run_id, "status": status, "limit": limit, "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute(f"select count(*) as n from ops.transfer_items as i where {where}", params).fetchone()  # noqa: S608
        # the page's contact ids first, from the index alone (a deep offset skips index entries, not
        # table rows), then their rows and names
        rows = cur.execute(
            f"with page as (select i.contact_id, {rank} as rank from ops.transfer_items as i where {where}"  # noqa: S608
            f" order by {rank}, i.contact_id limit %(limit)s offset %(offset)s)"
            " select i.contact_id, nullif(concat_ws(' ', c.first_name, c.last_name), '') as name, c.company,"
            " i.status, i.attempts, i.error_code, i.error_message, i.sales_record_id, i.updated_at"
            " from page join ops.transfer_items as i on i.run_id = %(run)s::uuid and i.contact_id = page.contact_id"
            f" {contact} order by page.rank, page.contact_id",
            params,
        ).fetchall()
    return Page[RunContact].of([RunContact(**r) for r in rows], total["n"], limit, offset)


def contact_transfers(conn: psycopg.Connection, contact_ids: list[str], limit: int = 100) -> list[ContactTransfer]:
    """Every transfer item of a contact (and of the ids merged into it), newest first."""
    if not _ledger_exists(conn):
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select r.transfer_name, r.run_id::text as run_id, r.started_at, r.status as run_status, i.status,"
            " i.attempts, i.error_code, i.sales_record_id, i.updated_at"
            " from ops.transfer_items as i join ops.transfer_runs as r using (run_id)"
            " where i.contact_id = any(%s) order by r.started_at desc limit %s",
            (contact_ids, limit),
        ).fetchall()
    return [ContactTransfer(**r) for r in rows]


class Contact360(BaseModel):
    """``leadflow explain``'s story of a contact plus its transfer history."""

    model_config = ConfigDict(json_encoders={Decimal: float})  # scores as JSON numbers, not strings

    identifier: str
    found_by: str
    contact: Contact
    merged_path: list[IdEvent]
    other_matches: list[str]
    absorbed_ids: list[str]
    id_history: list[IdEvent]
    origins: list[Origin]
    scores: Scores | None
    reasons: list[ScoreReason]
    stage: Stage | None
    stage_history: list[StageChange]
    interests: list[Interest]
    interactions: list[Interaction]
    transfers: list[ContactTransfer]


def contact(conn: psycopg.Connection, identifier: str) -> Contact360:
    """The contact 360: the explain story (best record, origins, consent, scores with reasons,
    stages, interests, interactions) plus its transfer history."""
    try:
        story = explain_contact(conn, identifier)
    except ContactNotFoundError as error:
        raise NotFoundError(str(error)) from error
    except MissingMartsError as error:
        raise NotFoundError(f"{error}: run the pipeline first") from error
    ids = [story.contact.contact_id, *story.absorbed_ids]
    return Contact360(**asdict(story), transfers=contact_transfers(conn, ids))


def quality(conn: psycopg.Connection) -> list[QualityResult]:
    if not _exists(conn, "ops.quality_results"):
        return []
    from leadflow.quality.report import latest_results

    return [QualityResult(**r) for r in latest_results(conn)]
