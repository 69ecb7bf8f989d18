"""Transfers end to end against the sales sandbox over HTTP and a real PostgreSQL ledger: exactly N
leads for N sales-ready contacts, reruns send nothing, a change is an update, faults and a SIGKILL
mid-run lose and duplicate nothing, and the lifecycle refuses what it does not allow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from leadflow.demo.sales_sandbox import SalesSandbox, SandboxFaults
from leadflow.settings import DatabaseUrl
from leadflow.transfer.adapters.base import AdapterError
from leadflow.transfer.definitions import TransferDefinition, load_transfer
from leadflow.transfer.lifecycle import TransitionError, current_status, transition
from leadflow.transfer.runner import finish_run, push, select_candidates, start_run
from tests.fixtures import run_transfer, sandbox_adapter

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

CANDIDATES_DDL = """
create schema if not exists marts;
create table marts.transfer_candidates (
    contact_id text primary key, email text, phone text, first_name text, last_name text, job_title text,
    company text, industry text, country text, marketing_area text, account_id text, account_name text,
    email_permission text, has_unsubscribed boolean, stage text, stage_order integer,
    stage_entered_at timestamptz, rating text, profile_grade text, engagement_level integer,
    profile_score numeric(6, 2), engagement_score numeric(6, 2), lead_score numeric(6, 2), interests text,
    last_interaction_at timestamptz
)
"""

DEFINITION = {
    "name": "test_emea",
    "description": "EMEA MQL and SQL",
    "marketing_area": "EMEA",
    "target_group": [
        {"column": "stage", "op": "in", "value": ["mql", "sql"]},
        {"column": "lead_score", "op": ">=", "value": 50},
    ],
    "schedule": {"cron": "0 6 * * *", "start": "2026-01-01"},
    "interests": ["cloud", "security"],
    "tags": ["emea", "test"],
    "connection": "leadflow_sales",
    "adapter": "salesforce",
    "field_mapping": {"LastName": "last_name", "Company": "company", "Email": "email", "LeadScore__c": "lead_score"},
    "interests_field": "Interests__c",
    "tags_field": "LeadflowTags__c",
    "batch_size": 50,
    "initial_status": "active",
}
N = 240  # sales-ready EMEA contacts in the target group


def _insert_candidates(conn: psycopg.Connection) -> None:
    conn.execute(CANDIDATES_DDL)
    rows = []
    for i in range(N + 60):
        in_group = i < N
        rows.append(
            (
                f"ctc_{i:05d}", f"person{i}@example.com", "Person", f"Last{i}", "Acme GmbH",
                "EMEA" if in_group or i % 2 else "APJ", "granted", False,
                "sql" if i % 3 == 0 else "mql" if in_group else "lead", 60 + i % 40 if in_group else 30,
                "cloud|security|iot",
            )
        )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "insert into marts.transfer_candidates (contact_id, email, first_name, last_name, company, marketing_area,"
            " email_permission, has_unsubscribed, stage, lead_score, interests) values (%s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s)",
            rows,
        )
    conn.commit()


@pytest.fixture
def sandbox() -> Iterator[SalesSandbox]:
    app = SalesSandbox(seed=11).start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def candidates(fresh_database: DatabaseUrl) -> DatabaseUrl:
    with psycopg.connect(fresh_database.url()) as conn:
        _insert_candidates(conn)
    return fresh_database


def _definition(tmp_path: Path, **changes) -> TransferDefinition:
    path = tmp_path / "transfer.yml"
    path.write_text(yaml.safe_dump({**DEFINITION, **changes}))
    return load_transfer(path)


def _assert_each_lead_once(sandbox: SalesSandbox, count: int) -> None:
    external_ids = [lead["external_id"] for lead in sandbox.leads()]
    assert len(external_ids) == count
    assert len(set(external_ids)) == count


def test_n_sales_ready_contacts_become_n_leads_and_a_rerun_sends_nothing(candidates, sandbox, tmp_path):
    definition = _definition(tmp_path)

    status, counts = run_transfer(candidates, definition, sandbox, "run-1")

    assert status == "succeeded"
    assert (counts.selected, counts.sent, counts.succeeded, counts.failed, counts.invalid) == (N, N, N, 0, 0)
    _assert_each_lead_once(sandbox, N)
    lead = sandbox.leads("ctc_00003")[0]["fields"]
    assert lead["Interests__c"] == "cloud;security"  # the definition's interests only, in rank order
    assert lead["LeadflowTags__c"] == "emea;test"
    assert sandbox.stats["api_requests"] == N // 50 + 1  # batches of 50

    status, again = run_transfer(candidates, definition, sandbox, "run-2")
    assert (status, again.selected, again.unchanged, again.sent) == ("succeeded", N, N, 0)
    assert sandbox.stats["created"] == N and sandbox.stats["updated"] == 0


def test_a_changed_score_resends_only_that_lead_as_an_update(candidates, sandbox, tmp_path):
    definition = _definition(tmp_path)
    run_transfer(candidates, definition, sandbox, "run-1")
    with psycopg.connect(candidates.url()) as conn:
        conn.execute("update marts.transfer_candidates set lead_score = 99 where contact_id = 'ctc_00007'")
        conn.commit()

    status, counts = run_transfer(candidates, definition, sandbox, "run-2")

    assert (counts.sent, counts.succeeded, counts.unchanged) == (1, 1, N - 1)
    (lead,) = sandbox.leads("ctc_00007")
    assert lead["writes"] == 2 and lead["fields"]["LeadScore__c"] == 99
    assert sandbox.stats["created"] == N and sandbox.stats["updated"] == 1


def test_a_score_moving_within_its_resend_step_is_not_sent_again_but_goes_along_with_other_changes(
    candidates, sandbox, tmp_path
):
    definition = _definition(tmp_path, resend={"steps": {"LeadScore__c": 10}})
    run_transfer(candidates, definition, sandbox, "run-1")
    with psycopg.connect(candidates.url()) as conn:
        # 67 → 69.5 stays in [60, 70); 68 → 71 moves to [70, 80)
        conn.execute("update marts.transfer_candidates set lead_score = 69.5 where contact_id = 'ctc_00007'")
        conn.execute("update marts.transfer_candidates set lead_score = 71 where contact_id = 'ctc_00008'")
        conn.commit()

    _, counts = run_transfer(candidates, definition, sandbox, "run-2")

    assert (counts.sent, counts.unchanged) == (1, N - 1)
    assert sandbox.leads("ctc_00008")[0]["fields"]["LeadScore__c"] == 71
    assert sandbox.leads("ctc_00007")[0]["fields"]["LeadScore__c"] == 67
    with psycopg.connect(candidates.url()) as conn:
        conn.execute("update marts.transfer_candidates set last_name = 'Renamed' where contact_id = 'ctc_00007'")
        conn.commit()

    _, counts = run_transfer(candidates, definition, sandbox, "run-3")

    assert (counts.sent, counts.unchanged) == (1, N - 1)
    (lead,) = sandbox.leads("ctc_00007")
    assert lead["writes"] == 2  # an update, with the score as it is now
    assert (lead["fields"]["LastName"], lead["fields"]["LeadScore__c"]) == ("Renamed", 69.5)


@pytest.mark.parametrize("concurrent_requests", [1, 4])
def test_with_faults_every_lead_arrives_exactly_once(candidates, sandbox, tmp_path, concurrent_requests):
    definition = _definition(tmp_path, concurrent_requests=concurrent_requests)
    sandbox.faults = SandboxFaults(
        rate_429=0.1, rate_503=0.05, rate_500=0.05, drop_rate=0.1, lock_rate=0.1, drop_next=2
    )

    status, counts = run_transfer(candidates, definition, sandbox, "run-1")

    assert status == "succeeded", counts
    assert counts.succeeded == N and counts.dead_letter == 0
    _assert_each_lead_once(sandbox, N)
    # two answers lost after the work was done, whatever the order concurrent requests arrive in;
    # the seeded rates serve the same faults only when requests come one at a time
    assert sandbox.stats["dropped"] >= 2
    if concurrent_requests == 1:
        assert sandbox.stats["faults"] > 0


@pytest.mark.parametrize("concurrent_requests", [1, 3])
def test_concurrent_requests_overlap_up_to_the_setting(candidates, sandbox, tmp_path, concurrent_requests):
    definition = _definition(tmp_path, concurrent_requests=concurrent_requests)
    sandbox.faults = SandboxFaults(slow_ms=100)  # a sales system's latency

    status, counts = run_transfer(candidates, definition, sandbox, "run-1")

    assert status == "succeeded" and counts.succeeded == N
    _assert_each_lead_once(sandbox, N)
    assert sandbox.stats["api_requests"] == N // 50 + 1  # batches of 50, each sent once
    if concurrent_requests == 1:
        assert sandbox.stats["most_upserts_at_once"] == 1
    else:
        assert 1 < sandbox.stats["most_upserts_at_once"] <= concurrent_requests


class _FailingSecondRequest:
    """The sandbox's adapter, except that its second request fails after the adapter's own retries."""

    def __init__(self, adapter):
        self.adapter, self.max_batch, self.name, self.calls = adapter, adapter.max_batch, adapter.name, 0
        self.lock = threading.Lock()

    def push(self, records):
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == 2:
            time.sleep(0.05)  # its siblings answer first
            raise AdapterError("Salesforce upsert failed: HTTP 500 UNKNOWN_EXCEPTION")
        return self.adapter.push(records)

    def close(self):
        self.adapter.close()


def test_a_request_failing_in_a_round_keeps_its_siblings_outcomes_and_a_rerun_sends_the_rest(
    candidates, sandbox, tmp_path
):
    definition = _definition(tmp_path, concurrent_requests=4)  # batches of 50: rounds of 200, then 40
    with psycopg.connect(candidates.url()) as conn:
        run_id, _ = start_run(conn, definition, "run-1")
        select_candidates(conn, definition, run_id)
        with pytest.raises(AdapterError):
            push(conn, definition, run_id, _FailingSecondRequest(sandbox_adapter(sandbox, definition)))
        statuses = dict(
            conn.execute(
                "select status, count(*) from ops.transfer_items where run_id = %s group by status", (run_id,)
            ).fetchall()
        )
        assert statuses == {"succeeded": 150, "sent": 50, "pending": N - 200}
        assert len(sandbox.leads()) == 150

        counts = push(conn, definition, run_id, sandbox_adapter(sandbox, definition))  # the task's retry
        status, counts = finish_run(conn, definition, run_id)

    assert status == "succeeded" and counts.succeeded == N
    _assert_each_lead_once(sandbox, N)
    assert sandbox.stats["created"] == N and sandbox.stats["updated"] == 0


def test_opted_out_and_unsubscribed_contacts_are_never_sent(candidates, sandbox, tmp_path):
    # the candidates mart excludes them; were one to slip in, the candidates suite closes the gate
    # (tests/integration/test_quality_gate.py). Here: a contact leaving the candidates between
    # selection and sending (consent withdrawn) is not sent either.
    definition = _definition(tmp_path)
    with psycopg.connect(candidates.url()) as conn:
        run_id, _ = start_run(conn, definition, "run-1")
        select_candidates(conn, definition, run_id)
        conn.execute("delete from marts.transfer_candidates where contact_id in ('ctc_00001', 'ctc_00002')")
        conn.commit()
        push(conn, definition, run_id, sandbox_adapter(sandbox, definition))
        status, counts = finish_run(conn, definition, run_id)
        gone = conn.execute(
            "select contact_id, status, error_code from ops.transfer_items where run_id = %s and status = 'invalid'",
            (run_id,),
        ).fetchall()

    assert sorted(gone) == [
        ("ctc_00001", "invalid", "NO_LONGER_A_CANDIDATE"),
        ("ctc_00002", "invalid", "NO_LONGER_A_CANDIDATE"),
    ]
    assert sandbox.leads("ctc_00001") == [] and sandbox.leads("ctc_00002") == []
    _assert_each_lead_once(sandbox, N - 2)


def test_rows_that_cannot_succeed_are_counted_invalid_and_never_sent(candidates, sandbox, tmp_path):
    definition = _definition(tmp_path)
    with psycopg.connect(candidates.url()) as conn:
        conn.execute("update marts.transfer_candidates set company = null where contact_id = 'ctc_00010'")
        conn.execute("update marts.transfer_candidates set last_name = ' ' where contact_id = 'ctc_00011'")
        conn.commit()

    status, counts = run_transfer(candidates, definition, sandbox, "run-1")

    assert (counts.invalid, counts.sent) == (2, N - 2)
    with psycopg.connect(candidates.url()) as conn:
        reasons = conn.execute(
            "select contact_id, error_message from ops.transfer_items where status = 'invalid' order by 1"
        ).fetchall()
    assert reasons == [
        ("ctc_00010", "REQUIRED_FIELD_MISSING on Company"),
        ("ctc_00011", "REQUIRED_FIELD_MISSING on LastName"),
    ]
    assert sandbox.leads("ctc_00010") == []


def test_validation_failures_become_failed_items_then_dead_letters_and_retry_requeues_them(
    candidates, sandbox, tmp_path
):
    from leadflow.transfer.runner import requeue_dead_letters

    definition = _definition(tmp_path, max_attempts=2, max_failed_share=0.5)
    sandbox.faults = SandboxFaults(record_error_rate=0.1)

    _, first = run_transfer(candidates, definition, sandbox, "run-1")
    _, second = run_transfer(candidates, definition, sandbox, "run-2")
    sandbox.faults = SandboxFaults()
    _, third = run_transfer(candidates, definition, sandbox, "run-3")

    assert first.failed > 0 and first.succeeded + first.failed == N
    assert second.dead_letter > 0  # failed twice: max_attempts reached
    assert third.sent == 0  # dead letters stay out until re-queued
    assert (third.selected, third.unchanged) == (N, N - second.dead_letter)  # counted in the database

    # ... or until what would be sent of them changes: then they are tried again
    with psycopg.connect(candidates.url()) as conn:
        (changed,) = conn.execute(
            "select min(contact_id) from ops.transfer_contacts where status = 'dead_letter'"
        ).fetchone()
        conn.execute("update marts.transfer_candidates set company = 'Renamed' where contact_id = %s", (changed,))
        conn.commit()
    _, retried = run_transfer(candidates, definition, sandbox, "run-3b")
    assert (retried.sent, retried.succeeded) == (1, 1)
    assert sandbox.leads(changed)[0]["fields"]["Company"] == "Renamed"

    with psycopg.connect(candidates.url()) as conn:
        requeued = requeue_dead_letters(conn, definition)
    _, fourth = run_transfer(candidates, definition, sandbox, "run-4")
    assert requeued == second.dead_letter - 1 and fourth.succeeded == requeued
    _assert_each_lead_once(sandbox, N)


def test_a_failed_share_above_the_threshold_fails_the_run(candidates, sandbox, tmp_path):
    definition = _definition(tmp_path, max_failed_share=0.05)
    sandbox.faults = SandboxFaults(record_error_rate=0.3)

    status, counts = run_transfer(candidates, definition, sandbox, "run-1")

    assert status == "failed" and counts.failed > 0.05 * N


CRASHING_RUN = """
import json, sys
from types import SimpleNamespace
import psycopg
from leadflow.transfer.definitions import load_transfer
from leadflow.transfer.runner import push, select_candidates, start_run
from leadflow.transfer.adapters.salesforce import SalesforceAdapter
database, definition_path, connection = sys.argv[1:4]
definition = load_transfer(__import__("pathlib").Path(definition_path))
conn_info = SimpleNamespace(**json.loads(connection)); conn_info.extra_dejson = conn_info.extra
with psycopg.connect(database) as conn:
    run_id, _ = start_run(conn, definition, "run-crash")
    select_candidates(conn, definition, run_id)
    adapter = SalesforceAdapter.from_connection(conn_info, external_id_field=definition.external_id_field)
    push(conn, definition, run_id, adapter)
"""


@pytest.mark.parametrize("concurrent_requests", [1, 4])
def test_a_sigkill_mid_run_then_a_rerun_loses_and_duplicates_nothing(
    candidates, sandbox, tmp_path, concurrent_requests
):
    definition = _definition(tmp_path, batch_size=20, concurrent_requests=concurrent_requests)
    sandbox.faults = SandboxFaults(slow_ms=150)
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING_RUN), candidates.url(), str(tmp_path / "transfer.yml"),
         sandbox.connections()["AIRFLOW_CONN_LEADFLOW_SALES"]],
        env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(sandbox.leads()) < 60:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    created_before = len(sandbox.leads())
    assert 0 < created_before < N, "the kill should land mid-run"
    with psycopg.connect(candidates.url()) as conn:
        unfinished = conn.execute(
            "select count(*) from ops.transfer_items where status in ('pending', 'sent')"
        ).fetchone()[0]
    assert unfinished > 0

    sandbox.faults = SandboxFaults()
    status, counts = run_transfer(candidates, definition, sandbox, "run-crash")  # the Airflow retry of the same run

    assert status == "succeeded" and counts.succeeded == N
    _assert_each_lead_once(sandbox, N)
    assert sandbox.stats["created"] == N


def test_the_lifecycle_allows_its_transitions_and_refuses_others_with_a_message(fresh_database, tmp_path):
    definition = _definition(tmp_path, initial_status="draft")
    with psycopg.connect(fresh_database.url()) as conn:
        assert current_status(conn, definition) == "draft"
        with pytest.raises(
            TransitionError, match="test_emea is draft: cannot pause it; from draft you can: activate, stop"
        ):
            transition(conn, definition, "pause", "test")
        assert transition(conn, definition, "activate", "test") == ("draft", "active")
        assert transition(conn, definition, "pause", "test") == ("active", "paused")
        with pytest.raises(TransitionError, match="cannot activate it; from paused you can: resume, stop"):
            transition(conn, definition, "activate", "test")
        assert transition(conn, definition, "resume", "test") == ("paused", "active")
        assert transition(conn, definition, "stop", "test") == ("active", "stopped")
        with pytest.raises(TransitionError, match="stopped: cannot resume it; stopped is final"):
            transition(conn, definition, "resume", "test")
        history = conn.execute(
            "select from_status, to_status from ops.transfer_status_history order by changed_at, ctid"
        ).fetchall()
    assert history == [("draft", "active"), ("active", "paused"), ("paused", "active"), ("active", "stopped")]
