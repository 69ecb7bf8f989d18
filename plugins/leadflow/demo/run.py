"""`leadflow demo`: run the pipeline DAG on the demo data with `airflow dags test`, then summarise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from leadflow.airflow_env import prepared_env
from leadflow.dagfactory.pipeline import DAG_ID
from leadflow.demo.summary import print_summary
from leadflow.settings import DatabaseUrl, conn_env_var, load_config, project_root, state_dir

TASK_EVENT = re.compile(r"\[DAG TEST\] (starting|end task) task_id=(\S+)")
PIPELINE_DAG_FILE = project_root() / "dags" / "leadflow_pipeline.py"
TRANSFERS_DAG_FILE = project_root() / "dags" / "leadflow_transfers.py"
# the execution API has accepted the task: what came before it was Airflow's own start-up
TASK_RUNNING = re.compile(r"\] Task started\s")
RUN_FINISHED = re.compile(r"DagRun Finished: .*?run_id=([^,]+),.*?state=(\w+)")


@dataclass(frozen=True)
class DagRunRequest:
    """One DAG run of a day: the DAG, the file that defines it (parsed alone, not the whole DAGs
    folder: seconds per run) and the run's conf."""

    dag_id: str
    dag_file: Path
    conf: dict | None = None
    gate: bool = False  # the runs after it need it to succeed (a day's transfers, its pipeline)


@dataclass(frozen=True)
class DagRunResult:
    run_id: str  # "" when it did not run
    state: str  # Airflow's final state, or "not run" (after a failed gate)
    finished_s: float  # seconds from the start of the process to the run's end


def run_dags(
    runs: Sequence[DagRunRequest],
    env: dict[str, str],
    log_path: Path,
    logical_date: str,
    on_task: Callable[[str, str, float], None] | None = None,
) -> list[DagRunResult]:
    """The runs one after another through Airflow's `dags test` command, all in one Airflow
    process (leadflow.demo.dags_test: Airflow starts once, not once per DAG); the full output to a
    log file, a line per DAG and per task on the terminal. A gate that does not succeed stops the
    runs after it.

    ``on_task(event, task_id, seconds)`` hears every task start ("starting", 0), the moment
    Airflow hands it over to run ("running", 0: before it, the first task of the process waits for
    the in-process execution API to start) and its end ("end", seconds since it started), as they
    happen (the benchmark harness times its stages with it).
    Returns a result per run, in order.
    """
    from leadflow.demo.dags_test import RUN_STARTING

    log_path.parent.mkdir(parents=True, exist_ok=True)
    results: list[DagRunResult] = []
    began = time.monotonic()
    started: dict[str, float] = {}
    current = ""  # the task running now
    spec = [
        {
            "dag_id": run.dag_id,
            "logical_date": logical_date,
            "conf": run.conf,
            "dag_file": str(run.dag_file),
            "gate": run.gate,
        }
        for run in runs
    ]
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadflow.demo.dags_test", json.dumps(spec)],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            if line.startswith(RUN_STARTING):
                print(f"DAG {line.removeprefix(RUN_STARTING).strip()}", flush=True)
            if on_task and current and TASK_RUNNING.search(line):
                on_task("running", current, 0.0)
            if event := TASK_EVENT.search(line):
                kind, task_id = event.groups()
                if kind == "starting":
                    started[task_id], current = time.monotonic(), task_id
                    print(f"  ▸ {task_id} …", flush=True)
                    if on_task:
                        on_task("starting", task_id, 0.0)
                else:
                    took = time.monotonic() - started.get(task_id, time.monotonic())
                    print(f"  ✓ {task_id} done in {took:.1f}s", flush=True)
                    if on_task:
                        on_task("end", task_id, took)
            if finished := RUN_FINISHED.search(line):
                took = time.monotonic() - began
                results.append(DagRunResult(finished.group(1).strip(), finished.group(2), took))
        proc.wait()
    if proc.returncode != 0 and len(results) == len(runs) and all(r.state == "success" for r in results):
        # every run reported success, yet the process failed: after the last run's last line
        # (a failed run that is no gate explains the exit code by itself)
        results[-1] = DagRunResult(results[-1].run_id, "failed", results[-1].finished_s)
    took = time.monotonic() - began
    results += [DagRunResult("", "not run", took)] * (len(runs) - len(results))
    return results


# the demo's sales system misbehaves a little too: rate limits, outages, lost answers, locked rows
DEMO_SALES_FAULTS = {"rate_429": 0.1, "rate_503": 0.05, "drop_rate": 0.05, "lock_rate": 0.03, "retry_after_s": 1}


def run_pipeline(
    title: str, conf: dict | None = None, as_of: str | None = None, extra_env: dict[str, str] | None = None
) -> int:
    """Run the pipeline DAG and then every active transfer's, through Airflow in one process, and
    print what they did, read back from the warehouse. Without AIRFLOW_CONN_LEADFLOW_SALES in the
    environment the transfers go to the local sales sandbox (with faults on, kept in
    .leadflow/sandbox)."""
    import psycopg

    from leadflow.demo.sales_sandbox import SalesSandbox, SandboxFaults
    from leadflow.demo.summary import print_transfers
    from leadflow.transfer.definitions import load_transfers
    from leadflow.transfer.lifecycle import current_status

    began = datetime.now(UTC)
    t0 = time.monotonic()
    print(title)
    env = {**prepared_env(), **(extra_env or {})}
    database = DatabaseUrl.parse(env[conn_env_var(load_config().warehouse.conn_id)])
    print(f"warehouse: {database.redacted()}")
    log_path = state_dir() / "logs" / f"run-{began:%Y%m%dT%H%M%S}.log"
    logical = datetime.fromisoformat(as_of) if as_of else began
    if logical.tzinfo is None:
        logical = logical.replace(tzinfo=UTC)
    with psycopg.connect(database.url()) as conn:
        active = [d for d in load_transfers() if current_status(conn, d) == "active"]
    sandbox = None
    if active and "AIRFLOW_CONN_LEADFLOW_SALES" not in {**os.environ, **env}:
        folder = state_dir() / "sandbox"
        folder.mkdir(parents=True, exist_ok=True)
        sandbox = SalesSandbox(folder / "sales.sqlite", faults=SandboxFaults(**DEMO_SALES_FAULTS)).start()
        env = {**sandbox.connections(), **env}
        print(f"sales sandbox on {sandbox.url}, faults: {DEMO_SALES_FAULTS}")
        print("  (AIRFLOW_CONN_LEADFLOW_SALES in the environment sends the same transfers to a real org instead)")
    runs = [DagRunRequest(DAG_ID, PIPELINE_DAG_FILE, conf, gate=True)]
    runs += [DagRunRequest(definition.dag_id, TRANSFERS_DAG_FILE) for definition in active]
    then = f", then {', '.join(run.dag_id for run in runs[1:])}" if active else ""
    print(f"running DAG {DAG_ID}{then}, in one Airflow process (full log: {log_path})")
    try:
        before_runs = time.monotonic() - t0
        pipeline, *transfers = run_dags(runs, env, log_path, logical.isoformat())
        elapsed = before_runs + pipeline.finished_s
        print_summary(
            database, since=began, run_id=pipeline.run_id, state=pipeline.state, elapsed_s=elapsed, log_path=log_path
        )
        if pipeline.state != "success":
            tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-40:])
            print(f"\nThe run ended {pipeline.state}. Last lines of the log:\n{tail}", file=sys.stderr)
            return 1
        if not active:
            print("\nTransfers: none active (leadflow transfer list)")
            return 0
        print_transfers(database, began, sandbox.stats if sandbox else None, sandbox.leads() if sandbox else None)
    finally:
        if sandbox is not None:
            sandbox.stop()
    failed = [definition.name for definition, run in zip(active, transfers, strict=True) if run.state != "success"]
    if failed:
        print(f"\ntransfers that did not succeed: {', '.join(failed)} (see the log)", file=sys.stderr)
        return 1
    return 0


DEMO_PEOPLE = 500
# the demo's sources misbehave a little, as real ones do: rate limits, errors, broken records
DEMO_FAULTS = {"rate_429": 0.05, "rate_500": 0.03, "malformed_rate": 0.002, "retry_after_s": 1}


def demo_data() -> Path:
    """Generated once a day (seeded: every demo serves the same people and interactions, dated up to
    today's midnight UTC, so the scores, stages and recent activity look as they would on a live
    system)."""
    from leadflow.demo.generator import Generator

    folder = state_dir() / "demo-data"
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    marker = folder / ".complete"
    if not marker.exists() or marker.read_text().strip() != today.date().isoformat():
        shutil.rmtree(folder, ignore_errors=True)
        Generator(DEMO_PEOPLE, seed=42, as_of=today).write(folder, progress=False)
        marker.write_text(today.date().isoformat())
    return folder


def run_demo() -> int:
    """The demo: four REST sources served on 127.0.0.1 with faults on, the trade-fair file drop, then
    dbt and the quality gate, all through one Airflow run."""
    from leadflow.demo.sources_server import DemoSources, Faults

    sources = DemoSources(demo_data(), faults=Faults(**DEMO_FAULTS)).start()
    try:
        print(f"demo sources (email, web, events, CRM) on {sources.url}, faults: {DEMO_FAULTS}")
        code = run_pipeline(
            "leadflow demo: embedded PostgreSQL + Airflow (dags test) + dbt (cosmos) + Great Expectations",
            conf={"feed_dir": "", "include_sources": True},
            # the demo's email platform has subscribers writing from info@ mailboxes: the fuzzy rule
            # (off by default) links them by company and a similar name
            extra_env={**sources.connections(), "LEADFLOW_IDENTITY_FUZZY_MATCH": "true"},
        )
        if code == 0:
            print_identity_check()
        return code
    finally:
        sources.stop()


def print_identity_check() -> None:
    """The demo knows who is who (the generator's ground truth): show how the clustering did."""
    import psycopg

    from leadflow.transform.identity_evaluation import evaluate_identity
    from leadflow.warehouse import database_url

    with psycopg.connect(database_url().url()) as conn:
        result = evaluate_identity(conn, demo_data() / "ground_truth.csv", examples=0)
    print(
        f"\nIdentity resolution vs the demo's ground truth: precision {result.precision:.4f}, "
        f"recall {result.recall:.4f} over {result.matched_origins} origins (leadflow evaluate identity)"
    )


def run_feed(folder: Path, as_of: str | None = None) -> int:
    """`leadflow run --feed DIR`: the whole pipeline on a folder of feed files (new files only)."""
    from leadflow.sources.files import find_feed_files

    files = find_feed_files(folder)  # fails early, with the path, when the folder is missing
    if not files:
        print(f"no feed files (<source_system>__<entity>.csv|.jsonl[.gz]) in {folder}", file=sys.stderr)
        return 2
    return run_pipeline(f"leadflow run: {len(files)} feed files in {folder}", {"feed_dir": str(folder)}, as_of)
