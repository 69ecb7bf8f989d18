"""The ``leadflow`` command.

leadflow db start|stop|status|url   the embedded PostgreSQL of this checkout
leadflow env                        shell exports for airflow/dbt against the configured warehouse
leadflow dbt ARGS…                  dbt in dbt_project/ with the warehouse profile
leadflow airflow ARGS…              airflow with the leadflow environment (home, dags, connection)
leadflow airflow-ui                 the Airflow UI on 127.0.0.1 (airflow standalone)
leadflow demo                       run the pipeline on the demo data and print what it did
leadflow explain CONTACT_ID|EMAIL   one contact's story from the marts (--json for the structured result)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from leadflow import __version__
from leadflow.settings import ConfigError
from leadflow.warehouse import WarehouseError


def _bin(name: str) -> str:
    """An executable of this venv (airflow, dbt), falling back to PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def cmd_db(args: argparse.Namespace) -> int:
    from leadflow.settings import DatabaseUrl, configured_database_url
    from leadflow.warehouse import EmbeddedPostgres

    external = configured_database_url()
    if external and args.action != "url":
        print(
            f"LEADFLOW_DATABASE_URL is set ({DatabaseUrl.parse(external).redacted()}): the embedded server is not used."
        )
        return 0
    if external:
        print(external)
        return 0
    server = EmbeddedPostgres()
    if args.action == "start":
        status = server.start()
        print(f"PostgreSQL running on 127.0.0.1:{status.port} (pid {status.pid}, data {server.pgdata})")
    elif args.action == "stop":
        server.stop()
        print("PostgreSQL stopped")
    elif args.action == "status":
        status = server.status()
        if status.running:
            print(f"running on 127.0.0.1:{status.port} (pid {status.pid}, data {server.pgdata})")
        else:
            print(f"not running ({status.detail})")
            return 3
    else:
        print(server.url())
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from leadflow.settings import airflow_env
    from leadflow.warehouse import database_url

    for key, value in sorted(airflow_env(database_url()).items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _exec(argv: list[str], env: dict[str, str]) -> int:
    os.execvpe(argv[0], argv, {**os.environ, **env})
    return 0  # not reached


def cmd_dbt(args: argparse.Namespace) -> int:
    from leadflow.settings import DatabaseUrl, project_root
    from leadflow.transform.freshness import write_sources_file
    from leadflow.warehouse import database_url

    write_sources_file()  # the raw tables of config/sources/, for `dbt source freshness`
    dbt_args = list(args.dbt_args)
    offline = bool(dbt_args) and dbt_args[0] in ("parse", "deps", "clean", "--version")
    # `dbt parse` needs no server: the profile's placeholders are enough
    url = DatabaseUrl("127.0.0.1", 5432, "postgres", "", "leadflow") if offline else database_url()
    project = project_root() / "dbt_project"
    env = {
        **url.dbt_env(),
        "DBT_PROFILES_DIR": str(project),
        "DBT_PROJECT_DIR": str(project),
        "DBT_USE_COLORS": os.environ.get("DBT_USE_COLORS", "false"),
    }
    os.chdir(project)
    return _exec([_bin("dbt"), *dbt_args], env)


def cmd_airflow(args: argparse.Namespace) -> int:
    from leadflow.airflow_env import prepared_env

    return _exec([_bin("airflow"), *args.airflow_args], prepared_env())


def cmd_airflow_ui(args: argparse.Namespace) -> int:
    from leadflow.airflow_env import run_standalone

    return run_standalone(port=args.port)


def cmd_evaluate(args: argparse.Namespace) -> int:
    import psycopg

    from leadflow.demo.run import demo_data
    from leadflow.transform.identity_evaluation import evaluate_identity, print_evaluation
    from leadflow.warehouse import database_url

    truth = Path(args.truth) if args.truth else demo_data() / "ground_truth.csv"
    if not truth.exists():
        print(f"truth file not found: {truth}", file=sys.stderr)
        return 2
    with psycopg.connect(database_url().url()) as conn:
        if conn.execute("select to_regclass('marts.contact_origins') is null").fetchone()[0]:
            print("marts.contact_origins does not exist yet: run the pipeline first (make demo)", file=sys.stderr)
            return 2
        result = evaluate_identity(conn, truth, examples=args.examples)
    print_evaluation(result, truth)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    import psycopg

    from leadflow.transform.explain import (
        ContactNotFoundError,
        MissingMartsError,
        explain_contact,
        format_story,
        story_json,
    )
    from leadflow.warehouse import database_url

    with psycopg.connect(database_url().url()) as conn:
        conn.read_only = True
        try:
            story = explain_contact(conn, args.contact)
        except MissingMartsError as exc:
            print(f"{exc}: run the pipeline first (make demo, or leadflow run --feed DIR)", file=sys.stderr)
            return 1
        except ContactNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 1
    try:
        print(story_json(story) if args.json else format_story(story))
        sys.stdout.flush()
    except BrokenPipeError:  # `leadflow explain … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    import getpass
    import webbrowser
    from datetime import datetime

    import psycopg

    from leadflow.quality.checkpoints import data_docs_index, validate_layers
    from leadflow.quality.report import format_status
    from leadflow.quality.results import accept_failure
    from leadflow.warehouse import database_url

    if args.action == "docs":
        index = data_docs_index()
        if not index.exists():
            print(f"no Data Docs yet ({index}): run the pipeline or `leadflow quality check` first", file=sys.stderr)
            return 1
        print(index.as_uri())
        if not args.no_browser:
            webbrowser.open(index.as_uri())
        return 0
    database = database_url()
    if args.action == "check":
        layers = args.layer or ["marts", "candidates"]
        results = validate_layers(
            database, layers, run_id=f"manual__{datetime.now():%Y%m%dT%H%M%S}", load_ids=args.load
        )
        for result in results:
            print(json.dumps(result.summary(), default=str))
        return 1 if any(r.blocks_transfers for r in results) else 0
    with psycopg.connect(database.url()) as conn:
        if args.action == "accept":
            if args.result_id is None or not args.note:
                print("leadflow quality accept RESULT_ID --note WHY", file=sys.stderr)
                return 2
            try:
                accept_failure(conn, args.result_id, args.by or getpass.getuser(), args.note)
            except LookupError as exc:
                print(exc, file=sys.stderr)
                return 1
            print(f"result {args.result_id} accepted; the transfer gate no longer counts it")
            return 0
        since = datetime.fromisoformat(args.since) if args.since else None
        text, decision = format_status(conn, since)
    print(text)
    return 0 if decision.allowed else 1


def cmd_generate(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from leadflow.demo.generator import Generator

    as_of = datetime.fromisoformat(args.as_of).replace(tzinfo=UTC) if args.as_of else None
    started = time.monotonic()
    generator = Generator(args.contacts, seed=args.seed, as_of=as_of, interactions_per_contact=args.interactions)
    counts = generator.write(Path(args.out), progress=not args.quiet)
    for name, rows in sorted(counts.items()):
        print(f"  {name:<32} {rows:>12,} rows")
    print(
        f"wrote {sum(counts.values()):,} rows to {args.out} in {time.monotonic() - started:.1f}s "
        f"(ground truth: {Path(args.out) / 'ground_truth.csv'})"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from leadflow.demo.run import run_feed

    return run_feed(Path(args.feed).resolve(), as_of=args.as_of)


def cmd_demo_sources(args: argparse.Namespace) -> int:
    from leadflow.demo.run import demo_data
    from leadflow.demo.sources_server import Faults, serve

    faults = Faults(args.rate_429, args.rate_500, args.slow_ms, args.malformed, args.retry_after)
    serve(Path(args.data) if args.data else demo_data(), args.port, faults)
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from leadflow.transfer.commands import run
    from leadflow.warehouse import database_url

    return run(args.action, args.name, database_url().url(), mirror=not args.no_airflow)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from leadflow.demo.sales_sandbox import SandboxFaults, serve
    from leadflow.settings import state_dir

    database = Path(args.db) if args.db else state_dir() / "sandbox" / "sales.sqlite"
    database.parent.mkdir(parents=True, exist_ok=True)
    faults = SandboxFaults(
        rate_429=args.rate_429,
        retry_after_s=args.retry_after,
        rate_500=args.rate_500,
        rate_503=args.rate_503,
        slow_ms=args.slow_ms,
        drop_rate=args.drop,
        record_error_rate=args.record_errors,
        lock_rate=args.locks,
    )
    serve(database, args.port, faults, args.daily_limit)
    return 0


def cmd_access(args: argparse.Namespace) -> int:
    import psycopg

    from leadflow.access import apply_access
    from leadflow.settings import load_config
    from leadflow.warehouse import database_url

    with psycopg.connect(database_url().url()) as conn:
        report = apply_access(conn, load_config().access)
    areas = load_config().access.area_roles
    print(f"{report.roles[0]}: every mart, every area")
    for role, role_areas in areas.items():
        print(f"{role}: marts rows of {', '.join(role_areas)}")
    print(
        f"{len(report.tables)} marts tables under row-level security; all-area roles only: "
        f"{', '.join(report.closed_to_areas) or 'none'}"
    )
    if report.self_filtering_views:
        print(f"views filtering by area themselves: {', '.join(report.self_filtering_views)}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    import getpass

    import psycopg

    from leadflow.erasure import ErasureError, forget
    from leadflow.warehouse import database_url

    if not args.yes:
        answer = input(f"Erase {args.identifier!r} from raw, marts and the ledger, for good? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1
    try:
        with psycopg.connect(database_url().url()) as conn:
            report = forget(conn, args.identifier, args.by or getpass.getuser())
    except ErasureError as error:
        print(f"leadflow forget: {error}", file=sys.stderr)
        return 1
    rows = sum(report.rows_deleted.values())
    print(
        f"erasure {report.erasure_id}: {len(report.contacts)} contact id(s), {report.keys} keys suppressed,"
        f" {rows} rows deleted or anonymised"
    )
    for table, count in sorted(report.rows_deleted.items()):
        if count:
            print(f"  {table}: {count}")
    if report.sales_records:
        print("sent to the sales system before; delete these leads there too (external id (record id)):")
        for record in report.sales_records:
            print(f"  {record}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from leadflow.demo.run import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadflow", description="Lead-management data pipeline")
    parser.add_argument("--version", action="version", version=f"leadflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the embedded PostgreSQL of this checkout")
    db.add_argument("action", choices=["start", "stop", "status", "url"])
    db.set_defaults(func=cmd_db)

    env = sub.add_parser("env", help='print shell exports for airflow and dbt (eval "$(leadflow env)")')
    env.set_defaults(func=cmd_env)

    dbt = sub.add_parser("dbt", help="run dbt in dbt_project/ against the warehouse", add_help=False)
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=cmd_dbt)

    airflow = sub.add_parser("airflow", help="run airflow with the leadflow environment", add_help=False)
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=cmd_airflow)

    ui = sub.add_parser("airflow-ui", help="the Airflow UI on 127.0.0.1 (airflow standalone)")
    ui.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    ui.set_defaults(func=cmd_airflow_ui)

    generate = sub.add_parser("generate", help="write synthetic multi-source feed files with a ground truth")
    generate.add_argument("--out", required=True, help="folder to write the feed files into")
    generate.add_argument("--contacts", type=int, default=1000, help="number of people (default 1000)")
    generate.add_argument("--interactions", type=int, default=10, help="mean interactions per person")
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--as-of", help="newest timestamp written (ISO date; default 2026-11-01)")
    generate.add_argument("--quiet", action="store_true")
    generate.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="run the whole pipeline through Airflow on a folder of feed files")
    run.add_argument("--feed", required=True, help="folder of <source_system>__<entity>.csv|jsonl[.gz] files")
    run.add_argument("--as-of", help="logical date of the run (ISO date or date-time; default now)")
    run.set_defaults(func=cmd_run)

    evaluate = sub.add_parser("evaluate", help="measure a pipeline stage against labelled data")
    evaluate.add_argument("stage", choices=["identity"], help="identity: clustering vs a ground truth")
    evaluate.add_argument(
        "--truth", help="CSV with source_system,source_record_id,person_id (default: the demo data's ground truth)"
    )
    evaluate.add_argument("--examples", type=int, default=5, help="false merges and missed links to show")
    evaluate.set_defaults(func=cmd_evaluate)

    explain = sub.add_parser("explain", help="print one contact's story from the marts (read-only)")
    explain.add_argument(
        "contact", metavar="CONTACT_ID|EMAIL", help="a contact id (merged ids are followed) or an email"
    )
    explain.add_argument("--json", action="store_true", help="print the structured result as JSON")
    explain.set_defaults(func=cmd_explain)

    quality = sub.add_parser("quality", help="data-quality results, the transfer gate, checks and Data Docs")
    quality.add_argument(
        "action",
        choices=["status", "check", "accept", "docs"],
        help="status: latest results, quarantine and the gate (exit 1 when closed); check: run suites now; "
        "accept: accept a failed result (the gate ignores it); docs: open the GX Data Docs",
    )
    quality.add_argument("result_id", nargs="?", type=int, help="accept: the result id (see status)")
    quality.add_argument("--note", help="accept: why the failure is acceptable (kept with the result)")
    quality.add_argument("--by", help="accept: who accepts (default: the OS user)")
    quality.add_argument("--layer", action="append", choices=["raw", "marts", "candidates"], help="check: layers")
    quality.add_argument("--load", action="append", help="check: raw load ids to validate (with --layer raw)")
    quality.add_argument("--since", help="status: the transfer's last good run (ISO); default: none")
    quality.add_argument("--no-browser", action="store_true", help="docs: print the path only")
    quality.set_defaults(func=cmd_quality)

    sources = sub.add_parser("demo-sources", help="serve generated data as four source-system APIs on 127.0.0.1")
    sources.add_argument("--data", help="folder written by `leadflow generate` (default: the demo's data)")
    sources.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sources.add_argument("--rate-429", type=float, default=0.0, help="share of requests answered 429")
    sources.add_argument("--rate-500", type=float, default=0.0, help="share of requests answered 500")
    sources.add_argument("--slow-ms", type=int, default=0, help="delay every page by this much")
    sources.add_argument("--malformed", type=float, default=0.0, help="share of records sent broken")
    sources.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    sources.set_defaults(func=cmd_demo_sources)

    transfer = sub.add_parser("transfer", help="transfers: list, lifecycle (activate|pause|resume|stop), retry")
    transfer.add_argument("action", choices=["list", "activate", "pause", "resume", "stop", "retry"])
    transfer.add_argument("name", nargs="?", help="the transfer (config/transfers/<file>.yml: name)")
    transfer.add_argument("--no-airflow", action="store_true", help="change the status in ops only (no DAG pause)")
    transfer.set_defaults(func=cmd_transfer)

    sandbox = sub.add_parser("sandbox", help="a local sales system (Salesforce + HubSpot subsets) on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sandbox.add_argument("--db", help="SQLite file it keeps what it received in (default .leadflow/sandbox/)")
    sandbox.add_argument("--daily-limit", type=int, default=100_000, help="API requests per day before 403")
    sandbox.add_argument("--rate-429", type=float, default=0.0, help="share of requests answered 429")
    sandbox.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    sandbox.add_argument("--rate-500", type=float, default=0.0, help="share of requests answered 500")
    sandbox.add_argument("--rate-503", type=float, default=0.0, help="share of requests answered 503")
    sandbox.add_argument("--slow-ms", type=int, default=0, help="delay every answer by this much")
    sandbox.add_argument("--drop", type=float, default=0.0, help="share of upserts applied but never answered")
    sandbox.add_argument("--record-errors", type=float, default=0.0, help="share of records failing validation")
    sandbox.add_argument("--locks", type=float, default=0.0, help="share of records failing UNABLE_TO_LOCK_ROW")
    sandbox.set_defaults(func=cmd_sandbox)

    access = sub.add_parser("access", help="create the BI roles and apply grants and row-level security to marts")
    access.set_defaults(func=cmd_access)

    forget_cmd = sub.add_parser("forget", help="erase a person (email or contact id) everywhere and suppress them")
    forget_cmd.add_argument("identifier", help="an email or a contact id")
    forget_cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    forget_cmd.add_argument("--by", help="who asks (for the audit row; default: the OS user)")
    forget_cmd.set_defaults(func=cmd_forget)

    demo = sub.add_parser("demo", help="run the pipeline on the demo data and print what it did")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"leadflow: configuration error: {exc}", file=sys.stderr)
        return 2
    except WarehouseError as exc:
        print(f"leadflow: warehouse: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
