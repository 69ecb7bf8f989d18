"""dbt source freshness over the configured sources' raw tables: stale ones warn, with their age."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import yaml

from leadflow.sources.config import load_sources
from leadflow.sources.landing import OPS_DDL
from leadflow.transform.freshness import raw_sources, sources_file, write_sources_file

pytestmark = pytest.mark.integration


def test_the_generated_declaration_has_every_configured_table_with_its_threshold():
    declared = raw_sources(load_sources())["sources"][0]
    tables = {table["name"]: table["config"] for table in declared["tables"]}

    expected = {f"{source.name}__{entity}" for source in load_sources() for entity in source.entity_names}
    assert set(tables) == expected
    assert tables["trade_fair__interactions"]["freshness"]["warn_after"] == {"count": 720 * 60, "period": "minute"}
    assert tables["crm__contacts"]["freshness"]["warn_after"] == {"count": 36 * 60, "period": "minute"}
    assert "source_system = 'crm' and entity = 'contacts'" in tables["crm__contacts"]["loaded_at_query"]
    # what dbt parses is what the configuration says
    assert yaml.safe_load(write_sources_file().read_text()) == raw_sources(load_sources())
    assert sources_file().name in (sources_file().parents[3] / ".." / ".gitignore").resolve().read_text()


def test_stale_and_never_loaded_tables_warn_and_fresh_ones_pass(fresh_database):
    from leadflow.transform.freshness import check_freshness

    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute(OPS_DDL)
        for source, entity, finished in (
            ("crm", "contacts", "now() - interval '3 days'"),
            ("web", "interactions", "now() - interval '1 hour'"),
        ):
            conn.execute(
                "insert into ops.loads (load_id, source_system, entity, started_at, finished_at, status, fetched,"
                f" landed) values (%s, %s, %s, {finished}, {finished}, 'succeeded', 10, 10)",
                (uuid.uuid4(), source, entity),
            )
        conn.commit()

    results = {r.suite: r for r in check_freshness(fresh_database, "freshness-test")}

    assert results["freshness.web__interactions"].success
    stale = results["freshness.crm__contacts"]
    assert not stale.success and stale.severity == "warning"
    assert stale.failed[0]["observed"]["status"] == "warn"
    assert 71 < stale.failed[0]["observed"]["age_hours"] < 73
    assert not results["freshness.events__contacts"].success  # never landed anything
    with psycopg.connect(fresh_database.url()) as conn:
        stored = conn.execute(
            "select count(*), count(*) filter (where not success) from ops.quality_results"
            " where layer = 'freshness' and run_id = 'freshness-test' and severity = 'warning'"
        ).fetchone()
    assert stored == (len(results), len(results) - 1)


def test_a_second_check_reuses_dbt_partial_parse_state(fresh_database, monkeypatch, tmp_path):
    import dbt.cli.main

    from leadflow.transform.freshness import check_freshness

    monkeypatch.setattr("cosmos.settings.cache_dir", tmp_path / "cosmos")
    events: list[str] = []
    runner = dbt.cli.main.dbtRunner
    monkeypatch.setattr(dbt.cli.main, "dbtRunner", lambda: runner(callbacks=[lambda e: events.append(e.info.name)]))
    with psycopg.connect(fresh_database.url()) as conn:
        conn.execute(OPS_DDL)

    check_freshness(fresh_database, "first")
    first, events[:] = list(events), []
    check_freshness(fresh_database, "second")

    assert "PartialParsingSkipParsing" not in first  # nothing kept yet: a whole parse
    assert "PartialParsingSkipParsing" in events  # the project is unchanged: nothing parsed again
