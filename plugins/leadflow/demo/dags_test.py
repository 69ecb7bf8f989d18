"""Several DAG runs through Airflow's own `dags test` command, one after another in one process.

`python -m leadflow.demo.dags_test RUNS_JSON`, where RUNS_JSON is a list of
``{"dag_id", "logical_date", "conf", "dag_file", "gate"}``. Each run is exactly what
`airflow dags test DAG_ID DATE --conf … --dagfile-path …` does (the same parser and command
function); what the process pays once instead of once per DAG is Airflow's start-up: its imports
and the in-process execution API the first task waits for (about 6 s a process on 2 cores).
A gate that does not succeed stops the runs after it (a day's transfers must not follow a failed
pipeline); a run that is no gate does not (one transfer failing leaves the others to run). The
exit code is 1 when any run did not succeed.

The process then ends without Python's teardown (``exit_without_teardown``): freeing the half a
gigabyte of objects Airflow, dbt and GX leave behind took 3 s at every size, a third of a small
day's orchestration.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import threading
from typing import NoReturn

# a line per run before it starts, this and the DAG id, for whoever reads the output
# (leadflow.demo.run.run_dags)
RUN_STARTING = "leadflow dags test: starting dag_id="


def main(argv: list[str]) -> int:
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    runs = json.loads(argv[0])
    write_default_airflow_configuration_if_needed()  # as the `airflow` command does first
    parser = cli_parser.get_parser()
    code = 0
    for run in runs:
        command = ["dags", "test", run["dag_id"], run["logical_date"]]
        if run.get("conf"):
            command += ["--conf", json.dumps(run["conf"])]
        if run.get("dag_file"):  # parse that file only, not the whole DAGs folder
            command += ["--dagfile-path", run["dag_file"]]
        print(f"{RUN_STARTING}{run['dag_id']}", flush=True)
        args = parser.parse_args(command)
        try:
            args.func(args)
        except SystemExit as failed:  # the command's "DagRun failed"
            code = 1
            if run.get("gate"):
                print(f"leadflow dags test: {run['dag_id']} did not succeed ({failed}); later runs skipped", flush=True)
                break
    return code


def freeze_what_full_collections_keep() -> None:
    """After each full garbage collection, move what survived it to the collector's permanent
    generation (``gc.freeze``), so the next full collection looks only at objects made since.

    Once Airflow, dbt and GX are imported, the process holds millions of objects that live as
    long as it does (modules, classes, Airflow's execution API), and each full collection walked
    all of them again: 0.3-0.5 s each, 13 of them (2.9 s) in a full run at 10 k contacts, some
    inside the tasks the benchmark times. Objects frozen this way are still freed by reference
    counting; only a reference cycle that was alive at a freeze and dies later stays until the
    process ends, which is soon: the process runs one day's DAGs. (Airflow freezes the same way
    before forking workers: airflow.executors.local_executor.)"""

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(freeze_survivors)


def exit_without_teardown(code: int) -> NoReturn:
    """End the process as ``sys.exit`` would, less the interpreter's teardown: what that teardown
    does for anyone else happens first (threads that are not daemons finish, the exit handlers run:
    logging's flush and close, Airflow's ORM dispose), then the standard streams are flushed and the
    process exits without freeing its objects one by one (3 s of a day's run on 2 cores)."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    freeze_what_full_collections_keep()
    exit_without_teardown(main(sys.argv[1:]))
