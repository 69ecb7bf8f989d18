"""REST ingest against its floor: the same pages fetched bare (requests, JSON decoded, nothing else).

    .venv/bin/python benchmarks/ingest_rest.py --people 20000

Serves generated data with `leadflow demo-sources` (in-process, 127.0.0.1), then in the same run:
  floor — GET every page of the email platform's events (cursor pagination), decode JSON;
  ours  — leadflow's REST source landing the same entity (mapping, checks, COPY, ops.loads).
Writes benchmarks/results/ingest_rest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from common import ROOT, drop_database, fresh_database, write_results

from leadflow.demo.generator import Generator
from leadflow.demo.sources_server import TOKENS, DemoSources
from leadflow.sources.config import load_sources
from leadflow.sources.rest import RestClient, land_rest_entity
from leadflow.warehouse import database_url

END = datetime(2030, 1, 1, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    source = next(s for s in load_sources() if s.name == "email")
    entity = source.entities["interactions"]
    with tempfile.TemporaryDirectory() as folder:
        Generator(args.people, seed=11, bad_share=0).write(Path(folder), progress=False)
        app = DemoSources(Path(folder)).start()
        try:
            session = requests.Session()
            headers = {"Authorization": f"Bearer {TOKENS['email']}"}
            started, cursor, records = time.perf_counter(), None, 0
            while True:
                params = {"limit": entity.pagination.page_size, **({"cursor": cursor} if cursor else {})}
                body = session.get(f"{app.url}{entity.path}", params=params, headers=headers, timeout=30).json()
                records += len(body["data"])
                cursor = body["paging"]["next_cursor"]
                if not cursor:
                    break
            floor_s = time.perf_counter() - started

            server = database_url()
            database = fresh_database(server, "leadflow_bench_rest")
            client = RestClient(app.url, _auth())
            with psycopg.connect(database.url()) as conn:
                started = time.perf_counter()
                result = land_rest_entity(conn, client, source, "interactions", END)
                ours_s = time.perf_counter() - started
            drop_database(server, "leadflow_bench_rest")
        finally:
            app.stop()
    assert result.fetched == records, (result.fetched, records)
    row = {
        "records": records,
        "page_size": entity.pagination.page_size,
        "floor_seconds": round(floor_s, 2),
        "floor_records_per_s": round(records / floor_s),
        "ingest_seconds": round(ours_s, 2),
        "ingest_records_per_s": round(records / ours_s),
        "ratio_to_floor": round(floor_s / ours_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(
        f"{records:,} records  floor {floor_s:.1f}s ({row['floor_records_per_s']:,}/s)  "
        f"ingest {ours_s:.1f}s ({row['ingest_records_per_s']:,}/s)  ratio {row['ratio_to_floor']:.2f}"
    )
    out = write_results("ingest_rest", {"runs": [row]})
    print(f"written {out.relative_to(ROOT)}")
    return 0


def _auth():
    from leadflow.sources.rest import Auth

    return Auth("bearer", None, TOKENS["email"])


if __name__ == "__main__":
    sys.exit(main())
