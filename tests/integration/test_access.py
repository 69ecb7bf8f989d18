"""BI access on a real warehouse built by dbt: the BI role reads marts only, an area role only its
area's rows, in every mart; applying twice changes nothing; a mart rebuilt by dbt is closed to area
roles (permission denied, never other areas' rows) until the pipeline applies access again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql

from leadflow.access import apply_access
from leadflow.settings import AccessConfig, DatabaseUrl
from leadflow.transfer.ledger import ensure_ledger
from tests.fixtures import build_marts, create_database, drop_database, run_dbt

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured(pg_server, tmp_path_factory) -> Iterator[tuple[DatabaseUrl, AccessConfig]]:
    suffix = uuid.uuid4().hex[:6]  # roles belong to the whole server: names of this test's own
    access = AccessConfig(
        bi_role=f"test_bi_{suffix}",
        area_roles={f"test_bi_emea_{suffix}": ("EMEA",), f"test_bi_amer_apj_{suffix}": ("AMER", "APJ")},
    )
    database = create_database(pg_server, prefix="leadflow_access")
    try:
        build_marts(database, tmp_path_factory.mktemp("access"), people=300, seed=21)
        with psycopg.connect(database.url()) as conn:
            ensure_ledger(conn)
            apply_access(conn, access)
        yield database, access
    finally:
        drop_database(database)
        with psycopg.connect(pg_server.url(dbname="postgres"), autocommit=True) as conn:
            for role in [access.bi_role, *access.area_roles]:
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def _as(database: DatabaseUrl, role: str, query: str) -> list[tuple]:
    with psycopg.connect(database.url()) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        return conn.execute(query).fetchall()


def _count(database: DatabaseUrl, query: str) -> int:
    with psycopg.connect(database.url()) as conn:
        return conn.execute(query).fetchone()[0]


def test_the_bi_role_reads_every_mart_and_nothing_else(secured):
    database, access = secured
    for table in (
        "marts.dim_contacts",
        "marts.fct_interactions",
        "marts.campaign_attribution",
        "marts.dim_accounts",
        # views computed when read, which filter their rows themselves
        "marts.contact_interests",
        "marts.contact_score_reasons",
    ):
        assert _as(database, access.bi_role, f"select count(*) from {table}") == [
            (_count(database, f"select count(*) from {table}"),)
        ]
    for table in (
        "raw.crm__contacts",
        "staging.stg_feed__contacts",
        "intermediate.int_identity_origins",
        "ops.transfer_runs",
        "ops.bi_access",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(database, access.bi_role, f"select 1 from {table} limit 1")
    with pytest.raises(errors.InsufficientPrivilege):
        _as(database, access.bi_role, "create table marts.mine (x int)")
    with psycopg.connect(database.url()) as conn:
        owners = conn.execute(
            "select distinct pg_get_userbyid(nspowner) from pg_namespace"
            " where nspname in ('raw', 'staging', 'intermediate', 'marts', 'ops')"
        ).fetchall()
    assert owners == [(database.user,)]  # the pipeline's own role


def test_an_area_role_sees_its_areas_rows_in_every_mart(secured):
    database, access = secured
    emea, amer_apj = access.area_roles
    areas = dict(_as(database, emea, "select marketing_area, count(*) from marts.dim_contacts group by 1"))
    assert areas == {"EMEA": _count(database, "select count(*) from marts.dim_contacts where marketing_area = 'EMEA'")}
    assert areas["EMEA"] > 0
    both = {a for (a,) in _as(database, amer_apj, "select distinct marketing_area from marts.dim_contacts")}
    assert both == {"AMER", "APJ"}

    # tables without an area column follow their contact (or account) to dim_contacts
    emea_contacts = "select contact_id from marts.dim_contacts where marketing_area = 'EMEA'"
    for table in (
        "contact_score_reasons",
        "contact_origins",
        "lead_stage_history",
        "contact_interests",
        "fct_interactions",
    ):
        seen = _as(
            database,
            emea,
            f"select count(*), count(*) filter (where contact_id not in ({emea_contacts})) from marts.{table}",
        )
        assert seen[0] == (
            _count(database, f"select count(*) from marts.{table} where contact_id in ({emea_contacts})"),
            0,
        ), table
    accounts = _as(database, emea, "select count(*) from marts.dim_accounts")[0][0]
    assert 0 < accounts < _count(database, "select count(*) from marts.dim_accounts")
    # opportunities carry no area: only the all-areas role reads them
    assert _as(database, emea, "select count(*) from marts.campaign_attribution") == [(0,)]
    with pytest.raises(errors.InsufficientPrivilege):
        _as(database, emea, "select 1 from ops.transfer_items limit 1")


def test_applying_again_changes_nothing_and_a_rebuilt_mart_is_closed_until_applied(secured, tmp_path):
    database, access = secured
    emea = next(iter(access.area_roles))
    before = _as(database, emea, "select count(*) from marts.dim_contacts")
    with psycopg.connect(database.url()) as conn:
        # a schema someone else came to own is handed back to the pipeline's role
        conn.execute(sql.SQL("alter schema staging owner to {}").format(sql.Identifier(access.bi_role)))
        conn.commit()
        apply_access(conn, access)
        assert conn.execute("select count(*) from ops.bi_access").fetchone()[0] == 4
        owner = conn.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'staging'").fetchone()
        assert owner == (database.user,)
    assert _as(database, emea, "select count(*) from marts.dim_contacts") == before

    rebuilt = run_dbt(
        database,
        tmp_path / "target",
        "run",
        "--select",
        "contact_scores",
        "--vars",
        '{as_of: "2026-11-01T00:00:00+00:00"}',
    )
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:]
    with pytest.raises(errors.InsufficientPrivilege):
        _as(database, emea, "select count(*) from marts.contact_scores")
    total = _count(database, "select count(*) from marts.contact_scores")
    assert _as(database, access.bi_role, "select count(*) from marts.contact_scores") == [(total,)]
    with psycopg.connect(database.url()) as conn:
        apply_access(conn, access)
    assert _as(database, emea, "select distinct marketing_area from marts.contact_scores") == [("EMEA",)]


def test_a_role_mapped_to_no_area_reads_no_row_even_when_granted_a_mart(secured):
    database, access = secured
    stranger = f"{access.bi_role}_stranger"
    marts = ("dim_contacts", "contact_interests", "contact_score_reasons")
    with psycopg.connect(database.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(stranger)))
    try:
        with psycopg.connect(database.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("grant usage on schema marts to {}").format(sql.Identifier(stranger)))
            conn.execute(
                sql.SQL("grant execute on function marts.bi_areas(name) to {}").format(sql.Identifier(stranger))
            )
            for mart in marts:
                conn.execute(
                    sql.SQL("grant select on {} to {}").format(sql.Identifier("marts", mart), sql.Identifier(stranger))
                )
        for mart in marts:
            assert _count(database, f"select count(*) from marts.{mart}") > 0, mart
            # the table by its policy, the views (running as their owner) by their own filter
            assert _as(database, stranger, f"select count(*) from marts.{mart}") == [(0,)], mart
    finally:
        with psycopg.connect(database.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(stranger)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(stranger)))
