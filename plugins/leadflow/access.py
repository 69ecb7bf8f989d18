"""Who may read the output: BI roles on ``marts`` only, per-marketing-area roles through row-level
security. Applied by the pipeline after every dbt build (idempotent) and by ``leadflow access``.

- Roles come from ``access`` in config/leadflow.yml: ``bi_role`` reads every mart and every area;
  each of ``area_roles`` reads the marts rows of its areas only. They are created NOLOGIN (group
  roles): a DBA grants them to the logins BI tools use. None of them may use ``raw``, ``staging``,
  ``intermediate`` or ``ops``.
- The mapping role → areas is data (``ops.bi_access``), read by ``marts.bi_areas(role)`` (security
  definer, so a BI role never reads ``ops``); every marts table gets one policy: rows of a visible
  area — the golden contact's ``marketing_area``; a row about a contact (or an account) follows it
  through ``marts.dim_contacts``, itself filtered, so anonymous interactions stay hidden. A table with
  no area (``campaign_attribution``) is visible to all-area roles only.
- Marts computed when read (views over intermediate tables, e.g. ``contact_interests``) cannot lean
  on the policies, as BI roles read no intermediate table: they run as their owner and filter their
  rows for the reader with the same rules (``dbt_project/macros/bi_access.sql``); they are security
  barrier views, which is how they are told apart here. Every other marts view runs as its reader.
- Fail-closed across dbt rebuilds: dbt replaces a table on every build, which drops its policy and
  grants. New marts tables are granted to ``bi_role`` by default (it sees everything anyway); area
  roles are granted a table only here, after its policy exists — in between they get "permission
  denied", never another area's rows.
The pipeline's role owns the tables, so row-level security does not apply to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from leadflow.settings import AccessConfig

log = logging.getLogger(__name__)

ALL_AREAS = "*"
CLOSED_SCHEMAS = ("raw", "staging", "intermediate", "ops")
POLICY = "leadflow_marketing_area"

SETUP = """
create schema if not exists marts;
create schema if not exists ops;
-- (dbt creates it too, the same, for the views that filter by it: dbt_project/macros/bi_access.sql)
create table if not exists ops.bi_access (
    role_name text not null,
    marketing_area text not null,  -- '*': every area
    primary key (role_name, marketing_area)
);
create or replace function marts.bi_areas(member name) returns text[]
language sql stable security definer set search_path = pg_catalog as $$
    select coalesce(array_agg(marketing_area order by marketing_area), '{}')
    from ops.bi_access
    where pg_has_role(member, role_name, 'MEMBER')
$$;
revoke all on function marts.bi_areas(name) from public;
"""


@dataclass(frozen=True)
class AccessReport:
    roles: list[str]
    tables: list[str]
    closed_to_areas: list[str]  # tables with no area: all-area roles only
    self_filtering_views: list[str]  # views computed when read, which filter by area themselves


def _roles(access: AccessConfig) -> list[str]:
    return [access.bi_role, *access.area_roles]


def _visible(areas: sql.Composable, table: str, columns: set[str]) -> tuple[sql.Composable, bool]:
    """The policy's condition for a table, and whether rows can belong to an area at all.

    The reader's areas are scalar subqueries, computed once per query: called in the condition
    itself, ``marts.bi_areas`` (a security definer function, never inlined) ran once or twice per
    row, and a full read by a BI role took 10-30 times the owner's (at L, the area role counting
    ``fct_interactions`` 52.8 s → 1.8 s, ``dim_contacts`` 7.2 s → 0.2 s)."""
    every = sql.SQL("(select {} = any({}))").format(sql.Literal(ALL_AREAS), areas)
    once = sql.SQL("(select {})::text[]").format(areas)
    # a row about a contact follows the contact's area (an interaction's own marketing_area is what
    # its source assigned, which may differ); the golden record itself carries the area
    if table == "dim_contacts":
        own = sql.SQL("marketing_area = any({})").format(once)
    elif "contact_id" in columns:
        own = sql.SQL(
            "exists (select from marts.dim_contacts as visible where visible.contact_id = {}.contact_id)"
        ).format(sql.Identifier(table))
    elif "marketing_area" in columns:
        own = sql.SQL("marketing_area = any({})").format(once)
    elif "account_id" in columns:
        own = sql.SQL(
            "exists (select from marts.dim_contacts as visible where visible.account_id = {}.account_id)"
        ).format(sql.Identifier(table))
    else:
        return every, False
    return sql.SQL("({}) or {}").format(every, own), True


def apply_access(conn: psycopg.Connection, access: AccessConfig) -> AccessReport:
    """Create the roles, close the other schemas to them, map them to areas and secure every mart."""
    roles = _roles(access)
    role_list = sql.SQL(", ").join(map(sql.Identifier, roles))
    with conn.transaction():
        # one at a time: two pipelines applying at once would race on the catalog
        conn.execute("select pg_advisory_xact_lock(hashtext('leadflow.access'))")
        existing = {r for (r,) in conn.execute("select rolname from pg_roles where rolname = any(%s)", (roles,))}
        for role in roles:
            if role not in existing:
                conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        conn.execute(SETUP)
        # the pipeline's role owns the schemas it writes (not a BI role, not whoever created them)
        for schema in ("raw", "staging", "intermediate", "marts", "ops"):
            conn.execute(
                sql.SQL(
                    "do $$ begin if exists (select from pg_namespace where nspname = {name}"
                    " and nspowner <> (select oid from pg_roles where rolname = current_user))"
                    " then execute format('alter schema %I owner to %I', {name}, current_user); end if; end $$"
                ).format(name=sql.Literal(schema))
            )
        conn.execute("delete from ops.bi_access")
        rows = [(access.bi_role, ALL_AREAS)] + [(r, a) for r, areas in access.area_roles.items() for a in areas]
        with conn.cursor() as cur:
            cur.executemany("insert into ops.bi_access (role_name, marketing_area) values (%s, %s)", rows)
        conn.execute(sql.SQL("grant execute on function marts.bi_areas(name) to {}").format(role_list))

        schemas = [
            s
            for (s,) in conn.execute(
                "select nspname from pg_namespace where nspname = any(%s)", (list(CLOSED_SCHEMAS),)
            )
        ]
        for schema in schemas:
            conn.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), role_list))
            conn.execute(
                sql.SQL("revoke all on all tables in schema {} from {}").format(sql.Identifier(schema), role_list)
            )
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(role_list))
        # tables dbt creates later: the all-area role at once, area roles only after their policy (below)
        conn.execute(
            sql.SQL("alter default privileges in schema marts grant select on tables to {}").format(
                sql.Identifier(access.bi_role)
            )
        )

        tables: dict[str, set[str]] = {}
        for table, column in conn.execute(
            "select c.relname, a.attname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
            " where n.nspname = 'marts' and c.relkind in ('r', 'p')"
        ):
            tables.setdefault(table, set()).add(column)
        closed = []
        areas = sql.SQL("marts.bi_areas(current_user)")
        for table, columns in sorted(tables.items()):
            target = sql.Identifier("marts", table)
            condition, by_area = _visible(areas, table, columns)
            if not by_area:
                closed.append(table)
            conn.execute(sql.SQL("alter table {} enable row level security").format(target))
            conn.execute(sql.SQL("drop policy if exists {} on {}").format(sql.Identifier(POLICY), target))
            conn.execute(
                sql.SQL("create policy {} on {} for select using ({})").format(
                    sql.Identifier(POLICY), target, condition
                )
            )
            conn.execute(sql.SQL("grant select on {} to {}").format(target, role_list))
        # views would run as their owner, past the policies: make them run as the reader; but a
        # security barrier view reads intermediate tables (a mart computed when read) and filters
        # its rows for the reader itself (dbt_project/macros/bi_access.sql): it runs as its owner
        self_filtering = []
        for view, is_barrier in conn.execute(
            "select c.relname, coalesce('security_barrier=true' = any(c.reloptions), false)"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'marts' and c.relkind = 'v'"
        ).fetchall():
            target = sql.Identifier("marts", view)
            if is_barrier:
                conn.execute(sql.SQL("alter view {} reset (security_invoker)").format(target))
                conn.execute(sql.SQL("grant select on {} to {}").format(target, role_list))
                self_filtering.append(view)
            else:
                conn.execute(sql.SQL("alter view {} set (security_invoker = true)").format(target))
    report = AccessReport(
        roles=roles, tables=sorted(tables), closed_to_areas=closed, self_filtering_views=sorted(self_filtering)
    )
    log.info(
        "access: %d roles, %d marts tables under row-level security (%d visible to all-area roles only),"
        " %d views filtering by area themselves",
        len(roles),
        len(report.tables),
        len(closed),
        len(report.self_filtering_views),
    )
    return report
