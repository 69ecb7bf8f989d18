"""A day's DAG runs in one Airflow process (`run_dags`): what `leadflow run`, the demo and the
benchmark use, each run through Airflow's own `dags test` command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadflow.demo.run import DagRunRequest, run_dags

pytestmark = pytest.mark.integration

DAGS = """
import os

import pendulum
from airflow.sdk import dag, task


def build(dag_id: str, fails: bool):
    @dag(dag_id=dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
    def the_dag():
        @task
        def work() -> int:
            if fails:
                raise RuntimeError("this run fails on purpose")
            return os.getpid()

        work()

    return the_dag()


for name, fails in {"ok_first": False, "fails_plain": True, "ok_second": False, "fails_gate": True,
                    "ok_never": False}.items():
    globals()[name] = build(name, fails)
"""


def test_runs_follow_each_other_in_one_process_and_a_failed_gate_stops_the_rest(airflow_db, tmp_path: Path):
    dag_file = tmp_path / "day_of_runs.py"
    dag_file.write_text(DAGS)
    events: list[tuple[str, str]] = []
    runs = [
        DagRunRequest("ok_first", dag_file, gate=True),
        DagRunRequest("fails_plain", dag_file),  # no gate: the next run still runs
        DagRunRequest("ok_second", dag_file),
        DagRunRequest("fails_gate", dag_file, gate=True),  # a gate: nothing after it runs
        DagRunRequest("ok_never", dag_file),
    ]
    log = tmp_path / "runs.log"
    dags_folder = {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path)}  # Airflow runs DAG files of its bundle only

    results = run_dags(
        runs, dags_folder, log, "2026-11-01T00:00:00+00:00", lambda event, task, _: events.append((event, task))
    )

    assert [result.state for result in results] == ["success", "failed", "success", "failed", "not run"]
    assert all(result.run_id for result in results[:4]) and results[4].run_id == ""
    assert [result.finished_s for result in results] == sorted(result.finished_s for result in results)
    text = log.read_text()
    assert "this run fails on purpose" in text
    # one process: every task that ran returned the same process id
    assert len(set(re.findall(r"Returned value was: (\d+)", text))) == 1
    assert len(re.findall(r"Returned value was: (\d+)", text)) == 2
    assert events.count(("starting", "work")) == 4 and events.count(("end", "work")) == 4
    assert text.count("leadflow dags test: starting dag_id=") == 4

    # a run after a failed one that is no gate keeps its own state (the process exits 1 for the
    # failure, which must not be charged to the last run)
    again = run_dags(runs[1:3], dags_folder, tmp_path / "again.log", "2026-11-02T00:00:00+00:00")
    assert [result.state for result in again] == ["failed", "success"]


def test_what_a_full_collection_keeps_is_frozen_for_the_next_ones():
    """The runs' process moves the survivors of each full collection out of the next ones' way."""
    import subprocess
    import sys

    probe = (
        "import gc; from leadflow.demo.dags_test import freeze_what_full_collections_keep as freeze;"
        "kept = [[i] for i in range(10000)]; before = gc.get_freeze_count(); freeze(); gc.collect(1);"
        "after_young = gc.get_freeze_count(); gc.collect(); print(before, after_young, gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    before, after_young, after_full = map(int, out.split())

    assert before == 0
    assert after_young == 0  # a young generation's collection freezes nothing
    assert after_full >= 10000  # a full one freezes what it kept
