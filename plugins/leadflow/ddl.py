"""DDL that takes no lock when there is nothing to do, for the ``ops`` and ``raw`` tables every
load and transfer run makes sure of before it starts.

``CREATE INDEX IF NOT EXISTS`` locks its table (SHARE) before it looks for the index. Run at the
start of every load or transfer run, it waits behind any other session's open transaction that
writes the table (a load of another source, another transfer's batch) and can deadlock with it.
"""

from __future__ import annotations


def index_if_missing(table: str, index: str, definition: str) -> str:
    """A statement of a DDL script: ``create index <index> on <table> <definition>`` (``table``
    schema-qualified; the index lives in its schema), run only when the catalog has no such index,
    so that nothing is locked when it has."""
    schema = table.split(".")[0]
    return (
        f"do $$ begin if to_regclass('{schema}.{index}') is null then"
        f" create index {index} on {table} {definition}; end if; end $$;"
    )
