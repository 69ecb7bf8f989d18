"""Benchmark: what BI tools pay to read the marts through their roles (row-level security and the
views that filter by area themselves), against the same query by the marts' owner.

    .venv/bin/python benchmarks/bi_reads.py --people 100000
    .venv/bin/python benchmarks/bi_reads.py --database leadflow_bench_pipeline   # kept by make bench SIZE=L

Without --database it builds the marts from a generated feed (cached in benchmarks/data/) in a
fresh database: landing and `dbt build`, as of the generated data's last day. Then it applies BI
access as the pipeline does (`access` in config/leadflow.yml) and runs typical BI queries — a
full read grouped by a column, and a drill-down to one contact — as the owner (the floor: no
policy applies to it), as the all-area role and as the first area role, each --repeat times
after a first one that warms the cache. Prints medians and the ratio of each role's median to the
owner's; writes benchmarks/results/bi_reads-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from common import GENERATOR_AS_OF, dbt_build, drop_database, fresh_database, generated_feed, write_results
from psycopg import sql

from leadflow.access import apply_access
from leadflow.settings import load_config
from leadflow.sources.files import find_feed_files, land_files
from leadflow.transfer.ledger import ensure_ledger
from leadflow.warehouse import database_url

DATABASE = "leadflow_bench_bi"
QUERIES = {
    "dim_contacts by area": "select marketing_area, count(*) from marts.dim_contacts group by 1",
    "fct_interactions by type": "select interaction_type, count(*) from marts.fct_interactions group by 1",
    "contact_scores by rating": "select rating, count(*), avg(lead_score) from marts.contact_scores group by 1",
    "lead_stages by stage": "select stage, count(*) from marts.lead_stages group by 1",
    "contact_score_reasons by rule": "select rule, count(*), sum(points) from marts.contact_score_reasons group by 1",
    "contact_interests, strongest": (
        "select interest, count(*) from marts.contact_interests where interest_rank = 1 group by 1"
    ),
    "one contact: reasons": "select * from marts.contact_score_reasons where contact_id = %(contact)s",
    "one contact: interests": "select * from marts.contact_interests where contact_id = %(contact)s",
    "one contact: interactions": (
        "select * from marts.fct_interactions where contact_id = %(contact)s order by occurred_at desc limit 50"
    ),
}


def build(people: int) -> None:
    server = database_url()
    database = fresh_database(server, DATABASE)
    with psycopg.connect(database.url()) as conn:
        land_files(conn, find_feed_files(generated_feed(people)), None)
    with tempfile.TemporaryDirectory() as tmp:
        dbt_s, _ = dbt_build(
            database,
            Path(tmp) / "target",
            "--exclude",
            "test_type:unit",
            "--vars",
            f'{{as_of: "{GENERATOR_AS_OF.isoformat()}"}}',
        )
    print(f"marts of {people:,} people built in {dbt_s:.0f} s", flush=True)


def timed(conn: psycopg.Connection, query: str, params: dict, repeat: int) -> tuple[float, int]:
    conn.execute(query, params).fetchall()  # warm
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(conn.execute(query, params).fetchall())
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="generated people for a fresh database")
    parser.add_argument("--database", help="measure this database's marts instead of building them")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = database_url()
    if not args.database:
        build(args.people)
    database = server.with_database(args.database or DATABASE)
    access = load_config().access
    roles = [access.bi_role, next(iter(access.area_roles))]
    try:
        with psycopg.connect(database.url()) as conn:
            ensure_ledger(conn)
            apply_access(conn, access)
            contacts = conn.execute("select count(*) from marts.dim_contacts").fetchone()[0]
            area = access.area_roles[roles[1]][0]
            # a contact the area role may see: its drill-downs return rows for every reader
            contact = conn.execute(
                "select contact_id from marts.dim_contacts where marketing_area = %s order by contact_id limit 1",
                (area,),
            ).fetchone()[0]
        results: dict[str, dict[str, dict[str, float]]] = {}
        with psycopg.connect(database.url(), autocommit=True) as conn:
            for label, query in QUERIES.items():
                results[label] = {}
                for role in (None, *roles):
                    conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)) if role else "reset role")
                    median_ms, rows = timed(conn, query, {"contact": contact}, args.repeat)
                    results[label][role or "owner"] = {"median_ms": round(median_ms, 2), "rows": rows}
                conn.execute("reset role")
    finally:
        if not args.database:
            drop_database(server, DATABASE)

    print(f"\nBI reads of the marts of {contacts:,} contacts (median of {args.repeat}, ms; × owner)")
    print(f"{'query':34} {'owner':>9} {roles[0]:>22} {roles[1]:>22}")
    for label, by_role in results.items():
        floor = by_role["owner"]["median_ms"]
        cells = [f"{by_role[r]['median_ms']:9.1f} ×{by_role[r]['median_ms'] / floor:5.1f}" for r in roles]
        print(f"{label:34} {floor:9.1f} {cells[0]:>22} {cells[1]:>22}")
    path = write_results("bi_reads", {"contacts": contacts, "roles": roles, "repeat": args.repeat, "queries": results})
    print(f"written {path.relative_to(path.parents[2])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
