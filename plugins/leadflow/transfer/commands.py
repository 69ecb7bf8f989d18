"""`leadflow transfer …`: list transfers, move them through their lifecycle, re-queue dead letters.

A status change is written to ops first and then mirrored to the transfer's DAG in Airflow
(paused unless active) with Airflow's own CLI.
"""

from __future__ import annotations

import getpass
import subprocess
import sys

import psycopg

from leadflow.transfer.definitions import get_transfer, load_transfers
from leadflow.transfer.lifecycle import TRANSITIONS, TransitionError, current_status, dag_should_be_paused, transition
from leadflow.transfer.runner import requeue_dead_letters


def mirror_to_airflow(dag_id: str, paused: bool) -> str:
    """Pause or unpause the DAG in Airflow's metadata DB; reserialize once if Airflow has not seen it."""
    from leadflow.airflow_env import prepared_env

    env = prepared_env()
    airflow = [sys.executable, "-m", "airflow"]
    action = "pause" if paused else "unpause"
    for attempt in (1, 2):
        done = subprocess.run([*airflow, "dags", action, dag_id], env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return f"DAG {dag_id} {action}d"
        if attempt == 1:
            subprocess.run([*airflow, "dags", "reserialize"], env=env, capture_output=True, text=True, check=False)
    reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return f"could not {action} DAG {dag_id} in Airflow ({reason}); its runs check the status anyway"


def list_transfers(conn: psycopg.Connection) -> list[str]:
    lines = [f"{'transfer':<24} {'status':<8} {'area':<6} {'schedule':<16} {'tags':<22} last run"]
    for definition in load_transfers():
        status = current_status(conn, definition)
        last = conn.execute(
            "select status, started_at, succeeded, failed, unchanged from ops.transfer_runs"
            " where transfer_name = %s order by started_at desc limit 1",
            (definition.name,),
        ).fetchone()
        run = (
            f"{last[0]} {last[1]:%Y-%m-%d %H:%M} ({last[2]} ok, {last[3]} failed, {last[4]} unchanged)"
            if last
            else "never"
        )
        lines.append(
            f"{definition.name:<24} {status:<8} {definition.marketing_area:<6} {definition.schedule.cron:<16}"
            f" {','.join(definition.tags):<22} {run}"
        )
    return lines


def change_status(conn: psycopg.Connection, name: str, action: str, mirror: bool = True) -> str:
    definition = get_transfer(name)
    before, after = transition(conn, definition, action, getpass.getuser())
    message = f"transfer {name}: {before} → {after}"
    if mirror:
        message += "; " + mirror_to_airflow(definition.dag_id, dag_should_be_paused(after))
    return message


def run(action: str, name: str | None, database_url: str, mirror: bool = True) -> int:
    with psycopg.connect(database_url) as conn:
        if action == "list":
            print("\n".join(list_transfers(conn)))
            return 0
        if not name:
            print(f"leadflow transfer {action} NAME", file=sys.stderr)
            return 2
        if action == "retry":
            count = requeue_dead_letters(conn, get_transfer(name))
            print(f"transfer {name}: {count} dead letter(s) re-queued for the next run")
            return 0
        if action in TRANSITIONS:
            try:
                print(change_status(conn, name, action, mirror))
            except TransitionError as exc:
                print(f"leadflow: {exc}", file=sys.stderr)
                return 1
            return 0
    print(f"unknown action {action}", file=sys.stderr)
    return 2
