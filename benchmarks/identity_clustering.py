"""Identity resolution at scale: the dbt identity models on about a million origins.

    .venv/bin/python benchmarks/identity_clustering.py --people 650000     # ≈ 1M contact-record origins

Generates (once, cached in benchmarks/data/) a leadflow-generate feed with few interactions per
person, lands its contacts and interactions in a fresh database, then in the same run:
  floor — one pass over every key: `select key_type, key_value, min(node_id) … group by` on the
          keys table (any clustering has to read every key at least once);
  ours  — the connected-components function on the identity graph (passes reported), and the whole
          identity chain in dbt (origins → keys → blocked keys → edges → clusters → id ledger →
          survivorship, consent, accounts, marts), timed per model from dbt's run results;
  rerun — the same `dbt build` again on unchanged data (the id ledger must not change).
Writes benchmarks/results/identity_clustering-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from common import ROOT, dbt_build, drop_database, fresh_database, generated_feed, write_results

from leadflow.sources.files import find_feed_files, land_files
from leadflow.warehouse import database_url

# cautious: the tests of the models built, not those that also read a model left out (the interest
# codes' test on staging reads the interest taxonomy)
IDENTITY_ARGS = (
    *("--select", "+contact_origins", "+dim_contacts", "+contact_id_history", "--exclude", "test_type:unit"),
    "--indirect-selection=cautious",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=650_000, help="generated people (≈1.55 contact origins each)")
    args = parser.parse_args()
    folder = generated_feed(args.people, interactions_per_contact=1)
    server = database_url()
    database = fresh_database(server, "leadflow_bench_identity")
    try:
        started = time.perf_counter()
        with psycopg.connect(database.url()) as conn:
            land_files(conn, [f for f in find_feed_files(folder) if f.entity in ("contacts", "interactions")], None)
        landed_s = time.perf_counter() - started
        print(f"landed the feed in {landed_s:.0f}s; dbt build of the identity models …", flush=True)
        with tempfile.TemporaryDirectory() as target:
            build_s, timings = dbt_build(database, Path(target), *IDENTITY_ARGS)
            with psycopg.connect(database.url()) as conn:
                origins, record_origins, keys, edges = conn.execute(
                    "select (select count(*) from intermediate.int_identity_origins),"
                    " (select count(*) from intermediate.int_identity_origins where origin_type = 'record'),"
                    " (select count(*) from intermediate.int_identity_keys),"
                    " (select count(*) from intermediate.int_identity_edges)"
                ).fetchone()
                ledger_rows = conn.execute("select count(*) from intermediate.int_contact_id_ledger").fetchone()[0]
                t = time.perf_counter()
                conn.execute(
                    "create temp table floor as select key_type, key_value, min(node_id) as hub"
                    " from intermediate.int_identity_keys group by 1, 2"
                )
                floor_s = time.perf_counter() - t
                t = time.perf_counter()
                passes, components = conn.execute(
                    "select max(cc.passes), count(distinct cc.component) from ("
                    " select array_agg(source_node_id order by source_node_id, target_node_id) as s,"
                    " array_agg(target_node_id order by source_node_id, target_node_id) as t"
                    " from intermediate.int_identity_edges) e,"
                    " lateral intermediate.leadflow_connected_components_v1(e.s, e.t) cc"
                ).fetchone()
                clustering_s = time.perf_counter() - t
                conn.rollback()
            rerun_s, _ = dbt_build(database, Path(target), *IDENTITY_ARGS)
            with psycopg.connect(database.url()) as conn:
                ledger_after = conn.execute("select count(*) from intermediate.int_contact_id_ledger").fetchone()[0]
                contacts = conn.execute("select count(*) from marts.dim_contacts").fetchone()[0]
    finally:
        drop_database(server, "leadflow_bench_identity")
    result = {
        "people": args.people,
        "origins": origins,
        "record_origins": record_origins,
        "keys": keys,
        "edges": edges,
        "contacts": contacts,
        "floor_group_by_keys_seconds": round(floor_s, 2),
        "clustering_function_seconds": round(clustering_s, 2),
        "clustering_passes": passes,
        "components_with_links": components,
        "ratio_floor_to_clustering": round(floor_s / clustering_s, 2),
        "dbt_identity_build_seconds": round(build_s, 1),
        "dbt_identity_rerun_seconds": round(rerun_s, 1),
        "ledger_rows_first_build": ledger_rows,
        "ledger_rows_after_rerun": ledger_after,
        "model_seconds": timings,
    }
    print(
        f"{origins:,} origins ({record_origins:,} records), {keys:,} keys, {edges:,} edges → {contacts:,} contacts\n"
        f"floor (one GROUP BY over the keys) {floor_s:.1f}s; connected components {clustering_s:.1f}s"
        f" in {passes} passes (ratio {floor_s / clustering_s:.2f})\n"
        f"dbt identity chain {build_s:.0f}s, rerun {rerun_s:.0f}s; ledger {ledger_rows:,} rows → {ledger_after:,}"
    )
    print("slowest models:", ", ".join(f"{k} {v}s" for k, v in sorted(timings.items(), key=lambda kv: -kv[1])[:6]))
    out = write_results("identity_clustering", result)
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
