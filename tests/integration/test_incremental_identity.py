"""The incremental identity models on generated data with real dbt and PostgreSQL: origins read
only the loads they have not read and merge them (a record's latest version, a cookie's emails
over all its loads), keys follow the origins that changed, and blocking, edges and clusters redo
what those changes reach. Every step ends with the rows a full refresh gives."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from leadflow.demo.generator import Generator
from leadflow.settings import DatabaseUrl
from leadflow.sources.feed import ENTITIES
from tests.fixtures import land_folder, run_dbt, write_feed_file

pytestmark = pytest.mark.integration

MODELS = (
    "int_identity_origins",
    "int_identity_key_values",
    "int_identity_keys_blocked",
    "int_identity_edges",
    "int_identity_clusters",
)
# (columns, order); the clusters' build number aside
GRAPH = {
    "intermediate.int_identity_keys_blocked": ("*", "key_type, key_value"),
    "intermediate.int_identity_edges": ("*", "source_node_id, target_node_id"),
    "intermediate.int_identity_clusters": (
        "node_id, origin_key, source_system, source_record_id, origin_type, first_seen_at, component",
        "node_id",
    ),
}
# what a full refresh must give again: every column but the build's own numbers
ORIGIN_COLUMNS = (
    "origin_key, source_system, source_record_id, origin_type, email, email_key, phone, crm_id, cookie_id,"
    " first_name, last_name, name_key, job_title, company, company_key, email_domain, industry, company_size,"
    " country, marketing_area, email_opt_in, phone_opt_in, is_main_contact, first_seen_at, updated_at, loaded_at,"
    " cookie_email_key_min, cookie_email_key_max, cookie_email_min, completeness"
)
KEY_COLUMNS = "origin_key, origin_type, name_key, key_type, key_value"


def _run(database: DatabaseUrl, target: Path, *args: str) -> dict[str, int]:
    """dbt run of the identity models and staging (its views union the raw tables there are now);
    returns the rows each identity model wrote."""
    result = run_dbt(database, target, "run", "-s", "+int_identity_clusters", *args)
    assert result.returncode == 0, result.stdout[-3000:]
    return {
        name: r["adapter_response"].get("rows_affected")
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if (name := r["unique_id"].rsplit(".", 1)[-1]) in MODELS
    }


def _rows(database: DatabaseUrl, sql: str) -> list[tuple]:
    with psycopg.connect(database.url()) as conn:
        return conn.execute(sql).fetchall()


def _state(database: DatabaseUrl) -> tuple[list[tuple], ...]:
    """The origins, their keys, the blocked values and the clusters as sets of origins (node ids aside)."""
    return (
        _rows(database, f"select {ORIGIN_COLUMNS} from intermediate.int_identity_origins order by origin_key"),
        _rows(database, f"select {KEY_COLUMNS} from intermediate.int_identity_key_values order by {KEY_COLUMNS}"),
        _rows(database, "select * from intermediate.int_identity_keys_blocked order by key_type, key_value"),
        _rows(
            database,
            "select array_agg(origin_key order by origin_key) as origins from intermediate.int_identity_clusters"
            " group by component order by origins",
        ),
    )


def _built_from_generated(database: DatabaseUrl, tmp_path: Path, people: int, seed: int) -> Path:
    """Generated feeds landed and the identity models built on them once; the dbt target."""
    Generator(people, seed=seed).write(tmp_path / "feed", progress=False)
    land_folder(database, tmp_path / "feed")
    target = tmp_path / "target"
    assert run_dbt(database, target, "seed").returncode == 0
    _run(database, target)
    return target


def _assert_graph_as_a_full_build_gives_it(database: DatabaseUrl, target: Path) -> None:
    """Blocking, edges and clusters hold what a full build of the same origins gives."""
    graph = {
        table: _rows(database, f"select {columns} from {table} order by {order}")
        for table, (columns, order) in GRAPH.items()
    }
    rebuilt = run_dbt(
        database, target, "run", "-s", "int_identity_keys_blocked int_identity_edges int_identity_clusters",
        "--full-refresh",
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    for table, (columns, order) in GRAPH.items():
        assert _rows(database, f"select {columns} from {table} order by {order}") == graph[table], table


def test_origins_merge_the_new_loads_as_a_full_refresh_would(fresh_database, tmp_path):
    target = _built_from_generated(fresh_database, tmp_path, 300, seed=7)
    assert set(_run(fresh_database, target).values()) == {0}  # nothing new
    node_ids = dict(_rows(fresh_database, "select origin_key, node_id from intermediate.int_identity_origins"))
    companies = dict(_rows(fresh_database, "select origin_key, company from intermediate.int_identity_origins"))

    with psycopg.connect(fresh_database.url()) as conn:
        # a CRM record whose next version has a new email and no phone
        record, late = conn.execute(
            "select distinct on (source_record_id) * from raw.crm__contacts"
            " where phone is not null and email is not null order by source_record_id, updated_at desc limit 2"
        ).fetchall()
        columns = [c.name for c in conn.execute("select * from raw.crm__contacts limit 0").description]
        # a web cookie tied to one email by its forms
        cookie_id, cookie_email = conn.execute(
            "select cookie_id, email from intermediate.int_identity_origins"
            " where origin_type = 'cookie' and source_system = 'web' and email is not null order by origin_key limit 1"
        ).fetchone()
    known = {c: v for c, v in zip(columns, record, strict=True) if c in ENTITIES["contacts"].columns}
    crm_key = f"crm:{known['source_record_id']}"
    # another record's old version arrives late: it must not replace the newer one
    late_version = {c: v for c, v in zip(columns, late, strict=True) if c in ENTITIES["contacts"].columns}
    late_version |= {"updated_at": "2002-02-02T00:00:00Z", "company": "Late Arrival Ltd"}
    late_key = f"crm:{late_version['source_record_id']}"
    drop = tmp_path / "drop"
    drop.mkdir()
    newer = known | {"updated_at": "2026-11-01T12:00:00Z", "email": "Moved.On@New-Employer.example", "phone": ""}
    older = known | {"updated_at": "2001-01-01T00:00:00Z", "company": "Long Gone Ltd"}  # first seen earlier, loses
    write_feed_file(drop / "crm__contacts.csv", "contacts", [newer, older, late_version])
    # one person in three records: share a phone, Q-1 and Q-3 an email
    chain = [
        {"source_system": "fair", "source_record_id": "Q-1", "updated_at": "2026-11-01T10:00:00Z",
         "email": "quinn@quarry.example", "phone": "+49 40 1111 1111", "first_name": "Quinn", "last_name": "Q"},
        {"source_system": "fair", "source_record_id": "Q-2", "updated_at": "2026-11-01T10:00:00Z",
         "phone": "+49 40 1111 1111", "first_name": "Quinn", "last_name": "Q"},
        {"source_system": "fair", "source_record_id": "Q-3", "updated_at": "2026-11-01T10:00:00Z",
         "email": "quinn@quarry.example", "phone": "+49 40 3333 3333", "first_name": "Quinn", "last_name": "Q"},
    ]  # fmt: skip
    # somebody new; and a switchboard number three different people gave: it gets blocked
    switchboard = [
        {"source_system": "fair", "source_record_id": f"F-1{n}", "updated_at": "2026-11-01T10:00:00Z",
         "phone": "+49 30 9999 0000", "email": f"{first.lower()}@switchboard-gmbh.example",
         "first_name": first, "last_name": last}
        for n, (first, last) in enumerate([("Anna", "Arm"), ("Bert", "Bein"), ("Carl", "Calf")])
    ]  # fmt: skip
    write_feed_file(
        drop / "fair__contacts.csv",
        "contacts",
        [{"source_system": "fair", "source_record_id": "F-9", "updated_at": "2026-11-01T10:00:00Z",
          "email": "neu.person@fresh-start.example", "first_name": "Neu", "last_name": "Person"}, *switchboard,
         *chain],
    )  # fmt: skip
    write_feed_file(
        drop / "web__interactions.csv",
        "interactions",
        [
            # the known cookie's second form names somebody else: a shared computer, no email now
            {"source_system": "web", "source_interaction_id": "DAY-1", "occurred_at": "2026-11-01T11:00:00Z",
             "interaction_type": "form_submit", "cookie_id": cookie_id, "email": "other.person@elsewhere.example"},
            # a new cookie with a form fill
            {"source_system": "web", "source_interaction_id": "DAY-2", "occurred_at": "2026-11-01T11:30:00Z",
             "interaction_type": "form_submit", "cookie_id": "c-new-visitor",
             "email": "neu.person@fresh-start.example"},
        ],
    )  # fmt: skip
    land_folder(fresh_database, drop)

    written = _run(fresh_database, target)
    assert written["int_identity_origins"] == 11 and written["int_identity_key_values"] > 0, written
    assert written["int_identity_clusters"] < len(node_ids) / 5, written  # the region the changes reach
    origins = {
        row[0]: row[1:]
        for row in _rows(
            fresh_database,
            "select origin_key, email, phone, company, first_seen_at::date::text, node_id, identity_build"
            " from intermediate.int_identity_origins",
        )
    }
    assert origins[crm_key][:3] == ("moved.on@new-employer.example", None, companies[crm_key])
    assert origins[crm_key][3] == "2001-01-01"  # the older version counts for first seen, not for values
    assert origins[late_key][2] == companies[late_key] and origins[late_key][3] == "2002-02-02"
    assert origins[f"web:cookie:{cookie_id}"][0] is None and cookie_email is not None
    assert origins["web:cookie:c-new-visitor"][0] == "neu.person@fresh-start.example"
    # an origin keeps its node id; new ones get the next ones
    assert origins[crm_key][4] == node_ids[crm_key]
    new = [k for k in origins if k not in node_ids]
    assert sorted(origins[k][4] for k in new) == list(range(len(node_ids) + 1, len(node_ids) + 9))
    assert {origins[k][5] for k in origins} == {1, 2}
    crm_keys = _rows(
        fresh_database,
        "select key_type, key_value from intermediate.int_identity_key_values"
        f" where origin_key = '{crm_key}' order by 1",
    )
    assert ("email", "moved.on@new-employer.example") in crm_keys and "phone" not in dict(crm_keys)
    blocked = _rows(fresh_database, "select key_value, block_rule from intermediate.int_identity_keys_blocked")
    assert ("+493099990000", "shared") in blocked
    clusters = dict(_rows(fresh_database, "select origin_key, component from intermediate.int_identity_clusters"))
    assert clusters["fair:F-9"] == clusters["web:cookie:c-new-visitor"]  # the form fill names F-9's email
    assert clusters["fair:F-10"] != clusters["fair:F-11"]  # a blocked number links nobody
    assert clusters["fair:Q-2"] == clusters["fair:Q-1"] == clusters["fair:Q-3"]
    assert set(_run(fresh_database, target).values()) == {0}  # every load read once

    # the next day Q-3 has a new phone: Q-2 holds none of the values that changed, yet its
    # component is clustered again with it
    second = tmp_path / "second"
    second.mkdir()
    write_feed_file(
        second / "fair__contacts.csv", "contacts", [chain[2] | {"updated_at": "2026-11-02T10:00:00Z", "phone": ""}]
    )
    land_folder(fresh_database, second)
    assert _run(fresh_database, target)["int_identity_origins"] == 1
    clusters = dict(_rows(fresh_database, "select origin_key, component from intermediate.int_identity_clusters"))
    assert clusters["fair:Q-2"] == clusters["fair:Q-1"] == clusters["fair:Q-3"]

    # blocking, edges and clusters as a full build of the same origins gives them
    _assert_graph_as_a_full_build_gives_it(fresh_database, target)

    incremental = _state(fresh_database)
    # a full refresh of the origins alone numbers the nodes again: everything downstream follows
    assert run_dbt(fresh_database, target, "run", "-s", "int_identity_origins", "--full-refresh").returncode == 0
    _run(fresh_database, target)
    assert _state(fresh_database) == incremental
    stale = "select count(*) from intermediate.int_identity_key_values k join intermediate.int_identity_origins o"
    assert _rows(fresh_database, f"{stale} using (origin_key) where k.node_id <> o.node_id") == [(0,)]


def test_origins_written_again_without_new_keys_leave_the_graph_alone(fresh_database, tmp_path):
    target = _built_from_generated(fresh_database, tmp_path, 200, seed=13)
    with psycopg.connect(fresh_database.url()) as conn:
        record = conn.execute(
            "select distinct on (source_record_id) * from raw.crm__contacts order by source_record_id, updated_at desc"
        ).fetchone()
        columns = [c.name for c in conn.execute("select * from raw.crm__contacts limit 0").description]
        # two cookies tied to an email: one visits again, the other shows a visit from before its first
        (visitor, visitor_seen), (early, _) = conn.execute(
            "select cookie_id, updated_at from intermediate.int_identity_origins"
            " where origin_type = 'cookie' and source_system = 'web' and email is not null order by origin_key limit 2"
        ).fetchall()
        early_key = f"web:cookie:{early}"
        (early_first_seen,) = conn.execute(
            "select first_seen_at from intermediate.int_identity_origins where origin_key = %s", (early_key,)
        ).fetchone()
        (early_keys,) = conn.execute(
            "select count(*) from intermediate.int_identity_key_values where origin_key = %s", (early_key,)
        ).fetchone()
    known = {c: v for c, v in zip(columns, record, strict=True) if c in ENTITIES["contacts"].columns}
    drop = tmp_path / "drop"
    drop.mkdir()
    # the record lands again with a new job title: its keys are those it had
    again = known | {"updated_at": "2026-11-01T12:00:00Z", "job_title": "Chief Bee"}
    write_feed_file(drop / "crm__contacts.csv", "contacts", [again])
    write_feed_file(
        drop / "web__interactions.csv",
        "interactions",
        [
            {"source_system": "web", "source_interaction_id": "AGAIN-1", "interaction_type": "web_visit",
             "occurred_at": (visitor_seen + timedelta(days=1)).isoformat(), "cookie_id": visitor},
            {"source_system": "web", "source_interaction_id": "EARLY-1", "interaction_type": "web_visit",
             "occurred_at": (early_first_seen - timedelta(days=1)).isoformat(), "cookie_id": early},
        ],
    )  # fmt: skip
    land_folder(fresh_database, drop)

    written = _run(fresh_database, target)
    assert written["int_identity_origins"] == 3, written
    # only the early cookie's keys are written again (its first_seen_at counts for the id ledger)
    assert written["int_identity_key_values"] == early_keys, written
    changes = _rows(fresh_database, "select key_type, key_value from intermediate.identity_key_changes")
    assert len(changes) == 2 * early_keys, changes  # each value held before and now
    origins = {
        key: (identity_build, keys_changed_build)
        for key, identity_build, keys_changed_build in _rows(
            fresh_database,
            "select origin_key, identity_build, keys_changed_build from intermediate.int_identity_origins",
        )
    }
    for key in (f"crm:{known['source_record_id']}", f"web:cookie:{visitor}"):
        assert origins[key] == (2, 1), key
    assert origins[early_key] == (2, 2)
    # clustering rewrites the early cookie's component only; its first_seen_at as a full build gives it
    (component_size,) = _rows(
        fresh_database,
        "select count(*) from intermediate.int_identity_clusters where component ="
        f" (select component from intermediate.int_identity_clusters where origin_key = '{early_key}')",
    )[0]
    assert written["int_identity_clusters"] == component_size, written
    _assert_graph_as_a_full_build_gives_it(fresh_database, target)


def _fair_records(database: DatabaseUrl, folder: Path, day: str, offset: int) -> None:
    """A file drop of four new trade-fair records, each with a known origin's email (it joins that
    origin's contact) and a new phone."""
    with psycopg.connect(database.url()) as conn:
        emails = conn.execute(
            "select email from intermediate.int_identity_origins where email is not null"
            " and email not like 'info@%%' order by origin_key offset %s limit 4",
            (offset,),
        ).fetchall()
    rows = [
        {"source_system": "fair", "source_record_id": f"{day}-{n}", "updated_at": f"{day}T10:00:00Z",
         "email": email, "phone": f"+49 40 {offset:04d} {n:04d}", "first_name": "Fair", "last_name": f"Visitor {n}"}
        for n, (email,) in enumerate(emails)
    ]  # fmt: skip
    folder.mkdir()
    write_feed_file(folder / "fair__contacts.csv", "contacts", rows)
    land_folder(database, folder)


def _reached_nodes_inserted(database: DatabaseUrl) -> int:
    (inserted,) = _rows(
        database,
        "select coalesce(sum(n_tup_ins), 0) from pg_stat_user_tables"
        " where schemaname = 'intermediate' and relname = 'identity_reached_nodes'",
    )[0]
    return int(inserted)


def test_edges_and_clusters_share_the_scope_they_reach_and_one_behind_computes_its_own(fresh_database, tmp_path):
    target = _built_from_generated(fresh_database, tmp_path, 200, seed=11)

    # a day's changes: edges computes the origins they reach, clusters takes them as they are
    _fair_records(fresh_database, tmp_path / "day-1", "2026-11-01", offset=0)
    inserted = _reached_nodes_inserted(fresh_database)
    _run(fresh_database, target)
    shared = _rows(
        fresh_database,
        "select consumed_build, newest_build, count(node_id) from intermediate.identity_reached_nodes group by 1, 2",
    )
    assert len(shared) == 1 and shared[0][2] > 0, shared
    assert _reached_nodes_inserted(fresh_database) - inserted == shared[0][2] + 1  # once (and its marker row)

    # clusters falls a day behind (its build did not run), then both build the next day's changes:
    # edges and clusters now reach from different builds, and clusters computes its own region
    _fair_records(fresh_database, tmp_path / "day-2", "2026-11-02", offset=10)
    result = run_dbt(fresh_database, target, "run", "-s", "+int_identity_edges")
    assert result.returncode == 0, result.stdout[-3000:]
    _fair_records(fresh_database, tmp_path / "day-3", "2026-11-03", offset=20)
    _run(fresh_database, target)
    watermarks = dict(
        _rows(
            fresh_database,
            "select model, identity_build from intermediate.identity_watermarks"
            " where model in ('int_identity_edges', 'int_identity_clusters')",
        )
    )
    assert watermarks["int_identity_edges"] == watermarks["int_identity_clusters"]

    _assert_graph_as_a_full_build_gives_it(fresh_database, target)
