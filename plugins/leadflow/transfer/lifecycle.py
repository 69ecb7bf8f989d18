"""A transfer's status lifecycle: draft → active ⇄ paused → stopped (final).

The status lives in ``ops.transfer_status`` (every change in ``ops.transfer_status_history``) and is
mirrored to the transfer's DAG: draft and paused keep the DAG paused (no scheduled runs), active
unpauses it, stopped pauses it for good. Every run checks the status first, so a manual trigger of
a draft, paused or stopped transfer sends nothing.
"""

from __future__ import annotations

import psycopg

from leadflow.transfer.definitions import TransferDefinition
from leadflow.transfer.ledger import ensure_ledger

STATUSES = ("draft", "active", "paused", "stopped")
# action: (statuses it applies to, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "activate": (("draft",), "active"),
    "pause": (("active",), "paused"),
    "resume": (("paused",), "active"),
    "stop": (("draft", "active", "paused"), "stopped"),
}


class TransitionError(ValueError):
    """A transition the lifecycle does not allow; the message says what is allowed."""


def current_status(conn: psycopg.Connection, definition: TransferDefinition) -> str:
    """The stored status; a transfer seen for the first time starts at its initial_status."""
    ensure_ledger(conn)
    row = conn.execute(
        "insert into ops.transfer_status (transfer_name, status, changed_by) values (%s, %s, 'definition')"
        " on conflict (transfer_name) do update set transfer_name = excluded.transfer_name returning status",
        (definition.name, definition.initial_status),
    ).fetchone()
    conn.commit()
    return row[0]


def transition(
    conn: psycopg.Connection, definition: TransferDefinition, action: str, changed_by: str
) -> tuple[str, str]:
    """Apply an action; returns (from, to). Refused with a clear message when not allowed."""
    if action not in TRANSITIONS:
        raise TransitionError(f"unknown action {action!r}; actions: {', '.join(TRANSITIONS)}")
    allowed_from, to_status = TRANSITIONS[action]
    current_status(conn, definition)
    with conn.transaction():
        (status,) = conn.execute(
            "select status from ops.transfer_status where transfer_name = %s for update", (definition.name,)
        ).fetchone()
        if status not in allowed_from:
            possible = [name for name, (froms, _) in TRANSITIONS.items() if status in froms]
            hint = f"; from {status} you can: {', '.join(possible)}" if possible else f"; {status} is final"
            raise TransitionError(f"transfer {definition.name} is {status}: cannot {action} it{hint}")
        conn.execute(
            "update ops.transfer_status set status = %s, changed_at = now(), changed_by = %s where transfer_name = %s",
            (to_status, changed_by, definition.name),
        )
        conn.execute(
            "insert into ops.transfer_status_history (transfer_name, from_status, to_status, changed_by)"
            " values (%s, %s, %s, %s)",
            (definition.name, status, to_status, changed_by),
        )
    return status, to_status


def dag_should_be_paused(status: str) -> bool:
    return status != "active"
