"""`make bench`: the whole pipeline through Airflow at one size, every stage against a floor measured
in the same run on the same data.

    make bench                  # SIZE=S: 10k people
    make bench SIZE=M           # 100k people, ≈ 1.1M interactions
    make bench SIZE=L           # 1M people, ≈ 11M interactions
    .venv/bin/python benchmarks/pipeline.py --size M --no-daily --keep

Per size, a `leadflow generate` feed is written once (cached in benchmarks/data/). Each run uses a
fresh database on the configured server and a fresh Airflow home, then:
  full   — `airflow dags test leadflow_pipeline` on the feed folder (what `leadflow run --feed` runs:
           landing, raw checks, dbt's groups through cosmos, marts checks, BI access, freshness),
           then the active transfer's DAG to the sales sandbox (its own process, no faults);
  daily  — twice, a day later each time: 1 % new interactions and 0.5 % changed contact records land
           as new feed files and the same two DAGs run as of that day. The first day after a bulk
           load re-reads it (every load of it finished within minutes); the second day is the
           steady state reported as the daily run's share of the full run;
  floors — a bare COPY of every feed file into text tables (ingest), one GROUP BY contact over all
           interactions (dbt and quality; after the full run and again just before each day, as
           the speed of a shared machine moves from hour to hour), bare HTTP round trips of the
           same number of leads to the sandbox (transfer).
Replaying the daily run (for tuning it: minutes instead of a whole run at L):
    .venv/bin/python benchmarks/pipeline.py --size L --save-day-2     # a run that also saves
    .venv/bin/python benchmarks/pipeline.py --size L --replay-day-2   # day 2 again, as often as needed
`--save-day-2` copies the database as it is just before day 2 (`leadflow_bench_pipeline_day_2_<size>`,
kept on the server; about 14 GB at L) and day 2's feed files (benchmarks/data/replay-<size>/);
`--replay-day-2` runs day 2 on a fresh copy of that database and prints its table and the
models' seconds, nothing more (no floors, no result file: the shared machine's hour moves the
numbers, so compare replays run one after the other). A fresh copy is cold (none of its pages
in PostgreSQL's memory), as most of the day's pages are in the real run too.
Is the daily run's work proportional to its new data? (What a day costs whatever its data, and
what each 1 % of new interactions adds:)
    .venv/bin/python benchmarks/pipeline.py --size M --daily-sweep 0 1 4 2
runs day 2 once per percent of new interactions (half as many per cent of changed contacts), each
on a fresh copy of the saved database, and fits a line through the days with data: its slope is
the cost of the data; the day without data, which skips work every day with data does, is reported
as it ran: the day's own cost (start-ups, checks, tables rebuilt whole). The same per stage and per
model. Writes benchmarks/results/pipeline_sweep-<size>-<timestamp>.json.

Stage times are the Airflow tasks' own (`[DAG TEST]` events); "orchestration" is the rest of the
wall time (Airflow start-up, DAG parsing, task start). Inside the dbt tasks, each layer's span
(seeds, staging, each intermediate area, marts: first start to last end, from dbt's log) and its
models' summed seconds are printed under the table; they overlap. So is the machine's idle CPU
while dbt built, in all and where it built one node at a time (a chain of models each waiting for
the last: the cores it leaves unused). Peak RSS is the largest single process of
the run, sampled every 0.2 s and charged to the stage running at that moment. Under each table,
the run's block I/O in its database (pg_stat_database, with track_io_timing set on the database):
blocks read from outside PostgreSQL's buffers and the seconds queries waited on them (summed over
processes: compare them with the models' thread time, not the wall time), so a run that waited
on the disk tells itself from one that used the cores. Prints a table and writes
benchmarks/results/pipeline-<size>-<timestamp>.json with the machine's description.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DATA,
    GENERATOR_AS_OF,
    RESULTS,
    ROOT,
    drop_database,
    fresh_database,
    generated_feed,
    group_by_floor,
    io_between,
    io_counters,
    server_version,
    time_io,
    write_results,
)
from scoring_incremental import write_increment  # noqa: E402
from transfer_sandbox import floor as http_floor  # noqa: E402
from transfer_sandbox import start_sandbox  # noqa: E402

from leadflow.demo.sales_sandbox import sandbox_connections  # noqa: E402
from leadflow.settings import DatabaseUrl  # noqa: E402
from leadflow.sources.feed import ENTITIES  # noqa: E402
from leadflow.sources.files import find_feed_files  # noqa: E402
from leadflow.warehouse import database_url  # noqa: E402

SIZES = {"S": 10_000, "M": 100_000, "L": 1_000_000}
DATABASE = "leadflow_bench_pipeline"


def saved_before_day_2(label: str) -> str:
    """The database --save-day-2 keeps for a size (its feed folder, replay-<size>, is per size too)."""
    return f"{DATABASE}_day_2_{label.lower()}"


def require_saved(label: str, server: DatabaseUrl) -> None:
    """Stop with a clear message when --save-day-2 has not run at this size on this server."""
    saved = saved_before_day_2(label)
    with psycopg.connect(server.url(dbname="postgres")) as conn:
        found = conn.execute("select from pg_database where datname = %s", (saved,)).fetchone()
    if found is None:
        raise SystemExit(f"nothing saved for {label}: run with --save-day-2 first (the database {saved} is missing)")


TRANSFER = "emea_sales_ready"
# Airflow task → stage; the first matching prefix wins
STAGES = (
    ("choose_ingest", "ingest"),
    ("land", "ingest"),
    ("ingest_", "ingest"),
    ("validate_raw", "quality (raw)"),
    ("dbt.build", "dbt seeds to marts"),
    ("dbt.staging", "dbt staging"),
    ("dbt.identity", "dbt intermediate (identity)"),
    ("dbt.marts", "dbt intermediate + marts"),
    ("dbt.", "dbt (other)"),
    ("validate_marts", "quality (marts)"),
    ("bi_access", "BI access"),
    ("source_freshness", "source freshness"),
    ("check_status", "transfer gate"),
    ("quality_gate", "transfer gate"),
    ("deliver", "transfer"),
    # (the transfer's steps were three tasks before one: results written then)
    ("select_candidates", "transfer"),
    ("push", "transfer"),
    ("finish", "transfer"),
)
ORCHESTRATION = "orchestration"
# a model or seed done in dbt's log: dbt's clock time (HH:MM:SS) at its end, what it was, its name
# (without the schema) and its build seconds
DBT_NODE_DONE = re.compile(
    r"(\d\d):(\d\d):(\d\d) +\d+ of \d+ OK (created sql (?:table|incremental|view) model|loaded seed file)"
    r" \w+\.(\w+) .*? in ([\d.]+)s\]"
)


def stage_of(task_id: str) -> str:
    return next((stage for prefix, stage in STAGES if task_id.startswith(prefix)), task_id)


@dataclass
class StageClock:
    """Seconds per stage from the DAG runs' task events, and the peak RSS of the largest process
    (not the sales sandbox, which stands in for another company's system) charged to the running stage."""

    exclude_pids: set[int] = field(default_factory=set)
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    current: str = ORCHESTRATION
    # the machine's CPU, sampled with the RSS: (end of the interval in seconds of the day, as dbt's
    # log counts them; its seconds; idle share; share waiting on the disk)
    cpu: list[tuple[float, float, float, float]] = field(default_factory=list)
    _began: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def on_task(self, event: str, task_id: str, took: float) -> None:
        """A task's time runs from the moment Airflow hands it over ("running") to its end; the
        wait before (the first task of a process waits for the execution API to start) is
        orchestration, like everything between tasks."""
        if event == "starting":
            self._began = time.monotonic()
        elif event == "running":
            self._began = time.monotonic()
            self.current = stage_of(task_id)
        else:
            stage = stage_of(task_id)
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.monotonic() - self._began
            self.current = ORCHESTRATION

    def _sample(self) -> None:
        me = psutil.Process()
        midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))  # dbt logs local times
        # (deltas of psutil.cpu_times(): its cpu_times_percent() divides by at least one CPU-second,
        # so over 0.2 s on 2 cores its shares add up to 40 %, not 100 %)
        before, then = psutil.cpu_times(), time.time()
        while not self._stop.wait(0.2):
            now, times = time.time(), psutil.cpu_times()
            delta = {name: getattr(times, name) - getattr(before, name) for name in times._fields}
            # on Linux guest time is counted in user and nice already
            total = sum(delta.values()) - delta.get("guest", 0.0) - delta.get("guest_nice", 0.0)
            if total > 0:
                self.cpu.append((now - midnight, now - then, delta["idle"] / total, delta.get("iowait", 0.0) / total))
            before, then = times, now
            largest = 0
            for proc in me.children(recursive=True):
                if proc.pid in self.exclude_pids:
                    continue
                with contextlib.suppress(psutil.Error):
                    largest = max(largest, proc.memory_info().rss)
            stage = self.current
            self.peak_rss[stage] = max(self.peak_rss.get(stage, 0), largest)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self._stop.clear()


@dataclass
class Scenario:
    """One pass of the pipeline and the transfer (the full run, or a day)."""

    name: str
    wall_s: float
    clock: StageClock
    run_id: str
    landed_rows: int
    leads_sent: int
    model_seconds: dict[str, float]
    dbt_layers: dict[str, dict[str, float]]
    dbt_alone: dict[str, Any]
    io: dict[str, Any]
    dbt_cpu: dict[str, Any] = field(default_factory=dict)


def copy_floor(server: DatabaseUrl, folder: Path) -> tuple[float, int]:
    """Bare COPY of every feed file into a table of text columns per file (fresh database)."""
    database = fresh_database(server, DATABASE + "_floor")
    rows = 0
    try:
        with psycopg.connect(database.url()) as conn:
            files = find_feed_files(folder)
            for n, feed in enumerate(files):
                columns = ENTITIES[feed.entity].columns
                conn.execute(
                    sql.SQL("create table {} ({})").format(
                        sql.Identifier(f"floor_{n}"),
                        sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns),
                    )
                )
            conn.commit()
            started = time.perf_counter()
            for n, feed in enumerate(files):
                statement = sql.SQL("copy {} from stdin (format csv, header true)").format(sql.Identifier(f"floor_{n}"))
                with conn.cursor() as cur:
                    with cur.copy(statement) as copy, open(feed.path, "rb") as handle:
                        while chunk := handle.read(1 << 20):
                            copy.write(chunk)
                    rows += cur.rowcount
                conn.commit()
            elapsed = time.perf_counter() - started
    finally:
        drop_database(server, DATABASE + "_floor")
    return elapsed, rows


def by_duration(model_seconds: dict[str, float]) -> dict[str, float]:
    """Every model's seconds, slowest first (a daily run's total is spread over many small models)."""
    return dict(sorted(model_seconds.items(), key=lambda kv: -kv[1]))


def dbt_model_seconds(log_path: Path) -> dict[str, float]:
    """Per-model build times from dbt's own log lines in the task output."""
    seconds: dict[str, float] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if (match := DBT_NODE_DONE.search(line)) and match.group(4) != "loaded seed file":
            seconds[match.group(5)] = float(match.group(6))
    return seconds


def dbt_layers() -> dict[str, str]:
    """Each model's and seed's layer: seeds, staging, intermediate/<business area> or marts, from dbt's
    manifest (`make install` writes it)."""
    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    layers = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed"):
            folders = Path(node["original_file_path"]).parts[:-1]
            within = 3 if folders[:2] == ("models", "intermediate") else 2  # intermediate by area
            layers[node["name"]] = "/".join(folders[1:within] if folders[0] == "models" else folders[:1])
    return layers


def dbt_node_builds(log_path: Path) -> list[tuple[str, float, float]]:
    """Every model's and seed's build from dbt's log lines: (name, began, ended) in seconds of the
    day (past midnight: more than 86,400). dbt's clock has whole seconds: a build ends within the
    second it names, taken as its middle, and began its build seconds before."""
    builds = []
    day_offset, previous = 0.0, -1.0
    for line in log_path.read_text(errors="replace").splitlines():
        if not (match := DBT_NODE_DONE.search(line)):
            continue
        hours, minutes, seconds, _, name, took = match.groups()
        clock = int(hours) * 3600 + int(minutes) * 60 + int(seconds) + day_offset
        if clock < previous - 12 * 3600:  # past midnight
            day_offset += 86400
            clock += 86400
        previous = clock
        builds.append((name, clock + 0.5 - float(took), clock + 0.5))
    return builds


def dbt_layer_spans(builds: list[tuple[str, float, float]]) -> dict[str, dict[str, float]]:
    """Per dbt layer (seeds, staging, each intermediate area, marts): the span from its first node's
    start to its last node's end, and its nodes' summed build seconds (thread time). One `dbt build`
    task runs the intermediate layer and the marts together, so spans overlap: they show where the
    task's time went, and are not added to the stages."""
    layer_of = dbt_layers()
    spans: dict[str, list[float]] = {}
    for name, began, ended in builds:
        layer, took = layer_of.get(name, "other"), ended - began
        began, ended = began - 0.5, ended + 0.5  # the whole seconds dbt's clock may mean
        first, last, total = spans.get(layer, [began, ended, 0.0])
        spans[layer] = [min(first, began), max(last, ended), total + took]
    return {
        layer: {"span_seconds": round(last - first), "thread_seconds": round(total, 1)}
        for layer, (first, last, total) in sorted(spans.items(), key=lambda kv: kv[1][0])
    }


def nodes_building_at(builds: list[tuple[str, float, float]], moment: float) -> list[str]:
    """The nodes dbt was building at a moment (a build runs from its start, up to its end)."""
    return [name for name, began, ended in builds if began <= moment < ended]


def dbt_alone_seconds(builds: list[tuple[str, float, float]]) -> dict[str, Any]:
    """How long dbt built one node at a time (the other threads idle: a chain of models each
    waiting for the last), and which nodes those were, longest first. With two threads on two
    cores, that time is where a day's wall clock follows a single model; a second thread's
    idle core is what shortening that chain would use."""
    edges = sorted({t for _, began, ended in builds for t in (began, ended)})
    alone: dict[str, float] = {}
    for start, end in zip(edges, edges[1:], strict=False):
        # (no build starts or ends inside the stretch: those building at its middle build all of it)
        running = nodes_building_at(builds, (start + end) / 2)
        if len(running) == 1:
            alone[running[0]] = alone.get(running[0], 0.0) + end - start
    span = (max(e for _, _, e in builds) - min(b for _, b, _ in builds)) if builds else 0.0
    return {
        "span_seconds": round(span, 1),
        "seconds": round(sum(alone.values()), 1),
        "models": {name: round(s, 1) for name, s in sorted(alone.items(), key=lambda kv: -kv[1]) if s >= 0.5},
    }


def dbt_cpu_idle(
    builds: list[tuple[str, float, float]], samples: list[tuple[float, float, float, float]]
) -> dict[str, Any]:
    """The machine's idle CPU while dbt built, and while it built one node at a time (the cores a
    chain of models leaves unused), from the CPU samples whose middle falls in dbt's span; each
    sample weighed by its length. Shares of all cores; waiting on the disk counted apart."""
    if not builds:
        return {}
    first, last = min(b for _, b, _ in builds), max(e for _, _, e in builds)
    if samples and first < samples[0][0] - 43200:  # dbt's clock passed midnight before its first node
        builds = [(name, began + 86400, ended + 86400) for name, began, ended in builds]
        first, last = first + 86400, last + 86400
    spans: dict[str, list[float]] = {"all": [0.0, 0.0, 0.0], "alone": [0.0, 0.0, 0.0]}
    for end, length, idle, iowait in samples:
        middle = end - length / 2
        if not first <= middle <= last:
            continue
        alone = len(nodes_building_at(builds, middle)) == 1
        for key in ("all", "alone") if alone else ("all",):
            spans[key][0] += length
            spans[key][1] += idle * length
            spans[key][2] += iowait * length

    def shares(key: str) -> dict[str, float | None]:
        seconds, idle, iowait = spans[key]
        return {
            "seconds": round(seconds, 1),
            "idle_share": round(idle / seconds, 3) if seconds else None,
            "iowait_share": round(iowait / seconds, 3) if seconds else None,
        }

    return {"while_building": shares("all"), "one_node_at_a_time": shares("alone")}


def run_scenario(
    name: str, env: dict[str, str], database: DatabaseUrl, feed_dir: Path, day: Any, logs: Path
) -> Scenario:
    from leadflow.dagfactory.pipeline import DAG_ID
    from leadflow.demo.run import PIPELINE_DAG_FILE, TRANSFERS_DAG_FILE, DagRunRequest, run_dags
    from leadflow.transfer.definitions import load_transfers

    definition = next(d for d in load_transfers() if d.name == TRANSFER)
    clock = StageClock(exclude_pids={int(env["LEADFLOW_BENCH_SANDBOX_PID"])})
    timed = time_io(database)
    io_before = io_counters(database)
    started = time.perf_counter()
    print(f"\n[{name}] pipeline, then transfer {TRANSFER}, as of {day:%Y-%m-%d} on {feed_dir}", flush=True)
    with clock.sampling():
        # what `leadflow run` runs: the pipeline, then the transfer, in one Airflow process
        log = logs / f"{name}.log"
        runs = [
            DagRunRequest(DAG_ID, PIPELINE_DAG_FILE, {"feed_dir": str(feed_dir)}, gate=True),
            DagRunRequest(definition.dag_id, TRANSFERS_DAG_FILE),
        ]
        pipeline, transfer = run_dags(runs, env, log, day.isoformat(), clock.on_task)
        for run in (pipeline, transfer):
            if run.state != "success":
                raise SystemExit(f"a run ended {run.state}: see {log}")
        run_id, transfer_run = pipeline.run_id, transfer.run_id
    wall = time.perf_counter() - started
    io = io_between(io_before, io_counters(database), timed)  # (the runs' processes have ended: counted)
    with psycopg.connect(database.url()) as conn:
        landed = conn.execute("select coalesce(sum(fetched), 0) from ops.loads where airflow_run_id = %s", (run_id,))
        landed_rows = int(landed.fetchone()[0])
        sent = conn.execute(
            "select coalesce(sum(sent), 0) from ops.transfer_runs where airflow_run_id = %s", (transfer_run,)
        ).fetchone()[0]
    builds = dbt_node_builds(log)
    return Scenario(
        name,
        wall,
        clock,
        run_id,
        landed_rows,
        int(sent),
        dbt_model_seconds(log),
        dbt_layer_spans(builds),
        dbt_alone_seconds(builds),
        io,
        dbt_cpu_idle(builds, clock.cpu),
    )


def table(scenario: Scenario, floors: dict[str, tuple[float, int]], interactions: int) -> list[dict[str, Any]]:
    """Rows of the report: stage, seconds, rows, rows/s, floor seconds, ratio (floor / stage), peak RSS."""
    rows_of = {"ingest": scenario.landed_rows, "transfer": scenario.leads_sent}
    floor_of = {"ingest": "copy", "transfer": "http"}
    out = []
    staged = sum(scenario.clock.seconds.values())
    seconds = {**scenario.clock.seconds, ORCHESTRATION: max(0.0, scenario.wall_s - staged)}
    for stage, took in seconds.items():
        rows = rows_of.get(stage, interactions if stage.startswith(("dbt", "quality")) else None)
        floor_key = floor_of.get(stage, "group_by" if stage.startswith(("dbt", "quality")) else None)
        floor_s = floors[floor_key][0] if floor_key and floor_key in floors else None
        if stage == "ingest" and floor_s is not None and floors["copy"][1] != scenario.landed_rows:
            floor_s = None  # a daily run lands other files than the floor copied
        if stage == "transfer" and floor_s is not None and floors["http"][1] != scenario.leads_sent:
            floor_s = None  # a daily run sends other leads (fewer) than the floor's round trips carried
        out.append(
            {
                "stage": stage,
                "seconds": round(took, 2),
                "rows": rows,
                "rows_per_s": round(rows / took) if rows and took else None,
                "floor_seconds": round(floor_s, 2) if floor_s is not None else None,
                "ratio_to_floor": round(floor_s / took, 3) if floor_s is not None and took else None,
                "peak_rss_mb": round(scenario.clock.peak_rss.get(stage, 0) / 2**20),
            }
        )
    return out


def print_table(title: str, rows: list[dict[str, Any]], wall: float) -> None:
    print(f"\n{title}: {wall:.1f} s in all")
    print(f"  {'stage':<28} {'seconds':>8} {'rows/s':>10} {'floor s':>8} {'ratio':>6} {'peak RSS':>9}")
    for row in rows:
        rate = f"{row['rows_per_s']:,}" if row["rows_per_s"] else "–"
        floor_s = f"{row['floor_seconds']:.2f}" if row["floor_seconds"] is not None else "–"
        ratio = f"{row['ratio_to_floor']:.2f}" if row["ratio_to_floor"] is not None else "–"
        print(
            f"  {row['stage']:<28} {row['seconds']:>8.1f} {rate:>10} {floor_s:>8} {ratio:>6} {row['peak_rss_mb']:>6} MB"
        )


def print_io(io: dict[str, Any]) -> None:
    """Whether the run waited on the disk: blocks read from outside PostgreSQL's buffers (from the
    OS's cache or the disk) and the time queries spent waiting on them, summed over processes."""
    waited = f"; queries waited {io['read_wait_seconds']:.1f} s on them" if io["read_wait_seconds"] is not None else ""
    found = f", the buffers served {io['hit_share']:.1%} of the blocks asked for" if io["hit_share"] is not None else ""
    print(
        f"  I/O: {io['blocks_read']:,} blocks read from outside PostgreSQL's buffers ({io['gb_read']:.1f} GB{waited})"
        f"{found}; {io['temp_gb']:.1f} GB of temporary files"
    )


def print_details(scenario: Scenario) -> None:
    """What every run prints under its table: its block I/O, the dbt layers' spans, the time dbt
    built one model at a time."""
    print_io(scenario.io)
    print_layers(scenario.dbt_layers)
    print_alone(scenario.dbt_alone)
    print_cpu(scenario.dbt_cpu)
    print_identity_chain(scenario.model_seconds)


# the identity models dbt builds one after another (each reads the one before), on a day the
# longest stretch where it builds one model at a time
IDENTITY_CHAIN = (
    "int_identity_origins",
    "int_identity_key_values",
    "int_identity_keys_blocked",
    "int_identity_edges",
    "int_identity_clusters",
    "int_contact_id_ledger",
    "int_contact_origins_current",
    "int_contact_changes",
)


def print_identity_chain(model_seconds: dict[str, float]) -> None:
    chain = {name.removeprefix("int_"): model_seconds[name] for name in IDENTITY_CHAIN if name in model_seconds}
    if chain:
        models = ", ".join(f"{name} {seconds:.1f}" for name, seconds in chain.items())
        print(f"  identity chain: {sum(chain.values()):.1f} s of builds ({models})")


def print_cpu(cpu: dict[str, Any]) -> None:
    """How much of the machine dbt left idle, in all and where it built one node at a time."""
    if not cpu or cpu["while_building"]["idle_share"] is None:
        return
    every, alone = cpu["while_building"], cpu["one_node_at_a_time"]
    line = (
        f"  CPU while dbt built: {every['idle_share']:.0%} idle, {every['iowait_share']:.0%} waiting on the disk"
        f" ({every['seconds']:.0f} s sampled)"
    )
    if alone["idle_share"] is not None:
        line += f"; while it built one node at a time: {alone['idle_share']:.0%} idle ({alone['seconds']:.0f} s)"
    print(line)


def print_layers(layers: dict[str, dict[str, float]]) -> None:
    spans = ", ".join(
        f"{layer} {span['span_seconds']:.0f} s ({span['thread_seconds']:.0f} s of builds)"
        for layer, span in layers.items()
    )
    print(f"  dbt layers, first start to last end (they overlap inside a task): {spans}")


def print_alone(alone: dict[str, Any]) -> None:
    models = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in list(alone["models"].items())[:6])
    print(f"  dbt one model at a time: {alone['seconds']:.0f} s of its {alone['span_seconds']:.0f} s ({models})")


def markdown_report(paths: list[Path]) -> str:
    """One Markdown table of several result files (e.g. S, M, L): seconds per stage of the full run,
    with the ratio to the floor where the issue sets one (ingest, transfer), the floors themselves,
    the daily run and the peak RSS."""
    results = [json.loads(path.read_text())["result"] for path in paths]
    stages: list[str] = []
    for result in results:
        stages += [row["stage"] for row in result["full"]["stages"] if row["stage"] not in stages]

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells) + " |"

    lines = [
        row(
            "stage",
            *(f"{r['size']}: {r['people']:,} people, {r['interactions'] / 1e6:.2f} M interactions" for r in results),
        ),
        "|---|" + "---|" * len(results),
    ]
    for stage in stages:
        cells = []
        for result in results:
            found = next((r for r in result["full"]["stages"] if r["stage"] == stage), None)
            ratio = found and stage in ("ingest", "transfer") and found["ratio_to_floor"]
            cells.append(f"{found['seconds']:.1f} s" + (f" ({ratio:.2f} of floor)" if ratio else "") if found else "–")
        lines.append(row(stage, *cells))
    lines.append(row("**full run**", *(f"**{r['full']['seconds']:.0f} s**" for r in results)))
    daily = (
        f"{r['day-2']['seconds']:.0f} s = {r['day-2']['share_of_full']:.0%}" if "day-2" in r else "–" for r in results
    )
    lines.append(row("daily run (+1 % interactions, day 2)", *daily))
    for key, label in (("copy", "floor: bare COPY"), ("group_by", "floor: one GROUP BY"), ("http", "floor: bare HTTP")):
        lines.append(row(label, *(f"{r['floors'][key]['seconds']:.2f} s" for r in results)))
    lines.append(row("peak RSS, any process", *(f"{r['peak_rss_mb']} MB" for r in results)))
    return "\n".join(lines)


def prepare_environment(database: DatabaseUrl, home: Path) -> dict[str, str]:
    """The leadflow Airflow environment pointed at the benchmark's database and Airflow home."""
    from leadflow.airflow_env import prepared_env

    shutil.rmtree(home, ignore_errors=True)
    os.environ["LEADFLOW_DATABASE_URL"] = database.url()
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    return prepared_env()


def activate_transfer(database: DatabaseUrl) -> None:
    from leadflow.transfer.definitions import load_transfers
    from leadflow.transfer.lifecycle import current_status, transition

    definition = next(d for d in load_transfers() if d.name == TRANSFER)
    with psycopg.connect(database.url()) as conn:
        if current_status(conn, definition) == "draft":
            transition(conn, definition, "activate", "benchmark")


@contextlib.contextmanager
def sandboxed_airflow(database: DatabaseUrl, name: str) -> Iterator[tuple[dict[str, str], Path, str]]:
    """A run's Airflow environment (its own home, benchmarks/data/airflow-NAME) pointed at the
    database and at the sales sandbox, started here and stopped after; an empty log folder
    (benchmarks/data/logs-NAME); and the sandbox's URL."""
    sandbox_dir = Path(tempfile.mkdtemp(prefix="leadflow-bench-sandbox-"))
    sandbox, sandbox_url = start_sandbox(sandbox_dir)
    logs = DATA / f"logs-{name}"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    try:
        env = prepare_environment(database, DATA / f"airflow-{name}")
        env.update(sandbox_connections(sandbox_url))
        env["LEADFLOW_BENCH_SANDBOX_PID"] = str(sandbox.pid)
        yield env, logs, sandbox_url
    finally:
        sandbox.terminate()
        sandbox.wait()
        shutil.rmtree(sandbox_dir, ignore_errors=True)


def replay_day_2(label: str, server: DatabaseUrl, keep: bool) -> int:
    """Day 2 again on a fresh copy of the database saved before it (--save-day-2)."""
    increment = DATA / f"replay-{label}" / "day-2"
    if not increment.is_dir():
        raise SystemExit(f"nothing saved for {label}: run with --save-day-2 first ({increment} is missing)")
    require_saved(label, server)
    started = time.perf_counter()
    database = fresh_database(server, DATABASE, copy_of=saved_before_day_2(label))
    print(f"copied {saved_before_day_2(label)} in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        with sandboxed_airflow(database, f"{label}-replay") as (env, logs, _):
            day = run_scenario("day-2", env, database, increment, GENERATOR_AS_OF + timedelta(days=2), logs)
    finally:
        if not keep:
            drop_database(server, DATABASE)
    print_table("day-2 replayed", table(day, {}, 0), day.wall_s)
    print_details(day)
    models = by_duration(day.model_seconds)
    print(f"  models' thread time {sum(models.values()):.1f} s; the longest:")
    for name, seconds in list(models.items())[:15]:
        print(f"    {name:<40} {seconds:6.2f} s")
    return 0


def fitted(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least squares over (percent, seconds): the seconds a day takes whatever its data (`fixed`,
    the line at 0 %) and those each 1 % of new interactions adds (`per_percent`)."""
    slope, intercept = statistics.linear_regression([p for p, _ in points], [s for _, s in points])
    return {"fixed": round(intercept, 2), "per_percent": round(slope, 2)}


def latest_full_run(label: str) -> tuple[str, float] | None:
    """The newest result file of a whole run at this size and its full run's seconds, if any."""
    for path in sorted(RESULTS.glob(f"pipeline-{label}-*.json"), reverse=True):
        result = json.loads(path.read_text())["result"]
        if "full" in result:
            return path.name, result["full"]["seconds"]
    return None


def daily_sweep(label: str, server: DatabaseUrl, percents: list[float]) -> int:
    """Day 2 again, once per percent of new interactions (half as many per cent of changed contacts),
    each on a fresh copy of the database saved before it (--save-day-2), with the records chosen
    by a hash (scoring_incremental.write_increment): the smaller days' records are part of the
    larger ones'. The day without data gives what a day costs whatever its data (start-ups,
    checks, tables rebuilt whole), a line through the days with data what each 1 % of new data
    adds (sweep_fit); the same per stage and per model."""
    if len(set(percents)) < 2:
        raise SystemExit("--daily-sweep needs at least two different percents (e.g. 0 1 4)")
    require_saved(label, server)
    day = GENERATOR_AS_OF + timedelta(days=2)
    points: list[dict[str, Any]] = []
    try:
        for n, percent in enumerate(percents):
            # each day on its own copy, in its own Airflow home: the same logical date every time
            database = fresh_database(server, DATABASE, copy_of=saved_before_day_2(label))
            with sandboxed_airflow(database, f"{label}-sweep-{n}") as (env, logs, _):
                increment = logs / "increment"
                with psycopg.connect(database.url()) as conn:
                    written = write_increment(conn, increment, day, percent)
                scenario = run_scenario(f"day-2-{n}", env, database, increment, day, logs)
                stages = {row["stage"]: row["seconds"] for row in table(scenario, {}, 0)}
                points.append(
                    {
                        "percent": percent,
                        "new_rows": written,
                        "seconds": round(scenario.wall_s, 1),
                        "stages": stages,
                        "model_seconds": by_duration(scenario.model_seconds),
                        "io": scenario.io,
                    }
                )
                print_io(scenario.io)
                print(f"  {percent:g} %: {sum(written.values()):,} new or changed records, {scenario.wall_s:.1f} s")
    finally:
        drop_database(server, DATABASE)

    result: dict[str, Any] = {"size": label, "day": day.isoformat(), "points": points, "fit": sweep_fit(points)}
    full = latest_full_run(label)
    if full:
        result["full_run"] = {"result_file": full[0], "seconds": full[1]}
    print_sweep(result)
    path = write_results("pipeline_sweep", result, label)
    print(f"written {path.relative_to(path.parents[2])}")
    return 0


def sweep_fit(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The sweep's lines (the day, each stage, each model): fitted over the days with new data when
    there are two sizes of them — a day without any skips work a day with some always does, so it
    does not lie on their line — and that day's own seconds (`quiet_day`) when it was run."""
    with_data = [p for p in points if p["percent"] > 0]
    over = with_data if len({p["percent"] for p in with_data}) >= 2 else points
    stage_names = list(dict.fromkeys(stage for point in points for stage in point["stages"]))
    model_names = list(dict.fromkeys(model for point in points for model in point["model_seconds"]))

    def line(seconds_of: Any) -> dict[str, float]:
        return fitted([(p["percent"], seconds_of(p)) for p in over])

    fit: dict[str, Any] = {
        "over_percents": sorted({p["percent"] for p in over}),
        "day": line(lambda p: p["seconds"]),
        "stages": {s: line(lambda p, s=s: p["stages"].get(s, 0.0)) for s in stage_names},
        "models": {m: line(lambda p, m=m: p["model_seconds"].get(m, 0.0)) for m in model_names},
    }
    if quiet := [p for p in points if p["percent"] == 0]:

        def mean(seconds_of: Any) -> float:
            return round(statistics.fmean(seconds_of(p) for p in quiet), 2)

        fit["quiet_day"] = {
            "seconds": mean(lambda p: p["seconds"]),
            "stages": {s: mean(lambda p, s=s: p["stages"].get(s, 0.0)) for s in stage_names},
            "models": {m: mean(lambda p, m=m: p["model_seconds"].get(m, 0.0)) for m in model_names},
        }
    return fit


def print_sweep(result: dict[str, Any]) -> None:
    points, fit = result["points"], result["fit"]
    quiet = fit.get("quiet_day")
    percents = ", ".join(f"{p['percent']:g} %" for p in points)
    print(f"\ndaily sweep at {result['size']}: day 2 with {percents} new interactions")
    print(f"  {'percent':>7} {'records':>9} {'seconds':>8}")
    for point in points:
        print(f"  {point['percent']:>7g} {sum(point['new_rows'].values()):>9,} {point['seconds']:>8.1f}")
    over = ", ".join(f"{p:g}" for p in fit["over_percents"])
    print(f"\n  {'line through the days of ' + over + ' %':<40} {'no data s':>9} {'at 0 % s':>9} {'per 1 % s':>10}")

    def row(name: str, line: dict[str, float], quiet_s: float | None, width: int = 40) -> None:
        measured = f"{quiet_s:.1f}" if quiet_s is not None else "–"
        print(f"  {name:<{width}} {measured:>9} {line['fixed']:>9.1f} {line['per_percent']:>10.2f}")

    row("the day", fit["day"], quiet and quiet["seconds"])
    for name, line in fit["stages"].items():
        row(name, line, quiet and quiet["stages"][name])
    print("  models, the costliest without data first:")
    ranked = sorted(fit["models"], key=lambda m: -(quiet["models"][m] if quiet else fit["models"][m]["fixed"]))
    for name in ranked[:20]:
        row(name, fit["models"][name], quiet and quiet["models"][name], width=38)
    if full := result.get("full_run"):
        seconds = full["seconds"]
        parts = [f"at 0 % {fit['day']['fixed'] / seconds:.1%}", f"each 1 % {fit['day']['per_percent'] / seconds:.1%}"]
        if quiet:
            parts.insert(0, f"a day without data {quiet['seconds'] / seconds:.1%}")
        print(f"\n  against the full run of {full['result_file']} ({seconds:.1f} s, another hour): {', '.join(parts)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default=os.environ.get("SIZE", "S"))
    parser.add_argument("--contacts", type=int, help="people to generate instead of the size's")
    parser.add_argument("--no-daily", action="store_true", help="skip the two daily runs")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DATABASE} afterwards")
    parser.add_argument("--report", nargs="+", type=Path, help="print result files as one Markdown table, run nothing")
    parser.add_argument("--save-day-2", action="store_true", help="save the database and feed just before day 2")
    parser.add_argument("--replay-day-2", action="store_true", help="run day 2 again on what --save-day-2 saved")
    parser.add_argument(
        "--daily-sweep",
        nargs="+",
        type=float,
        metavar="PERCENT",
        help="day 2 again once per percent of new interactions (e.g. 0 1 4), on what --save-day-2 saved;"
        " fits fixed seconds and seconds per 1 %%",
    )
    args = parser.parse_args()
    if args.report:
        files = {path: json.loads(path.read_text()) for path in args.report}
        sweeps = [path for path, content in files.items() if content["benchmark"] == "pipeline_sweep"]
        for path in sweeps:  # fitted again, by this version's rules
            result = files[path]["result"]
            print_sweep({**result, "fit": sweep_fit(result["points"])})
        if runs := [path for path in args.report if path not in sweeps]:
            print(markdown_report(runs))
        return 0
    people = args.contacts or SIZES[args.size]
    label = args.size if not args.contacts else f"{people}"
    if args.replay_day_2:
        return replay_day_2(label, database_url(), args.keep)
    if args.daily_sweep:
        return daily_sweep(label, database_url(), args.daily_sweep)
    if args.save_day_2 and args.no_daily:
        parser.error("--save-day-2 needs the daily runs")
    folder = generated_feed(people)
    server = database_url()
    print(f"leadflow bench {label}: {people:,} people, feed {folder}", flush=True)

    floors: dict[str, tuple[float, int]] = {}
    copies = [copy_floor(server, folder) for _ in range(3)]
    floors["copy"] = (statistics.median(c[0] for c in copies), copies[0][1])
    print(f"floor: bare COPY of {copies[0][1]:,} rows, median of 3: {floors['copy'][0]:.1f} s", flush=True)

    database = fresh_database(server, DATABASE)
    try:
        with sandboxed_airflow(database, label) as (env, logs, sandbox_url):
            activate_transfer(database)
            full = run_scenario("full", env, database, folder, GENERATOR_AS_OF, logs)
            with psycopg.connect(database.url()) as conn:
                interactions, contacts = conn.execute(
                    "select (select count(*) from marts.fct_interactions), (select count(*) from marts.dim_contacts)"
                ).fetchone()
            floors["group_by"] = (min(group_by_floor(database) for _ in range(3)), interactions)
            floors["http"] = (http_floor(sandbox_url, max(full.leads_sent, 200)), full.leads_sent)
            print(
                f"floors: GROUP BY contact over {interactions:,} interactions {floors['group_by'][0]:.2f} s;"
                f" {max(full.leads_sent, 200):,} leads in bare HTTP round trips {floors['http'][0]:.2f} s"
            )
            days = []
            if not args.no_daily:
                for n in (1, 2):
                    day = GENERATOR_AS_OF + timedelta(days=n)
                    increment = logs / f"day-{n}"
                    with psycopg.connect(database.url()) as conn:
                        written = write_increment(conn, increment, day)
                        conn.commit()
                    if n == 2 and args.save_day_2:
                        saved = DATA / f"replay-{label}" / "day-2"
                        shutil.rmtree(saved, ignore_errors=True)
                        shutil.copytree(increment, saved)
                        fresh_database(server, saved_before_day_2(label), copy_of=DATABASE)
                        print(f"saved for --replay-day-2: {saved_before_day_2(label)} and {saved}", flush=True)
                    # the floor again just before the day, as the speed of a shared machine moves
                    # from hour to hour (a scan tracks the day's index lookups only loosely)
                    day_floor = min(group_by_floor(database) for _ in range(3))
                    days.append((run_scenario(f"day-{n}", env, database, increment, day, logs), written, day_floor))
    finally:
        if not args.keep:
            drop_database(server, DATABASE)

    result: dict[str, Any] = {
        "size": label,
        "people": people,
        "interactions": interactions,
        "contacts": contacts,
        "postgres": server_version(server),
        "floors": {key: {"seconds": round(s, 2), "rows": n} for key, (s, n) in floors.items()},
        "full": {
            "seconds": round(full.wall_s, 1),
            "stages": table(full, floors, interactions),
            "dbt_layers": full.dbt_layers,
            "dbt_one_at_a_time": full.dbt_alone,
            "dbt_cpu": full.dbt_cpu,
            "model_seconds": by_duration(full.model_seconds),
            "io": full.io,
        },
    }
    print_table(
        f"full run ({interactions:,} interactions, {contacts:,} contacts)", result["full"]["stages"], full.wall_s
    )
    print_details(full)
    for scenario, written, day_floor in days:
        rows = table(scenario, {**floors, "group_by": (day_floor, interactions)}, interactions)
        result[scenario.name] = {
            "seconds": round(scenario.wall_s, 1),
            "share_of_full": round(scenario.wall_s / full.wall_s, 3),
            "group_by_floor_seconds": round(day_floor, 2),
            "new_rows": written,
            "stages": rows,
            "dbt_layers": scenario.dbt_layers,
            "dbt_one_at_a_time": scenario.dbt_alone,
            "dbt_cpu": scenario.dbt_cpu,
            "model_seconds": by_duration(scenario.model_seconds),
            "io": scenario.io,
        }
        print_table(f"{scenario.name} ({sum(written.values()):,} new or changed records)", rows, scenario.wall_s)
        print(
            f"  floor: GROUP BY just before the day {day_floor:.2f} s, {day_floor / floors['group_by'][0]:.2f}×"
            " the one after the full run (the day's dbt and checks are compared with it)"
        )
        print_details(scenario)
    if days:
        print(f"\ndaily run (day 2): {result['day-2']['share_of_full']:.1%} of the full run")
    peak = max(rss for scenario in (full, *(s for s, _, _ in days)) for rss in scenario.clock.peak_rss.values())
    result["peak_rss_mb"] = round(peak / 2**20)
    print(f"peak RSS of any pipeline process: {result['peak_rss_mb']} MB")
    path = write_results("pipeline", result, label)
    print(f"written {path.relative_to(path.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
