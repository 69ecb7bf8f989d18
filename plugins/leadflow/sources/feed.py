"""The generic feed: its four entities, their columns, and the raw tables they land in.

Every source — file drop, REST API or SQL table — is mapped onto these columns, so the rest of
the pipeline sees one shape per entity whatever the source. (DESIGN.md, "Generic file-drop feed".)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadflow.ddl import index_if_missing

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_FIELD_CHARS = 10_000


@dataclass(frozen=True)
class Entity:
    name: str
    id_field: str
    timestamp_field: str
    fields: tuple[str, ...]  # feed columns after source_system, in feed order

    @property
    def columns(self) -> tuple[str, ...]:
        """All feed columns, source_system first (the header of a feed file)."""
        return ("source_system", *self.fields)


ENTITIES: dict[str, Entity] = {
    entity.name: entity
    for entity in (
        Entity(
            "contacts",
            "source_record_id",
            "updated_at",
            (
                "source_record_id",
                "updated_at",
                "email",
                "phone",
                "crm_id",
                "cookie_id",
                "first_name",
                "last_name",
                "job_title",
                "company",
                "industry",
                "company_size",
                "country",
                "marketing_area",
                "email_opt_in",
                "phone_opt_in",
            ),
        ),
        Entity(
            "interactions",
            "source_interaction_id",
            "occurred_at",
            (
                "source_interaction_id",
                "occurred_at",
                "interaction_type",
                "source_record_id",
                "email",
                "crm_id",
                "cookie_id",
                "campaign_id",
                "content_url",
                "interests",
                "marketing_area",
            ),
        ),
        Entity(
            "opportunities",
            "opportunity_id",
            "created_at",
            ("opportunity_id", "crm_id", "account", "created_at", "closed_at", "status", "amount"),
        ),
        Entity(
            "campaigns",
            "campaign_id",
            "started_at",
            ("campaign_id", "name", "channel", "started_at", "ended_at"),
        ),
    )
}


def raw_table(source_system: str, entity: str) -> str:
    """``<source_system>__<entity>``: the raw table a source's entity lands in (in schema raw)."""
    if not IDENTIFIER.match(source_system) or entity not in ENTITIES:
        raise ValueError(f"invalid source/entity: {source_system!r}/{entity!r}")
    return f"{source_system}__{entity}"


# a raw table's load_id default: the load's id, set for its transaction (see raw_table_ddl)
LOAD_ID_DEFAULT = "nullif(current_setting('leadflow.load_id', true), '')::uuid"


def raw_table_ddl(source_system: str, entity: str) -> str:
    """Append-only raw table: load metadata, then every feed column as received (text, source_system
    included), and ``payload`` for what those columns do not hold verbatim (the original record of a
    REST/SQL source, or a file's extra columns). Staging types the columns.

    The load metadata has defaults so a file can be COPYed straight in: ``leadflow.load_id`` is set
    for the load's transaction (``set_config(..., true)``); without it the insert fails (not null).
    A BRIN index on ``loaded_at`` (tiny, nearly free to maintain on an append-only table) finds the
    rows of one load or of the loads since a point in time without reading the whole history.
    ``autosummarize``: autovacuum summarizes each block range once it is full, in the background;
    ranges never summarized match every bound, so without it the days since the last vacuum were
    read again (the incremental models bound their raw scans by ``loaded_at``).
    """
    spec = ENTITIES[entity]
    table = raw_table(source_system, entity)
    feed_columns = ",\n    ".join(f"{name} text" for name in spec.columns)
    brin_index = index_if_missing(
        f"raw.{table}", f"{table}__loaded_at", "using brin (loaded_at) with (autosummarize = on)"
    )
    return f"""
create table if not exists raw.{table} (
    load_id uuid not null default {LOAD_ID_DEFAULT},
    loaded_at timestamptz not null default now(),
    {feed_columns},
    payload jsonb
);
{brin_index}
do $$ begin
    -- (indexes made before autosummarize was set; altered once, not on every load)
    if not exists (
        select from pg_class
        where oid = 'raw.{table}__loaded_at'::regclass and 'autosummarize=on' = any(reloptions)
    ) then
        alter index raw.{table}__loaded_at set (autosummarize = on);
    end if;
end $$"""
