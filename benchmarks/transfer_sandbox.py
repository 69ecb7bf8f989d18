"""Benchmark: a transfer of N leads to the sales sandbox against a floor measured in the same run.

The sandbox runs in its own process (``leadflow sandbox``), as a sales system would. The floor is
bare HTTP round trips to it: N/200 PATCH requests of 200 pre-built records over one keep-alive
session — the least any client must do. The transfer is the real runner: select the candidates from
``marts.transfer_candidates`` (N synthetic sales-ready contacts), record them in the ledger, push them
in batches of 200 recording every outcome, finish the run. Then the same with 5% faults (429 with
Retry-After, 503, dropped answers, locked rows), where every lead must still arrive exactly once.
Each runs once per ``--concurrent-requests`` value (requests in flight at once, the transfer
setting); ``--latency-ms`` adds a sales system's answer time to every request, the floor's too
(Salesforce takes about a second for 200 upserts; the sandbox on loopback answers in milliseconds).

    .venv/bin/python benchmarks/transfer_sandbox.py --leads 100000 --concurrent-requests 1 4 --latency-ms 0
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
import requests
import yaml
from common import write_results

from leadflow.demo.sales_sandbox import CLIENT_ID, CLIENT_SECRET
from leadflow.transfer.adapters.salesforce import SalesforceAdapter
from leadflow.transfer.definitions import load_transfer
from leadflow.transfer.runner import finish_run, push, select_candidates, start_run
from leadflow.warehouse import database_url, free_port

CANDIDATES = """
create schema if not exists marts;
create table marts.transfer_candidates as
select
    'ctc_' || lpad(i::text, 8, '0') as contact_id, 'person' || i || '@example.com' as email,
    null::text as phone, 'First' || i as first_name, 'Last' || i as last_name, 'Head of IT' as job_title,
    'Company ' || (i % 5000) as company, 'Manufacturing' as industry, 'DE' as country, 'EMEA' as marketing_area,
    null::text as account_id, null::text as account_name, 'granted' as email_permission,
    false as has_unsubscribed, 'mql' as stage, 3 as stage_order, now() as stage_entered_at, 'A1' as rating,
    'A' as profile_grade, 1 as engagement_level, 80.0::numeric(6, 2) as profile_score,
    70.0::numeric(6, 2) as engagement_score, (50 + i % 50)::numeric(6, 2) as lead_score,
    'cloud|security' as interests, now() as last_interaction_at
from generate_series(1, {n}) as i;
alter table marts.transfer_candidates add primary key (contact_id);
"""

DEFINITION = {
    "name": "bench",
    "marketing_area": "EMEA",
    "target_group": [{"column": "stage", "op": "in", "value": ["mql", "sql"]}],
    "schedule": {"cron": "0 6 * * *", "start": "2026-01-01"},
    "connection": "leadflow_sales",
    "adapter": "salesforce",
    "field_mapping": {"LastName": "last_name", "FirstName": "first_name", "Company": "company", "Email": "email",
                      "Title": "job_title", "Country": "country", "Rating": "rating", "LeadScore__c": "lead_score"},
    "interests_field": "Interests__c",
    "tags_field": "LeadflowTags__c",
    "tags": ["bench"],
    "max_attempts": 10,
}  # fmt: skip


def start_sandbox(folder: Path) -> tuple[subprocess.Popen, str]:
    """The sandbox in a process of its own; faults are switched on later (the floor runs without)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "leadflow.cli", "sandbox", "--port", str(port), "--db", str(folder / "sales.sqlite")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url + "/sandbox/stats", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("the sandbox did not start")


def floor(url: str, n: int) -> float:
    """Bare round trips: N/200 upserts of pre-built records over one session, no ledger."""
    session = requests.Session()
    token = session.post(
        url + "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [
        json.dumps({"allOrNone": False, "records": [
            {"attributes": {"type": "Lead"}, "LeadflowId__c": f"floor_{start + i}", "LastName": f"Last{i}",
             "FirstName": "First", "Company": "Company", "Email": f"p{start + i}@example.com", "Title": "Head of IT",
             "Country": "DE", "Rating": "A1", "LeadScore__c": 80.0, "Interests__c": "cloud;security",
             "LeadflowTags__c": "bench"}
            for i in range(min(200, n - start))
        ]})
        for start in range(0, n, 200)
    ]  # fmt: skip
    started = time.perf_counter()
    for body in bodies:
        response = session.patch(
            url + "/services/data/v62.0/composite/sobjects/Lead/LeadflowId__c", data=body, headers=headers, timeout=60
        )
        response.raise_for_status()
    return time.perf_counter() - started


def transfer(database: str, url: str, definition_path: Path, run: str) -> tuple[float, dict, int]:
    """The real runner: select, push, finish. Runs in a child process so its peak RSS is its own."""
    definition = load_transfer(definition_path)
    conn_info = SimpleNamespace(host=url, login=CLIENT_ID, password=CLIENT_SECRET, extra_dejson={})
    adapter = SalesforceAdapter.from_connection(conn_info, external_id_field="LeadflowId__c", attempts=10)
    started = time.perf_counter()
    with psycopg.connect(database) as conn:
        run_id, _ = start_run(conn, definition, run)
        select_candidates(conn, definition, run_id)
        push(conn, definition, run_id, adapter)
        status, counts = finish_run(conn, definition, run_id)
    elapsed = time.perf_counter() - started
    return elapsed, {"status": status, **counts.__dict__}, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--concurrent-requests", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--latency-ms", type=int, default=0, help="the sandbox's answer time for every request")
    args = parser.parse_args()
    n = args.leads
    server = database_url()
    report: dict = {
        "leads": n,
        "records_per_request": 200,
        "latency_ms": args.latency_ms,
        "scenarios": {},
    }
    latency = {"slow_ms": args.latency_ms}
    five_percent = {"rate_429": 0.02, "rate_503": 0.01, "drop_rate": 0.01, "lock_rate": 0.01, "retry_after_s": 1}
    for label, faults, concurrent in (
        (f"{name}, {c} at once", faults, c)
        for c in args.concurrent_requests
        for name, faults in (("no faults", {}), ("5% faults", five_percent))
    ):
        name = f"leadflow_bench_transfer_{int(time.time())}"
        with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        database = server.with_database(name).url()
        try:
            with psycopg.connect(database) as conn:
                conn.execute(CANDIDATES.format(n=int(n)))
                conn.commit()
            with tempfile.TemporaryDirectory() as folder:
                definition_path = Path(folder) / "bench.yml"
                definition_path.write_text(yaml.safe_dump({**DEFINITION, "concurrent_requests": concurrent}))
                process, url = start_sandbox(Path(folder))
                try:
                    requests.post(url + "/sandbox/faults", json=latency, timeout=5)
                    floor_s = floor(url, n)
                    requests.post(url + "/sandbox/faults", json={**latency, **faults}, timeout=5)
                    with multiprocessing.get_context("spawn").Pool(1) as pool:
                        transfer_s, counts, transfer_rss = pool.apply(
                            transfer, (database, url, definition_path, "bench-1")
                        )
                    stats = requests.get(url + "/sandbox/stats", params={"prefix": "ctc_"}, timeout=5).json()
                finally:
                    process.terminate()
                    process.wait(timeout=10)
            # the sandbox holds one lead per external id (its unique key): N leads and N creations
            # for the transfer's ids means each arrived, and none was created twice
            exactly_once = stats["leads_with_prefix"] == n and stats["created"] == 2 * n
            scenario = {
                "concurrent_requests": concurrent,
                "floor_s": round(floor_s, 2),
                "floor_leads_per_s": round(n / floor_s),
                "transfer_s": round(transfer_s, 2),
                "transfer_leads_per_s": round(n / transfer_s),
                "ratio": round(floor_s / transfer_s, 3),
                "every_lead_exactly_once": exactly_once,
                "run": counts,
                "transfer_peak_rss_mb": transfer_rss,
                "sandbox": {k: v for k, v in stats.items() if k != "faults_switched_on"},
            }
            report["scenarios"][label] = scenario
            print(
                f"{label:>22}: floor {n / floor_s:8.0f} leads/s ({floor_s:.1f} s)"
                f"   transfer {n / transfer_s:8.0f} leads/s"
                f" ({transfer_s:.1f} s)   ratio {floor_s / transfer_s:.2f}   exactly once: {exactly_once}"
                f"   faults served {stats['faults']}, dropped {stats['dropped']}   transfer peak RSS {transfer_rss} MB"
            )
        finally:
            with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out = write_results("transfer_sandbox", report)
    print(f"peak RSS {report['peak_rss_mb']} MB; wrote {out}")


if __name__ == "__main__":
    main()
