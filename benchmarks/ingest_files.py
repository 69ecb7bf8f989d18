"""File-drop ingest against the floor: bare COPY of the same files into a plain table, same run.

    .venv/bin/python benchmarks/ingest_files.py --interactions 10000000
    .venv/bin/python benchmarks/ingest_files.py --interactions 1000000 --interactions 10000000   # RSS flatness

For each size: generate (once, cached in benchmarks/data/) a leadflow-generate feed with about that
many interactions, then in a fresh database per measurement
  floor — COPY each interactions file into a table of text columns (what PostgreSQL can do);
  ours  — leadflow's land_feed_file on the same files (checksum, checks, quarantine, ops.loads),
          in a child process whose peak RSS is reported.
The two alternate --repeat times (default 3) and the medians are compared: on a small shared
machine one bare COPY of 10M rows took anywhere from 14 to 23 s, so a single pair says little.
Prints a table and writes benchmarks/results/ingest_files-<timestamp>.json with the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from common import ROOT, drop_database, fresh_database, generated_feed, server_version, write_results
from psycopg import sql

from leadflow.settings import DatabaseUrl
from leadflow.sources.feed import ENTITIES
from leadflow.warehouse import database_url


def interaction_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*__interactions.csv"))


def count_rows(files: list[Path]) -> int:
    total = 0
    for path in files:
        with open(path, "rb") as handle:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda h=handle: h.read(1 << 24), b"")) - 1
    return total


def floor_copy(database: DatabaseUrl, files: list[Path]) -> float:
    columns = ENTITIES["interactions"].columns
    with psycopg.connect(database.url()) as conn:
        conn.execute(
            sql.SQL("create table floor ({})").format(
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
            )
        )
        conn.commit()
        started = time.perf_counter()
        for path in files:
            statement = "copy floor from stdin (format csv, header true)"
            with conn.cursor() as cur, cur.copy(statement) as copy, open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            conn.commit()
        return time.perf_counter() - started


CHILD = """
import json, resource, sys, time
from pathlib import Path
import psycopg
sys.path.insert(0, {plugins!r})
from leadflow.sources.files import FeedFile, land_feed_file
totals = dict(fetched=0, landed=0, quarantined=0)
started = time.perf_counter()
with psycopg.connect({url!r}) as conn:
    for name in {files!r}:
        result = land_feed_file(conn, FeedFile.from_path(Path(name)))
        for key in totals:
            totals[key] += getattr(result, key)
totals["seconds"] = time.perf_counter() - started
totals["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(totals))
"""


def ours(database: DatabaseUrl, files: list[Path]) -> dict:
    code = CHILD.format(plugins=str(ROOT / "plugins"), url=database.url(), files=[str(f) for f in files])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def suppress_keys(database: DatabaseUrl, count: int) -> None:
    """Keys of erased people (random hashes, matching no row): landing then checks every record."""
    from leadflow.sources.landing import ensure_schemas

    with psycopg.connect(database.url()) as conn:
        ensure_schemas(conn)
        conn.execute(
            "insert into ops.suppression (key_hash, kind, erasure_id)"
            " select md5(i::text) || md5((-i)::text), 'key', gen_random_uuid() from generate_series(1, %s) as i",
            (count,),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, action="append", help="size(s); default 1M and 10M")
    parser.add_argument("--repeat", type=int, default=3, help="floor/ours pairs per size (medians compared)")
    parser.add_argument(
        "--erasures", type=int, default=0, help="suppressed keys on record (leadflow forget): every row is checked"
    )
    args = parser.parse_args()
    sizes = args.interactions or [1_000_000, 10_000_000]
    server = database_url()
    postgres = server_version(server)
    rows_out = []
    for size in sizes:
        files = interaction_files(generated_feed(max(1, size // 10)))
        rows = count_rows(files)
        floors, runs = [], []
        for _ in range(args.repeat):
            floor_db = fresh_database(server, "leadflow_bench_floor")
            floors.append(floor_copy(floor_db, files))
            drop_database(server, "leadflow_bench_floor")
            ours_db = fresh_database(server, "leadflow_bench_ours")
            if args.erasures:
                suppress_keys(ours_db, args.erasures)
            runs.append(ours(ours_db, files))
            drop_database(server, "leadflow_bench_ours")
            result = runs[-1]
            assert result["fetched"] == rows == result["landed"] + result["quarantined"], (result, rows)
            print(f"  {rows:,} rows: floor {floors[-1]:.1f}s, ours {result['seconds']:.1f}s", flush=True)
        floor_s = statistics.median(floors)
        result = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "quarantined": runs[0]["quarantined"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }
        row = {
            "interactions": rows,
            "files": len(files),
            "repeats": args.repeat,
            "floor_seconds_each": [round(f, 2) for f in floors],
            "ingest_seconds_each": [round(r["seconds"], 2) for r in runs],
            "floor_seconds": round(floor_s, 2),
            "floor_rows_per_s": round(rows / floor_s),
            "ingest_seconds": round(result["seconds"], 2),
            "ingest_rows_per_s": round(rows / result["seconds"]),
            "ratio_to_floor": round(floor_s / result["seconds"], 2),
            "quarantined": result["quarantined"],
            "peak_rss_mb": round(result["peak_rss_mb"], 1),
        }
        rows_out.append(row)
        print(
            f"{rows:>12,} rows  floor {floor_s:6.1f}s ({row['floor_rows_per_s']:>9,}/s)  "
            f"ingest {result['seconds']:6.1f}s ({row['ingest_rows_per_s']:>9,}/s)  "
            f"ratio {row['ratio_to_floor']:.2f}  quarantined {result['quarantined']:,}  "
            f"peak RSS {row['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    if len(rows_out) > 1:
        first, last = rows_out[0]["peak_rss_mb"], rows_out[-1]["peak_rss_mb"]
        print(f"peak RSS {first:.0f} MB → {last:.0f} MB ({(last / first - 1) * 100:+.0f}%)")
    out = write_results("ingest_files", {"postgres": postgres, "suppressed_keys": args.erasures, "sizes": rows_out})
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
