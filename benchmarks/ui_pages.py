"""Benchmark: the transfer monitor's pages and API with 100k contacts and 1,000 transfer runs.

    .venv/bin/python benchmarks/ui_pages.py --contacts 100000 --runs 1000

The marts come from the real pipeline: a generated feed (cached in benchmarks/data/) landed in a fresh
database and `dbt build`. The ledger history is written in SQL into the ledger's own tables (a real
run per day for three years would take days): a first run sending every contact, then one run a day
sending about 1 % of them (94 % succeeded, 3 % failed, 1 % dead letters, 2 % invalid) — about
1.1 M ledger items. A real `airflow api-server` serves the plugin; every page and endpoint is asked
for `--repeat` times with a login (Bearer token) after one cold request: first as the ledger was
written, then after VACUUM (the state autovacuum leaves a minute after a run).

Floor, measured in the same run: the plugin's icon (Airflow's authentication and the plugin app, no
database), so the ratio shows what reading the warehouse adds. Also reports the api-server's peak RSS.
Writes benchmarks/results/ui_pages-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import requests
from common import ROOT, dbt_build, drop_database, fresh_database, generated_feed, write_results

from leadflow.airflow_env import prepared_env
from leadflow.settings import conn_env_var, load_config
from leadflow.sources.files import find_feed_files, land_files
from leadflow.transfer.ledger import ensure_ledger
from leadflow.warehouse import database_url, free_port

TRANSFER = ROOT / "config" / "transfers" / "emea_sales_ready.yml"
NAME = "emea_sales_ready"

# one run a day back from today; run 1 sends everybody, later runs a rotating ~1 % slice
LEDGER = """
create temp table picked as
select contact_id, row_number() over (order by md5(contact_id)) as n from marts.dim_contacts;
create temp table bench_runs as
select i, gen_random_uuid() as run_id,
       date_trunc('day', now()) - (%(runs)s - i) * interval '1 day' + interval '6 hours' as started_at
from generate_series(1, %(runs)s) as i;
insert into ops.transfer_runs (run_id, transfer_name, airflow_run_id, started_at, finished_at, status)
select run_id, %(name)s, 'scheduled__' || to_char(started_at, 'YYYY-MM-DD"T"HH24:MI:SS+00:00'), started_at,
       started_at + interval '3 minutes', 'succeeded'
from bench_runs;
insert into ops.transfer_items (run_id, contact_id, external_id, payload_hash, status, attempts, error_code,
    error_message, sales_record_id, updated_at)
select r.run_id, p.contact_id, p.contact_id, md5(p.contact_id || r.i),
       case when h < 94 then 'succeeded' when h < 97 then 'failed' when h < 98 then 'dead_letter' else 'invalid' end,
       case when h < 94 then 1 when h < 98 then 5 else 0 end,
       case when h < 94 then null when h < 98 then 'FIELD_CUSTOM_VALIDATION_EXCEPTION'
            else 'REQUIRED_FIELD_MISSING' end,
       case when h < 94 then null when h < 98 then 'FIELD_CUSTOM_VALIDATION_EXCEPTION'
            else 'REQUIRED_FIELD_MISSING on Company' end,
       case when h < 94 then '00Q' || lpad(p.n::text, 15, '0') end,
       r.started_at + interval '2 minutes'
from bench_runs as r
cross join lateral (
    select n from generate_series(1, %(contacts)s) as n where r.i = 1
    union all
    select (r.i * %(slice)s + k) %% %(contacts)s + 1 from generate_series(0, %(slice)s - 1) as k where r.i > 1
) as s
join picked as p on p.n = s.n
cross join lateral (select abs(hashtext(p.contact_id || r.i)) %% 100 as h) as dice;
update ops.transfer_runs as r set
    selected = c.selected, sent = c.sent, succeeded = c.succeeded, failed = c.failed, invalid = c.invalid,
    dead_letter = c.dead_letter, status = case when c.selected - c.succeeded > 0.2 * c.selected then 'failed'
        else 'succeeded' end
from (
    select run_id, count(*) as selected, count(*) filter (where status <> 'invalid') as sent,
           count(*) filter (where status = 'succeeded') as succeeded,
           count(*) filter (where status = 'failed') as failed,
           count(*) filter (where status = 'invalid') as invalid,
           count(*) filter (where status = 'dead_letter') as dead_letter
    from ops.transfer_items group by run_id
) as c
where c.run_id = r.run_id;
insert into ops.transfer_contacts (transfer_name, contact_id, payload_hash, sales_record_id, status, attempts,
    last_run_id, delivered_at)
select distinct on (contact_id) %(name)s, contact_id, payload_hash, sales_record_id, status, attempts, run_id,
       case when status = 'succeeded' then updated_at end
from ops.transfer_items order by contact_id, updated_at desc;
insert into ops.transfer_status (transfer_name, status, changed_by) values (%(name)s, 'active', 'benchmark');
"""


def build(database, people: int, runs: int) -> dict:
    folder = generated_feed(people)
    started = time.perf_counter()
    with psycopg.connect(database.url()) as conn:
        land_files(conn, find_feed_files(folder), None)
    with tempfile.TemporaryDirectory() as tmp:
        dbt_s, _ = dbt_build(database, Path(tmp) / "target", "--exclude", "test_type:unit")
    with psycopg.connect(database.url()) as conn:
        ensure_ledger(conn)
        contacts = conn.execute("select count(*) from marts.dim_contacts").fetchone()[0]
        t = time.perf_counter()
        params = {"runs": runs, "contacts": contacts, "slice": max(1, contacts // 100), "name": NAME}
        for statement in LEDGER.split(";\n"):
            if statement.strip():
                conn.execute(statement, params)
        conn.commit()
        conn.execute("analyze ops.transfer_items")
        conn.execute("analyze ops.transfer_runs")
        ledger_s = time.perf_counter() - t
        items = conn.execute("select count(*) from ops.transfer_items").fetchone()[0]
    print(
        f"pipeline {time.perf_counter() - started - ledger_s:.0f}s (dbt {dbt_s:.0f}s); {contacts:,} contacts;"
        f" ledger {runs:,} runs, {items:,} items in {ledger_s:.0f}s",
        flush=True,
    )
    return {"contacts": contacts, "runs": runs, "items": items}


def reused(database) -> dict:
    with psycopg.connect(database.url()) as conn:
        ensure_ledger(conn)  # a newer ledger's indexes
        conn.execute("analyze ops.transfer_items")
        return {
            "contacts": conn.execute("select count(*) from marts.dim_contacts").fetchone()[0],
            "runs": conn.execute("select count(*) from ops.transfer_runs").fetchone()[0],
            "items": conn.execute("select count(*) from ops.transfer_items").fetchone()[0],
        }


def serve(database, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    transfers = workdir / "transfers"
    transfers.mkdir()
    (transfers / TRANSFER.name).write_text(TRANSFER.read_text())
    password = secrets.token_urlsafe(16)  # a throw-away login for this run
    (workdir / "passwords.json").write_text(json.dumps({"admin": password}))
    port = free_port()
    env = {
        **os.environ,
        **prepared_env(),
        conn_env_var(load_config().warehouse.conn_id): database.url(),
        "LEADFLOW_TRANSFERS_DIR": str(transfers),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(workdir / "passwords.json"),
    }
    log = open(workdir / "api-server.log", "w")  # noqa: SIM115 - open for the server's lifetime
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            if requests.get(f"{base}/api/v2/version", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(1)
    token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    token.raise_for_status()
    return proc, base, token.json()["access_token"]


def tree_rss(proc: subprocess.Popen) -> int:
    try:
        parent = psutil.Process(proc.pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.NoSuchProcess:
        return 0


def measure(session: requests.Session, url: str, repeat: int, proc: subprocess.Popen, peak: list[int]) -> dict:
    t = time.perf_counter()
    first = session.get(url, timeout=120)
    cold = time.perf_counter() - t
    first.raise_for_status()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = session.get(url, timeout=120)
        times.append(time.perf_counter() - t)
        response.raise_for_status()
    peak[0] = max(peak[0], tree_rss(proc))
    times.sort()
    return {
        "cold_ms": round(cold * 1000, 1),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))] * 1000, 1),
        "bytes": len(first.content),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000, help="generated people (≈ contacts after merging)")
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database leadflow_bench_ui afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by --keep, without rebuilding")
    args = parser.parse_args()
    server = database_url()
    database = server.with_database("leadflow_bench_ui") if args.reuse else fresh_database(server, "leadflow_bench_ui")
    proc = None
    try:
        sizes = reused(database) if args.reuse else build(database, args.contacts, args.runs)
        with psycopg.connect(database.url()) as conn:
            first_run, newest_run, dead_run = conn.execute(
                "select (select run_id::text from ops.transfer_runs order by started_at limit 1),"
                " (select run_id::text from ops.transfer_runs order by started_at desc limit 1),"
                " (select run_id::text from ops.transfer_runs where dead_letter > 0 order by started_at desc limit 1)"
            ).fetchone()
            busiest = conn.execute(
                "select contact_id from ops.transfer_items group by contact_id order by count(*) desc, contact_id"
                " limit 1"
            ).fetchone()[0]
        workdir = Path(tempfile.mkdtemp(prefix="leadflow-bench-ui-"))
        proc, base, token = serve(database, workdir)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        app = f"{base}/leadflow"
        first_items = sizes["contacts"]
        targets = {
            "floor: plugin icon (auth + app, no database)": f"{app}/icon.svg",
            "page: overview": f"{app}/",
            "page: transfer (chart of 50 runs, first page)": f"{app}/transfers/{NAME}",
            f"page: transfer, oldest 50 of {args.runs:,} runs": f"{app}/transfers/{NAME}?offset={args.runs - 50}",
            f"page: first run ({first_items:,} contacts), first 100": f"{app}/runs/{first_run}",
            f"page: first run ({first_items:,} contacts), last 100": (
                f"{app}/runs/{first_run}?offset={first_items - 100}"
            ),
            "page: run, dead letters only": f"{app}/runs/{dead_run}?status=dead_letter",
            f"page: newest run ({first_items // 100:,} contacts)": f"{app}/runs/{newest_run}",
            "page: contact 360 (most transferred contact)": f"{app}/contacts/{busiest}",
            "page: data quality": f"{app}/quality",
            "api: transfers": f"{app}/api/v1/transfers",
            "api: runs, limit 500": f"{app}/api/v1/transfers/{NAME}/runs?limit=500",
            "api: run contacts, limit 500, deep offset": (
                f"{app}/api/v1/runs/{first_run}/contacts?limit=500&offset={first_items - 500}"
            ),
            "api: contact 360": f"{app}/api/v1/contacts/{busiest}",
        }
        peak = [0]
        results: dict[str, dict] = {}
        # right after a big run the ledger's pages are not yet all-visible, so index-only scans still
        # visit the table; autovacuum fixes that within a minute or so of a run of this size
        for phase in ("as written", "after VACUUM (what autovacuum leaves)"):
            if phase.startswith("after"):
                with psycopg.connect(database.url(), autocommit=True) as conn:
                    conn.execute("vacuum (analyze) ops.transfer_items, ops.transfer_contacts, ops.transfer_runs")
            results[phase] = {label: measure(session, url, args.repeat, proc, peak) for label, url in targets.items()}
            floor = results[phase]["floor: plugin icon (auth + app, no database)"]["median_ms"]
            print(f"\n{phase:52} {'cold ms':>8} {'median':>8} {'p95':>8} {'× floor':>8} {'KiB':>7}")
            for label, r in results[phase].items():
                r["ratio_to_floor"] = round(r["median_ms"] / floor, 1)
                print(
                    f"{label:52} {r['cold_ms']:8.1f} {r['median_ms']:8.1f} {r['p95_ms']:8.1f}"
                    f" {r['ratio_to_floor']:8.1f} {r['bytes'] / 1024:7.1f}"
                )
        print(f"\napi-server peak RSS (all its processes): {peak[0] / 2**20:.0f} MiB")
        out = write_results(
            "ui_pages",
            {
                "sizes": sizes,
                "repeat": args.repeat,
                "phases": results,
                "api_server_peak_rss_mib": round(peak[0] / 2**20),
            },
        )
        print(f"wrote {out.relative_to(ROOT)}")
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        if not (args.keep or args.reuse):
            drop_database(server, database.dbname)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
