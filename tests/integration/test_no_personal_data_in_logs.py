"""No personal data in what operators and Airflow keep about runs: `leadflow run --feed` on a
generated folder runs the whole pipeline and the active transfer through Airflow, then every task
log, every XCom and every error text in `ops` is searched for the people's emails, phones and names.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from tests.fixtures import BIN

pytestmark = pytest.mark.integration

OPS_TEXT = {
    "ops.loads": "select to_jsonb(l)::text from ops.loads l",
    "ops.quality_results": "select failed_expectations::text || coalesce(batch, '') from ops.quality_results",
    "ops.transfer_runs": "select coalesce(detail, '') from ops.transfer_runs",
    "ops.transfer_items": "select concat_ws(' ', error_code, error_message, external_id) from ops.transfer_items",
}


def _personal_data(feed: Path) -> set[str]:
    """What identifies the people in the feed: emails, phone numbers (as written and as digits),
    full names."""
    found: set[str] = set()
    for path in feed.glob("*__contacts.csv"):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if row["email"].strip():
                    found.add(row["email"].strip().lower())
                digits = re.sub(r"\D", "", row["phone"])
                if len(digits) >= 8:
                    found.add(digits)
                    found.add(row["phone"].strip().lower())
                if row["first_name"].strip() and row["last_name"].strip():
                    found.add(f"{row['first_name'].strip()} {row['last_name'].strip()}".lower())
    return found


def _hits(text: str, personal: set[str], where: str) -> list[str]:
    lowered = text.lower()
    digits_only = re.sub(r"[ ()./-]", "", lowered)
    return [
        f"{where}: {value!r}" for value in personal if value in lowered or (value.isdigit() and value in digits_only)
    ]


def test_task_logs_xcoms_and_ops_errors_hold_no_emails_phones_or_names(fresh_database, tmp_path):
    feed = tmp_path / "feed"
    Generator(250, seed=17).write(feed, progress=False)
    personal = _personal_data(feed)
    assert len(personal) > 400

    state = tmp_path / "state"
    # a clean environment: this run's own Airflow home and metadata DB, the test's warehouse
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "LEADFLOW_", "DBT_"))}
    env.update(LEADFLOW_DATABASE_URL=fresh_database.url(), LEADFLOW_STATE_DIR=str(state))
    ran = subprocess.run(
        [str(BIN / "leadflow"), "run", "--feed", str(feed), "--as-of", "2026-11-01T06:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "\nDAG transfer_emea_sales_ready\n" in ran.stdout  # after the pipeline, in the same process

    # the search finds a value however it is written
    some_email = next(v for v in personal if "@" in v)
    assert _hits(f"rejected <{some_email.upper()}>", personal, "probe") == [f"probe: {some_email!r}"]

    hits: list[str] = []
    logs = {p: p.read_text(errors="replace") for p in state.rglob("*.log") if p.is_file()}
    everything = "\n".join(logs.values())
    # the task logs are there: landing, dbt, the quality checks, BI access, the transfer's delivery
    for task in ("land", "dbt", "validate_marts", "bi_access", "deliver"):
        assert task in everything, f"no log of {task}"
    for path, text in logs.items():
        hits += _hits(text, personal, str(path.relative_to(state)))

    xcoms = (
        sqlite3.connect(state / "airflow" / "airflow.db").execute("select dag_id, task_id, value from xcom").fetchall()
    )
    # every task that returns a summary left it (one XCom each, not one per key besides)
    assert {task_id for _, task_id, _ in xcoms} >= {
        "land", "validate_raw", "validate_marts", "source_freshness", "bi_access", "quality_gate", "deliver"
    }  # fmt: skip
    for dag_id, task_id, value in xcoms:
        text = value.decode(errors="replace") if isinstance(value, bytes) else json.dumps(value)
        hits += _hits(text, personal, f"XCom {dag_id}.{task_id}")

    with psycopg.connect(fresh_database.url()) as conn:
        assert conn.execute("select count(*) from ops.transfer_items").fetchone()[0] > 0
        for table, query in OPS_TEXT.items():
            for (text,) in conn.execute(query):
                hits += _hits(text or "", personal, table)
    assert hits == [], f"{len(hits)} personal values found, e.g. {hits[:10]}"
